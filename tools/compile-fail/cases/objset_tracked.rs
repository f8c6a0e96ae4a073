// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error\[E0603\]: trait( import)? .Tracked. is private
// why: only the API's objects (domains, vIOMMUs), whose free paths leave their set, can be in an ObjSet: a driver cannot implement Tracked for its own type (whose set entry would dangle once it is freed)
// root: riommu::driver::declare_iommu_driver!(case::Mine);

#![forbid(unsafe_code)]

use crate::riommu::objset::{ObjSet, Tracked};
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
