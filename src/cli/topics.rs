//! `weir topics`: create, list, describe, alter and delete topics with rdkafka's
//! `AdminClient`.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{bail, Context as _};
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, ConfigSource, NewPartitions, NewTopic,
    ResourceSpecifier, TopicReplication, TopicResult,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::metadata::MetadataTopic;

use super::client::{describe_code, kafka_error, parse_key_value, ClientArgs};

const TIMEOUT: Duration = Duration::from_secs(30);

/// Flags of `weir topics`.
#[derive(Debug, clap::Args)]
pub(crate) struct TopicsArgs {
    #[command(flatten)]
    client: ClientArgs,
    #[command(subcommand)]
    command: TopicsCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TopicsCommand {
    /// Create a topic.
    Create {
        /// Topic name.
        name: String,
        /// Number of partitions.
        #[arg(long, default_value_t = 1)]
        partitions: i32,
        /// Number of replicas of each partition.
        #[arg(long, default_value_t = 1)]
        replication_factor: i32,
        /// A topic config, `key=value`; repeatable.
        #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
        configs: Vec<(String, String)>,
        /// Succeed if the topic already exists.
        #[arg(long)]
        if_not_exists: bool,
    },
    /// List topic names.
    List,
    /// Describe topics: partitions, leaders, replicas, ISR and configs (all when none given).
    Describe {
        /// Topic names.
        names: Vec<String>,
    },
    /// Delete topics.
    Delete {
        /// Topic names.
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Add partitions to a topic or change its configs.
    Alter {
        /// Topic name.
        name: String,
        /// The new, larger, number of partitions.
        #[arg(long)]
        partitions: Option<usize>,
        /// Set a topic config, `key=value`; repeatable.
        #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_key_value)]
        configs: Vec<(String, String)>,
        /// Remove a topic config override (back to the broker default); repeatable.
        #[arg(long = "delete-config", value_name = "KEY")]
        delete_configs: Vec<String>,
    },
}

/// Runs a `weir topics` subcommand.
pub(crate) async fn run(args: TopicsArgs) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = args
        .client
        .config_with(&[])
        .create()
        .map_err(|err| kafka_error("cannot create the admin client", &err))?;
    let options = AdminOptions::new()
        .request_timeout(Some(TIMEOUT))
        .operation_timeout(Some(TIMEOUT));
    match args.command {
        TopicsCommand::Create {
            name,
            partitions,
            replication_factor,
            configs,
            if_not_exists,
        } => {
            let mut topic = NewTopic::new(
                &name,
                partitions,
                TopicReplication::Fixed(replication_factor),
            );
            for (key, value) in &configs {
                topic = topic.set(key, value);
            }
            let results = admin
                .create_topics([&topic], &options)
                .await
                .map_err(|err| kafka_error(format!("cannot create topic {name:?}"), &err))?;
            match single(results)? {
                Ok(_) => println!("Created topic {name}."),
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) if if_not_exists => {
                    println!("Topic {name} already exists.")
                }
                Err((_, code)) => bail!("cannot create topic {name:?}: {}", describe_code(code)),
            }
        }
        TopicsCommand::List => {
            let metadata = admin
                .inner()
                .fetch_metadata(None, TIMEOUT)
                .map_err(|err| kafka_error("cannot fetch metadata", &err))?;
            let mut names: Vec<&str> = metadata.topics().iter().map(|t| t.name()).collect();
            names.sort_unstable();
            for name in names {
                println!("{name}");
            }
        }
        TopicsCommand::Describe { names } => describe(&admin, &options, &names).await?,
        TopicsCommand::Delete { names } => {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let results = admin
                .delete_topics(&refs, &options)
                .await
                .map_err(|err| kafka_error("cannot delete topics", &err))?;
            let mut failed = Vec::new();
            for result in results {
                match result {
                    Ok(name) => println!("Deleted topic {name}."),
                    Err((name, code)) => failed.push(format!("{name:?}: {}", describe_code(code))),
                }
            }
            if !failed.is_empty() {
                bail!("cannot delete topic {}", failed.join(", "));
            }
        }
        TopicsCommand::Alter {
            name,
            partitions,
            configs,
            delete_configs,
        } => {
            if partitions.is_none() && configs.is_empty() && delete_configs.is_empty() {
                bail!("nothing to alter: give --partitions, --config or --delete-config");
            }
            if let Some(count) = partitions {
                let new = NewPartitions::new(&name, count);
                let results = admin
                    .create_partitions([&new], &options)
                    .await
                    .map_err(|err| {
                        kafka_error(format!("cannot add partitions to {name:?}"), &err)
                    })?;
                if let Err((_, code)) = single(results)? {
                    bail!("cannot add partitions to {name:?}: {}", describe_code(code));
                }
                println!("Topic {name} now has {count} partitions.");
            }
            if !configs.is_empty() || !delete_configs.is_empty() {
                alter_configs(&admin, &options, &name, &configs, &delete_configs).await?;
                println!("Updated configs of topic {name}.");
            }
        }
    }
    Ok(())
}

