// SPDX-License-Identifier: GPL-2.0

//! What the iommu core keeps of one SMMU: [`SmmuData`], the driver's
//! `Driver::Data`, which is the hardware ([`Smmu`]) and its *vmasters*;
//! and the driver type [`SmmuDriver`], declared here so that the modules
//! above can name `Instance<SmmuDriver>` (its `Driver` impl is in
//! `iommu.rs`).
//!
//! A vmaster is a device attached to a nested domain through a vDEVICE
//! (Linux's `struct arm_smmu_vmaster`): the stage 1 events of its streams
//! that the hardware layer hands up ([`Smmu::drain_events`]) are reported
//! to its vIOMMU's vEVENTQ with the virtual StreamID, as Linux's
//! `arm_vmaster_report_event()` does; stage 2 faults are the host's.  Every
//! STE write says where the stream's stage 1 events go
//! ([`SmmuData::set_host_ste`], [`SmmuData::set_nested_ste`]), so that a
//! device leaving a nested domain stops reporting to its vIOMMU.
//!
//! The vIOMMUs are found again by id in a set ([`ObjSet`]) that each one
//! joins when made ([`SmmuData::viommus`]).  [`SmmuData`] is generic over
//! the vIOMMU type, `V` (`iommu.rs` makes it `vsmmu::Vsmmu`): the nested
//! domains and the vSMMU, in `vsmmu.rs`, sit above the paging domains
//! (`paging.rs`), which need this module to write STEs.

#![forbid(unsafe_code)]

use crate::{
    riommu::{
        objset::ObjSet,
        pure::smmuv3::{
            event::{Event, EVT_QWORDS},
            ste::Ste,
            uapi::{vevent, IOMMU_VEVENTQ_TYPE_ARM_SMMUV3},
        },
        viommu::{Viommu, ViommuImpl},
    },
    smmu::{EventQueue, Smmu},
};
use kernel::{
    new_mutex, new_spinlock, platform,
    prelude::*,
    sync::{Arc, Mutex, SpinLock},
};

/// The driver.
pub struct SmmuDriver;

// `Driver` is implemented in `iommu.rs`, `DriverStatics` in the crate root
// (`declare_iommu_driver!`).

/// A device attached to a nested domain, with its vDEVICE: where its
/// stage 1 events go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VMaster {
    /// The vIOMMU's iommufd context ([`Viommu::ctx_key`]).
    pub ctx: usize,
    /// The vIOMMU's object id.
    pub viommu_id: u32,
    /// The device's virtual StreamID.
    pub vsid: u32,
}

/// One SMMU as the iommu core keeps it (`Driver::Data`): the hardware and
/// its vmasters, `V` being the driver's vIOMMU type.
#[pin_data]
pub struct SmmuData<V: ViommuImpl> {
    /// The hardware.  First: it is dropped first, disabling the SMMU.
    #[pin]
    hw: Smmu,
    /// Live vIOMMUs (for event reports).
    viommus: Arc<ObjSet<Viommu<V>>>,
    /// StreamIDs of vmasters.
    #[pin]
    vmasters: Mutex<KVec<(u32, VMaster)>>,
    /// vEVENTs reported, and those that could not be.
    #[pin]
    vevents: SpinLock<(u64, u64)>,
}

impl<V: ViommuImpl> SmmuData<V> {
    /// The SMMU of `pdev` ([`Smmu::new`]: mapped, checked and enabled with
    /// every stream aborting), with no vmasters.
    pub fn new(
        pdev: &platform::Device<kernel::device::Core<'_>>,
    ) -> Result<impl PinInit<Self, Error>> {
        let viommus = Arc::pin_init(ObjSet::new(), GFP_KERNEL)?;
        let hw = Smmu::new(pdev)?;
        Ok(try_pin_init!(Self {
            hw <- hw,
            viommus,
            vmasters <- new_mutex!(KVec::new()),
            vevents <- new_spinlock!((0, 0)),
        }? Error))
    }

    /// The hardware.
    pub fn hw(&self) -> &Smmu {
        &self.hw
    }

    /// The set each of the SMMU's vIOMMUs joins (`ViommuImpl::set`).
    pub fn viommus(&self) -> &Arc<ObjSet<Viommu<V>>> {
        &self.viommus
    }

    /// Points the STEs of `sids` to `ste` of a domain that is not nested:
    /// their events no longer go to a vIOMMU.
    pub fn set_host_ste(&self, sids: &[u32], ste: &Ste) -> Result {
        self.set_nested_ste(sids, ste, None)
    }

    /// Points the STEs of `sids` to `ste` (of a nested domain) and makes
    /// them vmasters of `v` (or nothing, with `None`): where their stage 1
    /// events are reported.
    pub fn set_nested_ste(&self, sids: &[u32], ste: &Ste, v: Option<VMaster>) -> Result {
        self.hw.write_ste(sids, ste)?;
        let mut vm = self.vmasters.lock();
        vm.retain(|(sid, _)| !sids.contains(sid));
        if let Some(v) = v {
            for &sid in sids {
                vm.push((sid, v), GFP_KERNEL)?;
            }
        }
        Ok(())
    }

    /// vEVENTs reported so far, and those that could not be (no vEVENTQ...).
    pub fn vevent_counts(&self) -> (u64, u64) {
        *self.vevents.lock()
    }

    /// Drains the event queue and reports the vmasters' events to their
    /// vIOMMUs; returns how many events the queue held.  Process context.
    pub fn drain_events(&self) -> u64 {
        self.hw.drain_events(|raw| self.report(raw))
    }

    /// Runs `f` on the event statistics (after draining the queue, as
    /// [`SmmuData::drain_events`]).
    pub fn with_events<R>(&self, f: impl FnOnce(&EventQueue) -> R) -> R {
        self.hw.with_events(|raw| self.report(raw), f)
    }

    /// Reports the stage 1 event `raw` to the vIOMMU of its stream, if the
    /// stream is a vmaster's.
    fn report(&self, raw: &[u64; EVT_QWORDS]) {
        let e = Event::decode(*raw);
        let target = self
            .vmasters
            .lock()
            .iter()
            .find(|(sid, _)| *sid == e.sid)
            .map(|(_, v)| *v);
        let Some(v) = target else {
            return;
        };
        let data = vevent(raw, v.vsid);
        let r = self.viommus.with(v.ctx, v.viommu_id, |vi| {
            vi.report_event(IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, &data)
        });
        let mut c = self.vevents.lock();
        match r {
            Some(Ok(())) => c.0 += 1,
            _ => c.1 += 1,
        }
    }
}
