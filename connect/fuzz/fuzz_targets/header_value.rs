#![no_main]
//! See `weir_connect::fuzzing::header_value` for what is checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| weir_connect::fuzzing::header_value(data));
