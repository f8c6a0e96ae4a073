// SPDX-License-Identifier: GPL-2.0

//! The [`Driver`] trait: the typed form of `struct iommu_ops`.
//!
//! A driver implements [`Driver`] and invokes [`declare_iommu_driver!`] once
//! for its type; that builds the C `iommu_ops`, the domain operation tables
//! and the driver's static blocking domain
//! ([`Statics`](super::vtable::Statics)).  Each
//! [`IommuRegistration`](super::registration::IommuRegistration) then
//! registers one IOMMU instance
//! ([`Instance`](super::registration::Instance), reference counted) with
//! the core.
//!
//! The rest of the `iommu_ops` side is laid out along the C structures:
//!
//! - [`super::device`]: the devices a callback is given, and what probe,
//!   `hw_info` and `get_resv_regions` return;
//! - [`super::registration`]: IOMMU instances and their registration
//!   (`struct iommu_device`);
//! - [`super::vtable`]: the C tables and their `extern "C"` functions, one
//!   file per table (`iommu_ops`, `iommu_domain_ops`);
//! - [`super::domain`] and [`super::sva`]: the domain traits;
//!   [`super::viommu`]: vIOMMUs and vDEVICEs (`iommufd_viommu_ops`);
//!   [`super::iotlb`]: the gather of an unmap.
//!
//! A new `iommu_ops` callback is a method here with a default, an `extern
//! "C"` function in `vtable/iommu_ops.rs`, and its slot in
//! `Statics::new`; a domain callback likewise in the domain trait and
//! `vtable/domain_ops.rs`.

use super::{
    device::{
        Cap, DefaultDomain, DeviceGroup, HwInfo, IommuDevice, Probe, ProbingDevice, ResvRegions,
    },
    domain::{DomainBox, NestedDomain, NewDomain, OldDomain, PagingDomain, Parent},
    flags::AllocFlags,
    registration::Instance,
    sva::SvaDomain,
    userdata::UserData,
    viommu::ViommuImpl,
    vtable::Statics,
};
use core::sync::atomic::Ordering;
use kernel::{
    prelude::*,
    sync::{Arc, ArcBorrow},
};

