// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error: lifetime may not live long enough
// why: a new nested domain (which may point to the vIOMMU it is allocated on) cannot be kept past the allocation: NestedBox<'a> is tied to the parent's borrow, so it cannot become 'static
// root: riommu::driver::declare_iommu_driver!(case::Nesting);

#![forbid(unsafe_code)]

use crate::riommu::{
    domain::{Domain, DomainBox, NestedBox, NestedDomain, OldDomain, Parent},
    device::IommuDevice,
    userdata::UserDataArray,
};
use kernel::prelude::*;

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

/// Allocates a nested domain to keep for later (say, in a global list).
pub fn alloc_and_keep<'a>(parent: &Parent<'a, Nesting>) -> Result<NestedBox<'static, Stage1>> {
    DomainBox::new_nested(parent, Ok::<_, Error>(Stage1))
}
