// SPDX-License-Identifier: GPL-2.0
//
// The positive control: what the cases get wrong, done right.  It must
// compile (with code generation), or the harness itself is broken (flags,
// bindings, fixture) and every "expected" failure means nothing.
//
// why: the correct counterpart of each case compiles
// root: riommu::driver::declare_iommu_driver!(case::Good);
// root: riommu::driver::declare_iommu_driver!(case::Dirty);
// root: riommu::driver::declare_iommu_driver!(case::Nesting);

#![forbid(unsafe_code)]

use crate::riommu::{
    domain::{
        Domain, DomainBox, DomainSet, NestedBox, NestedDomain, OldDomain, PagingConfig, Parent,
    },
    device::{IommuDevice, ProbingDevice}, driver::DriverStatics, registration::Instance, vtable::Statics,
    hw::{AcpiTable, Mmio},
    iommufd::{BoundDevice, IommufdCtx},
    mockbus::{MockBusDriver, MockDevice},
    pages::PhysPages,
    pgtable::LockedPageTable,
    platform::fwspec_ids,
    pure::mockpt::MockFormat,
    userdata::UserDataArray,
    viommu::ViommuCore,
};
use kernel::{prelude::*, sync::Arc};

minimal_driver! { driver: Good, paging: GoodDomain }

impl MockBusDriver for Good {
    type BusDevData = ();
}

/// A driver's tables come from `declare_iommu_driver!` (the `// root:`
/// lines above); reading them back is safe (cases/driver_statics_*.rs,
/// cases/statics_new.rs).
pub fn tables() -> &'static Statics {
    Good::statics()
}

/// A page table of a trusted format (cases/untrusted_format.rs).
#[pin_data]
pub struct Tables {
    #[pin]
    table: LockedPageTable<MockFormat>,
}

/// (cases/untrusted_format.rs)
pub fn tables_init() -> impl PinInit<Tables, Error> {
    try_pin_init!(Tables {
        table <- LockedPageTable::new(),
    }? Error)
}

/// A domain in a driver's set: `insert_into`, not `Tracked`
/// (cases/objset_tracked.rs).
pub fn track(set: &Arc<DomainSet<GoodDomain>>, b: &DomainBox<GoodDomain>) -> Result {
    b.insert_into(set, 0)
}

/// An instance is kept as a counted reference (cases/instance_static.rs).
pub fn keep() -> Option<Arc<Instance<Good>>> {
    Good::instance()
}

/// Registers are mapped where the firmware says they are
/// (cases/mmio_raw_phys.rs).
pub fn drhd(dmar: &AcpiTable, base: u64) -> Result<Mmio> {
    Mmio::map_drhd(dmar, base)
}

/// Binding keeps the device registered through a `MockDevice`
/// (cases/registered_device.rs).
pub fn bind(ctx: &IommufdCtx, dev: &MockDevice<Good>) -> Result<BoundDevice<MockDevice<Good>>> {
    BoundDevice::bind(ctx, dev.clone())
}

/// An mmap region is pages the vIOMMU owns (cases/alloc_mmap_phys.rs).
pub fn mmap(core: &ViommuCore<'_>) -> Result<usize> {
    core.alloc_mmap(PhysPages::alloc(0)?)
}

/// Firmware ids during probe (cases/fwspec_*.rs).
pub fn ids(dev: &ProbingDevice<'_>) -> Result<KVec<u32>> {
    fwspec_ids(dev)
}

// A dirty-tracking domain with both operations (cases/dirty_*.rs).
minimal_driver! {
    driver: Dirty,
    paging: DirtyDomain,
    paging_ops: {
        fn set_dirty_tracking(&self, _enable: bool) -> Result {
            Ok(())
        }

        fn read_and_clear_dirty(
            &self,
            _iova: u64,
            _size: u64,
            _no_clear: bool,
            _dirty: &mut crate::riommu::domain::DirtyBitmap<'_>,
        ) -> Result {
            Ok(())
        }
    }
}

/// (cases/dirty_without_ops.rs)
pub fn dirty(config: PagingConfig) -> Result<DomainBox<DirtyDomain>> {
    DomainBox::new_paging_dirty(config, true, DirtyDomain::init())
}

// A nested domain lives no longer than its parent's borrow
// (cases/nested_outlives_parent.rs).
minimal_driver! { driver: Nesting, paging: NestingParent, nested: Stage1 }

/// The nested domain.
pub struct Stage1;

#[vtable]
impl NestedDomain for Stage1 {
    type Driver = Nesting;

    fn attach_dev(
        _this: &Domain<Self>,
        _dev: &IommuDevice<'_, Nesting>,
        _old: OldDomain<'_, Nesting>,
    ) -> Result {
        Ok(())
    }

    fn cache_invalidate_user(_this: &Domain<Self>, _array: &mut UserDataArray<'_>) -> Result {
        Err(EOPNOTSUPP)
    }
}

/// (cases/nested_outlives_parent.rs)
pub fn nested<'a>(parent: &Parent<'a, Nesting>) -> Result<NestedBox<'a, Stage1>> {
    DomainBox::new_nested(parent, Ok::<_, Error>(Stage1))
}
