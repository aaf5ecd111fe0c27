//! The guest's heap on `wasm32-unknown-unknown`: dlmalloc, the allocator Rust's standard
//! library uses on that target, but fed first with the memory the module already has past
//! its data (`__heap_base` up to the initial memory size), and only then with `memory.grow`.
//!
//! Why: the host runs every call in a fresh instance, which starts from the initial memory.
//! std's allocator grows memory on the first allocation of every call, and each growth costs
//! the host a page-protection change, plus another to shrink the slot back for the next
//! instance: system calls that were about a third of a call. Linked with enough initial
//! memory (`policies/build.sh` gives the built-ins 1 MiB), a typical call never grows.
//!
//! Disable the `allocator` feature to bring your own `#[global_allocator]`.

// The allocator interface is unsafe by nature; this module is the SDK's only unsafe code.
#![allow(unsafe_code)]

use core::alloc::{GlobalAlloc, Layout};
use core::arch::wasm32;
use core::cell::{Cell, UnsafeCell};
use core::ptr;

use dlmalloc::{Allocator, Dlmalloc};

const PAGE: usize = 64 * 1024;

extern "C" {
    // Defined by the linker: the first byte after the data and the stack.
    static __heap_base: u8;
}

/// Hands dlmalloc the initial memory's free tail once, then grows memory page by page.
struct InitialThenGrow {
    tail_given: Cell<bool>,
}

impl InitialThenGrow {
    /// `[__heap_base, end of memory)`, if it is not given yet and holds `size` bytes.
    fn tail(&self, size: usize) -> Option<(*mut u8, usize)> {
        if self.tail_given.get() {
            return None;
        }
        // SAFETY: only the address of the linker symbol is taken, never its contents.
        let base = unsafe { ptr::addr_of!(__heap_base) } as usize;
        let base = base.checked_add(15)? & !15;
        let end = wasm32::memory_size(0).checked_mul(PAGE)?;
        let len = end.checked_sub(base)?;
        if len < size {
            return None;
        }
        self.tail_given.set(true);
        Some((base as *mut u8, len))
    }
}

// SAFETY: every region returned is memory of this instance that nothing else uses: the
// tail past `__heap_base` (handed out once) or pages `memory.grow` just added.
unsafe impl Allocator for InitialThenGrow {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        if let Some((base, len)) = self.tail(size) {
            return (base, len, 0);
        }
        let pages = size.div_ceil(PAGE);
        let previous = wasm32::memory_grow(0, pages);
        if previous == usize::MAX {
            return (ptr::null_mut(), 0, 0);
        }
        ((previous * PAGE) as *mut u8, pages * PAGE, 0)
    }

    fn remap(&self, _: *mut u8, _: usize, _: usize, _: bool) -> *mut u8 {
        ptr::null_mut()
    }

    fn free_part(&self, _: *mut u8, _: usize, _: usize) -> bool {
        false
    }

    fn free(&self, _: *mut u8, _: usize) -> bool {
        false
    }

    fn can_release_part(&self, _: u32) -> bool {
        false
    }

    fn allocates_zeros(&self) -> bool {
        // The tail has never been written in a fresh instance, and grown pages are zero.
        true
    }

    fn page_size(&self) -> usize {
        PAGE
    }
}

/// The global allocator of SDK guests.
pub struct GuestHeap(UnsafeCell<Dlmalloc<InitialThenGrow>>);

// SAFETY: wasm32 without the atomics feature has a single thread.
unsafe impl Sync for GuestHeap {}

impl GuestHeap {
    const fn new() -> Self {
        Self(UnsafeCell::new(Dlmalloc::new_with_allocator(
            InitialThenGrow {
                tail_given: Cell::new(false),
            },
        )))
    }
}

// SAFETY: forwards to dlmalloc, which upholds the `GlobalAlloc` contract; the single thread
// means no two calls overlap.
unsafe impl GlobalAlloc for GuestHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        (*self.0.get()).malloc(layout.size(), layout.align())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        (*self.0.get()).calloc(layout.size(), layout.align())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        (*self.0.get()).free(ptr, layout.size(), layout.align())
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        (*self.0.get()).realloc(ptr, layout.size(), layout.align(), new_size)
    }
}

#[global_allocator]
static HEAP: GuestHeap = GuestHeap::new();
