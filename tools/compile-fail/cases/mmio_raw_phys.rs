// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error\[E0624\]: associated function .map. is private
// why: no safe function maps registers at a physical address the driver names: writes through them could reprogram any device's DMA; drivers map their own IOMMU's window (Mmio::map_drhd from the DMAR table, platform::mmio_of from their device)
// root: riommu::driver::declare_iommu_driver!(case::Mine);

#![forbid(unsafe_code)]

use crate::riommu::hw::Mmio;

minimal_driver! { driver: Mine, paging: MyDomain }

/// Maps another device's registers (an HPET, say).
pub fn poke() -> kernel::error::Result<Mmio> {
    Mmio::map(0xfed0_0000, 0x1000)
}
