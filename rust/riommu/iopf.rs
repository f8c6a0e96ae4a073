// SPDX-License-Identifier: GPL-2.0

//! I/O page faults (`drivers/iommu/io-pgfault.c`): a driver's fault queue,
//! IOPF enabled on a device while a fault-capable domain is attached to it,
//! page requests reported to the core, and the driver's `page_response`.
//!
//! A driver opts in by implementing [`Driver::page_response`]
//! (`iommu_ops.page_response`).  Its instances then own an [`IopfQueue`],
//! and the attach glue adds a device to it while a domain with an
//! `iopf_handler` (an iommufd HWPT allocated with a fault queue, an SVA
//! domain) is attached to its RID or any of its PASIDs, as the C mock's
//! `mock_dev_enable_iopf()` and the intel driver's `iopf_for_domain_set()`
//! do.  Drivers without `page_response` get none of this (attaches of
//! fault-capable domains succeed as before, and never see a fault).
//!
//! A fault is reported with [`report`], on a [`RegisteredDevice`] whose
//! [`AttachLock`] it holds, so that it never races an attach, replace or
//! detach of the device (the C mock's `iopf_rwsem`).
//!
//! [`Driver::page_response`]: super::driver::Driver::page_response

use super::{device::IommuDevice, driver::DriverStatics, iommufd::RegisteredDevice};
use core::{
    ptr::{self, NonNull},
    sync::atomic::{AtomicBool, AtomicU32, Ordering},
};
use kernel::{bindings, new_mutex, prelude::*, sync::Mutex};

/// A fault queue (`struct iopf_queue`, `iopf_queue_alloc()`): the devices
/// with IOPF enabled and the workqueue of asynchronous fault handlers (the
/// SVA domains').  An instance of a driver with `page_response` owns one.
///
/// # Invariants
///
/// `ptr` is a queue from `iopf_queue_alloc()`, freed on drop.
pub struct IopfQueue {
    ptr: NonNull<bindings::iopf_queue>,
}

// SAFETY: the queue's device list is under `queue->lock` and its workqueue
// is thread safe (`iopf_queue_add_device()`, `iopf_queue_remove_device()`).
unsafe impl Send for IopfQueue {}
// SAFETY: as above.
unsafe impl Sync for IopfQueue {}

impl IopfQueue {
    /// `iopf_queue_alloc(name)`: its workqueue is named `iopf_queue/<name>`
    /// (`alloc_workqueue()` copies the name).
    pub(in crate::riommu) fn new(name: &CStr) -> Result<Self> {
        // SAFETY: `name` is a NUL-terminated string, only formatted into the
        // workqueue's own name during the call.
        let p = unsafe { bindings::iopf_queue_alloc(name.as_char_ptr()) };
        // INVARIANT: a queue from `iopf_queue_alloc()`, or NULL.
        NonNull::new(p).map(|ptr| Self { ptr }).ok_or(ENOMEM)
    }

    fn as_raw(&self) -> *mut bindings::iopf_queue {
        self.ptr.as_ptr()
    }
}

impl Drop for IopfQueue {
    fn drop(&mut self) {
        // SAFETY: our queue (type invariant).  It is dropped with its
        // instance, after the last device that held the instance was
        // released (`DevPriv::inst`, dropped by the `release_device` glue).
        // A device is taken off the queue when its last fault-capable
        // domain leaves it, and at the latest by `release` in its
        // `release_device` (the 7.3 core does not detach domains before it
        // for a driver without `release_domain`, `iommu_deinit_device()`),
        // so no device is on the queue: `iopf_queue_free()` would call
        // `iopf_queue_remove_device()`, which reads `dev->iommu`, for any
        // left.  With no device, no fault is queued and none can be added,
        // as `iopf_queue_free()` requires (drivers/iommu/io-pgfault.c).
        unsafe { bindings::iopf_queue_free(self.as_raw()) };
    }
}

