//! `weir groups describe`.

use std::collections::BTreeMap;

use anyhow::bail;
use bytes::Bytes;
use rdkafka::consumer::Consumer;
use weir_core::protocol::messages::ConsumerProtocolAssignment;
use weir_core::protocol::Decodable;

use super::offsets::{group_consumer, partitions_of, positions};
use super::{lookup_consumer, TIMEOUT};
use crate::cli::client::{kafka_error, ClientArgs};

pub(super) fn run(client: &ClientArgs, groups: &[String]) -> anyhow::Result<()> {
    let lookup = lookup_consumer(client)?;
    for (i, group) in groups.iter().enumerate() {
        if i > 0 {
            println!();
        }
        let list = lookup
            .fetch_group_list(Some(group), TIMEOUT)
            .map_err(|err| kafka_error(format!("cannot describe group {group}"), &err))?;
        let Some(info) = list.groups().iter().find(|g| g.name() == group) else {
            bail!("group {group} does not exist");
        };
        if info.state() == "Dead" {
            bail!("group {group} does not exist");
        }
        println!(
            "Group {group}: state {}, protocol {} {}, {} member(s)",
            info.state(),
            info.protocol_type(),
            info.protocol(),
            info.members().len()
        );
        // Which member owns each partition, from the assignments the leader sent.
        let mut owners: BTreeMap<(String, i32), String> = BTreeMap::new();
        for member in info.members() {
            let assigned = member
                .assignment()
                .map(decode_assignment)
                .unwrap_or_default();
            let shown: Vec<String> = assigned
                .iter()
                .map(|(topic, partition)| format!("{topic}-{partition}"))
                .collect();
            println!(
                "  member {} client {} host {} assigned [{}]",
                member.id(),
                member.client_id(),
                member.client_host(),
                shown.join(", ")
            );
            for tp in assigned {
                owners.insert(tp, member.id().to_owned());
            }
        }
        let consumer = group_consumer(client, group)?;
        let partitions = partitions_of(&consumer, None)?;
        let mut positions = positions(&consumer, &partitions, false)?;
        // Assigned partitions without a commit yet are shown too, with no lag.
        let uncommitted: Vec<(String, i32)> = owners
            .keys()
            .filter(|tp| !positions.contains_key(*tp))
            .cloned()
            .collect();
        positions.extend(super::offsets::positions(&consumer, &uncommitted, true)?);
        println!(
            "{:<30} {:>9} {:>16} {:>16} {:>10}  MEMBER",
            "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG"
        );
        for ((topic, partition), position) in &positions {
            let (current, lag) = match position.committed {
                Some(offset) => (
                    offset.to_string(),
                    (position.log_end - offset).max(0).to_string(),
                ),
                None => ("-".to_owned(), "-".to_owned()),
            };
            let owner = owners
                .get(&(topic.clone(), *partition))
                .map_or("-", String::as_str);
            println!(
                "{topic:<30} {partition:>9} {current:>16} {:>16} {lag:>10}  {owner}",
                position.log_end
            );
        }
        consumer.unassign().ok();
    }
    Ok(())
}

/// A member's assignment as `(topic, partition)` pairs; assignments that are not
/// Kafka's consumer protocol are shown as empty rather than failing the command.
fn decode_assignment(bytes: &[u8]) -> Vec<(String, i32)> {
    let mut buf = Bytes::copy_from_slice(bytes);
    if buf.len() < 2 {
        return Vec::new();
    }
    let version = i16::from_be_bytes([buf[0], buf[1]]);
    let _ = bytes::Buf::get_i16(&mut buf);
    // Newer versions only add fields at the end, so decode at the highest we know.
    let version = version.min(3);
    match ConsumerProtocolAssignment::decode(&mut buf, version) {
        Ok(assignment) => assignment
            .assigned_partitions
            .into_iter()
            .flat_map(|tp| {
                let topic = tp.topic;
                tp.partitions.into_iter().map(move |p| (topic.clone(), p))
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;
    use weir_core::protocol::messages::consumer_protocol_assignment::TopicPartition;
    use weir_core::protocol::Encodable;

    #[test]
    fn assignments_decode_from_the_consumer_protocol() {
        let assignment = ConsumerProtocolAssignment {
            assigned_partitions: vec![TopicPartition {
                topic: "orders".into(),
                partitions: vec![0, 2],
            }],
            ..Default::default()
        };
        let mut buf = bytes::BytesMut::new();
        buf.put_i16(1);
        assignment.encode(&mut buf, 1);
        assert_eq!(
            decode_assignment(&buf),
            vec![("orders".to_owned(), 0), ("orders".to_owned(), 2)]
        );
        assert!(decode_assignment(&[0]).is_empty());
        assert!(decode_assignment(&[0, 1, 0xff]).is_empty());
    }
}
