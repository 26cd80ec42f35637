// Copyright 2019 Octavian Oncescu
//
// Changed by Skyport (see vendor/PATCHES.md, M1): a layout whose alignment every block of
// mimalloc already has is allocated with the plain calls (`mi_malloc`, `mi_zalloc`,
// `mi_realloc`) instead of the `_aligned` ones.

#![no_std]

//! A drop-in global allocator wrapper around the [mimalloc](https://github.com/microsoft/mimalloc) allocator.
//! Mimalloc is a general purpose, performance oriented allocator built by Microsoft.
//!
//! ## Usage
//! ```rust,ignore
//! use mimalloc::MiMalloc;
//!
//! #[global_allocator]
//! static GLOBAL: MiMalloc = MiMalloc;
//! ```
//!
//! ## Usage with secure mode
//! Using secure mode adds guard pages,
//! randomized allocation, encrypted free lists, etc. The performance penalty is usually
//! around 10% according to [mimalloc's](https://github.com/microsoft/mimalloc)
//! own benchmarks.
//!
//! To enable secure mode, put in `Cargo.toml`:
//! ```toml
//! [dependencies]
//! mimalloc = { version = "*", features = ["secure"] }
//! ```

extern crate libmimalloc_sys as ffi;

#[cfg(feature = "extended")]
mod extended;

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;
use ffi::*;

/// Drop-in mimalloc global allocator.
///
/// ## Usage
/// ```rust,ignore
/// use mimalloc::MiMalloc;
///
/// #[global_allocator]
/// static GLOBAL: MiMalloc = MiMalloc;
/// ```
pub struct MiMalloc;

/// The alignment mimalloc gives every block at least that large (`MI_MAX_ALIGN_SIZE`, the
/// alignment of `max_align_t`, as `malloc` must).
const MIN_ALIGN: usize = 16;

/// Whether a block of `size` bytes from the plain calls is aligned enough for `align`. The
/// `_aligned` calls are slower for most layouts: in mimalloc v3 their fast path needs a free
/// block of the size class at hand that happens to be aligned, and otherwise (any block over
/// 1 KiB, or a size class whose page has no free block) a size class that is not a power of
/// two is over-allocated by `align - 1` bytes and aligned inside the block.
#[inline]
fn plain(size: usize, align: usize) -> bool {
    align <= MIN_ALIGN && align <= size
}

unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if plain(layout.size(), layout.align()) {
            mi_malloc(layout.size()) as *mut u8
        } else {
            mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if plain(layout.size(), layout.align()) {
            mi_zalloc(layout.size()) as *mut u8
        } else {
            mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        mi_free(ptr as *mut c_void);
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if plain(new_size, layout.align()) {
            mi_realloc(ptr as *mut c_void, new_size) as *mut u8
        } else {
            mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_frees_allocated_memory() {
        unsafe {
            let layout = Layout::from_size_align(8, 8).unwrap();
            let alloc = MiMalloc;

            let ptr = alloc.alloc(layout);
            alloc.dealloc(ptr, layout);
        }
    }

    #[test]
    fn it_frees_allocated_big_memory() {
        unsafe {
            let layout = Layout::from_size_align(1 << 20, 32).unwrap();
            let alloc = MiMalloc;

            let ptr = alloc.alloc(layout);
            alloc.dealloc(ptr, layout);
        }
    }

    #[test]
    fn it_frees_zero_allocated_memory() {
        unsafe {
            let layout = Layout::from_size_align(8, 8).unwrap();
            let alloc = MiMalloc;

            let ptr = alloc.alloc_zeroed(layout);
            alloc.dealloc(ptr, layout);
        }
    }

    #[test]
    fn it_frees_zero_allocated_big_memory() {
        unsafe {
            let layout = Layout::from_size_align(1 << 20, 32).unwrap();
            let alloc = MiMalloc;

            let ptr = alloc.alloc_zeroed(layout);
            alloc.dealloc(ptr, layout);
        }
    }

    #[test]
    fn it_frees_reallocated_memory() {
        unsafe {
            let layout = Layout::from_size_align(8, 8).unwrap();
            let alloc = MiMalloc;

            let ptr = alloc.alloc(layout);
            let ptr = alloc.realloc(ptr, layout, 16);
            alloc.dealloc(ptr, layout);
        }
    }

    #[test]
    fn it_frees_reallocated_big_memory() {
        unsafe {
            let layout = Layout::from_size_align(1 << 20, 32).unwrap();
            let alloc = MiMalloc;

            let ptr = alloc.alloc(layout);
            let ptr = alloc.realloc(ptr, layout, 2 << 20);
            alloc.dealloc(ptr, layout);
        }
    }

    #[test]
    fn every_layout_gets_its_alignment_and_keeps_its_bytes() {
        let alloc = MiMalloc;
        let mut sizes = [0usize; 64];
        for (i, s) in sizes.iter_mut().enumerate() {
            // Every size class up to 1 KiB, then blocks that are and are not powers of two.
            *s = if i < 40 { i * 8 + 1 } else { 1000 + (i - 40) * 700 };
        }
        for &size in sizes.iter().chain([4096, 8192, 65536, 1 << 20].iter()) {
            for align in [1usize, 2, 4, 8, 16, 32, 64, 4096] {
                let size = (size + align - 1) / align * align;
                let layout = Layout::from_size_align(size, align).unwrap();
                unsafe {
                    let p = alloc.alloc(layout);
                    assert!(!p.is_null() && p as usize % align == 0, "{size} {align}");
                    core::ptr::write_bytes(p, 0xa5, size);
                    let grown = size * 3 + align;
                    let q = alloc.realloc(p, layout, grown);
                    assert!(!q.is_null() && q as usize % align == 0, "{grown} {align}");
                    assert!((0..size).all(|i| *q.add(i) == 0xa5), "bytes kept: {size} {align}");
                    alloc.dealloc(q, Layout::from_size_align(grown, align).unwrap());
                    let z = alloc.alloc_zeroed(layout);
                    assert!(!z.is_null() && z as usize % align == 0, "zeroed {size} {align}");
                    assert!((0..size).all(|i| *z.add(i) == 0), "zeroed: {size} {align}");
                    alloc.dealloc(z, layout);
                }
            }
        }
    }
}