/// The IOPF state of a probed device, kept by the glue in its private data.
///
/// Changed only from the attach callbacks (`attach_dev`, `set_dev_pasid`),
/// which the core runs under the device's `group->mutex`
/// (`__iommu_attach_device()`, `__iommu_set_group_pasid()`,
/// `iommu_remove_dev_pasid()` callers in drivers/iommu/iommu.c), so the
/// atomics are never contended; they only keep Rust's rules.
pub(in crate::riommu) struct IopfDev {
    /// Fault-capable domains attached (RID and PASIDs): the device is on its
    /// instance's queue while this is not 0 (the C mock's `iopf_refcount`).
    users: AtomicU32,
    /// Whether the RID's domain is fault capable (the C mock reads its
    /// `mdev->domain`).
    rid: AtomicBool,
}

impl IopfDev {
    pub(in crate::riommu) const fn new() -> Self {
        Self {
            users: AtomicU32::new(0),
            rid: AtomicBool::new(false),
        }
    }

    /// Whether the device is on its instance's fault queue.
    pub(in crate::riommu) fn enabled(&self) -> bool {
        self.users.load(Ordering::Relaxed) != 0
    }
}

/// Whether `domain` is fault capable: it has an `iopf_handler`, which
/// `iommu_report_device_fault()` would call for a fault on it.
///
/// # Safety
///
/// `domain` must be NULL or a live domain.
pub(in crate::riommu) unsafe fn fault_capable(domain: *mut bindings::iommu_domain) -> bool {
    // SAFETY: live (caller); `iopf_handler` is set by its owner before the
    // domain is attached anywhere (iommufd: `iommufd_hwpt_alloc()` in
    // drivers/iommu/iommufd/hw_pagetable.c; SVA: `iommu_sva_domain_alloc()`)
    // and not changed while it is attached.
    !domain.is_null() && unsafe { (*domain).iopf_handler.is_some() }
}

