// SPDX-License-Identifier: GPL-2.0

//! The C operation tables of a driver: [`Statics`] holds a driver's
//! `iommu_ops`, its domain operation tables and its static blocking and
//! identity domains, built by
//! [`declare_iommu_driver!`](super::driver::declare_iommu_driver).  The
//! `extern "C"` functions in them live beside it, one file per C table:
//!
//! - [`iommu_ops`]: the `struct iommu_ops` callbacks (probe and release,
//!   domain allocation, capabilities, `of_xlate`, `hw_info`...);
//! - [`domain_ops`]: the `struct iommu_domain_ops` callbacks (attach,
//!   map/unmap, IOTLB flushes, dirty tracking, user cache invalidation,
//!   free) of every kind of domain;
//! - the vIOMMU's `struct iommufd_viommu_ops` are in [`super::viommu`].
//!
//! Each turns raw pointers into the typed views of [`super::device`] and
//! [`super::domain`], calls the driver and converts the result back.  A new
//! C callback goes in the file of its table, and its slot is filled in
//! [`Statics::new`].

use crate::riommu::{
    bindings as rb,
    domain::{NestedDomain, PagingDomain},
    viommu::{self, ViommuImpl},
};
use crate::riommu::{
    device::{DefaultDomain, DeviceGroup},
    driver::{Driver, DriverStatics},
    registration::MAX_INSTANCES,
};
use core::{
    cell::UnsafeCell,
    ptr,
    sync::atomic::{AtomicBool, AtomicPtr},
};
use kernel::{bindings, ffi, module::this_module, prelude::*};

pub mod domain_ops;
pub mod iommu_ops;

/// The C tables of a driver, built at compile time by
/// [`declare_iommu_driver!`](super::driver::declare_iommu_driver) into a
/// `static`, as a C driver's `static const struct iommu_ops`: nothing in
/// them is written at run time.
///
/// # Invariants
///
/// A `Statics` lives only in the `static` whose address [`Statics::new`]
/// was given: the pointers between its tables (`iommu_ops.blocked_domain`,
/// `blocked.ops`...) point into it.  Every field but `instances` and
/// `claimed` is read-only: the operation tables by Rust's rules (no
/// `UnsafeCell`), the two static domains by convention (see `blocked`).
pub struct Statics {
    iommu_ops: bindings::iommu_ops,
    paging_ops: bindings::iommu_domain_ops,
    nested_ops: bindings::iommu_domain_ops,
    blocked_ops: bindings::iommu_domain_ops,
    dirty_ops: bindings::iommu_dirty_ops,
    /// The static blocking domain, built at compile time like the tables.
    /// The core is given it as a `struct iommu_domain *`
    /// (`iommu_ops.blocked_domain`, `default_domain`) and the C drivers'
    /// static domains are not `const` (`static struct iommu_domain
    /// mock_blocking_domain` in `drivers/iommu/iommufd/selftest.c`), so it
    /// is in an `UnsafeCell`: no Rust code assumes it unchanged.  Nothing
    /// writes it in 7.3: the core writes the fields of the domains it
    /// allocates (`iommu_domain_init()`, the DMA and MSI cookies in
    /// `dma-iommu.c`, iommufd's `hwpt->domain->...`, the SVA domain), and of
    /// a static one only reads `type`, `ops`, `owner` and `cookie_type`; the
    /// FQ upgrade (`group->default_domain->type = IOMMU_DOMAIN_DMA_FQ`) is
    /// for DMA domains only.  The one exported writer that takes any domain,
    /// `iommu_set_fault_handler()`, is called in-tree only on paging domains
    /// its caller allocated; the cell keeps even a caller that passed
    /// `iommu_get_domain_for_dev()`'s static domain from being undefined
    /// behaviour on our side.
    blocked: UnsafeCell<bindings::iommu_domain>,
    identity_ops: bindings::iommu_domain_ops,
    /// The static identity domain: as `blocked`.
    identity: UnsafeCell<bindings::iommu_domain>,
    viommu_ops: rb::iommufd_viommu_ops,
    sva_ops: bindings::iommu_domain_ops,
    /// The registered instances: a non-null entry is `Arc::as_ptr` of an
    /// `Instance<D>` whose registration holds a reference and clears the
    /// entry, then waits for a grace period, before letting it go.
    pub(in crate::riommu) instances: [AtomicPtr<ffi::c_void>; MAX_INSTANCES],
    /// Which entries of `instances` belong to a registration that exists or
    /// is being made (each claimed with one `compare_exchange`, see
    /// `Claim::new`).
    pub(in crate::riommu) claimed: [AtomicBool; MAX_INSTANCES],
}

// SAFETY: the C tables are raw pointers and function pointers that nothing
// writes after compile time (type invariant; the core takes `const struct
// iommu_ops *` and `const struct iommu_domain_ops *`, and writes nothing in
// the static domains, see `blocked`), so sharing them between threads is
// sharing immutable data; the instance slots are atomic.
unsafe impl Sync for Statics {}