fn single(results: Vec<TopicResult>) -> anyhow::Result<TopicResult> {
    results
        .into_iter()
        .next()
        .context("the broker returned no result for the topic")
}

async fn describe(
    admin: &AdminClient<DefaultClientContext>,
    options: &AdminOptions,
    names: &[String],
) -> anyhow::Result<()> {
    let client = admin.inner();
    let metadata = if let [name] = names {
        client.fetch_metadata(Some(name), TIMEOUT)
    } else {
        client.fetch_metadata(None, TIMEOUT)
    }
    .map_err(|err| kafka_error("cannot fetch metadata", &err))?;
    let mut topics: Vec<&MetadataTopic> = if names.is_empty() {
        metadata.topics().iter().collect()
    } else {
        let mut found = Vec::new();
        for name in names {
            match metadata.topics().iter().find(|t| t.name() == name) {
                Some(topic) => found.push(topic),
                None => bail!(
                    "cannot describe topic {name:?}: {}",
                    describe_code(RDKafkaErrorCode::UnknownTopicOrPartition)
                ),
            }
        }
        found
    };
    topics.sort_by_key(|t| t.name());
    for topic in topics {
        if let Some(err) = topic.error() {
            bail!(
                "cannot describe topic {:?}: {}",
                topic.name(),
                describe_code(err.into())
            );
        }
        let configs = match topic_configs(admin, options, topic.name()).await {
            Ok(configs) => configs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
            Err(err) => {
                tracing::warn!("cannot read configs of {:?}: {err:#}", topic.name());
                String::new()
            }
        };
        let replication = topic.partitions().first().map_or(0, |p| p.replicas().len());
        println!(
            "Topic: {}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {}",
            topic.name(),
            topic.partitions().len(),
            replication,
            configs
        );
        let mut partitions: Vec<_> = topic.partitions().iter().collect();
        partitions.sort_by_key(|p| p.id());
        for p in partitions {
            println!(
                "\tTopic: {}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}",
                topic.name(),
                p.id(),
                p.leader(),
                join_ids(p.replicas()),
                join_ids(p.isr())
            );
        }
    }
    Ok(())
}

fn join_ids(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

/// The configs set on the topic itself (not broker or built-in defaults), sorted.
async fn topic_configs(
    admin: &AdminClient<DefaultClientContext>,
    options: &AdminOptions,
    name: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let results = admin
        .describe_configs([&ResourceSpecifier::Topic(name)], options)
        .await
        .map_err(|err| kafka_error("cannot describe configs", &err))?;
    let resource = match results.into_iter().next() {
        Some(Ok(resource)) => resource,
        Some(Err(code)) => bail!("cannot describe configs: {}", describe_code(code)),
        None => bail!("the broker returned no configs"),
    };
    Ok(resource
        .entries
        .into_iter()
        .filter(|e| {
            e.source == ConfigSource::DynamicTopic
                || (e.source == ConfigSource::Unknown && !e.is_default)
        })
        .filter_map(|e| Some((e.name, e.value?)))
        .collect())
}

/// Sets and removes topic config overrides.
///
/// rdkafka 0.39 wraps only the legacy AlterConfigs, which replaces the topic's whole set
/// of overrides (IncrementalAlterConfigs is only reachable through unsafe FFI, which
/// the workspace denies). So this reads the current overrides, applies the change and
/// writes the full set back; a concurrent change by another client can be lost.
async fn alter_configs(
    admin: &AdminClient<DefaultClientContext>,
    options: &AdminOptions,
    name: &str,
    set: &[(String, String)],
    delete: &[String],
) -> anyhow::Result<()> {
    let mut configs = topic_configs(admin, options, name).await?;
    for key in delete {
        if configs.remove(key).is_none() {
            tracing::warn!("topic {name:?} has no override for {key:?}");
        }
    }
    for (key, value) in set {
        configs.insert(key.clone(), value.clone());
    }
    let mut alter = AlterConfig::new(ResourceSpecifier::Topic(name));
    for (key, value) in &configs {
        alter = alter.set(key, value);
    }
    let results = admin
        .alter_configs([&alter], options)
        .await
        .map_err(|err| kafka_error(format!("cannot alter configs of {name:?}"), &err))?;
    match results.into_iter().next() {
        Some(Ok(_)) => Ok(()),
        Some(Err((_, code))) => bail!("cannot alter configs of {name:?}: {}", describe_code(code)),
        None => bail!("the broker returned no result for {name:?}"),
    }
}
