//! Metadata: brokers, topics and partition leaders. Asking for a topic that does not
//! exist creates it when `auto.create.topics.enable` allows, as Kafka does.

use std::sync::Arc;

use super::errors::metadata_error_code;
use super::{authorized_operations, RequestContext};
use crate::broker::state::BrokerState;
use crate::metadata::{validate_topic_name, Topic, TopicConfigs};
use crate::protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use crate::protocol::messages::{MetadataRequest, MetadataResponse};
use crate::protocol::ErrorCode;

pub(super) async fn handle(
    state: &BrokerState,
    ctx: &RequestContext,
    request: MetadataRequest,
) -> MetadataResponse {
    // v0 used an empty list for "all topics"; later versions use null.
    let requested = match request.topics {
        Some(topics) if !(ctx.version == 0 && topics.is_empty()) => Some(topics),
        _ => None,
    };
    let auto_create = request.allow_auto_topic_creation && state.config.auto_create_topics;
    let operations = authorized_operations::topic(request.include_topic_authorized_operations);
    let topics = match requested {
        None => state
            .topics
            .all()
            .iter()
            .map(|t| describe(state, t, operations))
            .collect(),
        Some(requested) => {
            let mut topics = Vec::with_capacity(requested.len());
            for wanted in requested {
                let found = match &wanted.name {
                    Some(name) => lookup_or_create(state, name, auto_create).await,
                    None => state
                        .topics
                        .get_by_id(wanted.topic_id)
                        .ok_or(ErrorCode::UnknownTopicId),
                };
                topics.push(match found {
                    Ok(topic) => describe(state, &topic, operations),
                    Err(error) => MetadataResponseTopic {
                        error_code: error.code(),
                        name: wanted.name,
                        topic_id: wanted.topic_id,
                        topic_authorized_operations: operations,
                        ..Default::default()
                    },
                });
            }
            topics
        }
    };
    MetadataResponse {
        brokers: vec![MetadataResponseBroker {
            node_id: state.config.node_id,
            host: state.advertised_host.clone(),
            port: state.advertised_port,
            rack: None,
            ..Default::default()
        }],
        cluster_id: Some(state.cluster_id.clone()),
        controller_id: state.config.node_id,
        topics,
        cluster_authorized_operations: authorized_operations::cluster(
            request.include_cluster_authorized_operations,
        ),
        ..Default::default()
    }
}

async fn lookup_or_create(
    state: &BrokerState,
    name: &str,
    auto_create: bool,
) -> Result<Arc<Topic>, ErrorCode> {
    if let Some(topic) = state.topics.get(name) {
        return Ok(topic);
    }
    if validate_topic_name(name).is_err() {
        return Err(ErrorCode::InvalidTopicException);
    }
    if !auto_create {
        return Err(ErrorCode::UnknownTopicOrPartition);
    }
    let created = state
        .topics
        .create(
            name,
            state.config.num_partitions,
            TopicConfigs::default(),
            false,
        )
        .await;
    match created {
        Ok(Some(topic)) => Ok(topic),
        Ok(None) => Err(ErrorCode::UnknownTopicOrPartition),
        // Another request created it first.
        Err(crate::metadata::MetadataError::TopicAlreadyExists(_)) => state
            .topics
            .get(name)
            .ok_or(ErrorCode::UnknownTopicOrPartition),
        Err(error) => {
            tracing::warn!(topic = name, %error, "auto-creating topic failed");
            Err(metadata_error_code(&error))
        }
    }
}

fn describe(state: &BrokerState, topic: &Topic, operations: i32) -> MetadataResponseTopic {
    let node = state.config.node_id;
    MetadataResponseTopic {
        error_code: ErrorCode::None.code(),
        name: Some(topic.name.to_string()),
        topic_id: topic.id,
        is_internal: topic.is_internal(),
        partitions: (0..topic.partitions.len() as i32)
            .map(|index| MetadataResponsePartition {
                error_code: ErrorCode::None.code(),
                partition_index: index,
                leader_id: node,
                leader_epoch: 0,
                replica_nodes: vec![node],
                isr_nodes: vec![node],
                offline_replicas: Vec::new(),
                ..Default::default()
            })
            .collect(),
        topic_authorized_operations: operations,
        ..Default::default()
    }
}
