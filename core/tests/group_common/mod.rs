//! A broker on 127.0.0.1:0 and a raw-protocol client for the group tests.

#![allow(dead_code, unreachable_pub)] // each test file uses a different subset

use std::net::SocketAddr;
use std::path::Path;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use weir_core::broker::{run, BrokerConfig};
use weir_core::protocol::messages::create_topics_request::CreatableTopic;
use weir_core::protocol::messages::join_group_request::JoinGroupRequestProtocol;
use weir_core::protocol::messages::{
    ConsumerProtocolSubscription, CreateTopicsRequest, JoinGroupRequest, JoinGroupResponse,
};
use weir_core::protocol::{
    request_header_version, response_header_version, Decodable, Encodable, Request, RequestHeader,
    ResponseHeader,
};

pub struct Broker {
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinSet<()>,
}

impl Broker {
    pub async fn start(dir: &Path) -> Broker {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = BrokerConfig::new(dir);
        config.set("group.initial.rebalance.delay.ms", "0").unwrap();
        config.set("offsets.topic.num.partitions", "3").unwrap();
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        let mut task = JoinSet::new();
        task.spawn(async move { run(listener, config, token).await.unwrap() });
        Broker {
            addr,
            shutdown,
            task,
        }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let mut task = self.task;
        task.join_next().await.unwrap().unwrap();
    }

    pub async fn client(&self) -> Client {
        Client {
            stream: TcpStream::connect(self.addr).await.unwrap(),
            correlation_id: 0,
        }
    }
}

pub struct Client {
    stream: TcpStream,
    correlation_id: i32,
}

impl Client {
    pub async fn send<R: Request>(&mut self, request: &R, version: i16) -> R::Response {
        self.correlation_id += 1;
        let mut buf = BytesMut::new();
        buf.put_i32(0);
        RequestHeader {
            request_api_key: R::API_KEY as i16,
            request_api_version: version,
            correlation_id: self.correlation_id,
            client_id: Some("group-test".into()),
            ..Default::default()
        }
        .encode(&mut buf, request_header_version(R::API_KEY, version));
        request.encode(&mut buf, version);
        let size = (buf.len() - 4) as i32;
        buf[..4].copy_from_slice(&size.to_be_bytes());
        self.stream.write_all(&buf).await.unwrap();
        let size = self.stream.read_i32().await.unwrap() as usize;
        let mut body = vec![0; size];
        self.stream.read_exact(&mut body).await.unwrap();
        let mut body = Bytes::from(body);
        let header =
            ResponseHeader::decode(&mut body, response_header_version(R::API_KEY, version))
                .unwrap();
        assert_eq!(header.correlation_id, self.correlation_id);
        let response = R::Response::decode(&mut body, version).unwrap();
        assert!(!body.has_remaining(), "{} bytes left over", body.len());
        response
    }

    pub async fn create_topic(&mut self, name: &str, partitions: i32) {
        let response = self
            .send(
                &CreateTopicsRequest {
                    topics: vec![CreatableTopic {
                        name: name.into(),
                        num_partitions: partitions,
                        replication_factor: 1,
                        ..Default::default()
                    }],
                    timeout_ms: 5000,
                    ..Default::default()
                },
                5,
            )
            .await;
        assert_eq!(response.topics[0].error_code, 0, "{response:?}");
    }

    /// A JoinGroup v9 as a consumer subscribed to `topics` would send it.
    pub async fn join(
        &mut self,
        group: &str,
        member_id: &str,
        instance_id: Option<&str>,
        topics: &[&str],
    ) -> JoinGroupResponse {
        self.send(&join_request(group, member_id, instance_id, topics), 9)
            .await
    }

    /// Joins as a new member, following KIP-394's MEMBER_ID_REQUIRED round trip.
    pub async fn join_new(&mut self, group: &str, topics: &[&str]) -> JoinGroupResponse {
        let first = self.join(group, "", None, topics).await;
        assert_eq!(
            first.error_code, 79,
            "MEMBER_ID_REQUIRED expected: {first:?}"
        );
        assert!(!first.member_id.is_empty());
        self.join(group, &first.member_id, None, topics).await
    }
}

pub fn join_request(
    group: &str,
    member_id: &str,
    instance_id: Option<&str>,
    topics: &[&str],
) -> JoinGroupRequest {
    JoinGroupRequest {
        group_id: group.into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 10_000,
        member_id: member_id.into(),
        group_instance_id: instance_id.map(Into::into),
        protocol_type: "consumer".into(),
        protocols: vec![JoinGroupRequestProtocol {
            name: "range".into(),
            metadata: subscription(topics),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// ConsumerProtocolSubscription v1 bytes, version prefix included.
pub fn subscription(topics: &[&str]) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(1);
    ConsumerProtocolSubscription {
        topics: topics.iter().map(|t| t.to_string()).collect(),
        ..Default::default()
    }
    .encode(&mut buf, 1);
    buf.freeze()
}
