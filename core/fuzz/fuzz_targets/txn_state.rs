#![no_main]
//! See `weir_core::fuzzing::txn_state` for what the input means and what is checked.

#[global_allocator]
static ALLOCATOR: weir_core_fuzz::CappedAllocator = weir_core_fuzz::CappedAllocator;

libfuzzer_sys::fuzz_target!(|data: &[u8]| weir_core::fuzzing::txn_state(data));
