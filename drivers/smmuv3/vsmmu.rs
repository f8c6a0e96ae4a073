// SPDX-License-Identifier: GPL-2.0

//! The vSMMU (`IOMMU_VIOMMU_TYPE_ARM_SMMUV3`) and its nested domains, as
//! Linux 7.3's `arm-smmu-v3-iommufd.c` offers them to a VMM that emulates
//! an SMMUv3 for its guest:
//!
//! - a vIOMMU sits on a nesting parent (a stage 2 domain) and uses its VMID;
//! - a vDEVICE maps a virtual StreamID (the guest's) to the device's
//!   physical one (a device with exactly one StreamID);
//! - a nested domain holds the guest's STE words 0 and 1 (validated by
//!   [`NestedSte::validate`]); attaching a device installs them merged with
//!   the parent's stage 2 ([`NestedSte::make_ste`]): the guest's CD table
//!   and stage 1 tables are IPAs that the SMMU walks through stage 2; a
//!   device with a vDEVICE becomes a *vmaster*, whose stage 1 events
//!   `instance.rs` reports to the vIOMMU's vEVENTQ;
//! - `IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3` commands are validated and
//!   converted by [`convert_user_cmd`] (the VMID inserted, vSIDs turned
//!   into StreamIDs) and issued with a `CMD_SYNC`.
//!
//! Coherency: Linux refuses a vSMMU unless the device is CANWBS (an ACPI
//! IORT flag) or the SMMU has S2FWB (`arm_smmu_get_viommu_size()`), so that
//! the guest cannot make its DMA non-coherent behind VFIO's back through
//! stage 1 memory attributes.  This driver offers it to CANWBS devices
//! ([`coherency_safe`]; S2FWB would also need `STE.S2FWB` in nested STEs,
//! which it does not write, so an S2FWB SMMU is not enough here).  QEMU's
//! device tree has no such flag and its SMMU no S2FWB, but every access of
//! its emulated devices is coherent, as the SMMU says with `IDR0.COHACC`:
//! with the module parameter `allow_unsafe_viommu`, which taints the
//! kernel, a COHACC SMMU's devices are offered the vSMMU too (the tests
//! load the driver so); see `Documentation/smmuv3.rst`.

#![forbid(unsafe_code)]

/// Whether a vSMMU may be offered for a device: its root complex makes its
/// DMA write-back cacheable (`canwbs`), or the user allowed it on a
/// coherent SMMU (`cohacc`) with `allow_unsafe_viommu`.
fn coherency_safe(canwbs: bool, cohacc: bool) -> bool {
    canwbs || (cohacc && crate::module_parameters::allow_unsafe_viommu.value())
}

use crate::{
    instance::{SmmuDriver, VMaster},
    paging::{SmmuPaging, STREAM_OPTS},
    riommu::{
        device::IommuDevice,
        domain::{Domain, DomainBox, NestedBox, NestedDomain, OldDomain, Parent},
        flags::AllocFlags,
        objset::ObjSet,
        pure::smmuv3::{
            cmdq::CMD_QWORDS,
            ste::{S2Cfg, Ste},
            uapi::{convert_user_cmd, NestedSte, VsmmuCaps},
        },
        registration::Instance,
        uapi_check::assert_same_layout,
        userdata::{UserData, UserDataArray, UserStruct},
        viommu::{Vdevice, VdeviceCore, Viommu, ViommuCore, ViommuImpl},
    },
    smmu::CMDQ_BATCH,
};
use core::mem::size_of;
use kernel::{bindings, prelude::*, sync::Arc};
use zerocopy_derive::{Immutable, KnownLayout};

/// `struct iommu_hwpt_arm_smmuv3`: the guest's STE words 0 and 1.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct HwptArmSmmuv3 {
    /// Little-endian STE words.
    pub ste: [u64; 2],
}

