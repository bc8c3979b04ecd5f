//! The `pgoutput` logical decoding messages (protocol version 1).
