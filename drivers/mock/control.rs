// SPDX-License-Identifier: GPL-2.0

//! `/dev/riommu-mock`: the control device of riommu_mock.
//!
//! Each open file owns the mock devices it creates; closing it detaches,
//! unbinds and unregisters them.  The uAPI is
//! `include/uapi/linux/riommu_mock.h`; each handler's errnos follow the C
//! mock's matching `IOMMU_TEST_OP_*` where there is one.

#![forbid(unsafe_code)]

use crate::mock::{self, domain_token, MockDevData, MockDriver, MockSva, MockVdev};
use crate::riommu::{
    domain::{OldDomain, PagingDomain},
    iommufd::{BoundDevice, HwptKind, IommufdCtx, NO_PASID},
    iopf::{self, PageRequest},
    iotlb::tables_released,
    mockbus::MockDevice,
    pgtable::TABLE_PAGES,
    sva::{self, SvaBond},
    userdata::{read_ioctl, read_user_bytes, user_addr_to_phys, write_ioctl},
    viommu::Vdevice,
};
use crate::uapi;
use core::mem::size_of;
use core::sync::atomic::Ordering;
use kernel::{
    fs::File,
    miscdevice::{MiscDevice, MiscDeviceOptions, MiscDeviceRegistration},
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::Mutex,
    uaccess::{UserPtr, UserSlice},
};

/// Registers `/dev/riommu-mock`.
pub fn register() -> impl PinInit<MiscDeviceRegistration<Control>, Error> {
    MiscDeviceRegistration::register(MiscDeviceOptions {
        name: c"riommu-mock",
    })
}

/// A mock device as the bindings and bonds made on it hold it.
type Dev = MockDevice<MockDriver>;

/// SVA bonds and the ids of their devices, by bond id - 1.
type Bonds = KVec<Option<(u32, SvaBond<Dev>)>>;