/// Takes a fault-capable domain's hold on IOPF for `dev`, before the driver
/// attaches it: the first adds the device to its instance's queue
/// (`iopf_queue_add_device()`), as `mock_dev_enable_iopf()` does.
fn get<D: DriverStatics>(dev: &IommuDevice<'_, D>, capable: bool) -> Result {
    let Some(queue) = dev.iommu().iopf_queue() else {
        return Ok(());
    };
    if !capable {
        return Ok(());
    }
    let st = dev.iopf();
    if st.users.load(Ordering::Relaxed) == 0 {
        // SAFETY: a device probed by `D` (`IommuDevice`), whose
        // `dev->iommu` lives until release; our queue, alive while the
        // instance is, which the device holds.  `ops->page_response` is set
        // (the instance has a queue only for a driver with it), so the call
        // does not fail with `ENODEV`; `EBUSY` would mean the device is on
        // a queue already, which only this glue does, counted in `users`.
        kernel::error::to_result(unsafe {
            bindings::iopf_queue_add_device(queue.as_raw(), dev.as_raw())
        })?;
    }
    st.users.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Drops a fault-capable domain's hold, after it left `dev` (or its attach
/// failed).  Faults already handed to an asynchronous handler (the SVA
/// domain's, on the queue's workqueue) may still use the domain, so the
/// queue is flushed first (`iopf_queue_flush_dev()`, as the intel driver's
/// `intel_drain_pasid_prq()` does before a PASID's domain goes); the last
/// hold takes the device off the queue (`iopf_queue_remove_device()`,
/// which answers its pending faults with `IOMMU_PAGE_RESP_INVALID`).
fn put<D: DriverStatics>(dev: &IommuDevice<'_, D>, capable: bool) {
    let Some(queue) = dev.iommu().iopf_queue() else {
        return;
    };
    let st = dev.iopf();
    if !capable || st.users.load(Ordering::Relaxed) == 0 {
        return;
    }
    // SAFETY: the device is on the queue (`users` is not 0), so its
    // `fault_param` is set, which `iopf_queue_flush_dev()` requires.
    unsafe { bindings::iopf_queue_flush_dev(dev.as_raw()) };
    if st.users.fetch_sub(1, Ordering::Relaxed) == 1 {
        // SAFETY: added to this queue by `get` (the last hold goes now).
        unsafe { bindings::iopf_queue_remove_device(queue.as_raw(), dev.as_raw()) };
    }
}

/// Enables IOPF for a new domain that is `capable` or not, runs the
/// driver's attach `f`, which returns whether the domain left was fault
/// capable, and disables IOPF for that one; a failed attach only drops
/// the new domain's hold again.
fn attach<D: DriverStatics>(
    dev: &IommuDevice<'_, D>,
    capable: bool,
    f: impl FnOnce() -> Result<bool>,
) -> Result {
    get(dev, capable)?;
    match f() {
        Ok(old) => {
            put(dev, old);
            Ok(())
        }
        Err(e) => {
            put(dev, capable);
            Err(e)
        }
    }
}

/// Runs the driver's attach `f` of the RID to a domain that is `capable`
/// or not, as `mock_domain_nop_attach()`: IOPF enabled before it, and
/// disabled for the domain left (the last one the RID was attached to)
/// after it.
pub(in crate::riommu) fn attach_rid<D: DriverStatics>(
    dev: &IommuDevice<'_, D>,
    capable: bool,
    f: impl FnOnce() -> Result,
) -> Result {
    attach(dev, capable, || {
        f()?;
        Ok(dev.iopf().rid.swap(capable, Ordering::Relaxed))
    })
}

/// As [`attach_rid`] for a PASID (`set_dev_pasid`), whose old domain the
/// core names (`old_capable`), as `mock_domain_set_dev_pasid_nop()`.
pub(in crate::riommu) fn attach_pasid<D: DriverStatics>(
    dev: &IommuDevice<'_, D>,
    capable: bool,
    old_capable: bool,
    f: impl FnOnce() -> Result,
) -> Result {
    attach(dev, capable, || f().map(|()| old_capable))
}

/// Runs the driver's `f` blocking a PASID (the blocked domain's
/// `set_dev_pasid`), and drops the hold of the domain it leaves
/// (`old_capable`) whatever `f` returns: the core ignores the result
/// (`WARN_ON()` in `iommu_remove_dev_pasid()`, drivers/iommu/iommu.c, its
/// only caller with a fault-capable old domain), erases the PASID's attach
/// handle and lets its owner free it and the domain (`kfree(handle)` and
/// `iommu_domain_free()` in `iommu_sva_unbind_device()`).  So the queue
/// must be flushed here even then: a queued SVA fault
/// (`iommu_sva_handle_iopf()`) reads `group->attach_handle->domain`.
pub(in crate::riommu) fn block_pasid<D: DriverStatics>(
    dev: &IommuDevice<'_, D>,
    old_capable: bool,
    f: impl FnOnce() -> Result,
) -> Result {
    let r = f();
    put(dev, old_capable);
    r
}

/// At `release_device`: a device still on the queue (a core that released
/// it with a fault-capable domain attached) is taken off.
pub(in crate::riommu) fn release<D: DriverStatics>(dev: &IommuDevice<'_, D>) {
    let Some(queue) = dev.iommu().iopf_queue() else {
        return;
    };
    if kernel::warn_on!(dev.iopf().enabled()) {
        dev.iopf().users.store(0, Ordering::Relaxed);
        // SAFETY: on our queue (`users` was not 0); still probed.
        unsafe { bindings::iopf_queue_remove_device(queue.as_raw(), dev.as_raw()) };
    }
}

/// The lock that serialises changes of a device's domain attachments made
/// through this API ([`super::iommufd::BoundDevice`],
/// [`super::sva::SvaBond`]) with fault reports on the device ([`report`]):
/// the C mock's `iopf_rwsem`.  `iommu_report_device_fault()` finds the
/// attach handle of the faulting PASID and calls its domain's handler
/// without a reference on either (drivers/iommu/io-pgfault.c,
/// `find_fault_handler()`), and iommufd frees a handle right after its
/// detach or replace (`kfree(handle)` in `iommufd_hwpt_detach_device()` and
/// `iommufd_hwpt_replace_device()`, drivers/iommu/iommufd/device.c): the
/// two must not overlap.
pub struct AttachLock {
    inner: Pin<KBox<Mutex<()>>>,
}

impl AttachLock {
    /// A new lock.
    pub fn new() -> Result<Self> {
        Ok(Self {
            inner: KBox::pin_init(new_mutex!(()), GFP_KERNEL)?,
        })
    }

    pub(in crate::riommu) fn lock(&self) -> kernel::sync::MutexGuard<'_, ()> {
        self.inner.lock()
    }
}

