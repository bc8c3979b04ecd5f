//! Running the `weir` binary's client commands against a broker.

use std::io::Write;
use std::process::{Command, Output, Stdio};

/// Runs `weir ARGS` with `bootstrap` as its broker, feeding `stdin` if given.
pub(crate) fn weir(bootstrap: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weir"))
        .args(args)
        .env("WEIR_BOOTSTRAP", bootstrap)
        .env("NO_COLOR", "1")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run weir");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("piped stdin");
        pipe.write_all(input.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("wait for weir")
}

/// Runs a command that must succeed; returns its stdout.
pub(crate) fn ok(bootstrap: &str, args: &[&str], stdin: Option<&str>) -> String {
    let output = weir(bootstrap, args, stdin);
    assert!(
        output.status.success(),
        "weir {args:?} failed with {}:\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 stdout")
}
