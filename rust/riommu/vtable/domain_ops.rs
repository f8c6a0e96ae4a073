// SPDX-License-Identifier: GPL-2.0

//! The `struct iommu_domain_ops` callbacks of a driver's domains (see
//! [`super`]).

use crate::riommu::{
    bindings as rb,
    domain::{DirtyBitmap, Domain, DomainBox, NestedDomain, OldDomain, PagingDomain},
    iotlb::IotlbGather,
    pgtable::MapTarget,
    sva::SvaDomain,
    userdata::UserDataArray,
};
use crate::riommu::{
    device::IommuDevice,
    driver::DriverStatics,
    iopf::{self, fault_capable},
};
use kernel::{bindings, error::from_result, ffi, prelude::*};

/// A paging domain of `D` from a C pointer.
///
/// # Safety
///
/// `domain` must carry `D`'s paging ops (so it is a live `Domain<D::Paging>`).
pub(super) unsafe fn paging<'a, D: DriverStatics>(
    domain: *mut bindings::iommu_domain,
) -> &'a Domain<D::Paging> {
    // SAFETY: per the safety requirements.
    unsafe { Domain::from_raw(domain) }
}

/// # Safety
///
/// `domain` must carry `D`'s nested ops.
pub(super) unsafe fn nested<'a, D: DriverStatics>(
    domain: *mut bindings::iommu_domain,
) -> &'a Domain<D::Nested> {
    // SAFETY: per the safety requirements.
    unsafe { Domain::from_raw(domain) }
}

/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn enforce_cache_coherency<D: DriverStatics>(
    domain: *mut bindings::iommu_domain,
) -> bool {
    // SAFETY: our paging table.
    unsafe { paging::<D>(domain) }
        .enforce_cache_coherency()
        .is_ok()
}

/// The common part of every `attach_dev`: the device checked to be `D`'s,
/// the old domain classified, and IOPF enabled for the new domain before
/// `f` attaches it and disabled for the one left after
/// ([`iopf::attach_rid`]).
///
/// # Safety
///
/// The arguments of an `attach_dev` call: `domain` a live domain, `dev` a
/// live device, `old` NULL or a live domain, all for the call.
unsafe fn attach_glue<D: DriverStatics>(
    domain: *mut bindings::iommu_domain,
    dev: *mut bindings::device,
    old: *mut bindings::iommu_domain,
    f: impl FnOnce(&IommuDevice<'_, D>, OldDomain<'_, D>) -> Result,
) -> ffi::c_int {
    // SAFETY: per the safety requirements.
    let (dev, old, capable) = unsafe {
        (
            IommuDevice::<D>::from_raw_checked(dev),
            OldDomain::from_raw(old),
            fault_capable(domain),
        )
    };
    from_result(|| {
        let dev = dev?;
        iopf::attach_rid(&dev, capable, || f(&dev, old)).map(|()| 0)
    })
}

/// As [`attach_glue`] for `set_dev_pasid` ([`iopf::attach_pasid`]).
///
/// # Safety
///
/// The arguments of a `set_dev_pasid` call, as for [`attach_glue`].
unsafe fn set_pasid_glue<D: DriverStatics>(
    domain: *mut bindings::iommu_domain,
    dev: *mut bindings::device,
    old: *mut bindings::iommu_domain,
    f: impl FnOnce(&IommuDevice<'_, D>, OldDomain<'_, D>) -> Result,
) -> ffi::c_int {
    // SAFETY: per the safety requirements.
    let (dev, old_d, capable, old_capable) = unsafe {
        (
            IommuDevice::<D>::from_raw_checked(dev),
            OldDomain::from_raw(old),
            fault_capable(domain),
            fault_capable(old),
        )
    };
    from_result(|| {
        let dev = dev?;
        iopf::attach_pasid(&dev, capable, old_capable, || f(&dev, old_d)).map(|()| 0)
    })
}

/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn sva_set_dev_pasid<D: DriverStatics>(
    domain: *mut bindings::iommu_domain,
    dev: *mut bindings::device,
    pasid: bindings::ioasid_t,
    old: *mut bindings::iommu_domain,
) -> ffi::c_int {
    // SAFETY: our SVA table.
    let d = unsafe { Domain::<D::Sva>::from_raw(domain) };
    // SAFETY: the core's arguments.
    unsafe {
        set_pasid_glue::<D>(domain, dev, old, |dev, old| {
            SvaDomain::set_dev_pasid(d, dev, pasid, old)
        })
    }
}

/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn free<D: DriverStatics, T: Send + Sync + 'static>(
    domain: *mut bindings::iommu_domain,
) {
    let owner = D::statics().owner();
    // SAFETY: `free` is only in the tables of `Domain<T>`, which were
    // published by `publish`.
    unsafe { DomainBox::<T>::free_raw(domain) };
    // SAFETY: drops the reference `publish` took.  (As for any module
    // dropping its own reference, the last instructions of this function
    // still run from module text; rmmod waits for the refcount first.)
    unsafe { bindings::module_put(owner) };
}