/// A page request (`struct iommu_fault_page_request` of an
/// `IOMMU_FAULT_PAGE_REQ` fault).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// The PASID of the access (`IOMMU_FAULT_PAGE_REQUEST_PASID_VALID`), or
    /// `None` for the RID.
    pub pasid: Option<u32>,
    /// The page request group.
    pub grpid: u32,
    /// `IOMMU_FAULT_PERM_*` of the access.
    pub perm: u32,
    /// The faulting address.
    pub addr: u64,
    /// Whether this is the last request of its group
    /// (`IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE`); the core delivers a group
    /// when its last request arrives.
    pub last_page: bool,
}

impl PageRequest {
    fn from_raw(prm: &bindings::iommu_fault_page_request) -> Self {
        let valid = prm.flags & bindings::IOMMU_FAULT_PAGE_REQUEST_PASID_VALID != 0;
        Self {
            pasid: valid.then_some(prm.pasid),
            grpid: prm.grpid,
            perm: prm.perm,
            addr: prm.addr,
            last_page: prm.flags & bindings::IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE != 0,
        }
    }

    fn to_raw(self) -> bindings::iopf_fault {
        let mut evt: bindings::iopf_fault = pin_init::zeroed();
        let prm = &mut evt.fault.prm;
        if self.last_page {
            prm.flags |= bindings::IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE;
        }
        if let Some(pasid) = self.pasid {
            prm.flags |= bindings::IOMMU_FAULT_PAGE_REQUEST_PASID_VALID;
            prm.pasid = pasid;
        }
        prm.grpid = self.grpid;
        prm.perm = self.perm;
        prm.addr = self.addr;
        evt.fault.type_ = bindings::iommu_fault_type_IOMMU_FAULT_PAGE_REQ;
        evt
    }
}

/// The answer to a page request group (`enum iommu_page_response_code`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageResponseCode {
    /// `IOMMU_PAGE_RESP_SUCCESS`: the fault was handled; retry the access.
    Success,
    /// `IOMMU_PAGE_RESP_INVALID`: could not be handled; do not retry.
    Invalid,
    /// `IOMMU_PAGE_RESP_FAILURE`: a general failure; stop all requests.
    Failure,
    /// A value 7.3 does not define.
    Other(u32),
}

/// A page response (`struct iommu_page_response`) to a page request group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageResponse {
    /// The PASID of the group's requests (meaningful if they had one).
    pub pasid: u32,
    /// The group.
    pub grpid: u32,
    /// The answer.
    pub code: PageResponseCode,
}

impl PageResponse {
    fn from_raw(msg: &bindings::iommu_page_response) -> Self {
        let code = match msg.code {
            bindings::iommu_page_response_code_IOMMU_PAGE_RESP_SUCCESS => PageResponseCode::Success,
            bindings::iommu_page_response_code_IOMMU_PAGE_RESP_INVALID => PageResponseCode::Invalid,
            bindings::iommu_page_response_code_IOMMU_PAGE_RESP_FAILURE => PageResponseCode::Failure,
            other => PageResponseCode::Other(other),
        };
        Self {
            pasid: msg.pasid,
            grpid: msg.grpid,
            code,
        }
    }
}

