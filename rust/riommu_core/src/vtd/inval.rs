// SPDX-License-Identifier: GPL-2.0

//! Which invalidations, in which order, follow a change of a PASID table
//! entry or a stage-1 cache invalidation request: the descriptor sequences
//! a driver queues (and then waits for with an invalidation wait
//! descriptor, which the queue adds).
//!
//! After a PASID entry changed (spec 6.5.3.3, "Guidance to Software for
//! Invalidations", the scalable-mode PASID-table entry rows; Linux
//! `intel_pasid_tear_down_entry()` and `intel_pasid_flush_present()`):
//!
//! 1. PASID-cache invalidation, PASID-selective within the old entry's
//!    domain (and within the new one's, which caching mode needs when the
//!    entry was not present: harmless otherwise);
//! 2. the translations cached through the old entry: PASID-based IOTLB
//!    invalidation of the PASID for first-stage and pass-through entries,
//!    domain-selective IOTLB invalidation for second-stage and nested ones;
//! 3. the device-TLB, if the device has ATS enabled: the whole device-TLB
//!    for RID_PASID, PASID-based for other PASIDs;
//! 4. a context-cache invalidation of the device when the entry switches
//!    between pass-through and translation: the context entry did not
//!    change, so the spec does not ask for it, but QEMU's `intel-iommu`
//!    re-decides whether a device bypasses translation (its pass-through
//!    "fast path", taken at the first pass-through translation) only on a
//!    context-cache invalidation; without it a device leaving the identity
//!    domain would keep bypassing translation.  (Entering pass-through
//!    needs none: QEMU takes the fast path at the first pass-through
//!    translation.  A driver issues the invalidations of a new entry's
//!    setup, `pasid_entry_changed(owner, None, new, ..)`, only under
//!    caching mode: `super::update::plan`.)

use super::super::errno::Errno;
use super::nested::S1Invalidation;
use super::pasid::{PGTT_FIRST_STAGE, PGTT_NESTED, PGTT_PASS_THROUGH, PGTT_SECOND_STAGE};
use super::qi::{
    CcGranularity, Descriptor, DevTlbTarget, Drain, IotlbGranularity, PcGranularity,
    PiotlbGranularity, DEV_TLB_ALL_ORDER,
};
use super::RID_PASID_DEFAULT;

/// The most descriptors a plan holds.
pub const MAX_PLAN: usize = 6;

/// A short sequence of invalidation descriptors, in queue order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    descs: [Descriptor; MAX_PLAN],
    len: usize,
}

impl Default for Plan {
    fn default() -> Self {
        Self::new()
    }
}

impl Plan {
    /// An empty plan.
    pub const fn new() -> Self {
        Plan {
            descs: [Descriptor::ZERO; MAX_PLAN],
            len: 0,
        }
    }

    /// Appends `d`; [`Errno::EOVERFLOW`] if the plan is full.
    pub fn push(&mut self, d: Descriptor) -> Result<(), Errno> {
        let slot = self.descs.get_mut(self.len).ok_or(Errno::EOVERFLOW)?;
        *slot = d;
        self.len += 1;
        Ok(())
    }

    /// The descriptors.
    pub fn as_slice(&self) -> &[Descriptor] {
        &self.descs[..self.len]
    }

    /// Number of descriptors.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the plan is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A present PASID table entry, as far as invalidation cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasidState {
    /// The entry's domain id.
    pub did: u16,
    /// The entry's PGTT (`PGTT_*`).
    pub pgtt: u64,
}

impl PasidState {
    fn is_pass_through(state: Option<PasidState>) -> bool {
        matches!(state, Some(PasidState { pgtt, .. }) if pgtt == PGTT_PASS_THROUGH)
    }
}

/// The device a PASID entry belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasidOwner {
    /// The device's source id (requester id).
    pub sid: u16,
    /// The PASID whose entry changed.
    pub pasid: u32,
    /// The device's device-TLB, if ATS is enabled for it.
    pub dev_tlb: Option<DevTlbTarget>,
}

/// The invalidations after the PASID entry of `owner` changed from `old`
/// to `new` (`None`: not present), in the order of the module
/// documentation. `drain` is what CAP.DRD/DWD allow for IOTLB
/// invalidations. [`Errno::EINVAL`] on an invalid PASID or PGTT.
pub fn pasid_entry_changed(
    owner: PasidOwner,
    old: Option<PasidState>,
    new: Option<PasidState>,
    drain: Drain,
) -> Result<Plan, Errno> {
    let mut plan = Plan::new();
    let pasid = owner.pasid;
    if let Some(o) = old {
        plan.push(Descriptor::pasid_cache(PcGranularity::Pasid {
            did: o.did,
            pasid,
        })?)?;
    }
    if let Some(n) = new {
        if old.map(|o| o.did) != Some(n.did) {
            plan.push(Descriptor::pasid_cache(PcGranularity::Pasid {
                did: n.did,
                pasid,
            })?)?;
        }
    }
    if let Some(o) = old {
        match o.pgtt {
            PGTT_FIRST_STAGE | PGTT_PASS_THROUGH => {
                plan.push(Descriptor::piotlb(o.did, pasid, PiotlbGranularity::Pasid)?)?
            }
            PGTT_SECOND_STAGE | PGTT_NESTED => plan.push(Descriptor::iotlb(
                IotlbGranularity::Domain { did: o.did },
                drain,
            )?)?,
            _ => return Err(Errno::EINVAL),
        }
        if let Some(t) = owner.dev_tlb {
            plan.push(dev_tlb_all(t, pasid)?)?;
        }
    }
    if PasidState::is_pass_through(old) != PasidState::is_pass_through(new) {
        let did = old.or(new).map_or(0, |s| s.did);
        plan.push(Descriptor::context_cache(CcGranularity::Device {
            did,
            sid: owner.sid,
            fm: 0,
        })?)?;
    }
    Ok(plan)
}

