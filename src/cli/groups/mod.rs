//! `weir groups`: list, describe and delete consumer groups, and reset where a group
//! resumes — in the manner of Kafka's `kafka-consumer-groups`.

mod describe;
mod offsets;
mod reset;

use std::time::Duration;

use anyhow::bail;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};

use super::client::{describe_code, kafka_error, ClientArgs};

pub(super) const TIMEOUT: Duration = Duration::from_secs(30);

/// Flags of `weir groups`.
#[derive(Debug, clap::Args)]
pub(crate) struct GroupsArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: GroupsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum GroupsCommand {
    /// List consumer groups with their state.
    List,
    /// Show a group's state, members and assignments, and per partition the committed
    /// offset, log end offset and lag.
    Describe {
        /// Group ids.
        #[arg(required = true)]
        groups: Vec<String>,
    },
    /// Delete groups that have no active members, with their committed offsets.
    Delete {
        /// Group ids.
        #[arg(required = true)]
        groups: Vec<String>,
    },
    /// Change where an inactive group resumes.
    ResetOffsets(reset::ResetArgs),
}

/// Runs a `weir groups` subcommand.
pub(crate) fn run(args: GroupsArgs) -> anyhow::Result<()> {
    match args.command {
        GroupsCommand::List => list(&args.client),
        GroupsCommand::Describe { groups } => describe::run(&args.client, &groups),
        GroupsCommand::Delete { groups } => delete(&args.client, &groups),
        GroupsCommand::ResetOffsets(reset) => reset::run(&args.client, reset),
    }
}

/// A consumer that never joins a group; used for group look-ups and metadata.
pub(super) fn lookup_consumer(client: &ClientArgs) -> anyhow::Result<BaseConsumer> {
    client
        .groupless_consumer_config(&[])
        .create()
        .map_err(|err| kafka_error("cannot create the client", &err))
}

fn list(client: &ClientArgs) -> anyhow::Result<()> {
    let consumer = lookup_consumer(client)?;
    let list = consumer
        .fetch_group_list(None, TIMEOUT)
        .map_err(|err| kafka_error("cannot list groups", &err))?;
    let mut groups: Vec<_> = list.groups().iter().collect();
    groups.sort_by(|a, b| a.name().cmp(b.name()));
    println!("{:<40} {:<20} {:<10}", "GROUP", "STATE", "MEMBERS");
    for group in groups {
        println!(
            "{:<40} {:<20} {:<10}",
            group.name(),
            group.state(),
            group.members().len()
        );
    }
    Ok(())
}

fn delete(client: &ClientArgs, groups: &[String]) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let admin: AdminClient<DefaultClientContext> = client
        .config_with(&[])
        .create()
        .map_err(|err| kafka_error("cannot create the admin client", &err))?;
    let names: Vec<&str> = groups.iter().map(String::as_str).collect();
    let options = AdminOptions::new().operation_timeout(Some(TIMEOUT));
    let results = runtime
        .block_on(admin.delete_groups(&names, &options))
        .map_err(|err| kafka_error("cannot delete groups", &err))?;
    let mut failed = 0;
    for result in results {
        match result {
            Ok(group) => println!("Deleted group {group}."),
            Err((group, code)) => {
                failed += 1;
                eprintln!("cannot delete group {group}: {}", describe_code(code));
            }
        }
    }
    if failed > 0 {
        bail!("{failed} of {} groups were not deleted", groups.len());
    }
    Ok(())
}
