"""Fixtures for Weir's end-to-end tests: a real `weir broker` process per test.

The broker is the release binary (`$WEIR_BIN`, default `target/release/weir`), started
with `--data-dir` in a fresh temporary directory and `--listen 127.0.0.1:0`; the port
it actually bound is parsed from its log line `listening on 127.0.0.1:PORT`.
`scripts/test.sh` builds the binary and installs every client these tests use; a
missing client or binary makes a test fail with a message that says so, never skip.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest

from weirtest import REPO_ROOT, wait_until

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
LISTENING = re.compile(r"listening on (\d+\.\d+\.\d+\.\d+):(\d+)")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0


def weir_binary() -> Path:
    explicit = os.environ.get("WEIR_BIN")
    if explicit:
        path = Path(explicit)
    else:
        target = Path(os.environ.get("CARGO_TARGET_DIR", REPO_ROOT / "target"))
        path = target / "release" / "weir"
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(
            f"no weir binary at {path}: run `cargo build --release` "
            "(scripts/test.sh does it) or set WEIR_BIN",
            pytrace=False,
        )
    return path


class Broker:
    """One `weir broker` process over a data directory that outlives restarts."""

    def __init__(self, binary: Path, data_dir: Path, log_dir: Path, settings: dict[str, str]):
        self.binary = binary
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.settings = dict(settings)
        self.proc: Optional[subprocess.Popen] = None
        self.host = "127.0.0.1"
        self.port = 0
        self.starts = 0
        self.log_path: Optional[Path] = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, port: int = 0) -> "Broker":
        assert self.proc is None, "broker already running"
        self.starts += 1
        self.log_path = self.log_dir / f"broker-{self.starts}.log"
        cmd = [
            str(self.binary),
            "broker",
            "--data-dir",
            str(self.data_dir),
            "--listen",
            f"127.0.0.1:{port}",
        ]
        for key, value in self.settings.items():
            cmd += ["--set", f"{key}={value}"]
        env = dict(os.environ, NO_COLOR="1", RUST_BACKTRACE="1")
        env.setdefault("RUST_LOG", "info")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            match = LISTENING.search(ANSI.sub("", self.log_text()))
            if match:
                self.host, self.port = match.group(1), int(match.group(2))
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        code = self.proc.poll()
        self.kill()
        pytest.fail(
            f"`{' '.join(cmd)}` did not log 'listening on 127.0.0.1:PORT' within "
            f"{START_TIMEOUT_S:.0f}s (exit code {code}); its log:\n{self.log_tail()}",
            pytrace=False,
        )

    def stop(self) -> int:
        """SIGTERM and wait: a graceful shutdown. Returns the exit code."""
        assert self.proc is not None, "broker not running"
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            pytest.fail(
                f"broker did not exit within {STOP_TIMEOUT_S:.0f}s of SIGTERM; "
                f"its log:\n{self.log_tail()}",
                pytrace=False,
            )
        self.proc = None
        return code

    def kill(self) -> None:
        """SIGKILL: the crash. Nothing after the last write(2) is flushed by the broker."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            self.proc = None

    def restart(self, graceful: bool = True, same_port: bool = False) -> "Broker":
        port = self.port if same_port else 0
        if graceful:
            code = self.stop()
            assert code == 0, f"broker exited with {code} on SIGTERM; log:\n{self.log_tail()}"
        else:
            self.kill()
        return self.start(port=port)

    def kill_and_restart(self) -> "Broker":
        """SIGKILL, then a new broker on the same data directory and the same port, so
        clients that were connected reconnect to it as they would to a restarted Kafka."""
        return self.restart(graceful=False, same_port=True)

    def is_alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(ANSI.sub("", self.log_text()).splitlines()[-lines:])

    def partition_dir(self, topic: str, partition: int) -> Path:
        return self.data_dir / f"{topic}-{partition}"


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[Callable[..., Broker]]:
    """Starts brokers with extra `--set key=value` settings; all are killed at teardown."""
    binary = weir_binary()
    started: list[Broker] = []

    def start(**settings: object) -> Broker:
        index = len(started)
        data_dir = tmp_path / f"data-{index}"
        log_dir = tmp_path / f"logs-{index}"
        data_dir.mkdir()
        log_dir.mkdir()
        as_strings = {k.replace("_", "."): str(v).lower() if isinstance(v, bool) else str(v)
                      for k, v in settings.items()}
        broker = Broker(binary, data_dir, log_dir, as_strings)
        started.append(broker)
        return broker.start()

    yield start
    for broker in started:
        alive = broker.is_alive()
        broker.kill()
        if broker.starts:
            print(f"--- broker log tail ({broker.log_path}, alive at teardown: {alive}) ---")
            print(broker.log_tail())