/// A mock device created through this control file.
struct Entry {
    // Field order is drop order: unbind (detaching first), then drop our
    // hold on the device (the last one unregisters it), then the context
    // reference.
    bound: BoundDevice<Dev>,
    dev: Dev,
    ctx: IommufdCtx,
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Ok(inst) = mock::instance() {
            inst.data().devices.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// The state of one open `/dev/riommu-mock`.
///
/// Lock order: `devs`, then `bonds`.  Bonds are made and dropped with
/// `devs` held, so a device's removal and the bonds on it never interleave.
#[pin_data]
pub struct Control {
    /// SVA bonds and the id of the device each was made on; slot `i` holds
    /// bond id `i + 1`.  Declared (so dropped) before the devices: the core
    /// wants a device's bonds gone before its iommufd binding.  (Each bond
    /// also keeps its device registered, so no order can free the device
    /// under it.)
    #[pin]
    bonds: Mutex<Bonds>,
    /// Slot `i` holds device id `i + 1`.
    #[pin]
    devs: Mutex<KVec<Option<Entry>>>,
}

#[vtable]
impl MiscDevice for Control {
    type Ptr = Pin<KBox<Self>>;

    fn open(_file: &File, _misc: &MiscDeviceRegistration<Self>) -> Result<Pin<KBox<Self>>> {
        KBox::try_pin_init(
            try_pin_init!(Control {
                bonds <- new_mutex!(KVec::new()),
                devs <- new_mutex!(KVec::new()),
            }),
            GFP_KERNEL,
        )
    }

    fn ioctl(me: Pin<&Control>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            uapi::DEV_ADD => me.dev_add(arg),
            uapi::DEV_REMOVE => me.dev_remove(arg),
            uapi::DEV_ATTACH => me.dev_attach(arg, false),
            uapi::DEV_REPLACE => me.dev_attach(arg, true),
            uapi::DEV_DETACH => me.dev_detach(arg),
            uapi::CHECK_MAP => check_map(arg),
            uapi::CHECK_IOTLB => check_iotlb(arg),
            uapi::SET_DIRTY => set_dirty(arg),
            uapi::STATS => stats(arg),
            uapi::TRIGGER_VEVENT => trigger_vevent(arg),
            uapi::CHECK_VDEV_CACHE => check_vdev_cache(arg),
            uapi::TRIGGER_IOPF => me.trigger_iopf(arg),
            uapi::PASID_ATTACH | uapi::PASID_REPLACE | uapi::PASID_DETACH | uapi::PASID_CHECK => {
                me.pasid(cmd, arg)
            }
            uapi::SVA_BIND => me.sva_bind(arg),
            uapi::SVA_UNBIND => me.sva_unbind(arg),
            uapi::SVA_ACCESS => me.sva_access(arg),
            uapi::SVA_CHECK_INVAL => me.sva_check_inval(arg),
            uapi::CHECK_DEV_CACHE => me.check_dev_cache(arg),
            uapi::DEV_TRIGGER_VEVENT => me.dev_trigger_vevent(arg),
            _ => Err(ENOTTY),
        }
        .map(|()| 0)
    }
}

/// Minimum sizes: every field of the first version.
const DEV_ADD_MIN: usize = size_of::<uapi::DevAdd>();
const DEV_REF_MIN: usize = size_of::<uapi::DevRef>();
const DEV_ATTACH_MIN: usize = size_of::<uapi::DevAttach>();
const CHECK_MAP_MIN: usize = size_of::<uapi::CheckMap>();
const CHECK_IOTLB_MIN: usize = size_of::<uapi::CheckIotlb>();
const SET_DIRTY_MIN: usize = size_of::<uapi::SetDirty>();
/// The first version of `struct riommu_mock_stats` ended at `out_table_bytes`.
const STATS_MIN: usize = core::mem::offset_of!(uapi::Stats, out_viommus);
const PASID_MIN: usize = size_of::<uapi::Pasid>();
const SVA_BIND_MIN: usize = size_of::<uapi::SvaBind>();
const SVA_ACCESS_MIN: usize = size_of::<uapi::SvaAccess>();
const SVA_CHECK_INVAL_MIN: usize = size_of::<uapi::SvaCheckInval>();
const TRIGGER_VEVENT_MIN: usize = size_of::<uapi::TriggerVevent>();
const CHECK_VDEV_CACHE_MIN: usize = size_of::<uapi::CheckVdevCache>();
const CHECK_DEV_CACHE_MIN: usize = size_of::<uapi::CheckDevCache>();
const TRIGGER_IOPF_MIN: usize = size_of::<uapi::TriggerIopf>();

impl Control {
    fn dev_add(&self, arg: usize) -> Result {
        let (mut cmd, size) = read_ioctl::<uapi::DevAdd>(arg, DEV_ADD_MIN)?;
        if cmd.flags != 0 || cmd.reserved != 0 {
            return Err(EOPNOTSUPP);
        }
        if cmd.dev_flags & !(uapi::DEV_NO_DIRTY | uapi::DEV_PASID) != 0 {
            return Err(EINVAL);
        }
        let inst = mock::instance()?;
        let ctx = IommufdCtx::from_fd(cmd.iommufd)?;
        let pasid_bits = if cmd.dev_flags & uapi::DEV_PASID != 0 {
            uapi::PASID_WIDTH
        } else {
            0
        };
        let dev = MockDevice::<MockDriver>::new(
            &inst,
            c"riommu_mock",
            pasid_bits,
            MockDevData::new(cmd.dev_flags, ctx.key())?,
        )?;
        let mut bound = BoundDevice::bind(&ctx, dev.clone())?;
        if cmd.pt_id != 0 {
            bound.attach(&mut cmd.pt_id)?;
        }
        cmd.out_idev_id = bound.id();
        inst.data().devices.fetch_add(1, Ordering::Relaxed);
        let entry = Entry { bound, dev, ctx };

        let mut devs = self.devs.lock();
        let slot = match devs.iter().position(Option::is_none) {
            Some(i) => {
                devs[i] = Some(entry);
                i
            }
            None => {
                devs.push(Some(entry), GFP_KERNEL)?;
                devs.len() - 1
            }
        };
        cmd.out_dev_id = (slot + 1) as u32;
        if let Err(e) = write_ioctl(arg, &cmd, size) {
            devs[slot] = None;
            return Err(e);
        }
        Ok(())
    }

