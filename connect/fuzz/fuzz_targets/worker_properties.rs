#![no_main]
//! See `weir_connect::fuzzing::worker_properties` for what is checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| weir_connect::fuzzing::worker_properties(data));