/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn blocked_attach<D: DriverStatics>(
    domain: *mut bindings::iommu_domain,
    dev: *mut bindings::device,
    old: *mut bindings::iommu_domain,
) -> ffi::c_int {
    // SAFETY: the core's arguments.
    unsafe { attach_glue::<D>(domain, dev, old, |dev, old| D::attach_blocked(dev, old)) }
}

/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn identity_attach<D: DriverStatics>(
    domain: *mut bindings::iommu_domain,
    dev: *mut bindings::device,
    old: *mut bindings::iommu_domain,
) -> ffi::c_int {
    // SAFETY: the core's arguments.
    unsafe { attach_glue::<D>(domain, dev, old, |dev, old| D::attach_identity(dev, old)) }
}

/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn blocked_set_dev_pasid<D: DriverStatics>(
    _domain: *mut bindings::iommu_domain,
    dev: *mut bindings::device,
    pasid: bindings::ioasid_t,
    old: *mut bindings::iommu_domain,
) -> ffi::c_int {
    // SAFETY: the core's arguments: `dev` live (checked to be ours), `old`
    // the live domain the PASID leaves (`iommu_remove_dev_pasid()`).
    let (dev, old_d, old_capable) = unsafe {
        (
            IommuDevice::<D>::from_raw_checked(dev),
            OldDomain::from_raw(old),
            fault_capable(old),
        )
    };
    from_result(|| {
        let dev = dev?;
        iopf::block_pasid(&dev, old_capable, || {
            D::blocked_set_dev_pasid(&dev, pasid, old_d)
        })
        .map(|()| 0)
    })
}

/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn paging_attach<D: DriverStatics>(
    domain: *mut bindings::iommu_domain,
    dev: *mut bindings::device,
    old: *mut bindings::iommu_domain,
) -> ffi::c_int {
    // SAFETY: our paging table (the core calls a domain's own ops).
    let d = unsafe { paging::<D>(domain) };
    // SAFETY: the core's arguments.
    unsafe { attach_glue::<D>(domain, dev, old, |dev, old| d.attach_dev(dev, old)) }
}

/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn paging_set_dev_pasid<D: DriverStatics>(
    domain: *mut bindings::iommu_domain,
    dev: *mut bindings::device,
    pasid: bindings::ioasid_t,
    old: *mut bindings::iommu_domain,
) -> ffi::c_int {
    // SAFETY: our paging table (the core calls a domain's own ops).
    let d = unsafe { paging::<D>(domain) };
    // SAFETY: the core's arguments.
    unsafe {
        set_pasid_glue::<D>(domain, dev, old, |dev, old| {
            d.set_dev_pasid(dev, pasid, old)
        })
    }
}

/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn nested_attach<D: DriverStatics>(
    domain: *mut bindings::iommu_domain,
    dev: *mut bindings::device,
    old: *mut bindings::iommu_domain,
) -> ffi::c_int {
    // SAFETY: our nested table (the core calls a domain's own ops).
    let d = unsafe { nested::<D>(domain) };
    // SAFETY: the core's arguments.
    unsafe {
        attach_glue::<D>(domain, dev, old, |dev, old| {
            NestedDomain::attach_dev(d, dev, old)
        })
    }
}

/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn nested_set_dev_pasid<D: DriverStatics>(
    domain: *mut bindings::iommu_domain,
    dev: *mut bindings::device,
    pasid: bindings::ioasid_t,
    old: *mut bindings::iommu_domain,
) -> ffi::c_int {
    // SAFETY: our nested table (the core calls a domain's own ops).
    let d = unsafe { nested::<D>(domain) };
    // SAFETY: the core's arguments.
    unsafe {
        set_pasid_glue::<D>(domain, dev, old, |dev, old| {
            NestedDomain::set_dev_pasid(d, dev, pasid, old)
        })
    }
}