impl UserStruct for HwptArmSmmuv3 {
    const TYPE: u32 = bindings::iommu_hwpt_data_type_IOMMU_HWPT_DATA_ARM_SMMUV3;
    const MIN_LEN: usize = size_of::<[u64; 2]>();
}

/// `struct iommu_viommu_arm_smmuv3_invalidate`: one command.
#[repr(C)]
#[derive(Clone, Copy, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct ViommuArmSmmuv3Invalidate {
    /// Little-endian command words.
    pub cmd: [u64; 2],
}

impl UserStruct for ViommuArmSmmuv3Invalidate {
    const TYPE: u32 =
        bindings::iommu_hwpt_invalidate_data_type_IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3;
    const MIN_LEN: usize = size_of::<[u64; 2]>();
}

// Both are the kernel's structs, field for field (`rust/riommu/uapi_check.rs`).
assert_same_layout!(HwptArmSmmuv3, bindings::iommu_hwpt_arm_smmuv3; ste);
assert_same_layout!(ViommuArmSmmuv3Invalidate, bindings::iommu_viommu_arm_smmuv3_invalidate; cmd);

/// A vSMMU.
pub struct Vsmmu {
    /// The nesting parent's stage 2 (its table never moves).
    pub s2: S2Cfg,
    /// What the guest's commands may use.
    caps: VsmmuCaps,
    /// The SMMU (its nesting parent's).
    smmu: Arc<Instance<SmmuDriver>>,
}

/// A vDEVICE: the physical StreamID behind a virtual one.
pub struct Vdev {
    /// The device's StreamID.
    pub sid: u32,
}

impl ViommuImpl for Vsmmu {
    type Driver = SmmuDriver;
    type Vdev = Vdev;
    type HwQueue = ();

    fn supports(dev: &IommuDevice<'_, SmmuDriver>, ty: u32) -> bool {
        let s = dev.iommu().data().hw();
        ty == bindings::iommu_viommu_type_IOMMU_VIOMMU_TYPE_ARM_SMMUV3
            && s.feat.s1()
            && s.feat.s2()
            && coherency_safe(dev.data().canwbs, s.feat.idr0.cohacc() != 0)
    }

    fn set(viommu: &Viommu<Self>) -> Option<Arc<ObjSet<Viommu<Self>>>> {
        Some(viommu.smmu.data().viommus().clone())
    }

    fn init<'a>(
        core: &ViommuCore<'a>,
        parent: &'a Domain<SmmuPaging>,
        _data: UserData<'_>,
    ) -> Result<impl PinInit<Self, Error> + 'a> {
        // The parent's VMID and tables are its own SMMU's
        // (`arm_vsmmu_init()`: `s2_parent->smmu != smmu`).
        if !core.is_on(parent.smmu()) {
            return Err(EINVAL);
        }
        let smmu = parent.smmu().clone();
        let s = smmu.data().hw();
        // The parent must be a stage 2 (nesting parent) domain.
        let s2 = parent.s2_cfg(s)?;
        let f = &s.feat;
        let caps = VsmmuCaps::from_idr(f.idr0, f.idr1, f.idr3, f.idr5, false);
        Ok(Ok::<_, Error>(Vsmmu { s2, caps, smmu }))
    }

    fn cache_invalidate(viommu: &Viommu<Self>, array: &mut UserDataArray<'_>) -> Result {
        let cmds = match array.read_all::<ViommuArmSmmuv3Invalidate>() {
            Ok(c) => c,
            Err(e) => {
                array.set_processed(0);
                return Err(e);
            }
        };
        let s = viommu.smmu.data().hw();
        let mut batch: KVec<[u64; CMD_QWORDS]> = KVec::with_capacity(CMDQ_BATCH, GFP_KERNEL)?;
        let mut issued = 0usize;
        let mut ret = Ok(());
        for (i, c) in cmds.iter().enumerate() {
            let words = [u64::from_le(c.cmd[0]), u64::from_le(c.cmd[1])];
            let conv = convert_user_cmd(&viommu.caps, viommu.s2.vmid, &words, |vsid| {
                viommu.with_vdevice(u64::from(vsid), |v: &Vdevice<Vdev>| v.sid)
            });
            match conv {
                Ok(w) => batch.push(w, GFP_KERNEL)?,
                Err(e) => {
                    ret = Err(e.into());
                    break;
                }
            }
            if batch.len() == CMDQ_BATCH {
                if let Err(e) = s.issue_raw(&batch) {
                    ret = Err(e);
                    break;
                }
                issued = i + 1;
                batch.clear();
            }
        }
        // Commands converted before a refused one are issued (Linux drops
        // its unfinished batch; issuing them is what the guest asked for).
        if !batch.is_empty() {
            match s.issue_raw(&batch) {
                Ok(()) => issued += batch.len(),
                Err(e) => {
                    if ret.is_ok() {
                        ret = Err(e);
                    }
                }
            }
        }
        array.set_processed(u32::try_from(issued).unwrap_or(u32::MAX));
        ret
    }

    fn vdevice_init(
        _viommu: &Viommu<Self>,
        vdev: &VdeviceCore<'_>,
    ) -> Result<impl PinInit<Vdev, Error>> {
        let dev = vdev.probed::<SmmuDriver>()?;
        let sids = &dev.data().sids;
        // A vSID maps to one StreamID.
        if sids.len() != 1 {
            return Err(EOPNOTSUPP);
        }
        Ok(Ok::<_, Error>(Vdev { sid: sids[0] }))
    }
}

