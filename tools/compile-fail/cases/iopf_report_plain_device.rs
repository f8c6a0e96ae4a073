// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error\[E0277\]: the trait bound .*: (.*::)?RegisteredDevice. is not satisfied
// why: a page request is reported only on a RegisteredDevice, whose attach lock keeps iommufd from freeing the attach handle the core uses meanwhile; a plain device reference has none
// root: riommu::driver::declare_iommu_driver!(case::Mine);

#![forbid(unsafe_code)]

use crate::riommu::iopf::{self, PageRequest};
use kernel::{device::Device, prelude::*};

minimal_driver! { driver: Mine, paging: MyDomain }

/// Reports a page request of `dev`, whatever is attached or detached meanwhile.
pub fn fault(dev: &Device) -> Result {
    let req = PageRequest {
        pasid: None,
        grpid: 1,
        perm: 0,
        addr: 0,
        last_page: true,
    };
    iopf::report::<Mine, _>(dev, &req)
}