/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn map_pages<D: DriverStatics>(
    domain: *mut bindings::iommu_domain,
    iova: usize,
    paddr: bindings::phys_addr_t,
    pgsize: usize,
    pgcount: usize,
    prot: ffi::c_int,
    gfp: bindings::gfp_t,
    mapped: *mut usize,
) -> ffi::c_int {
    // Our page tables take sleeping locks and allocate with
    // GFP_KERNEL_ACCOUNT: refuse a caller that may not sleep (the DMA
    // API maps with GFP_ATOMIC; our paging domains are for iommufd and
    // other sleeping users, never a device's default DMA domain).
    // SAFETY: pure flag test (`gfpflags_allow_blocking()`).
    if !unsafe { rb::riommu_shim_gfp_may_sleep(gfp) } {
        return EINVAL.to_errno();
    }
    // SAFETY: our paging table.
    let d = unsafe { paging::<D>(domain) };
    let mut raw = core::mem::MaybeUninit::<bindings::iommu_iotlb_gather>::uninit();
    // SAFETY: `raw` is a local that is not moved while the gather lives.
    unsafe { rb::riommu_shim_gather_init(raw.as_mut_ptr()) };
    // SAFETY: initialised just above, exclusively ours, free list empty.
    let mut gather = unsafe { IotlbGather::from_raw(raw.as_mut_ptr()) };
    // SAFETY: the core's arguments, as `__iommu_map_domain_pgtbl()` (7.3
    // drivers/iommu/iommu.c) passes them, used only during this call: the
    // range its `iommu_map()` caller chose to expose (iommufd's pinned
    // pages or dma-buf MMIO, `iommufd_sw_msi_install()`'s doorbell; the
    // core checks nothing of it) and keeps valid until it unmaps the IOVA
    // range; `iova` and `paddr` aligned to `pgsize`, a size of the domain's
    // `pgsize_bitmap` (the alignment check there and `iommu_pgsize()`).
    let target = unsafe { MapTarget::new(iova as u64, paddr, pgsize as u64, pgcount as u64) };
    let (done, r) = d.map_pages(target, prot as u32, &mut gather);
    if gather.frees_tables() {
        // As generic_pt's `map_range()`: the unlinked tables must leave
        // the IOMMU's caches before their pages are reused.
        gather.add_range(iova as u64, done.max(pgsize as u64));
        d.iotlb_sync(&gather);
        // SAFETY: the driver's `iotlb_sync` has returned for this gather.
        unsafe { gather.release() };
    }
    // SAFETY: valid out-parameter (core).
    unsafe { *mapped = done as usize };
    from_result(|| r.map(|()| 0))
}

/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn unmap_pages<D: DriverStatics>(
    domain: *mut bindings::iommu_domain,
    iova: usize,
    pgsize: usize,
    pgcount: usize,
    gather: *mut bindings::iommu_iotlb_gather,
) -> usize {
    // SAFETY: our paging table; the core's gather, initialised by
    // `iommu_iotlb_gather_init()` and ours for the call, whose free list
    // only this API fills (no DMA flush queue uses our domains).
    let (d, mut gather) = unsafe { (paging::<D>(domain), IotlbGather::from_raw(gather)) };
    let n = d.unmap_pages(iova as u64, pgsize as u64, pgcount as u64, &mut gather);
    if gather.frees_tables() && gather.range().is_none() {
        // `iommu_iotlb_sync()` skips the op for an empty range (and then
        // re-initialises the gather, losing its pages): make it run.
        gather.add_range(iova as u64, (pgsize as u64).max(1));
    }
    n as usize
}

/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn iova_to_phys<D: DriverStatics>(
    domain: *mut bindings::iommu_domain,
    iova: bindings::dma_addr_t,
) -> bindings::phys_addr_t {
    // SAFETY: our paging table.
    unsafe { paging::<D>(domain) }.iova_to_phys(iova)
}

/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn flush_iotlb_all<D: DriverStatics>(
    domain: *mut bindings::iommu_domain,
) {
    // SAFETY: our paging table.
    unsafe { paging::<D>(domain) }.flush_iotlb_all()
}

/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn iotlb_sync<D: DriverStatics>(
    domain: *mut bindings::iommu_domain,
    gather: *mut bindings::iommu_iotlb_gather,
) {
    // SAFETY: as in `unmap_pages`: the gather the unmaps filled.
    let (d, mut gather) = unsafe { (paging::<D>(domain), IotlbGather::from_raw(gather)) };
    d.iotlb_sync(&gather);
    // Most syncs follow unmaps, which unlink no table: nothing to free.
    if gather.frees_tables() {
        // SAFETY: the driver's `iotlb_sync` has returned for this gather.
        // (The core re-initialises the gather after us.)
        unsafe { gather.release() };
    }
}

/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn set_dirty_tracking<D: DriverStatics>(
    domain: *mut bindings::iommu_domain,
    enable: bool,
) -> ffi::c_int {
    // SAFETY: `dirty_ops` are only set on our paging domains.
    let d = unsafe { paging::<D>(domain) };
    from_result(|| d.set_dirty_tracking(enable).map(|()| 0))
}

/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn read_and_clear_dirty<D: DriverStatics>(
    domain: *mut bindings::iommu_domain,
    iova: usize,
    size: usize,
    flags: usize,
    dirty: *mut bindings::iommu_dirty_bitmap,
) -> ffi::c_int {
    // SAFETY: as above; `dirty` valid for the call (core).
    let (d, mut bitmap) = unsafe { (paging::<D>(domain), DirtyBitmap::from_raw(dirty)) };
    let no_clear = flags & bindings::IOMMU_DIRTY_NO_CLEAR as usize != 0;
    from_result(|| {
        d.read_and_clear_dirty(iova as u64, size as u64, no_clear, &mut bitmap)
            .map(|()| 0)
    })
}

/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn cache_invalidate_user<D: DriverStatics>(
    domain: *mut bindings::iommu_domain,
    array: *mut bindings::iommu_user_data_array,
) -> ffi::c_int {
    // SAFETY: our nested table; `array` is exclusively ours for the call.
    let (d, mut array) = unsafe { (nested::<D>(domain), UserDataArray::from_raw(array)) };
    from_result(|| NestedDomain::cache_invalidate_user(d, &mut array).map(|()| 0))
}
