#![no_main]
//! See `weir_core::fuzzing::decompress` for what is checked.

#[global_allocator]
static ALLOCATOR: weir_core_fuzz::CappedAllocator = weir_core_fuzz::CappedAllocator;

libfuzzer_sys::fuzz_target!(|data: &[u8]| weir_core::fuzzing::decompress_lz4(data));
