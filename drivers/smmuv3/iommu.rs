// SPDX-License-Identifier: GPL-2.0

//! The `iommu_ops` of riommu_smmuv3: the `Driver` impl of [`SmmuDriver`],
//! the top of the driver's modules, which names its types: the per-SMMU
//! data ([`SmmuData`], of `instance.rs`), the masters and paging domains
//! ([`Master`], [`SmmuPaging`], of `paging.rs`) and the vSMMU and nested
//! domains ([`Vsmmu`], [`SmmuNested`], of `vsmmu.rs`).
//!
//! - Identity: a bypass STE.  Blocked: an abort STE.  Devices start in the
//!   identity domain, so that a device nobody hands to iommufd keeps doing
//!   DMA as without the driver.
//! - Paging domains are allocated by [`alloc_paging`], nested ones (on a
//!   vSMMU) by [`SmmuNested::alloc`].

#![forbid(unsafe_code)]

use crate::{
    instance::{SmmuData, SmmuDriver},
    paging::{alloc_paging, Master, SmmuPaging},
    riommu::{
        device::{Cap, DefaultDomain, DeviceGroup, HwInfo, IommuDevice, Probe, ProbingDevice},
        domain::{NewDomain, OldDomain, Parent},
        driver::Driver,
        flags::AllocFlags,
        platform,
        pure::smmuv3::{
            ste::{Shcfg, Ste},
            uapi,
        },
        sva::NoSva,
        userdata::UserData,
    },
    vsmmu::{SmmuNested, Vsmmu},
};
use kernel::{bindings, pci, prelude::*};

#[vtable]
impl Driver for SmmuDriver {
    type Paging = SmmuPaging;
    type Nested = SmmuNested;
    type DevData = Master;
    type Data = SmmuData<Vsmmu>;
    type Viommu = Vsmmu;
    type Sva = NoSva<Self>;

    const DEVICE_GROUP: DeviceGroup = DeviceGroup::Pci;
    const DEFAULT_DOMAIN: DefaultDomain = DefaultDomain::Identity;

    fn of_xlate(dev: &ProbingDevice<'_>, args: &[u32]) -> Result {
        // `#iommu-cells = <1>`: the cell is the StreamID.
        platform::fwspec_add_ids(dev, args.get(..1).ok_or(EINVAL)?)
    }

    fn probe_device(dev: &ProbingDevice<'_>) -> Result<Probe<Self>> {
        // The groups are PCI groups, and only PCI devices sit behind QEMU
        // virt's SMMU.
        if <&pci::Device>::try_from(dev.device()).is_err() {
            return Err(ENODEV);
        }
        // The SMMU the device's `iommu-map` names (`arm_smmu_get_by_fwnode()`).
        let reg = platform::fwspec_instance::<Self>(dev).ok_or(ENODEV)?;
        let sids = platform::fwspec_ids(dev)?;
        if sids.is_empty() {
            return Err(ENODEV);
        }
        for &sid in sids.iter() {
            reg.data().hw().prepare_sid(sid)?;
        }
        Ok(Probe {
            iommu: reg,
            data: Master::new(sids, platform::fwspec_canwbs(dev))?,
        })
    }

    fn release_device(dev: &IommuDevice<'_, Self>) {
        // The core detached the device already; make sure it cannot reach
        // a domain that may now be freed.
        let _ = dev
            .iommu()
            .data()
            .set_host_ste(&dev.data().sids, &Ste::abort());
    }

    fn hw_info(dev: &IommuDevice<'_, Self>, requested: u32) -> Result<HwInfo> {
        let smmuv3 = bindings::iommu_hw_info_type_IOMMU_HW_INFO_TYPE_ARM_SMMUV3;
        if requested != bindings::iommu_hw_info_type_IOMMU_HW_INFO_TYPE_DEFAULT
            && requested != smmuv3
        {
            return Err(EOPNOTSUPP);
        }
        let f = dev.iommu().data().hw().feat;
        let info = uapi::HwInfo {
            flags: 0,
            idr: f.idr_raw,
            iidr: f.iidr,
            aidr: f.aidr,
        };
        HwInfo::new(smmuv3, &info.to_bytes())
    }

    fn capable(dev: &IommuDevice<'_, Self>, cap: Cap) -> bool {
        match cap {
            // Table walks and DMA through the SMMU are coherent.
            Cap::CacheCoherency => dev.iommu().data().hw().feat.idr0.cohacc() != 0,
            _ => false,
        }
    }

    fn domain_alloc_user<'a>(
        dev: Option<&IommuDevice<'_, Self>>,
        flags: AllocFlags,
        parent: Option<Parent<'a, Self>>,
        data: UserData<'_>,
    ) -> Result<NewDomain<'a, Self>> {
        match (parent, dev) {
            (None, Some(dev)) => alloc_paging(dev.instance(), flags, data).map(NewDomain::Paging),
            (Some(Parent::Viommu(v)), None) => {
                SmmuNested::alloc(v, flags, data).map(NewDomain::Nested)
            }
            // Nesting goes through a vIOMMU (as Linux's arm-smmu-v3).
            _ => Err(EOPNOTSUPP),
        }
    }

    fn attach_blocked(dev: &IommuDevice<'_, Self>, _old: OldDomain<'_, Self>) -> Result {
        dev.iommu()
            .data()
            .set_host_ste(&dev.data().sids, &Ste::abort())
    }

    fn attach_identity(dev: &IommuDevice<'_, Self>, _old: OldDomain<'_, Self>) -> Result {
        dev.iommu()
            .data()
            .set_host_ste(&dev.data().sids, &Ste::bypass(Shcfg::Incoming))
    }
}
