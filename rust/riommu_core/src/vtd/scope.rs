// SPDX-License-Identifier: GPL-2.0

//! Which remapping unit (DRHD) translates a PCI device, which reserved
//! memory regions (RMRRs) name it, and how: Linux 7.3's rules
//! (`dmar_find_matched_drhd_unit()` in drivers/iommu/intel/dmar.c,
//! `intel_iommu_get_resv_regions()` and `device_rmrr_is_relaxable()` in
//! drivers/iommu/intel/iommu.c), on the device scopes riommu_vtd
//! understands: PCI endpoint or bridge scopes with a one-entry path, i.e.
//! devices on a scope's start bus (all QEMU lists).
//!
//! A device is described by its segment, its requester id and the
//! requester id of its ancestor on the root bus (its own when it sits on
//! the root bus): a bridge scope covers everything below the bridge.
//!
//! Unit order: 7.3 keeps its DRHD list with the INCLUDE_PCI_ALL units at
//! the tail in table order and every other unit added at the head
//! (`dmar_register_drhd_unit()`), so that a device listed by two explicit
//! scopes (a firmware bug) goes to the later one in the table, and a
//! segment's INCLUDE_PCI_ALL unit only gets what no explicit scope lists.
//! [`owning_unit`] gives the same answer from the units in table order.

use super::dmar::{DeviceScope, SCOPE_PCI_BRIDGE, SCOPE_PCI_ENDPOINT};
use super::source_id;

/// A PCI device as the matching sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciDev {
    /// PCI segment (domain).
    pub segment: u16,
    /// Its requester id (bus << 8 | devfn).
    pub rid: u16,
    /// The requester id of its ancestor on the root bus (its own on the
    /// root bus).
    pub root_rid: u16,
}

/// A device scope entry naming one PCI device on the scope's start bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScopeDev {
    /// A bridge scope (everything below the bridge), else an endpoint.
    pub bridge: bool,
    /// The device's requester id.
    pub rid: u16,
}

impl ScopeDev {
    /// The PCI device `scope` names, `None` for a non-PCI scope (I/O APIC,
    /// HPET, ACPI name space) or a path of more than one entry (a device
    /// behind bridges, whose bus numbers need the PCI topology).
    pub fn of(scope: &DeviceScope<'_>) -> Option<Self> {
        let bridge = match scope.kind {
            SCOPE_PCI_ENDPOINT => false,
            SCOPE_PCI_BRIDGE => true,
            _ => return None,
        };
        let (bus, devfn) = scope.single_level_devfn()?;
        Some(ScopeDev {
            bridge,
            rid: source_id(bus, devfn),
        })
    }
}

/// Whether a DRHD scope lists `dev` (segments aside): an entry names the
/// device or its ancestor on the root bus, as 7.3's
/// `dmar_pci_device_match()` walks up from the device through its bridges.
pub fn drhd_scope_covers(scope: &[ScopeDev], dev: &PciDev) -> bool {
    scope
        .iter()
        .any(|s| s.rid == dev.rid || s.rid == dev.root_rid)
}

/// Whether an RMRR of `segment` with `scope` applies to `dev`: the same
/// segment, and an entry that names the device itself or is a bridge above
/// it (7.3: `i_dev == device || is_downstream_to_pci_bridge(device,
/// i_dev)`; an endpoint entry covers only itself, and 7.3 refuses an
/// endpoint scope naming a bridge in `dmar_insert_dev_scope()`).
pub fn rmrr_scope_covers(segment: u16, scope: &[ScopeDev], dev: &PciDev) -> bool {
    segment == dev.segment
        && scope
            .iter()
            .any(|s| s.rid == dev.rid || (s.bridge && s.rid == dev.root_rid))
}

/// The 24-bit class code of USB controllers, shifted right by 8
/// (`PCI_CLASS_SERIAL_USB`).
pub const CLASS_SERIAL_USB: u32 = 0x0c03;
/// The base class of display controllers (`PCI_BASE_CLASS_DISPLAY`).
pub const BASE_CLASS_DISPLAY: u32 = 0x03;

/// Whether the RMRRs of a PCI device of 24-bit class code `class` are
/// relaxable (`IOMMU_RESV_DIRECT_RELAXABLE`, else `IOMMU_RESV_DIRECT`):
/// USB controllers and display controllers, as 7.3's
/// `device_rmrr_is_relaxable()` (`IS_USB_DEVICE()`, `IS_GFX_DEVICE()`).
pub fn rmrr_is_relaxable(class: u32) -> bool {
    (class >> 8) == CLASS_SERIAL_USB || (class >> 16) == BASE_CLASS_DISPLAY
}

/// A DRHD as [`owning_unit`] sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnitScope<'a> {
    /// PCI segment.
    pub segment: u16,
    /// INCLUDE_PCI_ALL: the unit takes every device of its segment that no
    /// other unit's scope lists.
    pub include_all: bool,
    /// Its PCI device scope entries.
    pub scope: &'a [ScopeDev],
}