impl Statics {
    /// Builds the tables for `D`, to be stored at `this`.  Use
    /// [`declare_iommu_driver!`](super::driver::declare_iommu_driver):
    /// `static S: Statics = unsafe { Statics::new::<D>(&raw const S) };`
    /// (Rust lets a static's initialiser take the static's own address).
    ///
    /// # Safety
    ///
    /// Only for `D`'s own [`DriverStatics::statics`] (the macro's use), and
    /// `this` must be the address of the `static` the result initialises:
    /// the tables point into it.  (`this` is not read: only field
    /// addresses are computed from it.)
    pub const unsafe fn new<D: DriverStatics>(this: *const Self) -> Self {
        // What the capabilities promise, the ops must deliver.
        assert!(
            <D::Paging as PagingDomain>::HAS_SET_DIRTY_TRACKING
                == <D::Paging as PagingDomain>::HAS_READ_AND_CLEAR_DIRTY,
            "riommu: a paging domain implements both dirty-tracking operations or neither"
        );
        // SAFETY: field addresses of the static at `this` (caller), computed
        // without reading it; `UnsafeCell::raw_get` only converts the type.
        let (blocked_ptr, blocked_ops_ptr, identity_ptr, identity_ops_ptr) = unsafe {
            (
                UnsafeCell::raw_get(&raw const (*this).blocked),
                &raw const (*this).blocked_ops,
                UnsafeCell::raw_get(&raw const (*this).identity),
                &raw const (*this).identity_ops,
            )
        };

        let mut ops: bindings::iommu_ops = pin_init::zeroed();
        // The module the driver's `impl Driver` is in (`#[vtable]` sets
        // `OwnerModule` to the crate's `module!` type): `&__this_module`,
        // the `THIS_MODULE` the kernel passes to the module's `init`, as
        // 7.3's `miscdevice` fills `file_operations.owner`.  The core pins
        // it with `try_module_get(ops->owner)` for each probed device
        // (`iommu_init_device`) and around `of_xlate` (`of_iommu_xlate`),
        // and refuses ops in module memory without one
        // (`iommu_device_register`); `publish` and the vIOMMU glue take
        // their references on it too.
        ops.owner = this_module::<<D as Driver>::OwnerModule>().as_ptr();
        ops.blocked_domain = blocked_ptr;
        if D::HAS_GET_RESV_REGIONS {
            ops.get_resv_regions = Some(iommu_ops::get_resv_regions::<D>);
        }
        if D::HAS_CAPABLE {
            ops.capable = Some(iommu_ops::capable::<D>);
        }
        if D::HAS_HW_INFO {
            ops.hw_info = Some(iommu_ops::hw_info::<D>);
        }
        if D::HAS_OF_XLATE {
            ops.of_xlate = Some(iommu_ops::of_xlate::<D>);
        }
        ops.domain_alloc_paging_flags = Some(iommu_ops::alloc_paging_flags::<D>);
        ops.domain_alloc_nested = Some(iommu_ops::alloc_nested::<D>);
        ops.probe_device = Some(iommu_ops::probe_device::<D>);
        if D::HAS_DOMAIN_ALLOC_SVA {
            ops.domain_alloc_sva = Some(iommu_ops::alloc_sva::<D>);
        }
        ops.get_viommu_size = Some(viommu::glue::get_viommu_size::<D>);
        ops.viommu_init = Some(viommu::glue::viommu_init::<D>);
        ops.release_device = Some(iommu_ops::release_device::<D>);
        if D::HAS_PAGE_RESPONSE {
            ops.page_response = Some(crate::riommu::iopf::page_response::<D>);
        }
        // `u8 user_pasid_table:1` is the struct's only bitfield: bit 0 of
        // its one-byte unit (bindgen's `set_user_pasid_table()` sets bit 0,
        // but is not `const`).  A change of that layout changes the unit's
        // type and fails to build here.
        ops._bitfield_1 =
            bindings::__BindgenBitfieldUnit::<[u8; 1]>::new([D::USER_PASID_TABLE as u8]);
        ops.device_group = match D::DEVICE_GROUP {
            DeviceGroup::Generic => Some(bindings::generic_device_group),
            DeviceGroup::Pci => Some(bindings::pci_device_group),
        };

        let mut paging: bindings::iommu_domain_ops = pin_init::zeroed();
        paging.attach_dev = Some(domain_ops::paging_attach::<D>);
        if <D::Paging as PagingDomain>::HAS_SET_DEV_PASID {
            paging.set_dev_pasid = Some(domain_ops::paging_set_dev_pasid::<D>);
        }
        paging.map_pages = Some(domain_ops::map_pages::<D>);
        paging.unmap_pages = Some(domain_ops::unmap_pages::<D>);
        paging.iova_to_phys = Some(domain_ops::iova_to_phys::<D>);
        paging.flush_iotlb_all = Some(domain_ops::flush_iotlb_all::<D>);
        if <D::Paging as PagingDomain>::HAS_ENFORCE_CACHE_COHERENCY {
            paging.enforce_cache_coherency = Some(domain_ops::enforce_cache_coherency::<D>);
        }
        paging.iotlb_sync = Some(domain_ops::iotlb_sync::<D>);
        paging.free = Some(domain_ops::free::<D, D::Paging>);

        let mut dirty: bindings::iommu_dirty_ops = pin_init::zeroed();
        if <D::Paging as PagingDomain>::HAS_SET_DIRTY_TRACKING {
            dirty.set_dirty_tracking = Some(domain_ops::set_dirty_tracking::<D>);
            dirty.read_and_clear_dirty = Some(domain_ops::read_and_clear_dirty::<D>);
        }

        let mut nested: bindings::iommu_domain_ops = pin_init::zeroed();
        nested.attach_dev = Some(domain_ops::nested_attach::<D>);
        if <D::Nested as NestedDomain>::HAS_SET_DEV_PASID {
            nested.set_dev_pasid = Some(domain_ops::nested_set_dev_pasid::<D>);
        }
        nested.cache_invalidate_user = Some(domain_ops::cache_invalidate_user::<D>);
        nested.free = Some(domain_ops::free::<D, D::Nested>);

        let mut blocked_ops: bindings::iommu_domain_ops = pin_init::zeroed();
        blocked_ops.attach_dev = Some(domain_ops::blocked_attach::<D>);
        blocked_ops.set_dev_pasid = Some(domain_ops::blocked_set_dev_pasid::<D>);
        let mut blocked: bindings::iommu_domain = pin_init::zeroed();
        blocked.type_ = bindings::IOMMU_DOMAIN_BLOCKED;
        blocked.ops = blocked_ops_ptr;
        if matches!(D::DEFAULT_DOMAIN, DefaultDomain::Blocked) {
            // No DMA API users: devices start blocked, like the C mock.
            ops.default_domain = blocked_ptr;
        }

        let mut identity_ops: bindings::iommu_domain_ops = pin_init::zeroed();
        if D::HAS_ATTACH_IDENTITY {
            identity_ops.attach_dev = Some(domain_ops::identity_attach::<D>);
        }
        let mut identity: bindings::iommu_domain = pin_init::zeroed();
        identity.type_ = bindings::IOMMU_DOMAIN_IDENTITY;
        identity.ops = identity_ops_ptr;
        if D::HAS_ATTACH_IDENTITY {
            ops.identity_domain = identity_ptr;
        }
        if matches!(D::DEFAULT_DOMAIN, DefaultDomain::Identity) {
            ops.def_domain_type = Some(iommu_ops::def_domain_identity);
        }

        let mut vops: rb::iommufd_viommu_ops = pin_init::zeroed();
        vops.destroy = Some(viommu::glue::destroy::<D>);
        vops.alloc_domain_nested = Some(viommu::glue::alloc_domain_nested::<D>);
        vops.cache_invalidate = Some(viommu::glue::cache_invalidate::<D>);
        vops.vdevice_size = size_of::<viommu::Vdevice<<D::Viommu as ViommuImpl>::Vdev>>();
        vops.vdevice_init = Some(viommu::glue::vdevice_init::<D>);
        vops.get_hw_queue_size = Some(viommu::glue::get_hw_queue_size::<D>);
        vops.hw_queue_init_phys = Some(viommu::glue::hw_queue_init_phys::<D>);

        let mut sva: bindings::iommu_domain_ops = pin_init::zeroed();
        sva.set_dev_pasid = Some(domain_ops::sva_set_dev_pasid::<D>);
        sva.free = Some(domain_ops::free::<D, D::Sva>);

        Self {
            viommu_ops: vops,
            sva_ops: sva,
            iommu_ops: ops,
            paging_ops: paging,
            nested_ops: nested,
            blocked_ops,
            dirty_ops: dirty,
            blocked: UnsafeCell::new(blocked),
            identity_ops,
            identity: UnsafeCell::new(identity),
            instances: [const { AtomicPtr::new(ptr::null_mut()) }; MAX_INSTANCES],
            claimed: [const { AtomicBool::new(false) }; MAX_INSTANCES],
        }
    }