    fn with_dev<R>(&self, id: u32, f: impl FnOnce(&mut Entry) -> Result<R>) -> Result<R> {
        let mut devs = self.devs.lock();
        let e = (id as usize)
            .checked_sub(1)
            .and_then(|i| devs.get_mut(i))
            .and_then(Option::as_mut)
            .ok_or(ENOENT)?;
        f(e)
    }

    /// Removes a device in the order the core wants: its SVA bonds (which
    /// the core shares per group and PASID and unbinds through the device),
    /// then its iommufd binding (detaching its PASIDs and RID), then the
    /// device itself.  Bond ids of the removed bonds become free (a later
    /// `SVA_UNBIND` of them fails with `ENOENT`).
    fn dev_remove(&self, arg: usize) -> Result {
        let (cmd, _) = read_ioctl::<uapi::DevRef>(arg, DEV_REF_MIN)?;
        let removed = {
            let mut devs = self.devs.lock();
            let removed = (cmd.dev_id as usize)
                .checked_sub(1)
                .and_then(|i| devs.get_mut(i))
                .and_then(Option::take)
                .ok_or(ENOENT)?;
            // Unbinding needs none of our locks, so it may run under them.
            for slot in self.bonds.lock().iter_mut() {
                if matches!(slot, Some((id, _)) if *id == cmd.dev_id) {
                    *slot = None;
                }
            }
            removed
        };
        // Unbind and unregister outside the lock.
        drop(removed);
        Ok(())
    }

    fn dev_attach(&self, arg: usize, replace: bool) -> Result {
        let (mut cmd, size) = read_ioctl::<uapi::DevAttach>(arg, DEV_ATTACH_MIN)?;
        if cmd.reserved != 0 {
            return Err(EOPNOTSUPP);
        }
        self.with_dev(cmd.dev_id, |e| {
            if replace {
                e.bound.replace(&mut cmd.pt_id)
            } else {
                e.bound.attach(&mut cmd.pt_id)
            }
        })?;
        if let Err(e) = write_ioctl(arg, &cmd, size) {
            // As for PASIDs: an attach is undone, a replace cannot be.
            if !replace {
                self.with_dev(cmd.dev_id, |e| e.bound.detach())?;
            }
            return Err(e);
        }
        Ok(())
    }

    fn pasid(&self, op: u32, arg: usize) -> Result {
        let (mut cmd, size) = read_ioctl::<uapi::Pasid>(arg, PASID_MIN)?;
        self.with_dev(cmd.dev_id, |e| match op {
            uapi::PASID_ATTACH => e.bound.attach_pasid(cmd.pasid, &mut cmd.pt_id),
            uapi::PASID_REPLACE => e.bound.replace_pasid(cmd.pasid, &mut cmd.pt_id),
            uapi::PASID_DETACH => e.bound.detach_pasid(cmd.pasid),
            _ => {
                let now = e.dev.data().pasid_token(cmd.pasid);
                if cmd.pt_id == 0 {
                    return if now.is_none() { Ok(()) } else { Err(EINVAL) };
                }
                // As iommufd_test_pasid_check_hwpt(): any HWPT of the
                // context; one of another driver is attached to no mock
                // device.
                let want =
                    e.ctx
                        .with_hwpt::<MockDriver, _>(cmd.pt_id, HwptKind::Any, |d| match d {
                            OldDomain::Paging(d) => Some(domain_token(&**d)),
                            OldDomain::Nested(d) => Some(domain_token(&**d)),
                            _ => None,
                        })?;
                if want.is_some() && now == want {
                    Ok(())
                } else {
                    Err(EINVAL)
                }
            }
        })?;
        if op == uapi::PASID_ATTACH || op == uapi::PASID_REPLACE {
            if let Err(e) = write_ioctl(arg, &cmd, size) {
                // Output is written only on success: undo an attach (as the
                // C mock does); a replace cannot be undone, as in C.
                if op == uapi::PASID_ATTACH {
                    self.with_dev(cmd.dev_id, |e| e.bound.detach_pasid(cmd.pasid))?;
                }
                return Err(e);
            }
        }
        Ok(())
    }

