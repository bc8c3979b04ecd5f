#![no_main]
//! See `weir_connectors::fuzzing::jdbc_cell` for what is checked.

libfuzzer_sys::fuzz_target!(|data: &[u8]| weir_connectors::fuzzing::jdbc_cell(data));
