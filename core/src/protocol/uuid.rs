//! Kafka's 128-bit UUID (topic IDs, directory IDs).

use std::fmt;

/// A Kafka UUID: 16 bytes, big-endian on the wire.
///
/// `Display` uses Kafka's form: URL-safe base64 without padding (22 characters), as
/// printed by `kafka-topics.sh --describe`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The all-zero UUID, Kafka's `Uuid.ZERO_UUID` ("no topic ID").
    pub const ZERO: Uuid = Uuid([0; 16]);

    /// Whether this is the all-zero UUID.
    pub fn is_zero(&self) -> bool {
        *self == Self::ZERO
    }
}

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // 16 bytes = 5 groups of 3 bytes (4 chars each) + 1 byte (2 chars).
        let mut out = [0u8; 22];
        let mut o = 0;
        for chunk in self.0.chunks(3) {
            let b0 = chunk[0];
            let b1 = chunk.get(1).copied().unwrap_or(0);
            let b2 = chunk.get(2).copied().unwrap_or(0);
            let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
            let chars = chunk.len() + 1;
            for i in 0..chars {
                let idx = (n >> (18 - 6 * i)) & 0x3f;
                out[o] = BASE64URL[idx as usize];
                o += 1;
            }
        }
        // Every byte written above comes from the ASCII alphabet.
        f.write_str(std::str::from_utf8(&out).map_err(|_| fmt::Error)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_uuid_displays_as_kafka_does() {
        assert_eq!(Uuid::ZERO.to_string(), "AAAAAAAAAAAAAAAAAAAAAA");
    }

    #[test]
    fn uuid_displays_as_base64url_without_padding() {
        let mut bytes = [0u8; 16];
        bytes[15] = 0xff;
        bytes[0] = 0xfb;
        let s = Uuid(bytes).to_string();
        assert_eq!(s.len(), 22);
        assert_eq!(s, "-wAAAAAAAAAAAAAAAAAA_w");
    }
}
