// SPDX-License-Identifier: GPL-2.0

//! A minimal IOMMU driver on the riommu API: IOMMU instances with a bus of
//! their own each (two by default, to show that a driver can have several),
//! paging domains backed by a Rust page table, no nesting and no vIOMMU.
//! Documentation/rust-iommu-api.rst walks through it.

#[path = "../rust/riommu/mod.rs"]
pub mod riommu;

/// The driver itself: no `unsafe` allowed.
pub mod driver {
    #![forbid(unsafe_code)]

    use crate::riommu::{
        domain::{DomainBox, NewDomain, NoNested, OldDomain, PagingConfig, PagingDomain, Parent},
        device::{IommuDevice, Probe, ProbingDevice}, driver::Driver, registration::IommuRegistration,
        flags::AllocFlags,
        iotlb::IotlbGather,
        mockbus::{MockBusDriver, MockDevice},
        pgtable::{LockedPageTable, MapTarget},
        pure::{mockpt::MockFormat, pt::PageTable},
        sva::NoSva,
        userdata::UserData,
        viommu::NoViommu,
    };
    use kernel::prelude::*;

    /// The driver type.
    pub struct Minimal;

    // `DriverStatics` comes from `declare_iommu_driver!` in the crate root
    // (below): it emits an `unsafe impl`, which this module forbids.

    impl MockBusDriver for Minimal {
        type BusDevData = ();
    }

    #[vtable]
    impl Driver for Minimal {
        type Paging = MinimalDomain;
        type Nested = NoNested<Minimal>;
        type DevData = ();
        type Data = ();
        type Viommu = NoViommu<Minimal>;
        type Sva = NoSva<Minimal>;

        fn probe_device(dev: &ProbingDevice<'_>) -> Result<Probe<Self>> {
            // Our devices are exactly those on one of our instances' buses.
            let iommu = MockDevice::<Minimal>::instance_of(dev).ok_or(ENODEV)?;
            Ok(Probe { iommu, data: () })
        }

        fn domain_alloc_user<'a>(
            _dev: Option<&IommuDevice<'_, Self>>,
            flags: AllocFlags,
            parent: Option<Parent<'a, Self>>,
            data: UserData<'_>,
        ) -> Result<NewDomain<'a, Self>> {
            // Plain paging domains only: no flags, no parent, no user data.
            if !flags.is_empty() || parent.is_some() || !data.is_empty() {
                return Err(EOPNOTSUPP);
            }
            let config = PagingConfig {
                pgsize_bitmap: PageTable::<MockFormat>::pgsize_bitmap(),
                aperture_start: 0,
                aperture_end: (1u64 << PageTable::<MockFormat>::va_bits()) - 1,
                force_aperture: true,
            };
            let domain = DomainBox::new_paging(
                config,
                try_pin_init!(MinimalDomain {
                    table <- LockedPageTable::new(),
                }? Error),
            )?;
            Ok(NewDomain::Paging(domain))
        }
    }

    /// A paging domain: a page table (locked internally).
    #[pin_data]
    pub struct MinimalDomain {
        #[pin]
        table: LockedPageTable<MockFormat>,
    }

    #[vtable]
    impl PagingDomain for MinimalDomain {
        type Driver = Minimal;

        fn attach_dev(
            &self,
            _dev: &IommuDevice<'_, Minimal>,
            _old: OldDomain<'_, Minimal>,
        ) -> Result {
            Ok(())
        }

        fn map_pages(
            &self,
            target: MapTarget<'_>,
            prot: u32,
            gather: &mut IotlbGather<'_>,
        ) -> (u64, Result) {
            // Tables the map unlinks go to `gather`; the glue releases them.
            self.table.map_pages(target, prot, gather)
        }

        fn unmap_pages(
            &self,
            iova: u64,
            pgsize: u64,
            pgcount: u64,
            gather: &mut IotlbGather<'_>,
        ) -> u64 {
            self.table.unmap_pages(iova, pgsize, pgcount, gather)
        }

        fn iova_to_phys(&self, iova: u64) -> u64 {
            self.table.iova_to_phys(iova)
        }
    }

    /// The bus (and sysfs) names of the instances: each must differ.
    pub const NAMES: [&CStr; 4] = [
        c"riommu_minimal",
        c"riommu_minimal1",
        c"riommu_minimal2",
        c"riommu_minimal3",
    ];

    /// Registers `n` IOMMU instances (at most [`NAMES`]`.len()`), each with
    /// its bus.
    pub fn register(n: usize) -> Result<KVec<IommuRegistration<Minimal>>> {
        let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
        for name in NAMES.get(..n).ok_or(EINVAL)? {
            v.push(
                IommuRegistration::new_mock_bus(name, 0, Ok::<(), Error>(()))?,
                GFP_KERNEL,
            )?;
        }
        Ok(v)
    }
}

// The glue's tables for the driver: an `unsafe impl`, so here in the crate
// root and not in the driver module, which forbids `unsafe`.
riommu::driver::declare_iommu_driver!(driver::Minimal);

use kernel::prelude::*;

module! {
    type: MinimalModule,
    name: "riommu_minimal",
    authors: ["riommu developers"],
    description: "Minimal IOMMU driver on the riommu API",
    license: "GPL",
    imports_ns: ["IOMMUFD"],
    params: {
        instances: u32 {
            default: 2,
            description: "IOMMU instances to register (1 to 4), each with a bus of its own",
        },
    },
}

/// The module: its registered IOMMU instances.
pub struct MinimalModule {
    _iommus: KVec<riommu::registration::IommuRegistration<driver::Minimal>>,
}

impl kernel::Module for MinimalModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let n = usize::try_from(module_parameters::instances.value()).map_err(|_| EINVAL)?;
        Ok(Self {
            _iommus: driver::register(n)?,
        })
    }
}
