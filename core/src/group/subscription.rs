//! Reads the topics out of a consumer-protocol subscription, for the one decision that
//! needs them: OffsetDelete refuses topics the group still consumes. Everything else
//! passes member metadata through untouched.

use bytes::Bytes;

use crate::protocol::messages::ConsumerProtocolSubscription;
use crate::protocol::{Decodable, Message};

/// The subscribed topics, or `None` if the metadata is not a readable subscription.
pub(crate) fn topics(metadata: &Bytes) -> Option<Vec<String>> {
    let mut buf = metadata.clone();
    if buf.len() < 2 {
        return None;
    }
    let version = i16::from_be_bytes([buf[0], buf[1]]);
    let _ = bytes::Buf::get_i16(&mut buf);
    // Newer versions only append fields, so the newest known layout reads their prefix.
    let version = version.clamp(0, ConsumerProtocolSubscription::VERSIONS.max);
    ConsumerProtocolSubscription::decode(&mut buf, version)
        .ok()
        .map(|s| s.topics)
}

#[cfg(test)]
mod tests {
    use bytes::{BufMut, BytesMut};

    use super::*;
    use crate::protocol::Encodable;

    #[test]
    fn topics_come_out_of_every_subscription_version() {
        for version in 0..=3 {
            let mut buf = BytesMut::new();
            buf.put_i16(version);
            ConsumerProtocolSubscription {
                topics: vec!["a".into(), "b".into()],
                ..Default::default()
            }
            .encode(&mut buf, version);
            assert_eq!(
                topics(&buf.freeze()),
                Some(vec!["a".to_owned(), "b".to_owned()])
            );
        }
        assert_eq!(topics(&Bytes::from_static(b"\x00")), None);
    }
}