/// The whole device-TLB of `t` for `pasid`: device-TLB invalidation for
/// RID_PASID (requests without PASID), PASID-based otherwise.
fn dev_tlb_all(t: DevTlbTarget, pasid: u32) -> Result<Descriptor, Errno> {
    if pasid == RID_PASID_DEFAULT {
        Descriptor::dev_tlb(t, 0, DEV_TLB_ALL_ORDER)
    } else {
        Descriptor::pasid_dev_tlb(t, pasid, 0, DEV_TLB_ALL_ORDER, false)
    }
}

/// The invalidations for one validated stage-1 invalidation request of a
/// nested domain (`IOMMU_HWPT_INVALIDATE_DATA_VTD_S1`), as Linux
/// `intel_nested_cache_invalidate_user()` issues them for a device attached
/// through `pasid`: a PASID-based IOTLB invalidation of the range
/// (page-selective when the covering block's mask is at most `mamv`, else
/// the whole PASID), then the device-TLB range if ATS is enabled.
pub fn s1_invalidation(
    inv: &S1Invalidation,
    did: u16,
    pasid: u32,
    mamv: u32,
    dev_tlb: Option<DevTlbTarget>,
) -> Result<Plan, Errno> {
    let mut plan = Plan::new();
    plan.push(Descriptor::piotlb(did, pasid, inv.piotlb(mamv))?)?;
    if let Some(t) = dev_tlb {
        let (addr, order) = inv.dev_tlb();
        let d = if pasid == RID_PASID_DEFAULT {
            Descriptor::dev_tlb(t, addr, order)?
        } else {
            Descriptor::pasid_dev_tlb(t, pasid, addr, order, false)?
        };
        plan.push(d)?;
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::super::qi::{PageRange, TYPE_CONTEXT_CACHE, TYPE_PASID_CACHE, TYPE_PIOTLB};
    use super::*;

    const OWNER: PasidOwner = PasidOwner {
        sid: 0x0010,
        pasid: 0,
        dev_tlb: None,
    };
    const PT: PasidState = PasidState {
        did: 1,
        pgtt: PGTT_PASS_THROUGH,
    };
    const FS: PasidState = PasidState {
        did: 5,
        pgtt: PGTT_FIRST_STAGE,
    };
    const FS2: PasidState = PasidState {
        did: 6,
        pgtt: PGTT_FIRST_STAGE,
    };

    fn types(p: &Plan) -> Vec<u64> {
        p.as_slice().iter().map(Descriptor::desc_type).collect()
    }

    fn pc(did: u16) -> Descriptor {
        Descriptor::pasid_cache(PcGranularity::Pasid { did, pasid: 0 }).unwrap()
    }

    fn piotlb(did: u16) -> Descriptor {
        Descriptor::piotlb(did, 0, PiotlbGranularity::Pasid).unwrap()
    }

    fn cc(did: u16) -> Descriptor {
        Descriptor::context_cache(CcGranularity::Device {
            did,
            sid: 0x0010,
            fm: 0,
        })
        .unwrap()
    }

    #[test]
    fn first_attach_of_identity() {
        let p = pasid_entry_changed(OWNER, None, Some(PT), Drain::default()).unwrap();
        assert_eq!(p.as_slice(), &[pc(1), cc(1)]);
    }

    #[test]
    fn identity_to_paging_flushes_old_domain_and_leaves_pass_through() {
        let p = pasid_entry_changed(OWNER, Some(PT), Some(FS), Drain::default()).unwrap();
        assert_eq!(p.as_slice(), &[pc(1), pc(5), piotlb(1), cc(1)]);
        assert_eq!(
            types(&p),
            [
                TYPE_PASID_CACHE,
                TYPE_PASID_CACHE,
                TYPE_PIOTLB,
                TYPE_CONTEXT_CACHE
            ]
        );
    }

    #[test]
    fn paging_replace_and_detach() {
        let p = pasid_entry_changed(OWNER, Some(FS), Some(FS2), Drain::default()).unwrap();
        assert_eq!(p.as_slice(), &[pc(5), pc(6), piotlb(5)]);
        // Same domain again: one PASID-cache invalidation only.
        let p = pasid_entry_changed(OWNER, Some(FS), Some(FS), Drain::default()).unwrap();
        assert_eq!(p.as_slice(), &[pc(5), piotlb(5)]);
        // To blocked (not present).
        let p = pasid_entry_changed(OWNER, Some(FS), None, Drain::default()).unwrap();
        assert_eq!(p.as_slice(), &[pc(5), piotlb(5)]);
        // From blocked.
        let p = pasid_entry_changed(OWNER, None, Some(FS), Drain::default()).unwrap();
        assert_eq!(p.as_slice(), &[pc(5)]);
        // Back to identity.
        let p = pasid_entry_changed(OWNER, Some(FS), Some(PT), Drain::default()).unwrap();
        assert_eq!(p.as_slice(), &[pc(5), pc(1), piotlb(5), cc(5)]);
        // Nothing to nothing.
        assert!(pasid_entry_changed(OWNER, None, None, Drain::default())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn second_stage_and_device_tlb() {
        let ss = PasidState {
            did: 7,
            pgtt: PGTT_SECOND_STAGE,
        };
        let t = DevTlbTarget {
            sid: 0x0010,
            pfsid: 0,
            queue_depth: 32,
        };
        let owner = PasidOwner {
            dev_tlb: Some(t),
            ..OWNER
        };
        let drain = Drain {
            read: true,
            write: true,
        };
        let p = pasid_entry_changed(owner, Some(ss), None, drain).unwrap();
        assert_eq!(
            p.as_slice(),
            &[
                pc(7),
                Descriptor::iotlb(IotlbGranularity::Domain { did: 7 }, drain).unwrap(),
                Descriptor::dev_tlb(t, 0, DEV_TLB_ALL_ORDER).unwrap(),
            ]
        );
        // A non-RID_PASID entry uses the PASID-based device-TLB descriptor.
        let owner = PasidOwner { pasid: 3, ..owner };
        let p = pasid_entry_changed(owner, Some(FS), None, drain).unwrap();
        assert_eq!(
            p.as_slice()[2],
            Descriptor::pasid_dev_tlb(t, 3, 0, DEV_TLB_ALL_ORDER, false).unwrap()
        );
        assert_eq!(
            p.as_slice()[1],
            Descriptor::piotlb(5, 3, PiotlbGranularity::Pasid).unwrap()
        );
    }

    #[test]
    fn bad_input_is_refused() {
        let bad = PasidState { did: 1, pgtt: 0 };
        assert_eq!(
            pasid_entry_changed(OWNER, Some(bad), None, Drain::default()),
            Err(Errno::EINVAL)
        );
        let owner = PasidOwner {
            pasid: 1 << 20,
            ..OWNER
        };
        assert_eq!(
            pasid_entry_changed(owner, Some(FS), None, Drain::default()),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn plan_capacity() {
        let mut p = Plan::new();
        for _ in 0..MAX_PLAN {
            p.push(pc(1)).unwrap();
        }
        assert_eq!(p.len(), MAX_PLAN);
        assert_eq!(p.push(pc(1)), Err(Errno::EOVERFLOW));
    }

    #[test]
    fn s1_invalidation_descriptors() {
        // One page, leaf only: page-selective, IH set.
        let inv = S1Invalidation::Range {
            addr: 0x1234_5000,
            npages: 1,
            leaf: true,
        };
        let p = s1_invalidation(&inv, 9, 0, 18, None).unwrap();
        assert_eq!(
            p.as_slice(),
            &[Descriptor::piotlb(
                9,
                0,
                PiotlbGranularity::Page(PageRange {
                    addr: 0x1234_5000,
                    am: 0,
                    ih: true
                })
            )
            .unwrap()]
        );
        // Everything: PASID-selective.
        let p = s1_invalidation(&S1Invalidation::All { leaf: false }, 9, 0, 18, None).unwrap();
        assert_eq!(p.as_slice(), &[piotlb_did(9)]);
        // A range too large for MAMV falls back to the whole PASID.
        let inv = S1Invalidation::Range {
            addr: 0,
            npages: 1 << 19,
            leaf: false,
        };
        let p = s1_invalidation(&inv, 9, 0, 18, None).unwrap();
        assert_eq!(p.as_slice(), &[piotlb_did(9)]);
        // With ATS: the device-TLB range follows.
        let t = DevTlbTarget {
            sid: 0x0010,
            pfsid: 0,
            queue_depth: 0,
        };
        let inv = S1Invalidation::Range {
            addr: 0x4000,
            npages: 4,
            leaf: false,
        };
        let p = s1_invalidation(&inv, 9, 0, 18, Some(t)).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p.as_slice()[1], Descriptor::dev_tlb(t, 0x4000, 2).unwrap());
    }

    fn piotlb_did(did: u16) -> Descriptor {
        Descriptor::piotlb(did, 0, PiotlbGranularity::Pasid).unwrap()
    }
}
