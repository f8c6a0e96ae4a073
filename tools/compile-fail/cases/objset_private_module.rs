// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error\[E0603\]: module .private. is private
// why: nor by naming the trait in its defining module, which is private to objset
// root: riommu::driver::declare_iommu_driver!(case::Mine);

#![forbid(unsafe_code)]

use crate::riommu::objset::{private::Tracked, ObjSet};
use core::sync::atomic::AtomicPtr;

minimal_driver! { driver: Mine, paging: MyDomain }

/// A driver object that wants to be found by id.
pub struct Thing {
    slot: AtomicPtr<ObjSet<Thing>>,
    id: u32,
}

impl Tracked for Thing {
    fn set_slot(&self) -> &AtomicPtr<ObjSet<Self>> {
        &self.slot
    }

    fn object_id(&self) -> Option<u32> {
        Some(self.id)
    }
}
