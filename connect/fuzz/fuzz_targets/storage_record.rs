#![no_main]
//! See `weir_connect::fuzzing::storage_record` for what is checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| weir_connect::fuzzing::storage_record(data));