/// Reports page request `req` of `keep`'s device, which driver `D` probed,
/// to the core (`iommu_report_device_fault()`): it goes to the handler of
/// the fault-capable domain attached to its PASID (or RID), e.g. an
/// iommufd fault queue, which answers it later through
/// [`Driver::page_response`]; with no such domain the core answers it at
/// once (`IOMMU_PAGE_RESP_INVALID`, through `page_response` too) and this
/// returns `EINVAL`.  `EINVAL` also for a device that is not `D`'s,
/// `EOPNOTSUPP` if `D` has no `page_response`.  May sleep.
///
/// It holds `keep`'s [`AttachLock`], so no attach, replace or detach of the
/// device made through this API runs meanwhile (the C mock's
/// `iommufd_test_trigger_iopf()` holds `iopf_rwsem` likewise).
///
/// [`Driver::page_response`]: super::driver::Driver::page_response
pub fn report<D: DriverStatics, K: RegisteredDevice>(keep: &K, req: &PageRequest) -> Result {
    if !D::HAS_PAGE_RESPONSE {
        return Err(EOPNOTSUPP);
    }
    let raw = ptr::from_ref(keep.device())
        .cast::<bindings::device>()
        .cast_mut();
    let _guard = keep.attach_lock().lock();
    // SAFETY: `keep` keeps the device registered, so the core has not
    // released it (`iommu_release_device()` runs on removal from the bus).
    let dev = unsafe { IommuDevice::<D>::from_raw_checked(raw) }?;
    let mut evt = req.to_raw();
    // SAFETY: a device probed by `D`, which has `page_response` (checked
    // above: `iopf_error_response()` calls it unconditionally).  `evt` is a
    // local the core reads during the call only (it copies `evt->fault`
    // into its groups, io-pgfault.c `iopf_group_alloc()` and
    // `report_partial_fault()`).  The attach handle and domain it finds
    // (`find_fault_handler()`, without a reference: drivers/iommu/iommu.c
    // `iommu_attach_handle_get()` requires its callers to "synchronize
    // ... with domain attachment and detachment") stay attached for the
    // call: every change of the device's attachments is made by a
    // `BoundDevice` or `SvaBond` holding the lock we hold
    // (`RegisteredDevice`'s contract).  For the same reason a fault-capable
    // domain found attached went through the attach glue, which put the
    // device on its instance's queue, so `iopf_get_dev_fault_param()` finds
    // the device's `fault_param` (no `WARN_ON`).  The exception is not
    // about memory: a device with `max_pasids` 0 gets a PASID's attach
    // handle recorded without a `set_dev_pasid` call
    // (`__iommu_set_group_pasid()` skips it, iommufd does not refuse the
    // attach); a fault on that PASID then hits the `WARN_ON` and is
    // answered at once.  Mock-bus devices always have PASIDs.
    kernel::error::to_result(unsafe { bindings::iommu_report_device_fault(dev.as_raw(), &mut evt) })
}

/// `iommu_ops.page_response`.
///
/// # Safety
///
/// Called by the iommu core, with the arguments its `iommu_ops` contract
/// guarantees for this callback.
pub(in crate::riommu) unsafe extern "C" fn page_response<D: DriverStatics>(
    dev: *mut bindings::device,
    evt: *mut bindings::iopf_fault,
    msg: *mut bindings::iommu_page_response,
) {
    // SAFETY: the core calls `ops->page_response` through
    // `dev_iommu_ops(dev)`, so `dev` was probed by a driver with our ops
    // (io-pgfault.c: `iopf_group_response()`, `iopf_error_response()`,
    // `iopf_queue_remove_device()`).  It is not released meanwhile: the
    // error response runs inside `iommu_report_device_fault()` (our
    // `report`, which keeps the device registered).  A group's response
    // runs while its attach handle is alive, which is while the
    // `BoundDevice` or `SvaBond` that attached it keeps the device
    // registered: iommufd answers a handle's pending groups itself right
    // after the detach or replace, before it frees the handle
    // (`iommufd_auto_response_faults()` in `iommufd_hwpt_detach_device()`
    // and `iommufd_hwpt_replace_device()`, drivers/iommu/iommufd/device.c;
    // the device may have left the queue by then: the group keeps
    // `fault_param`), the SVA handler's queued work is flushed before
    // its domain leaves (`put`, also when the driver fails to block the
    // PASID: `block_pasid`), and `iopf_queue_remove_device()` answers
    // what is still pending on the queue before the device leaves it,
    // which `release` does at the latest.  `evt`
    // and `msg` are valid for the call.
    let (dev, evt, msg) = unsafe { (IommuDevice::<D>::from_raw_checked(dev), &*evt, &*msg) };
    let Ok(dev) = dev else {
        return;
    };
    D::page_response(
        &dev,
        &PageRequest::from_raw(&evt.fault.prm),
        &PageResponse::from_raw(msg),
    );
}

impl<D: DriverStatics> IommuDevice<'_, D> {
    /// Whether the device is on its instance's fault queue: a fault-capable
    /// domain is attached to its RID or a PASID.
    pub fn iopf_enabled(&self) -> bool {
        self.iopf().enabled()
    }
}
