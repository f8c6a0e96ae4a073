// SPDX-License-Identifier: GPL-2.0

//! The requester ids a PCI device's DMA may carry when it reaches the
//! remapping unit: its own, the ones a quirk gives it, and those the
//! bridges above it substitute.  The walk is Linux 7.3's
//! `pci_for_each_dma_alias()` (`drivers/pci/search.c`), which 7.3 does not
//! export to modules; the kernel side hands over the facts it reads
//! ([`Upstream`]), and this decides.  7.3's C driver programs every alias in
//! legacy mode (`domain_context_mapping()`), but in scalable mode only the
//! device's own ids (`pci_pasid_table_setup()` skips the aliases of other
//! `pci_dev`s), so it cannot translate a device behind a PCIe-to-PCI bridge
//! there; riommu_vtd programs them all, as legacy mode does.
//!
//! Example: a conventional PCI device behind a PCIe-to-PCI bridge
//! (QEMU's `pcie-pci-bridge`) is seen with the requester id
//! `(secondary bus, devfn 0)` (PCI Express to PCI/PCI-X Bridge Spec, rev
//! 1.0, sec 2.3), so the unit needs a context entry for that id too.

use super::super::errno::Errno;

/// What kind of device a bridge above the device is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BridgeKind {
    /// A PCIe root port, switch upstream or downstream port: forwards the
    /// requester id unchanged.
    PciePort,
    /// A PCIe-to-PCI/PCI-X bridge (`PCI_EXP_TYPE_PCI_BRIDGE`): takes
    /// ownership with `(secondary bus, 0)`.
    PcieToPci,
    /// A PCI/PCI-X-to-PCIe bridge (`PCI_EXP_TYPE_PCIE_BRIDGE`): its own id.
    PciToPcie,
    /// Another PCIe type (not a bridge type: adds no alias).
    PcieOther,
    /// A conventional PCI bridge: its own id, or `(secondary bus, 0)` with
    /// the `PCI_DEV_FLAG_PCIE_BRIDGE_ALIAS` quirk.
    Conventional,
}

/// One bus above the device, nearest first: `None` for a virtual bus (no
/// bridge device, `bus->self == NULL`), skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Upstream {
    /// The bridge's own requester id (`pci_dev_id()`).
    pub id: u16,
    /// The number of the bus below it (`subordinate->number`).
    pub secondary: u8,
    /// Its kind.
    pub kind: BridgeKind,
    /// `PCI_DEV_FLAGS_BRIDGE_XLATE_ROOT`: the translation unit sits here;
    /// the walk stops.
    pub xlate_root: bool,
    /// `PCI_DEV_FLAGS_PCI_BRIDGE_NO_ALIAS`: a PCIe-to-PCI bridge that
    /// does not alias.
    pub no_alias: bool,
    /// `PCI_DEV_FLAG_PCIE_BRIDGE_ALIAS`: a conventional bridge that
    /// aliases like a PCIe-to-PCI one.
    pub pcie_bridge_alias: bool,
}

/// The most aliases [`dma_aliases`] returns: the device's own id, a quirk
/// alias per devfn of its bus, and one per bus above it.
pub const MAX_ALIASES: usize = 1 + 256 + 256;

/// A device's DMA aliases, in the order of `pci_for_each_dma_alias()`,
/// without duplicates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Aliases {
    ids: [u16; MAX_ALIASES],
    len: usize,
}

impl Aliases {
    fn push(&mut self, id: u16) -> Result<(), Errno> {
        if self.as_slice().contains(&id) {
            return Ok(());
        }
        let slot = self.ids.get_mut(self.len).ok_or(Errno::EOVERFLOW)?;
        *slot = id;
        self.len += 1;
        Ok(())
    }

    /// The requester ids, the device's own first.
    pub fn as_slice(&self) -> &[u16] {
        &self.ids[..self.len]
    }
}

/// The requester id of `bus` and `devfn` (`PCI_DEVID()`).
pub const fn devid(bus: u8, devfn: u8) -> u16 {
    ((bus as u16) << 8) | devfn as u16
}

