// SPDX-License-Identifier: GPL-2.0

//! The compile-fail cases' fixture: `minimal_driver!`, a complete minimal
//! driver (as `samples/riommu_minimal.rs`, without the page table), so a
//! case holds only its misuse.  Every case crate includes this module
//! (`tools/compile-fail/run.sh`), before the case, with `#[macro_use]`.
//!
//! ```ignore
//! minimal_driver! {
//!     driver: MyDriver,            // the driver type (a unit struct)
//!     paging: MyDomain,            // its paging domain (a unit struct)
//!     nested: MyNested,            // optional: default `NoNested<MyDriver>`
//!     paging_ops: { fn ... }       // optional: more `PagingDomain` methods
//! }
//! ```
//!
//! The driver's `DriverStatics` is not here: the case's `// root:` header
//! invokes `riommu::driver::declare_iommu_driver!(case::MyDriver);` (or the
//! case implements it, which is its misuse).  The driver probes no device;
//! `domain_alloc_user` returns a `DomainBox::new_paging` domain.  The paging
//! domain maps nothing; `MyDomain::CONFIG` is its geometry and
//! `MyDomain::init()` its initialiser.

#![forbid(unsafe_code)]

macro_rules! minimal_driver {
    (@nested $d:ident) => { $crate::riommu::domain::NoNested<$d> };
    (@nested $d:ident $n:ty) => { $n };
    (
        driver: $d:ident,
        paging: $p:ident
        $(, nested: $n:ty)?
        $(, paging_ops: { $($ops:tt)* })?
        $(,)?
    ) => {
        /// The driver (`minimal_driver!`).
        pub struct $d;

        #[::kernel::prelude::vtable]
        impl $crate::riommu::driver::Driver for $d {
            type Paging = $p;
            type Nested = minimal_driver!(@nested $d $($n)?);
            type DevData = ();
            type Data = ();
            type Viommu = $crate::riommu::viommu::NoViommu<$d>;
            type Sva = $crate::riommu::sva::NoSva<$d>;

            fn probe_device(
                _dev: &$crate::riommu::device::ProbingDevice<'_>,
            ) -> ::kernel::error::Result<$crate::riommu::device::Probe<Self>> {
                Err(::kernel::error::code::ENODEV)
            }

            fn domain_alloc_user<'a>(
                _dev: Option<&$crate::riommu::device::IommuDevice<'_, Self>>,
                flags: $crate::riommu::flags::AllocFlags,
                parent: Option<$crate::riommu::domain::Parent<'a, Self>>,
                data: $crate::riommu::userdata::UserData<'_>,
            ) -> ::kernel::error::Result<$crate::riommu::domain::NewDomain<'a, Self>> {
                if !flags.is_empty() || parent.is_some() || !data.is_empty() {
                    return Err(::kernel::error::code::EOPNOTSUPP);
                }
                let domain = $crate::riommu::domain::DomainBox::new_paging($p::CONFIG, $p::init())?;
                Ok($crate::riommu::domain::NewDomain::Paging(domain))
            }
        }

        /// The driver's paging domain (`minimal_driver!`): maps nothing.
        pub struct $p;

        impl $p {
            /// Its geometry.
            pub const CONFIG: $crate::riommu::domain::PagingConfig =
                $crate::riommu::domain::PagingConfig {
                    pgsize_bitmap: 1 << 12,
                    aperture_start: 0,
                    aperture_end: (1 << 39) - 1,
                    force_aperture: true,
                };

            /// Its initialiser.
            pub fn init() -> impl ::kernel::prelude::PinInit<Self, ::kernel::error::Error> {
                Ok::<_, ::kernel::error::Error>($p)
            }
        }

        #[::kernel::prelude::vtable]
        impl $crate::riommu::domain::PagingDomain for $p {
            type Driver = $d;

            fn attach_dev(
                &self,
                _dev: &$crate::riommu::device::IommuDevice<'_, $d>,
                _old: $crate::riommu::domain::OldDomain<'_, $d>,
            ) -> ::kernel::error::Result {
                Ok(())
            }

            fn map_pages(
                &self,
                _target: $crate::riommu::pgtable::MapTarget<'_>,
                _prot: u32,
                _gather: &mut $crate::riommu::iotlb::IotlbGather<'_>,
            ) -> (u64, ::kernel::error::Result) {
                (0, Err(::kernel::error::code::ENOSPC))
            }

            fn unmap_pages(
                &self,
                _iova: u64,
                _pgsize: u64,
                _pgcount: u64,
                _gather: &mut $crate::riommu::iotlb::IotlbGather<'_>,
            ) -> u64 {
                0
            }

            fn iova_to_phys(&self, _iova: u64) -> u64 {
                0
            }

            $($($ops)*)?
        }
    };
}
