#![no_main]
//! See `weir_connectors::fuzzing::pgoutput_message` for what is checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| weir_connectors::fuzzing::pgoutput_message(data));