/// The index (in `units`, table order) of the unit that translates `dev`:
/// the last unit in table order whose explicit scope lists it (7.3's list
/// has them in reverse table order and takes the first match), else the
/// first INCLUDE_PCI_ALL unit of the device's segment; `None` if no unit
/// covers it.  An INCLUDE_PCI_ALL unit's own PCI scope entries do not
/// count: 7.3 reaches such a unit only after every explicit one, and then
/// takes it for any device of its segment.
pub fn owning_unit<'a>(
    units: impl IntoIterator<Item = UnitScope<'a>>,
    dev: &PciDev,
) -> Option<usize> {
    let mut explicit = None;
    let mut catch_all = None;
    for (i, u) in units.into_iter().enumerate() {
        if u.segment != dev.segment {
            continue;
        }
        if u.include_all {
            catch_all.get_or_insert(i);
        } else if drhd_scope_covers(u.scope, dev) {
            explicit = Some(i);
        }
    }
    explicit.or(catch_all)
}

/// The order in which to bring up and register the units, given each
/// unit's INCLUDE_PCI_ALL flag in table order: the units with explicit
/// scopes first, in table order, then the INCLUDE_PCI_ALL ones, as 7.3
/// orders its list's tail.  (Which unit owns a device does not depend on
/// this order: [`owning_unit`].)
pub fn registration_order<I>(include_all: I) -> impl Iterator<Item = usize>
where
    I: IntoIterator<Item = bool>,
    I::IntoIter: Clone,
{
    let flags = include_all.into_iter();
    let explicit = flags
        .clone()
        .enumerate()
        .filter(|&(_, all)| !all)
        .map(|(i, _)| i);
    let all = flags.enumerate().filter(|&(_, all)| all).map(|(i, _)| i);
    explicit.chain(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev(segment: u16, rid: u16, root_rid: u16) -> PciDev {
        PciDev {
            segment,
            rid,
            root_rid,
        }
    }

    const fn ep(rid: u16) -> ScopeDev {
        ScopeDev { bridge: false, rid }
    }

    const fn br(rid: u16) -> ScopeDev {
        ScopeDev { bridge: true, rid }
    }

    fn unit(segment: u16, include_all: bool, scope: &[ScopeDev]) -> UnitScope<'_> {
        UnitScope {
            segment,
            include_all,
            scope,
        }
    }

    #[test]
    fn drhd_scope_own_or_root_ancestor() {
        // 00:02.0 endpoint, 00:1c.0 bridge.
        let scope = [ep(0x0010), br(0x00e0)];
        assert!(drhd_scope_covers(&scope, &dev(0, 0x0010, 0x0010)));
        // 03:00.0 below the bridge 00:1c.0.
        assert!(drhd_scope_covers(&scope, &dev(0, 0x0300, 0x00e0)));
        // The bridge itself.
        assert!(drhd_scope_covers(&scope, &dev(0, 0x00e0, 0x00e0)));
        // 00:03.0 and a device below another bridge.
        assert!(!drhd_scope_covers(&scope, &dev(0, 0x0018, 0x0018)));
        assert!(!drhd_scope_covers(&scope, &dev(0, 0x0400, 0x00e8)));
        assert!(!drhd_scope_covers(&[], &dev(0, 0x0010, 0x0010)));
    }

    #[test]
    fn rmrr_scope_matching() {
        let scope = [ep(0x00a0), br(0x00e0), ep(0x00f0)];
        // The endpoint itself (a USB controller at 00:14.0).
        assert!(rmrr_scope_covers(0, &scope, &dev(0, 0x00a0, 0x00a0)));
        // Downstream of the listed bridge.
        assert!(rmrr_scope_covers(0, &scope, &dev(0, 0x0500, 0x00e0)));
        assert!(rmrr_scope_covers(0, &scope, &dev(0, 0x00e0, 0x00e0)));
        // Below 00:1e.0, which is listed as an endpoint: not covered.
        assert!(!rmrr_scope_covers(0, &scope, &dev(0, 0x0600, 0x00f0)));
        assert!(rmrr_scope_covers(0, &scope, &dev(0, 0x00f0, 0x00f0)));
        // Another segment, same ids.
        assert!(!rmrr_scope_covers(1, &scope, &dev(0, 0x00a0, 0x00a0)));
        assert!(!rmrr_scope_covers(0, &scope, &dev(1, 0x00a0, 0x00a0)));
        // Unlisted.
        assert!(!rmrr_scope_covers(0, &scope, &dev(0, 0x0010, 0x0010)));
    }

    #[test]
    fn relaxable_classes() {
        // xHCI (0c0330), EHCI (0c0320), UHCI (0c0300).
        assert!(rmrr_is_relaxable(0x0c_03_30));
        assert!(rmrr_is_relaxable(0x0c_03_20));
        assert!(rmrr_is_relaxable(0x0c_03_00));
        // VGA (030000), 3D (030200), other display (038000).
        assert!(rmrr_is_relaxable(0x03_00_00));
        assert!(rmrr_is_relaxable(0x03_02_00));
        assert!(rmrr_is_relaxable(0x03_80_00));
        // FireWire (0c0010), SMBus (0c0500), AHCI (010601), ethernet
        // (020000), edu (00ff00), ISA bridge (060100).
        for class in [
            0x0c_00_10, 0x0c_05_00, 0x01_06_01, 0x02_00_00, 0x00_ff_00, 0x06_01_00,
        ] {
            assert!(!rmrr_is_relaxable(class), "{class:#08x}");
        }
    }

    #[test]
    fn one_unit_explicit_scope() {
        // QEMU >= 6.1: one unit listing the root bus devices.
        let scope = [ep(0x0008), ep(0x0010), br(0x0018), ep(0x00fa)];
        let units = [unit(0, false, &scope)];
        assert_eq!(owning_unit(units, &dev(0, 0x0010, 0x0010)), Some(0));
        assert_eq!(owning_unit(units, &dev(0, 0x0100, 0x0018)), Some(0));
        assert_eq!(owning_unit(units, &dev(0, 0x0020, 0x0020)), None);
        assert_eq!(owning_unit(units, &dev(1, 0x0010, 0x0010)), None);
    }

    #[test]
    fn explicit_unit_before_include_all() {
        // The graphics unit (00:02.0) and the catch-all, in either table
        // order.
        let gfx = [ep(0x0010)];
        let io = [br(0x00e0)];
        for units in [
            [unit(0, false, &gfx), unit(0, true, &[])],
            [unit(0, true, &[]), unit(0, false, &gfx)],
        ] {
            let gfx_at = units.iter().position(|u| !u.include_all).unwrap();
            let all_at = 1 - gfx_at;
            assert_eq!(owning_unit(units, &dev(0, 0x0010, 0x0010)), Some(gfx_at));
            assert_eq!(owning_unit(units, &dev(0, 0x00a0, 0x00a0)), Some(all_at));
            assert_eq!(owning_unit(units, &dev(0, 0x0300, 0x00e0)), Some(all_at));
            assert_eq!(owning_unit(units, &dev(2, 0x0010, 0x0010)), None);
        }
        // Three units: two explicit, one catch-all.
        let units = [
            unit(0, false, &gfx),
            unit(0, true, &[]),
            unit(0, false, &io),
        ];
        assert_eq!(owning_unit(units, &dev(0, 0x0010, 0x0010)), Some(0));
        assert_eq!(owning_unit(units, &dev(0, 0x0300, 0x00e0)), Some(2));
        assert_eq!(owning_unit(units, &dev(0, 0x00e0, 0x00e0)), Some(2));
        assert_eq!(owning_unit(units, &dev(0, 0x0018, 0x0018)), Some(1));
    }

    #[test]
    fn segments() {
        let a = [ep(0x0010)];
        let units = [
            unit(0, true, &[]),
            unit(1, false, &a),
            unit(1, true, &[]),
            unit(2, false, &a),
        ];
        assert_eq!(owning_unit(units, &dev(0, 0x0010, 0x0010)), Some(0));
        assert_eq!(owning_unit(units, &dev(0, 0x0020, 0x0020)), Some(0));
        assert_eq!(owning_unit(units, &dev(1, 0x0010, 0x0010)), Some(1));
        assert_eq!(owning_unit(units, &dev(1, 0x0020, 0x0020)), Some(2));
        assert_eq!(owning_unit(units, &dev(2, 0x0010, 0x0010)), Some(3));
        // Segment 2 has no catch-all; segment 3 no unit at all.
        assert_eq!(owning_unit(units, &dev(2, 0x0020, 0x0020)), None);
        assert_eq!(owning_unit(units, &dev(3, 0x0010, 0x0010)), None);
    }

    #[test]
    fn firmware_bugs_resolve_as_linux() {
        // Two explicit units list 00:02.0: 7.3 finds the later one (its
        // list has explicit units in reverse table order).
        let a = [ep(0x0010)];
        let b = [ep(0x0010), ep(0x0018)];
        let units = [unit(0, false, &a), unit(0, false, &b)];
        assert_eq!(owning_unit(units, &dev(0, 0x0010, 0x0010)), Some(1));
        assert_eq!(owning_unit(units, &dev(0, 0x0018, 0x0018)), Some(1));
        // Two catch-alls on a segment: the first in table order.
        let units = [unit(0, true, &[]), unit(0, true, &[])];
        assert_eq!(owning_unit(units, &dev(0, 0x0010, 0x0010)), Some(0));
        // A catch-all's own PCI scope entries do not beat an explicit
        // unit, before or after it in the table.
        let units = [unit(0, false, &a), unit(0, true, &a)];
        assert_eq!(owning_unit(units, &dev(0, 0x0010, 0x0010)), Some(0));
        let units = [unit(0, true, &a), unit(0, false, &a)];
        assert_eq!(owning_unit(units, &dev(0, 0x0010, 0x0010)), Some(1));
    }

    #[test]
    fn registration_puts_include_all_last() {
        let order: Vec<usize> = registration_order([true, false, true, false]).collect();
        assert_eq!(order, [1, 3, 0, 2]);
        let order: Vec<usize> = registration_order([false]).collect();
        assert_eq!(order, [0]);
        let order: Vec<usize> = registration_order([true]).collect();
        assert_eq!(order, [0]);
        assert_eq!(registration_order([false; 0]).count(), 0);
    }
}
