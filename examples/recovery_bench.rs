//! How long a broker takes to come back after SIGKILL, by the size of its data.
//!
//! ```text
//! cargo run --release --example recovery_bench -- 1            # 1 GB, in a temp dir
//! cargo run --release --example recovery_bench -- 10 --dir /data/bench --partitions 4
//! ```
//!
//! Fills a data directory through the broker's topic registry and the log (default
//! topic configs: 1 GiB segments, no fsync per append), then drops every log without
//! closing it — what SIGKILL leaves: the page cache has the data, no clean-shutdown
//! marker, the recovery point at the last roll. It then times:
//!
//! - `unclean`: opening the topic registry (what broker startup does before it
//!   accepts connections): each partition rescans its active segment only;
//! - `clean`: the same after a graceful close (recovery skipped);
//! - `no checkpoint`: the recovery point checkpoints deleted, so every segment of
//!   every partition is rescanned (CRC-32C of every byte) — the worst case, whose rate
//!   extrapolates to larger logs.
//!
//! With `--cold`, the page cache is dropped before each timing (needs root).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use weir_core::log::batch::RecordBatchBuilder;
use weir_core::log::{partition_dir_name, Log, LogConfig};
use weir_core::metadata::{RegistryOptions, TopicConfigs, TopicDefaults, TopicRegistry};

const TOPIC: &str = "bench";

#[derive(Debug)]
struct Args {
    gigabytes: f64,
    dir: Option<PathBuf>,
    partitions: i32,
    cold: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        gigabytes: 1.0,
        dir: None,
        partitions: 1,
        cold: false,
    };
    let mut positional = false;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dir" => parsed.dir = Some(args.next().context("--dir DIR")?.into()),
            "--partitions" => {
                parsed.partitions = args.next().context("--partitions N")?.parse()?;
            }
            "--cold" => parsed.cold = true,
            other if !positional => {
                parsed.gigabytes = other.parse().context("the size in GB")?;
                positional = true;
            }
            other => bail!("unexpected argument {other}"),
        }
    }
    Ok(parsed)
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let tmp;
    let data: &Path = match &args.dir {
        Some(dir) => dir,
        None => {
            tmp = tempfile::tempdir_in(".")?;
            tmp.path()
        }
    };
    std::fs::create_dir_all(data)?;
    let runtime = tokio::runtime::Runtime::new()?;

    // The topic, as CreateTopics would make it.
    let registry =
        |data: &Path| -> anyhow::Result<(TopicRegistry, TaskTracker, CancellationToken)> {
            let tracker = TaskTracker::new();
            let shutdown = CancellationToken::new();
            let options = RegistryOptions {
                data_dir: data.to_owned(),
                defaults: TopicDefaults::default(),
                maintenance_interval: Duration::from_secs(3600),
            };
            let registry = TopicRegistry::open(options, tracker.clone(), shutdown.clone())?;
            Ok((registry, tracker, shutdown))
        };
    let stop = |tracker: TaskTracker, shutdown: CancellationToken| {
        shutdown.cancel();
        tracker.close();
        runtime.block_on(tracker.wait());
    };
    runtime
        .block_on(async {
            let (registry, tracker, shutdown) = registry(data)?;
            if registry.get(TOPIC).is_none() {
                registry
                    .create(TOPIC, args.partitions, TopicConfigs::default(), false)
                    .await?;
            }
            anyhow::Ok((tracker, shutdown))
        })
        .map(|(tracker, shutdown)| stop(tracker, shutdown))?;

    // Fill, then "crash": drop the logs without closing them.
    let total = (args.gigabytes * 1e9) as u64;
    let per_partition = total / args.partitions as u64;
    let value = vec![b'v'; 1000];
    let mut builder = RecordBatchBuilder::new();
    for i in 0..16u32 {
        builder.push(1_700_000_000_000, Some(&i.to_be_bytes()), Some(&value));
    }
    let batch = builder.build();
    let started = Instant::now();
    let mut written = 0u64;
    for p in 0..args.partitions {
        let dir = data.join(partition_dir_name(TOPIC, p));
        let mut log = Log::open(&dir, LogConfig::default(), now_ms())?;
        while log.size_bytes() < per_partition {
            log.append(batch.clone(), now_ms())?;
        }
        written += log.size_bytes();
        drop(log); // SIGKILL: no flush of the active segment, no marker
    }
    let fill = started.elapsed();
    println!(
        "filled {:.2} GB in {} partition(s) in {:.1} s ({:.0} MB/s), {} byte batches",
        written as f64 / 1e9,
        args.partitions,
        fill.as_secs_f64(),
        written as f64 / 1e6 / fill.as_secs_f64(),
        batch.len()
    );

    let time_open = |what: &str| -> anyhow::Result<Duration> {
        if args.cold {
            drop_caches();
        }
        let started = Instant::now();
        let opened = runtime.block_on(async { registry(data) })?;
        let elapsed = started.elapsed();
        println!(
            "{what:>14}: broker logs loaded in {:>8.1} ms ({:.0} MB/s of data)",
            elapsed.as_secs_f64() * 1e3,
            written as f64 / 1e6 / elapsed.as_secs_f64()
        );
        let (_registry, tracker, shutdown) = opened;
        stop(tracker, shutdown);
        Ok(elapsed)
    };

    // Stopping the registry closes every log cleanly, so `clean` follows `unclean`.
    time_open("unclean")?;
    time_open("clean")?;
    for p in 0..args.partitions {
        let dir = data.join(partition_dir_name(TOPIC, p));
        std::fs::remove_file(dir.join("recovery-point-offset-checkpoint"))?;
        std::fs::remove_file(dir.join("clean-shutdown")).ok();
    }
    let full = time_open("no checkpoint")?;
    println!(
        "full rescan rate {:.0} MB/s: about {:.1} s per 10 GB of log when every segment must be rescanned",
        written as f64 / 1e6 / full.as_secs_f64(),
        10e9 / (written as f64 / full.as_secs_f64())
    );
    Ok(())
}

fn drop_caches() {
    let synced = std::process::Command::new("sync").status();
    let dropped = std::fs::write("/proc/sys/vm/drop_caches", "3");
    if synced.is_err() || dropped.is_err() {
        eprintln!("warning: cannot drop the page cache (needs root); timings are warm");
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