    fn sva_bind(&self, arg: usize) -> Result {
        let (mut cmd, size) = read_ioctl::<uapi::SvaBind>(arg, SVA_BIND_MIN)?;
        // `devs` stays locked until the bond is in `bonds` (see `Control`).
        let devs = self.devs.lock();
        let e = (cmd.dev_id as usize)
            .checked_sub(1)
            .and_then(|i| devs.get(i))
            .and_then(Option::as_ref)
            .ok_or(ENOENT)?;
        let bond = (cmd.dev_id, sva::bind(e.dev.clone())?);
        cmd.out_pasid = bond.1.pasid();
        let mut bonds = self.bonds.lock();
        let slot = match bonds.iter().position(Option::is_none) {
            Some(i) => {
                bonds[i] = Some(bond);
                i
            }
            None => {
                bonds.push(Some(bond), GFP_KERNEL)?;
                bonds.len() - 1
            }
        };
        cmd.bond_id = (slot + 1) as u32;
        if let Err(e) = write_ioctl(arg, &cmd, size) {
            bonds[slot] = None;
            return Err(e);
        }
        Ok(())
    }

    fn sva_unbind(&self, arg: usize) -> Result {
        let (cmd, _) = read_ioctl::<uapi::SvaBind>(arg, SVA_BIND_MIN)?;
        // The bond is dropped (unbound) with `devs` held, so that a racing
        // `DEV_REMOVE` of its device cannot unbind the device from iommufd
        // while the bond's PASID is still attached (see `Control`).
        let _devs = self.devs.lock();
        let bond = (cmd.bond_id as usize)
            .checked_sub(1)
            .and_then(|i| self.bonds.lock().get_mut(i).and_then(Option::take));
        bond.map(drop).ok_or(ENOENT)
    }

    /// Runs `f` on the SVA domain attached to `pasid` of device `dev_id`.
    fn with_sva<R>(&self, dev_id: u32, pasid: u32, f: impl FnOnce(&MockSva) -> R) -> Result<R> {
        let token = self
            .with_dev(dev_id, |e| Ok(e.dev.data().pasid_token(pasid)))?
            .ok_or(ENOENT)?;
        mock::instance()?
            .data()
            .sva
            .find(|d| domain_token(&**d) == token, |d| f(d))
            .ok_or(ENOENT)
    }

    fn sva_access(&self, arg: usize) -> Result {
        let (cmd, _) = read_ioctl::<uapi::SvaAccess>(arg, SVA_ACCESS_MIN)?;
        if cmd.flags & !uapi::SVA_ACCESS_WRITE != 0 {
            return Err(EOPNOTSUPP);
        }
        if cmd.length > uapi::SVA_ACCESS_MAX {
            return Err(EINVAL);
        }
        let write = cmd.flags & uapi::SVA_ACCESS_WRITE != 0;
        let len = cmd.length as usize;
        let mut buf = if write {
            read_user_bytes(cmd.uptr as usize, len)?
        } else {
            let mut v = KVVec::with_capacity(len, GFP_KERNEL)?;
            v.resize(len, 0, GFP_KERNEL)?;
            v
        };
        // The domain set's lock is held while accessing the mm; it is a
        // mutex, and the access may sleep (page faults).
        self.with_sva(cmd.dev_id, cmd.pasid, |d| {
            d.access(cmd.addr, &mut buf, write)
        })??;
        if !write {
            UserSlice::new(UserPtr::from_addr(cmd.uptr as usize), len)
                .writer()
                .write_slice(&buf)?;
        }
        Ok(())
    }

