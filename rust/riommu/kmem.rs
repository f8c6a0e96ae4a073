// SPDX-License-Identifier: GPL-2.0

//! The allocator of the domains the API allocates: `kmalloc()`
//! and `kfree()`, as the C drivers allocate theirs.
//!
//! [`Kmalloc`] reaches the slab allocator only through `krealloc()`, which
//! for every allocation first checks for an old object and for every free
//! goes through `krealloc(p, 0)`.  For objects that are allocated once and
//! never grown that is pure overhead on the domain allocation paths
//! (`Documentation/performance.rst`: nested HWPT alloc + destroy).
//! [`Kmem`] calls `kmalloc()` and `kfree()` directly and leaves the rest
//! (resizing, alignments above `kmalloc()`'s, a NUMA node) to [`Kmalloc`].

use core::{alloc::Layout, ptr::NonNull};
use kernel::alloc::{
    allocator::Kmalloc, flags::GFP_KERNEL, AllocError, Allocator, Flags, NumaNode,
};

/// `kmalloc()`/`kfree()` for fixed-size objects; see the module docs.
pub(in crate::riommu) struct Kmem;

/// A box of [`Kmem`] memory.
pub(in crate::riommu) type KmemBox<T> = kernel::alloc::Box<T, Kmem>;

// SAFETY: every allocation is `kmalloc()` memory, from `kmalloc()` itself or
// from `Kmalloc` (`krealloc_node_align()`), which is `kmalloc()` memory too
// (`__do_krealloc()` in mm/slub.c allocates with
// `kmalloc_node_track_caller_noprof()`), so either path may free or resize
// the other's memory:
// - `alloc` calls `kmalloc()` only for a non-zero size and an alignment at
//   most `ARCH_KMALLOC_MINALIGN` (`Kmalloc::MIN_ALIGN`), which `kmalloc()`
//   guarantees for every object (include/linux/slab.h, kmalloc's kernel-doc);
//   it passes `GFP_KERNEL` for `flags == GFP_KERNEL` (`kernel::alloc::flags`
//   defines one as the other) and returns `layout.size()` bytes, valid
//   until freed.  Everything else goes to `Kmalloc::alloc`, with its
//   guarantees.
// - `realloc` is `Kmalloc::realloc`, whose `krealloc_node_align()` accepts
//   any `kmalloc()` object (mm/slub.c: `__do_krealloc()` reads its size from
//   its slab, or its page for a large one).
// - `free` is `kfree()`, which takes any `kmalloc()` object (its
//   kernel-doc in mm/slub.c); zero-sized allocations never reached the slab
//   (`Kmalloc` returns a dangling pointer for them) and are not freed.
unsafe impl Allocator for Kmem {
    const MIN_ALIGN: usize = Kmalloc::MIN_ALIGN;

    #[inline]
    fn alloc(layout: Layout, flags: Flags, nid: NumaNode) -> Result<NonNull<[u8]>, AllocError> {
        // `Flags` keeps its raw value to the kernel crate: the API's objects
        // are allocated with `GFP_KERNEL`, anything else goes to `Kmalloc`.
        if layout.size() == 0
            || layout.align() > Self::MIN_ALIGN
            || nid != NumaNode::NO_NODE
            || flags != GFP_KERNEL
        {
            return Kmalloc::alloc(layout, flags, nid);
        }
        // SAFETY: `riommu_shim_kmalloc()` is `kmalloc()`, callable with any
        // size and flags (it returns NULL on failure).
        let p = unsafe {
            super::bindings::riommu_shim_kmalloc(layout.size(), kernel::bindings::GFP_KERNEL)
        };
        let p = NonNull::new(p.cast::<u8>()).ok_or(AllocError)?;
        Ok(NonNull::slice_from_raw_parts(p, layout.size()))
    }

    #[inline]
    unsafe fn realloc(
        ptr: Option<NonNull<u8>>,
        layout: Layout,
        old_layout: Layout,
        flags: Flags,
        nid: NumaNode,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: our memory is `Kmalloc`'s kind (see the `unsafe impl`); the
        // caller gives `Kmalloc::realloc`'s requirements.
        unsafe { Kmalloc::realloc(ptr, layout, old_layout, flags, nid) }
    }

    #[inline]
    unsafe fn free(ptr: NonNull<u8>, layout: Layout) {
        if layout.size() != 0 {
            // SAFETY: `ptr` is a live `kmalloc()` object of ours (caller),
            // never used again.
            unsafe { kernel::bindings::kfree(ptr.as_ptr().cast()) };
        }
    }
}
