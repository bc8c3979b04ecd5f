//! Support shared by the fuzz targets.
//!
//! libFuzzer's `-malloc_limit_mb` relies on sanitizer malloc hooks, which a build
//! without a sanitizer (`cargo fuzz run -s none`, the only kind stable Rust makes)
//! does not have: the flag is then silently ignored. [`CappedAllocator`] enforces the
//! same rule itself, so an input that makes a decoder allocate from an untrusted
//! length fails the run on every toolchain.

// Implementing `GlobalAlloc` is unsafe by definition; this wrapper only forwards to
// the system allocator after a size check.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};

/// The largest single allocation a target may make: 128 MiB, as `-malloc_limit_mb=128`.
pub const MAX_ALLOCATION: usize = 128 << 20;

/// The system allocator, aborting (which libFuzzer records as a crash, input saved)
/// on any single allocation larger than [`MAX_ALLOCATION`].
#[derive(Debug)]
pub struct CappedAllocator;

fn check(size: usize) {
    if size > MAX_ALLOCATION {
        // No allocation may happen here: write straight to stderr and abort.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"==weir-fuzz== allocation above the 128 MiB cap: an untrusted length reached an allocator\n",
        );
        std::process::abort();
    }
}

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds
// the `GlobalAlloc` contract; the size check has no effect on memory.
unsafe impl GlobalAlloc for CappedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        // SAFETY: forwarded unchanged, see above.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        check(layout.size());
        // SAFETY: forwarded unchanged, see above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged, see above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        check(new_size);
        // SAFETY: forwarded unchanged, see above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
