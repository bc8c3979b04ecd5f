//! ListGroups, DescribeGroups and DeleteGroups.

use bytes::Bytes;

use super::records::RecordKey;
use super::state::GroupState;
use super::GroupCoordinator;
use crate::protocol::ErrorCode;

/// A group as ListGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedGroup {
    pub group_id: String,
    pub protocol_type: String,
    pub state: &'static str,
}

/// A group as DescribeGroups reports it; unknown groups are `Dead` with no members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedGroup {
    pub group_id: String,
    pub state: &'static str,
    pub protocol_type: String,
    /// The selected protocol; empty unless the group is Stable.
    pub protocol: String,
    pub members: Vec<DescribedMember>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescribedMember {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// The member's metadata for the selected protocol, untouched.
    pub metadata: Bytes,
    pub assignment: Bytes,
}

impl GroupCoordinator {
    /// Every group, filtered by state (case-insensitive) when `states` is non-empty.
    pub async fn list_groups(&self, states: &[String]) -> Vec<ListedGroup> {
        let groups = self.inner.groups.lock().await;
        let mut listed: Vec<ListedGroup> = groups
            .values()
            .filter(|g| {
                states.is_empty()
                    || states
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(g.state.name()))
            })
            .map(|g| ListedGroup {
                group_id: g.id.clone(),
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                state: g.state.name(),
            })
            .collect();
        listed.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        listed
    }

    pub async fn describe_groups(&self, ids: &[String]) -> Vec<DescribedGroup> {
        let groups = self.inner.groups.lock().await;
        ids.iter()
            .map(|id| match groups.get(id) {
                None => DescribedGroup {
                    group_id: id.clone(),
                    state: "Dead",
                    protocol_type: String::new(),
                    protocol: String::new(),
                    members: Vec::new(),
                },
                Some(group) => {
                    // As Kafka: metadata and assignments only once the group is Stable,
                    // when they describe one consistent generation.
                    let stable = group.state == GroupState::Stable;
                    let protocol = group.protocol_name.clone().unwrap_or_default();
                    DescribedGroup {
                        group_id: id.clone(),
                        state: group.state.name(),
                        protocol_type: group.protocol_type.clone().unwrap_or_default(),
                        protocol: if stable {
                            protocol.clone()
                        } else {
                            String::new()
                        },
                        members: group
                            .members
                            .values()
                            .map(|m| DescribedMember {
                                member_id: m.id.clone(),
                                instance_id: m.instance_id.clone(),
                                client_id: m.client_id.clone(),
                                client_host: m.client_host.clone(),
                                metadata: if stable {
                                    m.metadata(&protocol)
                                } else {
                                    Bytes::new()
                                },
                                assignment: if stable {
                                    m.assignment.clone()
                                } else {
                                    Bytes::new()
                                },
                            })
                            .collect(),
                    }
                }
            })
            .collect()
    }

    /// Deletes empty groups with their offsets; one code per group, in order.
    pub async fn delete_groups(&self, ids: &[String]) -> Vec<ErrorCode> {
        let inner = &self.inner;
        let mut codes = Vec::with_capacity(ids.len());
        let mut writes = Vec::new();
        {
            let mut groups = inner.groups.lock().await;
            for id in ids {
                let code = match groups.get(id) {
                    None => ErrorCode::GroupIdNotFound,
                    Some(g) if g.state != GroupState::Empty || !g.pending_members.is_empty() => {
                        ErrorCode::NonEmptyGroup
                    }
                    Some(group) => {
                        let keys: Vec<(String, i32)> = group.offsets.keys().cloned().collect();
                        let mut tombstones = super::offsets::offset_tombstones(id, &keys);
                        tombstones.push((RecordKey::Group { group: id.clone() }, None));
                        groups.remove(id);
                        writes.push((codes.len(), inner.start_write(id, tombstones).await));
                        ErrorCode::None
                    }
                };
                codes.push(code);
            }
        }
        for (index, write) in writes {
            let result = match write {
                Ok(write) => write.wait().await,
                Err(code) => Err(code),
            };
            if let Err(code) = result {
                codes[index] = code;
            }
        }
        codes
    }
}