/// The aliases of the device with requester id `own`, whose quirk aliases
/// (`dma_alias_mask`) are the devfns of `quirk` on its own bus, below the
/// buses `upstream` (nearest first, up to but not including the root bus).
/// [`Errno::EOVERFLOW`] if there are more than [`MAX_ALIASES`] (never with
/// at most 256 quirk devfns and 256 buses).
pub fn dma_aliases(
    own: u16,
    quirk: impl IntoIterator<Item = u8>,
    upstream: impl IntoIterator<Item = Option<Upstream>>,
) -> Result<Aliases, Errno> {
    let mut a = Aliases {
        ids: [0; MAX_ALIASES],
        len: 0,
    };
    a.push(own)?;
    let [bus, _] = own.to_be_bytes();
    for devfn in quirk {
        a.push(devid(bus, devfn))?;
    }
    for up in upstream {
        // A virtual bus has no bridge to alias through.
        let Some(b) = up else { continue };
        if b.xlate_root {
            break;
        }
        match b.kind {
            BridgeKind::PciePort | BridgeKind::PcieOther => {}
            BridgeKind::PcieToPci if b.no_alias => {}
            BridgeKind::PcieToPci => a.push(devid(b.secondary, 0))?,
            BridgeKind::PciToPcie => a.push(b.id)?,
            BridgeKind::Conventional if b.pcie_bridge_alias => a.push(devid(b.secondary, 0))?,
            BridgeKind::Conventional => a.push(b.id)?,
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bridge(id: u16, secondary: u8, kind: BridgeKind) -> Option<Upstream> {
        Some(Upstream {
            id,
            secondary,
            kind,
            xlate_root: false,
            no_alias: false,
            pcie_bridge_alias: false,
        })
    }

    #[test]
    fn root_bus_device_has_only_its_own_id() {
        let a = dma_aliases(devid(0, 0x10), [], []).unwrap();
        assert_eq!(a.as_slice(), &[0x0010]);
    }

    /// QEMU's edu behind a pcie-pci-bridge on the root bus: bus 1, seen as
    /// (1, 0).
    #[test]
    fn behind_a_pcie_to_pci_bridge() {
        let up = [bridge(devid(0, 0x18), 1, BridgeKind::PcieToPci)];
        let a = dma_aliases(devid(1, 0x08), [], up).unwrap();
        assert_eq!(a.as_slice(), &[0x0108, 0x0100]);
        // Its own id at devfn 0: no duplicate.
        let a = dma_aliases(devid(1, 0), [], up).unwrap();
        assert_eq!(a.as_slice(), &[0x0100]);
        // A bridge that does not alias.
        let mut b = up[0].unwrap();
        b.no_alias = true;
        let a = dma_aliases(devid(1, 0x08), [], [Some(b)]).unwrap();
        assert_eq!(a.as_slice(), &[0x0108]);
    }

    /// Root ports and switch ports forward the id; a PCIe-to-PCI bridge
    /// below a switch, then a conventional bridge below it.
    #[test]
    fn through_a_hierarchy() {
        let up = [
            bridge(devid(3, 0x08), 4, BridgeKind::Conventional),
            bridge(devid(2, 0x08), 3, BridgeKind::PcieToPci),
            bridge(devid(1, 0x00), 2, BridgeKind::PciePort),
            None,
            bridge(devid(0, 0x08), 1, BridgeKind::PciePort),
        ];
        let a = dma_aliases(devid(4, 0x28), [], up).unwrap();
        // The conventional bridge's own id, then the PCIe-to-PCI bridge's
        // (secondary bus, 0); the ports add nothing.
        assert_eq!(a.as_slice(), &[0x0428, 0x0308, 0x0300]);
    }

    #[test]
    fn quirks_and_flags() {
        // Quirk aliases on the device's own bus come right after it.
        let a = dma_aliases(devid(5, 0x01), [0x00, 0x02], []).unwrap();
        assert_eq!(a.as_slice(), &[0x0501, 0x0500, 0x0502]);
        // A conventional bridge with the PCIe-bridge alias quirk.
        let mut b = bridge(devid(0, 0x1e), 6, BridgeKind::Conventional).unwrap();
        b.pcie_bridge_alias = true;
        let a = dma_aliases(devid(6, 0x10), [], [Some(b)]).unwrap();
        assert_eq!(a.as_slice(), &[0x0610, 0x0600]);
        b.pcie_bridge_alias = false;
        let a = dma_aliases(devid(6, 0x10), [], [Some(b)]).unwrap();
        assert_eq!(a.as_slice(), &[0x0610, 0x001e]);
        // A PCI-to-PCIe bridge: its own id.
        let up = [bridge(0x0020, 6, BridgeKind::PciToPcie)];
        let a = dma_aliases(devid(6, 0x10), [], up).unwrap();
        assert_eq!(a.as_slice(), &[0x0610, 0x0020]);
        // The translation root stops the walk.
        let mut x = bridge(devid(1, 0), 2, BridgeKind::PcieToPci).unwrap();
        x.xlate_root = true;
        let up = [
            bridge(devid(2, 0x08), 3, BridgeKind::PcieToPci),
            Some(x),
            bridge(0x0008, 1, BridgeKind::PcieToPci),
        ];
        let a = dma_aliases(devid(3, 0x10), [], up).unwrap();
        assert_eq!(a.as_slice(), &[0x0310, 0x0300]);
    }

    #[test]
    fn the_most_aliases_fit() {
        let up = (0..=255u8).map(|b| bridge(devid(b, 1), b, BridgeKind::Conventional));
        let a = dma_aliases(devid(9, 9), 0..=255u8, up).unwrap();
        // Every devfn of bus 9 once (the own id among them), then every
        // bridge but (9, 1), already a quirk alias.
        assert_eq!(a.as_slice().len(), 256 + 255);
        assert!(a.as_slice().len() <= MAX_ALIASES);
    }
}
