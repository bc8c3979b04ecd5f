//! Consumer-group figures against a running broker:
//!
//! - rebalance time: how long a group of N consumers takes from `subscribe` until
//!   every member has received its first record;
//! - commit throughput: synchronous offset commits per second from one member.
//!
//! ```text
//! cargo run --release --example group_bench -- [BOOTSTRAP] [MEMBERS] [COMMITS]
//! ```
//!
//! Defaults: `localhost:9092`, 3 members, 20000 commits. The broker should run with
//! `--set group.initial.rebalance.delay.ms=0`, or the figure includes Kafka's
//! initial rebalance delay (3 s by default).

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let bootstrap = args.get(1).map_or("localhost:9092", String::as_str);
    let members: usize = args.get(2).map_or(Ok(3), |s| s.parse())?;
    let commits: usize = args.get(3).map_or(Ok(20_000), |s| s.parse())?;
    let run = std::process::id();
    let topic = format!("group-bench-{run}");
    let partitions = (members * 2) as i32;

    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let created = runtime.block_on(admin.create_topics(
        &[NewTopic::new(
            &topic,
            partitions,
            TopicReplication::Fixed(1),
        )],
        &AdminOptions::new(),
    ))?;
    for result in created {
        result.map_err(|(name, code)| format!("creating {name}: {code}"))?;
    }

    // Every partition gets records before anyone joins, so "first record" measures
    // the rebalance, not the producer.
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()?;
    for partition in 0..partitions {
        for i in 0..10 {
            let payload = format!("record-{i}");
            producer
                .send(
                    BaseRecord::<(), _>::to(&topic)
                        .partition(partition)
                        .payload(&payload),
                )
                .map_err(|(e, _)| e)?;
        }
    }
    producer.flush(Duration::from_secs(30))?;

    let group = format!("group-bench-{run}");
    let consumers: Vec<BaseConsumer> = (0..members)
        .map(|_| {
            ClientConfig::new()
                .set("bootstrap.servers", bootstrap)
                .set("group.id", &group)
                .set("auto.offset.reset", "earliest")
                .set("enable.auto.commit", "false")
                .create()
        })
        .collect::<Result<_, _>>()?;
    let start = Instant::now();
    for consumer in &consumers {
        consumer.subscribe(&[&topic])?;
    }
    let mut first = vec![None; members];
    let deadline = start + Duration::from_secs(60);
    while first.iter().any(Option::is_none) {
        if Instant::now() > deadline {
            return Err("not every member received a record within 60 s".into());
        }
        for (i, consumer) in consumers.iter().enumerate() {
            if let Some(message) = consumer.poll(Duration::from_millis(10)) {
                message?;
                first[i].get_or_insert_with(|| start.elapsed());
            }
        }
    }
    let slowest = first.iter().flatten().max().copied().unwrap_or_default();
    println!(
        "rebalance: {members} members, subscribe to every member's first record in {:.1} ms",
        slowest.as_secs_f64() * 1000.0
    );

    // Commit throughput from the first member, on a partition it owns.
    let owner = &consumers[0];
    let assignment = owner.assignment()?;
    let element = assignment
        .elements()
        .into_iter()
        .next()
        .ok_or("the first member owns no partition")?;
    let (tp_topic, tp_partition) = (element.topic().to_owned(), element.partition());
    let start = Instant::now();
    let mut latencies = Vec::with_capacity(commits);
    for i in 0..commits {
        let mut offsets = TopicPartitionList::new();
        offsets.add_partition_offset(&tp_topic, tp_partition, Offset::Offset((i % 10) as i64))?;
        let sent = Instant::now();
        owner.commit(&offsets, CommitMode::Sync)?;
        latencies.push(sent.elapsed());
        // Keep the other members' heartbeats going.
        if i % 500 == 0 {
            for consumer in &consumers[1..] {
                let _ = consumer.poll(Duration::ZERO).map(|m| m.map(|m| m.offset()));
            }
        }
    }
    let elapsed = start.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    println!(
        "commits: {commits} synchronous commits, {:.0} commits/s, p50 {:.2} ms, p99 {:.2} ms",
        commits as f64 / elapsed.as_secs_f64(),
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0
    );
    for consumer in &consumers {
        consumer.unsubscribe();
    }
    let _ = runtime.block_on(admin.delete_topics(&[&topic], &AdminOptions::new()));
    Ok(())
}