@pytest.fixture
def broker(broker_factory: Callable[..., Broker]) -> Broker:
    """A broker with default settings plus auto topic creation and 3 partitions."""
    return broker_factory(**{"num.partitions": 3, "auto.create.topics.enable": "true"})


# Consumer-group tests want quick rebalances: no initial rebalance delay (Kafka's 3 s
# default waits for more members), session timeouts down to one second so a killed
# member is noticed quickly, and a small `__consumer_offsets`.
GROUP_BROKER_SETTINGS = {
    "group.initial.rebalance.delay.ms": 0,
    "group.min.session.timeout.ms": 1000,
    "offsets.topic.num.partitions": 3,
    "auto.create.topics.enable": "false",
}


@pytest.fixture
def group_broker(broker_factory: Callable[..., Broker]) -> Broker:
    """A broker tuned for consumer-group tests (see GROUP_BROKER_SETTINGS)."""
    return broker_factory(**GROUP_BROKER_SETTINGS)


# Transaction tests: quick rebalances for the consume-transform-produce loop's group,
# session timeouts down to one second, and a small `__consumer_offsets`. The
# transaction coordinator keeps Kafka's defaults (`__transaction_state` partitions,
# transaction.max.timeout.ms, the abort timer for timed-out transactions).
TXN_BROKER_SETTINGS = {
    "group.initial.rebalance.delay.ms": 0,
    "group.min.session.timeout.ms": 1000,
    "offsets.topic.num.partitions": 3,
    "auto.create.topics.enable": "false",
}


@pytest.fixture
def txn_broker(broker_factory: Callable[..., Broker]) -> Broker:
    """A broker for idempotence and transaction tests (see TXN_BROKER_SETTINGS)."""
    return broker_factory(**TXN_BROKER_SETTINGS)


@pytest.fixture
def weir_cli() -> Callable[..., str]:
    """Runs `weir ARGS…` (the client commands) and returns its stdout, failing the test
    on a non-zero exit; with `expect_ok=False` it must exit non-zero, and returns stderr."""
    binary = weir_binary()

    def run(*args: str, timeout_s: float = 60.0, expect_ok: bool = True) -> str:
        cmd = [str(binary), *args]
        try:
            done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=timeout_s, env=dict(os.environ, NO_COLOR="1"))
        except subprocess.TimeoutExpired:
            pytest.fail(f"`{' '.join(cmd)}` did not finish within {timeout_s:.0f}s", pytrace=False)
        out, err = done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace")
        if not expect_ok:
            assert done.returncode != 0, f"`{' '.join(cmd)}` succeeded; stdout:\n{out}"
            return err
        assert done.returncode == 0, (
            f"`{' '.join(cmd)}` exited with {done.returncode}\nstdout:\n{out}\nstderr:\n{err}")
        return out

    return run


@pytest.fixture
def kcat() -> str:
    path = shutil.which("kcat")
    if path is None:
        pytest.fail(
            "kcat is not installed: run scripts/test.sh (it runs `apt-get install -y kcat`)",
            pytrace=False,
        )
    return path


@pytest.fixture
def topic(request: pytest.FixtureRequest) -> str:
    """A topic name unique to the test."""
    name = re.sub(r"[^a-zA-Z0-9._-]", "-", request.node.name)[:200]
    return f"t-{name}"


__all__ = ["Broker", "wait_until"]