    fn sva_check_inval(&self, arg: usize) -> Result {
        let (mut cmd, size) = read_ioctl::<uapi::SvaCheckInval>(arg, SVA_CHECK_INVAL_MIN)?;
        if cmd.reserved != 0 {
            return Err(EOPNOTSUPP);
        }
        let end = cmd.start.checked_add(cmd.length).ok_or(EINVAL)?;
        let (hit, count) = self.with_sva(cmd.dev_id, cmd.pasid, |d| d.covers(cmd.start, end))?;
        cmd.out_count = count;
        write_ioctl(arg, &cmd, size)?;
        if hit {
            Ok(())
        } else {
            Err(ENOENT)
        }
    }

    /// `RIOMMU_MOCK_TRIGGER_IOPF`, as `IOMMU_TEST_OP_TRIGGER_IOPF`: a
    /// last-page page request reported for the device; 0 even if no
    /// fault-capable domain takes it (the core then answers it itself).
    fn trigger_iopf(&self, arg: usize) -> Result {
        let (cmd, _) = read_ioctl::<uapi::TriggerIopf>(arg, TRIGGER_IOPF_MIN)?;
        if cmd.reserved != 0 {
            return Err(EOPNOTSUPP);
        }
        // The device is held (not the `devs` lock) while the fault is
        // reported: the report takes the device's attach lock.
        let dev = self.with_dev(cmd.dev_id, |e| Ok(e.dev.clone()))?;
        let req = PageRequest {
            pasid: (cmd.pasid != NO_PASID).then_some(cmd.pasid),
            grpid: cmd.grpid,
            perm: cmd.perm,
            addr: cmd.addr,
            last_page: true,
        };
        // As the C op, whatever the core did with it.
        let _ = iopf::report::<MockDriver, _>(&dev, &req);
        Ok(())
    }

    fn dev_detach(&self, arg: usize) -> Result {
        let (cmd, _) = read_ioctl::<uapi::DevRef>(arg, DEV_REF_MIN)?;
        self.with_dev(cmd.dev_id, |e| e.bound.detach())
    }

    /// `RIOMMU_MOCK_CHECK_DEV_CACHE`, as `IOMMU_TEST_OP_DEV_CHECK_CACHE`
    /// (`iommufd_test_dev_check_cache()`), plus the value.
    fn check_dev_cache(&self, arg: usize) -> Result {
        let (mut cmd, size) = read_ioctl::<uapi::CheckDevCache>(arg, CHECK_DEV_CACHE_MIN)?;
        if cmd.reserved != 0 {
            return Err(EOPNOTSUPP);
        }
        let value = self
            .with_dev(cmd.dev_id, |e| {
                Ok(e.dev.data().cache.get(cmd.cache_id as usize))
            })?
            .ok_or(EINVAL)?;
        cmd.out_cache = value;
        check_answer(arg, &cmd, size, value == cmd.cache)
    }