/// A Rust IOMMU driver: the typed form of `struct iommu_ops`.
#[vtable]
pub trait Driver: Send + Sync + Sized + 'static {
    /// The driver's paging domain.
    type Paging: PagingDomain<Driver = Self>;
    /// The driver's nested domain.
    type Nested: NestedDomain<Driver = Self>;
    /// Per-device private data (`dev_iommu_priv`).
    type DevData: Send + Sync;
    /// Per-IOMMU-instance data, kept in the [`Instance`].  It is dropped
    /// with the instance's last reference, which may be a domain's or
    /// vIOMMU's free, or a device's release (under the core's group lock):
    /// its `Drop` must not sleep on locks those paths hold.
    type Data: Send + Sync;
    /// The driver's vIOMMU ([`super::viommu::NoViommu`] for none).
    type Viommu: ViommuImpl<Driver = Self>;
    /// The driver's SVA domain ([`super::sva::NoSva`] for none).
    type Sva: SvaDomain<Driver = Self>;

    /// How the core groups devices.
    const DEVICE_GROUP: DeviceGroup = DeviceGroup::Generic;

    /// The default domain of every device.
    const DEFAULT_DOMAIN: DefaultDomain = DefaultDomain::Blocked;

    /// The guest manages the PASID table (`iommu_ops.user_pasid_table`): a
    /// nested domain on the RID translates every PASID, so a page request
    /// for a PASID without a domain of its own goes to the RID's nested
    /// domain (7.3 `find_fault_handler()`, drivers/iommu/io-pgfault.c).
    /// The C selftest mock sets it.
    const USER_PASID_TABLE: bool = false;

    /// Decides whether the driver handles `dev`.  `ENODEV` means "not mine".
    fn probe_device(dev: &ProbingDevice<'_>) -> Result<Probe<Self>>
    where
        Self: DriverStatics;

    /// Called before the device's private data is dropped.
    fn release_device(_dev: &IommuDevice<'_, Self>)
    where
        Self: DriverStatics,
    {
    }

    /// `IOMMU_GET_HW_INFO`: `requested` is the type userspace asked for
    /// (`IOMMU_HW_INFO_TYPE_DEFAULT` for any).
    fn hw_info(_dev: &IommuDevice<'_, Self>, _requested: u32) -> Result<HwInfo>
    where
        Self: DriverStatics,
    {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `get_resv_regions`: ranges of the device's IOVA space that must not
    /// (or must only 1:1) be mapped, e.g. an MSI window.
    fn get_resv_regions(_dev: &IommuDevice<'_, Self>, _regions: &mut ResvRegions<'_>)
    where
        Self: DriverStatics,
    {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `capable`.
    fn capable(_dev: &IommuDevice<'_, Self>, _cap: Cap) -> bool
    where
        Self: DriverStatics,
    {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `of_xlate`: one device-tree IOMMU specifier of `dev` naming this
    /// driver's instance (`args`: its cells), before `probe_device`;
    /// typically records them with [`super::platform::fwspec_add_ids`].
    /// Implement it for IOMMUs described by the device tree.
    fn of_xlate(_dev: &ProbingDevice<'_>, _args: &[u32]) -> Result
    where
        Self: DriverStatics,
    {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// The one allocation entry point for user domains.
    ///
    /// - `domain_alloc_paging_flags`: `parent == None`, `dev` is `Some`; the
    ///   driver must return [`NewDomain::Paging`].
    /// - `domain_alloc_nested`: `parent == Some(Parent::Domain(_))`, already
    ///   checked to be this driver's paging domain; `dev` is `Some`.
    /// - the vIOMMU's `alloc_domain_nested`: `parent ==
    ///   Some(Parent::Viommu(_))` and `dev` is `None` (the core passes no
    ///   device).
    ///
    /// Nested allocations must return [`NewDomain::Nested`].  `flags` holds
    /// only known flags: unknown ones were refused with `EOPNOTSUPP` before
    /// this call.
    fn domain_alloc_user<'a>(
        dev: Option<&IommuDevice<'_, Self>>,
        flags: AllocFlags,
        parent: Option<Parent<'a, Self>>,
        data: UserData<'_>,
    ) -> Result<NewDomain<'a, Self>>
    where
        Self: DriverStatics;

    /// `domain_alloc_sva`: a domain sharing `mm` with `dev` through a PASID.
    /// Register an [`super::sva::MmNotifier`] on `mm` to follow it.
    fn domain_alloc_sva(
        _dev: &IommuDevice<'_, Self>,
        _mm: &kernel::mm::MmWithUser,
    ) -> Result<DomainBox<Self::Sva>>
    where
        Self: DriverStatics,
    {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Attaches `dev` to the driver's blocking domain (also its default domain).
    fn attach_blocked(_dev: &IommuDevice<'_, Self>, _old: OldDomain<'_, Self>) -> Result
    where
        Self: DriverStatics,
    {
        Ok(())
    }

    /// Attaches `dev` to the driver's identity domain (DMA addresses are
    /// physical addresses).  Implementing it gives the driver an
    /// `identity_domain`.
    fn attach_identity(_dev: &IommuDevice<'_, Self>, _old: OldDomain<'_, Self>) -> Result
    where
        Self: DriverStatics,
    {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `page_response`: the answer `resp` to the page request group whose
    /// last request was `req`, to be passed to the device (a PRI page
    /// response).  The core calls it when the group's handler answered
    /// (an iommufd fault queue: userspace's response), when no handler
    /// took the request, and for the pending groups of a device leaving
    /// its fault queue.  Implementing it enables I/O page faults: each
    /// instance owns an [`IopfQueue`](super::iopf::IopfQueue), a device is
    /// on it while a fault-capable domain is attached, and faults are
    /// reported with [`super::iopf::report`].  May sleep.  Called under
    /// the core's per-device fault mutex (`iopf_group_response()`,
    /// `iopf_queue_remove_device()`, which also runs inside an attach or
    /// detach of the device), or, for a request no handler takes, from
    /// within [`super::iopf::report`] itself, with the device's attach
    /// lock held: it must not report faults or change the device's
    /// attachments (that would deadlock).
    fn page_response(
        _dev: &IommuDevice<'_, Self>,
        _req: &super::iopf::PageRequest,
        _resp: &super::iopf::PageResponse,
    ) where
        Self: DriverStatics,
    {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// Blocks `pasid` of `dev` (the core's PASID detach); `old` is the domain
    /// it leaves.  The 7.3 core ignores a failure (`WARN_ON()` in
    /// `iommu_remove_dev_pasid()`) and frees `old` if it was its last use,
    /// so the device must not use `old` on `pasid` afterwards either way.
    fn blocked_set_dev_pasid(
        _dev: &IommuDevice<'_, Self>,
        _pasid: u32,
        _old: OldDomain<'_, Self>,
    ) -> Result
    where
        Self: DriverStatics,
    {
        Ok(())
    }
}

/// Gives the glue access to a driver's [`Statics`].  Implemented by
/// [`declare_iommu_driver!`] only.
///
/// # Safety
///
/// `statics()` must return the tables built by `Statics::new::<Self>()`
/// for this very type: the glue identifies `Self`'s devices and domains by
/// the addresses of these tables and casts their private data to `Self`'s
/// types on that basis.  Driver modules are `#![forbid(unsafe_code)]` and so
/// cannot implement it by hand; the macro is invoked from the crate root.
pub unsafe trait DriverStatics: Driver {
    /// The driver's tables.
    fn statics() -> &'static Statics;

    /// The driver's first registered IOMMU instance, if any, as a counted
    /// reference.  Lets code outside the iommu callbacks (a control device,
    /// `probe_device`) reach an instance.
    fn instance() -> Option<Arc<Instance<Self>>> {
        Self::find_instance(|_| true)
    }

    /// The first registered instance for which `pred` holds, as a counted
    /// reference.  `pred` runs under `rcu_read_lock()`, so it must not
    /// sleep.
    fn find_instance(mut pred: impl FnMut(&Instance<Self>) -> bool) -> Option<Arc<Instance<Self>>> {
        let _rcu = kernel::sync::rcu::read_lock();
        for slot in &Self::statics().instances {
            let p = slot.load(Ordering::Acquire).cast::<Instance<Self>>();
            if p.is_null() {
                continue;
            }
            // SAFETY: a non-null entry is `Arc::as_ptr` of an instance whose
            // registration holds a reference until a grace period after it
            // cleared the entry (`Claim::unpublish`), and we are inside a
            // read-side critical section that began before we loaded it.
            let inst = unsafe { ArcBorrow::from_raw(p) };
            if pred(&inst) {
                return Some(inst.into());
            }
        }
        None
    }
}

/// Implements [`DriverStatics`] for a driver type:
/// `declare_iommu_driver!(MyDriver);`.  It emits an `unsafe impl`, so it
/// is invoked from the crate root (next to `module!`), not from a driver
/// module that forbids `unsafe`.
#[macro_export]
macro_rules! declare_iommu_driver {
    ($t:ty) => {
        // SAFETY: the tables are `Statics::new::<$t>(..)`, for `$t` itself.
        unsafe impl $crate::riommu::driver::DriverStatics for $t {
            fn statics() -> &'static $crate::riommu::vtable::Statics {
                static STATICS: $crate::riommu::vtable::Statics =
                    // SAFETY: built for `$t`, at the address of `STATICS`
                    // itself, and only returned by `$t`'s
                    // `DriverStatics::statics`.
                    unsafe { $crate::riommu::vtable::Statics::new::<$t>(&raw const STATICS) };
                &STATICS
            }
        }
    };
}
pub use declare_iommu_driver;