/// A nested domain: the guest's STE words 0 and 1.
pub struct SmmuNested {
    vste: NestedSte,
}

impl SmmuNested {
    /// `alloc_domain_nested` of a vSMMU.
    pub fn alloc<'a>(
        v: &'a Viommu<Vsmmu>,
        flags: AllocFlags,
        data: UserData<'_>,
    ) -> Result<NestedBox<'a, SmmuNested>> {
        if !flags.is_empty() {
            return Err(EOPNOTSUPP);
        }
        let arg = data.read::<HwptArmSmmuv3>()?;
        let vste = NestedSte::validate([u64::from_le(arg.ste[0]), u64::from_le(arg.ste[1])])?;
        DomainBox::new_nested(&Parent::Viommu(v), Ok::<_, Error>(SmmuNested { vste }))
    }
}

#[vtable]
impl NestedDomain for SmmuNested {
    type Driver = SmmuDriver;

    fn attach_dev(
        this: &Domain<Self>,
        dev: &IommuDevice<'_, SmmuDriver>,
        _old: OldDomain<'_, SmmuDriver>,
    ) -> Result {
        let v = this.viommu().ok_or(EINVAL)?;
        // The vSMMU's VMID is its SMMU's (`arm_smmu_attach_dev_nested()`:
        // `nested_domain->vsmmu->smmu != master->smmu`).
        if !v.smmu.has_device(dev) {
            return Err(EINVAL);
        }
        // A stage 1 translating STE needs the device's vDEVICE (its vSID,
        // for CD invalidations and events); abort and bypass do not (GBPA).
        let vsid = v.vdev_id_of(dev.device());
        if this.vste.needs_vdevice() && vsid.is_err() {
            return vsid.map(|_| ());
        }
        let vmaster = match vsid {
            Ok(vsid) => Some(VMaster {
                ctx: v.ctx_key(),
                viommu_id: v.id(),
                vsid: u32::try_from(vsid).map_err(|_| EINVAL)?,
            }),
            Err(_) => None,
        };
        let s2 = Ste::s2(&v.s2, &STREAM_OPTS)?;
        let ste = this.vste.make_ste(&s2)?;
        dev.iommu()
            .data()
            .set_nested_ste(&dev.data().sids, &ste, vmaster)
    }

    fn cache_invalidate_user(_this: &Domain<Self>, array: &mut UserDataArray<'_>) -> Result {
        // Invalidations go through the vIOMMU.
        array.set_processed(0);
        Err(EOPNOTSUPP)
    }
}