    /// `RIOMMU_MOCK_DEV_TRIGGER_VEVENT`, as `IOMMU_TEST_OP_TRIGGER_VEVENT`
    /// (`iommufd_test_trigger_vevent()`): for the vIOMMU and virtual id the
    /// device's last RID attach recorded.
    fn dev_trigger_vevent(&self, arg: usize) -> Result {
        let (cmd, _) = read_ioctl::<uapi::DevRef>(arg, DEV_REF_MIN)?;
        self.with_dev(cmd.dev_id, |e| {
            // Held across the report, as the C mock holds `viommu_rwsem`:
            // no attach can change the record (or free its vIOMMU) meanwhile.
            let rec = e.dev.data().viommu.lock();
            let Some((token, vdev_id)) = *rec else {
                return Err(ENOENT);
            };
            if vdev_id == 0 {
                return Err(ENOENT);
            }
            // The C event's `virt_id` is a `__u32`; C truncates the same way.
            let ev = uapi::ViommuEventSelftest {
                virt_id: vdev_id as u32,
            };
            mock::instance()?
                .data()
                .viommus
                .find(
                    |v| domain_token(v) == token,
                    |v| v.report_event(uapi::VEVENTQ_TYPE_SELFTEST, ev.as_bytes()),
                )
                .ok_or(ENOENT)?
        })
    }
}

/// `RIOMMU_MOCK_CHECK_MAP`, as `IOMMU_TEST_OP_MD_CHECK_MAP`.
fn check_map(arg: usize) -> Result {
    let (cmd, _) = read_ioctl::<uapi::CheckMap>(arg, CHECK_MAP_MIN)?;
    if cmd.reserved != 0 {
        return Err(EOPNOTSUPP);
    }
    let ctx = IommufdCtx::from_fd(cmd.iommufd)?;
    ctx.with_paging::<MockDriver, _>(cmd.hwpt_id, |d| -> Result {
        // The domain's smallest page, as the C mock (2 KiB, or PAGE_SIZE
        // for the huge variant).
        let page = d.min_page_size();
        if cmd.iova % page != 0 || cmd.length % page != 0 || cmd.uptr % page != 0 {
            return Err(EINVAL);
        }
        cmd.uptr.checked_add(cmd.length).ok_or(EINVAL)?;
        let mut off = 0;
        while off < cmd.length {
            let want = user_addr_to_phys((cmd.uptr + off) as usize)?;
            if d.iova_to_phys(cmd.iova + off) != want {
                return Err(EINVAL);
            }
            off += page;
        }
        Ok(())
    })?
}

/// `RIOMMU_MOCK_CHECK_IOTLB`, as `IOMMU_TEST_OP_MD_CHECK_IOTLB`, plus the value.
fn check_iotlb(arg: usize) -> Result {
    let (mut cmd, size) = read_ioctl::<uapi::CheckIotlb>(arg, CHECK_IOTLB_MIN)?;
    let ctx = IommufdCtx::from_fd(cmd.iommufd)?;
    let value = ctx
        .with_nested::<MockDriver, _>(cmd.hwpt_id, |d| d.iotlb(cmd.iotlb_id as usize))?
        .ok_or(EINVAL)?;
    cmd.out_iotlb = value;
    write_ioctl(arg, &cmd, size)?;
    if value != cmd.iotlb {
        return Err(EINVAL);
    }
    Ok(())
}

/// Largest bitmap `RIOMMU_MOCK_SET_DIRTY` takes, in bits (as the C mock).
const DIRTY_MAX_BITS: u64 = 16 * 1024 * 1024 * 8;

/// `RIOMMU_MOCK_SET_DIRTY`, as `IOMMU_TEST_OP_DIRTY`.
fn set_dirty(arg: usize) -> Result {
    let (mut cmd, size) = read_ioctl::<uapi::SetDirty>(arg, SET_DIRTY_MIN)?;
    if cmd.flags != 0 {
        return Err(EOPNOTSUPP);
    }
    if cmd.page_size == 0
        || cmd.length == 0
        || cmd.iova % cmd.page_size != 0
        || cmd.length % cmd.page_size != 0
        || cmd.uptr == 0
    {
        return Err(EINVAL);
    }
    let bits = cmd.length / cmd.page_size;
    if bits > DIRTY_MAX_BITS {
        return Err(EOVERFLOW);
    }
    let ctx = IommufdCtx::from_fd(cmd.iommufd)?;
    let count = ctx.with_paging::<MockDriver, _>(cmd.hwpt_id, |d| -> Result<u64> {
        if !d.dirty_tracking() {
            return Err(EINVAL);
        }
        let bitmap = read_user_bytes(cmd.uptr as usize, bits.div_ceil(8) as usize)?;
        let mut count = 0;
        for i in 0..bits {
            if bitmap[(i / 8) as usize] & (1 << (i % 8)) != 0 {
                d.mark_dirty(cmd.iova + i * cmd.page_size);
                count += 1;
            }
        }
        Ok(count)
    })??;
    cmd.out_nr_dirty = count;
    write_ioctl(arg, &cmd, size)
}

/// `RIOMMU_MOCK_STATS`.
fn stats(arg: usize) -> Result {
    let (mut cmd, size) = read_ioctl::<uapi::Stats>(arg, STATS_MIN)?;
    if cmd.reserved != 0 {
        return Err(EOPNOTSUPP);
    }
    let inst = mock::instance()?;
    let d = inst.data();
    cmd.out_devices = d.devices.load(Ordering::Relaxed);
    (cmd.out_paging_domains, cmd.out_nested_domains) = mock::live_domains();
    cmd.out_table_bytes = (TABLE_PAGES.load(Ordering::Relaxed) * PAGE_SIZE) as u64;
    cmd.out_viommus = d.viommus.len() as u64;
    cmd.out_sva_domains = d.sva.len() as u64;
    cmd.out_tables_released = tables_released() as u64;
    write_ioctl(arg, &cmd, size)
}

/// `RIOMMU_MOCK_TRIGGER_VEVENT`, as `IOMMU_TEST_OP_TRIGGER_VEVENT`.
fn trigger_vevent(arg: usize) -> Result {
    let (cmd, _) = read_ioctl::<uapi::TriggerVevent>(arg, TRIGGER_VEVENT_MIN)?;
    if cmd.reserved != 0 {
        return Err(EOPNOTSUPP);
    }
    let ctx = IommufdCtx::from_fd(cmd.iommufd)?;
    let virt_id = u32::try_from(cmd.virt_id).map_err(|_| ENOENT)?;
    mock::instance()?
        .data()
        .viommus
        .with(ctx.key(), cmd.viommu_id, |v| -> Result {
            v.with_vdevice(cmd.virt_id, |_: &Vdevice<MockVdev>| ())
                .ok_or(ENOENT)?;
            let ev = uapi::ViommuEventSelftest { virt_id };
            v.report_event(uapi::VEVENTQ_TYPE_SELFTEST, ev.as_bytes())
        })
        .ok_or(ENOENT)?
}

/// `RIOMMU_MOCK_CHECK_VDEV_CACHE`, as `IOMMU_TEST_OP_DEV_CHECK_CACHE`.
fn check_vdev_cache(arg: usize) -> Result {
    let (mut cmd, size) = read_ioctl::<uapi::CheckVdevCache>(arg, CHECK_VDEV_CACHE_MIN)?;
    let ctx = IommufdCtx::from_fd(cmd.iommufd)?;
    let value = mock::instance()?
        .data()
        .viommus
        .with(ctx.key(), cmd.viommu_id, |v| {
            v.with_vdevice(cmd.virt_id, |vd: &Vdevice<MockVdev>| {
                vd.cache(cmd.cache_id as usize)
            })
        })
        .flatten()
        .ok_or(ENOENT)?
        .ok_or(EINVAL)?;
    cmd.out_cache = value;
    check_answer(arg, &cmd, size, value == cmd.cache)
}

/// The end of a cache check: writes `cmd` (with the value found) back, then
/// fails with `EINVAL` unless the value was the one expected (`matches`), as
/// `IOMMU_TEST_OP_DEV_CHECK_CACHE` does.
fn check_answer<T: IntoBytes + zerocopy::Immutable>(
    arg: usize,
    cmd: &T,
    size: usize,
    matches: bool,
) -> Result {
    write_ioctl(arg, cmd, size)?;
    if matches {
        Ok(())
    } else {
        Err(EINVAL)
    }
}
