//! CreateTopics, DeleteTopics and CreatePartitions.

use std::collections::HashMap;

use super::configs::describe_topic_configs;
use super::errors::{message, metadata_error_code};
use super::RequestContext;
use crate::broker::state::BrokerState;
use crate::metadata::{MetadataError, TopicConfigs};
use crate::protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use crate::protocol::messages::create_topics_request::CreatableTopic;
use crate::protocol::messages::create_topics_response::{
    CreatableTopicConfigs, CreatableTopicResult,
};
use crate::protocol::messages::delete_topics_response::DeletableTopicResult;
use crate::protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse,
};
use crate::protocol::{ErrorCode, Uuid};

pub(super) async fn create(
    state: &BrokerState,
    ctx: &RequestContext,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for topic in &request.topics {
        *seen.entry(topic.name.clone()).or_default() += 1;
    }
    let mut topics = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let name = topic.name.clone();
        let mut result = CreatableTopicResult {
            name: name.clone(),
            num_partitions: -1,
            replication_factor: -1,
            configs: None,
            ..Default::default()
        };
        if seen[&name] > 1 {
            result.error_code = ErrorCode::InvalidRequest.code();
            result.error_message = Some(format!(
                "topic '{name}' appears more than once in the request"
            ));
            topics.push(result);
            continue;
        }
        match create_one(state, topic, request.validate_only).await {
            Ok((partitions, configs, id)) => {
                result.num_partitions = partitions;
                result.replication_factor = 1;
                result.topic_id = id;
                if ctx.version >= 5 {
                    result.configs = Some(
                        describe_topic_configs(state, &configs, None)
                            .into_iter()
                            .map(|c| CreatableTopicConfigs {
                                name: c.name,
                                value: c.value,
                                read_only: c.read_only,
                                config_source: c.config_source,
                                is_sensitive: c.is_sensitive,
                                ..Default::default()
                            })
                            .collect(),
                    );
                }
            }
            Err(error) => {
                result.error_code = metadata_error_code(&error).code();
                result.error_message = Some(message(&error));
            }
        }
        topics.push(result);
    }
    CreateTopicsResponse {
        topics,
        ..Default::default()
    }
}

async fn create_one(
    state: &BrokerState,
    topic: CreatableTopic,
    validate_only: bool,
) -> Result<(i32, TopicConfigs, Uuid), MetadataError> {
    if !matches!(topic.replication_factor, -1 | 1) {
        return Err(MetadataError::InvalidReplicationFactor(i32::from(
            topic.replication_factor,
        )));
    }
    let partitions = if topic.assignments.is_empty() {
        if topic.num_partitions == -1 {
            state.config.num_partitions
        } else {
            topic.num_partitions
        }
    } else {
        if topic.num_partitions != -1 || topic.replication_factor != -1 {
            return Err(MetadataError::InvalidReplicaAssignment(
                "with a replica assignment, numPartitions and replicationFactor must be -1".into(),
            ));
        }
        check_assignments(
            state,
            topic.assignments.iter().map(|a| a.broker_ids.as_slice()),
        )?;
        let mut indexes: Vec<i32> = topic
            .assignments
            .iter()
            .map(|a| a.partition_index)
            .collect();
        indexes.sort_unstable();
        if indexes.iter().enumerate().any(|(i, p)| *p != i as i32) {
            return Err(MetadataError::InvalidReplicaAssignment(
                "partitions must be numbered 0, 1, 2, … without gaps".into(),
            ));
        }
        indexes.len() as i32
    };
    let mut configs = TopicConfigs::default();
    for config in &topic.configs {
        let Some(value) = &config.value else {
            continue;
        };
        configs.set(&config.name, value)?;
    }
    let created = state
        .topics
        .create(&topic.name, partitions, configs.clone(), validate_only)
        .await?;
    Ok((
        partitions,
        configs,
        created.map(|t| t.id).unwrap_or_default(),
    ))
}

/// A single node can only place replicas on itself, one replica per partition.
fn check_assignments<'a>(
    state: &BrokerState,
    assignments: impl Iterator<Item = &'a [i32]>,
) -> Result<(), MetadataError> {
    let node = state.config.node_id;
    for brokers in assignments {
        if brokers != [node] {
            return Err(MetadataError::InvalidReplicaAssignment(format!(
                "replicas {brokers:?} cannot be placed: the only broker is node {node}"
            )));
        }
    }
    Ok(())
}

pub(super) async fn delete(
    state: &BrokerState,
    ctx: &RequestContext,
    request: DeleteTopicsRequest,
) -> DeleteTopicsResponse {
    // v6 names topics by name or id; earlier versions by name only.
    let targets: Vec<(Option<String>, Uuid)> = if ctx.version >= 6 {
        request
            .topics
            .into_iter()
            .map(|t| (t.name, t.topic_id))
            .collect()
    } else {
        request
            .topic_names
            .into_iter()
            .map(|n| (Some(n), Uuid::default()))
            .collect()
    };
    let mut responses = Vec::with_capacity(targets.len());
    for (name, id) in targets {
        let topic = match &name {
            Some(name) => state.topics.get(name),
            None => state.topics.get_by_id(id),
        };
        let mut result = DeletableTopicResult {
            name: name.clone(),
            topic_id: id,
            ..Default::default()
        };
        match topic {
            None => {
                result.error_code = if name.is_some() {
                    ErrorCode::UnknownTopicOrPartition
                } else {
                    ErrorCode::UnknownTopicId
                }
                .code();
            }
            Some(topic) => {
                result.name = Some(topic.name.to_string());
                result.topic_id = topic.id;
                if let Err(error) = state.topics.delete(&topic.name).await {
                    result.error_code = metadata_error_code(&error).code();
                    result.error_message = Some(message(&error));
                }
            }
        }
        responses.push(result);
    }
    DeleteTopicsResponse {
        responses,
        ..Default::default()
    }
}

pub(super) async fn create_partitions(
    state: &BrokerState,
    request: CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let outcome = match &topic.assignments {
            Some(assignments) => {
                check_assignments(state, assignments.iter().map(|a| a.broker_ids.as_slice()))
            }
            None => Ok(()),
        };
        let outcome = match outcome {
            Ok(()) => {
                state
                    .topics
                    .create_partitions(&topic.name, topic.count, request.validate_only)
                    .await
            }
            Err(error) => Err(error),
        };
        let (error_code, error_message) = match outcome {
            Ok(()) => (ErrorCode::None.code(), None),
            Err(error) => (metadata_error_code(&error).code(), Some(message(&error))),
        };
        results.push(CreatePartitionsTopicResult {
            name: topic.name,
            error_code,
            error_message,
            ..Default::default()
        });
    }
    CreatePartitionsResponse {
        results,
        ..Default::default()
    }
}