    pub(in crate::riommu) fn paging_ops(&self) -> *const bindings::iommu_domain_ops {
        &self.paging_ops
    }

    pub(in crate::riommu) fn nested_ops(&self) -> *const bindings::iommu_domain_ops {
        &self.nested_ops
    }

    pub(in crate::riommu) fn sva_ops(&self) -> *const bindings::iommu_domain_ops {
        &self.sva_ops
    }

    pub(in crate::riommu) fn dirty_ops(&self) -> *const bindings::iommu_dirty_ops {
        &self.dirty_ops
    }

    pub(in crate::riommu) fn blocked_domain(&self) -> *mut bindings::iommu_domain {
        self.blocked.get()
    }

    pub(in crate::riommu) fn identity_domain(&self) -> *mut bindings::iommu_domain {
        self.identity.get()
    }

    pub(in crate::riommu) fn iommu_ops(&self) -> *const bindings::iommu_ops {
        &self.iommu_ops
    }

    pub(in crate::riommu) fn viommu_ops(&self) -> *const rb::iommufd_viommu_ops {
        &self.viommu_ops
    }

    /// The driver's module (`iommu_ops.owner`).
    pub(in crate::riommu) fn owner(&self) -> *mut bindings::module {
        self.iommu_ops.owner
    }
}
