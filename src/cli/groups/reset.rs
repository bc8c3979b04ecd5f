//! `weir groups reset-offsets`: plan new committed offsets for an inactive group, show
//! them, and commit them with `--execute` (a dry run otherwise, as Kafka's tool does).

use anyhow::{bail, Context as _};
use rdkafka::consumer::{CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::offsets::{group_consumer, partitions_of, positions, PartitionPosition};
use super::{lookup_consumer, TIMEOUT};
use crate::cli::client::{kafka_error, ClientArgs};

/// Flags of `weir groups reset-offsets`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["to_earliest", "to_latest", "to_offset", "to_timestamp", "shift_by"])))]
#[command(group(clap::ArgGroup::new("scope").required(true).args(["topics", "all_topics"])))]
pub(super) struct ResetArgs {
    /// The group whose offsets change.
    #[arg(long)]
    group: String,
    /// Reset this topic's partitions; repeatable.
    #[arg(long = "topic", value_name = "TOPIC")]
    topics: Vec<String>,
    /// Reset every topic the group has committed offsets for.
    #[arg(long)]
    all_topics: bool,
    /// To each partition's log start offset.
    #[arg(long)]
    to_earliest: bool,
    /// To each partition's log end offset.
    #[arg(long)]
    to_latest: bool,
    /// To this offset (clamped into each partition's range).
    #[arg(long, value_name = "OFFSET")]
    to_offset: Option<i64>,
    /// To the first offset at or after this time, in milliseconds since the epoch.
    #[arg(long, value_name = "MS")]
    to_timestamp: Option<i64>,
    /// Move the committed offsets by N (negative moves back), clamped into range.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    shift_by: Option<i64>,
    /// Commit the new offsets; without it the plan is only shown.
    #[arg(long, conflicts_with = "dry_run")]
    execute: bool,
    /// Only show the new offsets (the default).
    #[arg(long)]
    dry_run: bool,
}

pub(super) fn run(client: &ClientArgs, args: ResetArgs) -> anyhow::Result<()> {
    let lookup = lookup_consumer(client)?;
    let list = lookup
        .fetch_group_list(Some(&args.group), TIMEOUT)
        .map_err(|err| kafka_error(format!("cannot describe group {}", args.group), &err))?;
    if let Some(info) = list.groups().iter().find(|g| g.name() == args.group) {
        if !info.members().is_empty() {
            bail!(
                "group {} has {} active member(s); stop its consumers before resetting offsets",
                args.group,
                info.members().len()
            );
        }
    }
    let consumer = group_consumer(client, &args.group)?;
    let partitions = if args.all_topics {
        partitions_of(&consumer, None)?
    } else {
        let partitions = partitions_of(&consumer, Some(&args.topics))?;
        for topic in &args.topics {
            if !partitions.iter().any(|(t, _)| t == topic) {
                bail!("topic {topic} does not exist");
            }
        }
        partitions
    };
    let current = positions(&consumer, &partitions, !args.all_topics)?;
    if current.is_empty() {
        bail!("group {} has no committed offsets to reset", args.group);
    }
    let by_time = match args.to_timestamp {
        Some(ts) => Some(offsets_for_time(&consumer, &current, ts)?),
        None => None,
    };
    let mut plan = TopicPartitionList::new();
    println!("{:<30} {:>9} {:>16}", "TOPIC", "PARTITION", "NEW-OFFSET");
    for ((topic, partition), position) in &current {
        let target = if args.to_earliest {
            position.log_start
        } else if args.to_latest {
            position.log_end
        } else if let Some(offset) = args.to_offset {
            offset
        } else if let Some(by_time) = &by_time {
            by_time
                .find_partition(topic, *partition)
                .and_then(|e| match e.offset() {
                    Offset::Offset(o) => Some(o),
                    _ => None,
                })
                .unwrap_or(position.log_end)
        } else {
            let shift = args.shift_by.unwrap_or(0);
            position
                .committed
                .unwrap_or(position.log_end)
                .saturating_add(shift)
        };
        let new = clamp(target, position);
        println!("{topic:<30} {partition:>9} {new:>16}");
        plan.add_partition_offset(topic, *partition, Offset::Offset(new))
            .context("building the offset list")?;
    }
    if args.execute {
        consumer.commit(&plan, CommitMode::Sync).map_err(|err| {
            kafka_error(
                format!("cannot commit offsets for group {}", args.group),
                &err,
            )
        })?;
        eprintln!("Committed new offsets for group {}.", args.group);
    } else {
        eprintln!("Dry run: nothing was committed. Add --execute to commit these offsets.");
    }
    Ok(())
}

/// Kafka's tool moves an out-of-range target to the nearest end of the log.
fn clamp(target: i64, position: &PartitionPosition) -> i64 {
    target.clamp(position.log_start, position.log_end)
}

fn offsets_for_time(
    consumer: &rdkafka::consumer::BaseConsumer,
    current: &super::offsets::Positions,
    timestamp: i64,
) -> anyhow::Result<TopicPartitionList> {
    let mut list = TopicPartitionList::new();
    for (topic, partition) in current.keys() {
        list.add_partition_offset(topic, *partition, Offset::Offset(timestamp))
            .context("building the timestamp list")?;
    }
    consumer
        .offsets_for_times(list, TIMEOUT)
        .map_err(|err| kafka_error("cannot look up offsets by time", &err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_clamped_into_the_log() {
        let position = PartitionPosition {
            committed: Some(5),
            log_start: 2,
            log_end: 10,
        };
        assert_eq!(clamp(-4, &position), 2);
        assert_eq!(clamp(7, &position), 7);
        assert_eq!(clamp(99, &position), 10);
    }
}
