// SPDX-License-Identifier: GPL-2.0

//! The ACPI DMA Remapping Reporting table, DMAR (spec chapter 8), parsed in
//! place from its bytes without allocation.
//!
//! [`Dmar::parse`] checks the table header (signature, length, checksum);
//! [`Dmar::structures`] then iterates the remapping structures (DRHD, RMRR,
//! ATSR, ...) and each structure its device scopes. Every read is bounds
//! checked: a malformed table yields [`Errno::EINVAL`] from the iterator
//! (which then stops), never a panic. [`Dmar::validate`] walks everything
//! once, so that a driver can refuse a bad table up front.
//!
//! QEMU's q35 table (`build_dmar_q35()`) has one DRHD at `0xfed90000`.
//! QEMU up to 6.0 set INCLUDE_PCI_ALL on it; since 6.1 (commit 26863366b2,
//! "Add DMAR support to bypass iommu") it clears it and lists a device scope
//! per device of each translated host bridge's root bus (type 1 endpoint or
//! 2 bridge, one path entry), after an IOAPIC scope (enumeration id 0, bus
//! 0xff, path 00.0). The driver must handle both: on current QEMU, devices
//! behind a bridge are covered by the bridge's scope only.

use super::super::errno::Errno;

/// The table signature.
pub const SIGNATURE: [u8; 4] = *b"DMAR";
/// Length of the standard ACPI table header.
pub const ACPI_HEADER_LEN: usize = 36;
/// Length of the DMAR header: the ACPI header, host address width, flags
/// and 10 reserved bytes (spec 8.1). Remapping structures follow it.
pub const DMAR_HEADER_LEN: usize = 48;

/// Offset of the table length (u32).
const LENGTH_OFFSET: usize = 4;
/// Offset of the revision (u8).
const REVISION_OFFSET: usize = 8;
/// Offset of the OEM id (6 bytes).
const OEM_ID_OFFSET: usize = 10;
/// Length of the OEM id.
pub const OEM_ID_LEN: usize = 6;
/// Offset of the host address width (u8, width minus one).
const WIDTH_OFFSET: usize = 36;
/// Offset of the DMAR flags (u8).
const FLAGS_OFFSET: usize = 37;

/// DMAR flag: interrupt remapping supported.
pub const FLAG_INTR_REMAP: u8 = 1 << 0;
/// DMAR flag: firmware asks the OS not to enable x2APIC.
pub const FLAG_X2APIC_OPT_OUT: u8 = 1 << 1;
/// DMAR flag: DMA control opt-in (firmware kept DMA protection on; Linux
/// `DMAR_PLATFORM_OPT_IN`).
pub const FLAG_DMA_CTRL_PLATFORM_OPT_IN: u8 = 1 << 2;

/// Remapping structure type: DMA remapping hardware unit definition.
pub const TYPE_DRHD: u16 = 0;
/// Remapping structure type: reserved memory region reporting.
pub const TYPE_RMRR: u16 = 1;
/// Remapping structure type: root port ATS capability reporting.
pub const TYPE_ATSR: u16 = 2;
/// Remapping structure type: remapping hardware static affinity.
pub const TYPE_RHSA: u16 = 3;
/// Remapping structure type: ACPI name-space device declaration.
pub const TYPE_ANDD: u16 = 4;
/// Remapping structure type: SoC integrated address translation cache.
pub const TYPE_SATC: u16 = 5;
/// Remapping structure type: SoC integrated device property.
pub const TYPE_SIDP: u16 = 6;

/// Length of a remapping structure header (type u16, length u16).
pub const STRUCT_HEADER_LEN: usize = 4;
/// Offset of a remapping structure's length.
const STRUCT_LENGTH_OFFSET: usize = 2;

/// Length of a DRHD before its device scopes.
pub const DRHD_LEN: usize = 16;
/// Offset of a DRHD's flags (u8).
const DRHD_FLAGS_OFFSET: usize = 4;
/// Offset of a DRHD's register set size (u8).
const DRHD_SIZE_OFFSET: usize = 5;
/// Offset of a DRHD's (and RMRR's, ATSR's, SATC's) segment (u16).
const SEGMENT_OFFSET: usize = 6;
/// Offset of a DRHD's register base address (u64).
const DRHD_BASE_OFFSET: usize = 8;
/// DRHD flag: the unit covers every PCI device of its segment that no other
/// DRHD lists.
pub const DRHD_INCLUDE_PCI_ALL: u8 = 1 << 0;

/// Length of an RMRR before its device scopes.
pub const RMRR_LEN: usize = 24;
/// Offset of an RMRR's base address (u64).
const RMRR_BASE_OFFSET: usize = 8;
/// Offset of an RMRR's limit address (u64, inclusive).
const RMRR_LIMIT_OFFSET: usize = 16;

/// Length of an ATSR (and SATC) before its device scopes.
pub const ATSR_LEN: usize = 8;
/// Offset of an ATSR's (and SATC's) flags (u8).
const ATSR_FLAGS_OFFSET: usize = 4;
/// ATSR flag: every root port of the segment supports ATS.
pub const ATSR_ALL_PORTS: u8 = 1 << 0;

/// Length of an RHSA.
pub const RHSA_LEN: usize = 20;
/// Offset of an RHSA's register base address (u64).
const RHSA_BASE_OFFSET: usize = 8;
/// Offset of an RHSA's proximity domain (u32).
const RHSA_PROXIMITY_OFFSET: usize = 16;

/// Device scope type: PCI endpoint device.
pub const SCOPE_PCI_ENDPOINT: u8 = 1;
/// Device scope type: PCI-PCI bridge (everything below it).
pub const SCOPE_PCI_BRIDGE: u8 = 2;
/// Device scope type: I/O APIC.
pub const SCOPE_IOAPIC: u8 = 3;
/// Device scope type: HPET (MSI capable timer block).
pub const SCOPE_HPET: u8 = 4;
/// Device scope type: ACPI name-space device.
pub const SCOPE_ACPI_NAMESPACE: u8 = 5;

/// Length of a device scope before its path.
pub const SCOPE_HEADER_LEN: usize = 6;
/// Offset of a device scope's length (u8).
const SCOPE_LENGTH_OFFSET: usize = 1;
/// Offset of a device scope's flags (u8).
const SCOPE_FLAGS_OFFSET: usize = 2;
/// Offset of a device scope's enumeration id (u8).
const SCOPE_ENUM_ID_OFFSET: usize = 4;
/// Offset of a device scope's start bus (u8).
const SCOPE_BUS_OFFSET: usize = 5;
/// Size of a path entry (device u8, function u8).
pub const PATH_ENTRY_LEN: usize = 2;

/// log2 of the unit of a DRHD's register set size: `2^size` 4 KiB pages.
const DRHD_SIZE_SHIFT: u32 = 12;

/// Bounds-checked little-endian reads.
fn read<const N: usize>(b: &[u8], at: usize) -> Result<[u8; N], Errno> {
    let end = at.checked_add(N).ok_or(Errno::EINVAL)?;
    let mut out = [0; N];
    out.copy_from_slice(b.get(at..end).ok_or(Errno::EINVAL)?);
    Ok(out)
}

/// The byte at `at`.
fn read_u8(b: &[u8], at: usize) -> Result<u8, Errno> {
    b.get(at).copied().ok_or(Errno::EINVAL)
}

/// The little-endian u16 at `at`.
fn read_u16(b: &[u8], at: usize) -> Result<u16, Errno> {
    read::<2>(b, at).map(u16::from_le_bytes)
}

/// The little-endian u32 at `at`.
fn read_u32(b: &[u8], at: usize) -> Result<u32, Errno> {
    read::<4>(b, at).map(u32::from_le_bytes)
}

/// The little-endian u64 at `at`.
fn read_u64(b: &[u8], at: usize) -> Result<u64, Errno> {
    read::<8>(b, at).map(u64::from_le_bytes)
}

/// A DMAR table whose header was checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dmar<'a> {
    /// The table, exactly its header's length.
    table: &'a [u8],
}

impl<'a> Dmar<'a> {
    /// Checks the header of the DMAR table at the start of `bytes` and
    /// returns the table (its header's length; bytes past it are ignored).
    ///
    /// [`Errno::EINVAL`] if the signature is not `"DMAR"`, the length is
    /// shorter than the DMAR header or longer than `bytes`, or the bytes of
    /// the table do not sum to 0 (mod 256).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Errno> {
        if read::<4>(bytes, 0)? != SIGNATURE {
            return Err(Errno::EINVAL);
        }
        let len = usize::try_from(read_u32(bytes, LENGTH_OFFSET)?).map_err(|_| Errno::EINVAL)?;
        if len < DMAR_HEADER_LEN {
            return Err(Errno::EINVAL);
        }
        let table = bytes.get(..len).ok_or(Errno::EINVAL)?;
        if checksum(table) != 0 {
            return Err(Errno::EINVAL);
        }
        Ok(Dmar { table })
    }

    /// The table's bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.table
    }

    /// The table revision.
    pub fn revision(&self) -> u8 {
        read_u8(self.table, REVISION_OFFSET).unwrap_or(0)
    }

    /// The OEM id.
    pub fn oem_id(&self) -> &'a [u8] {
        self.table
            .get(OEM_ID_OFFSET..OEM_ID_OFFSET + OEM_ID_LEN)
            .unwrap_or(&[])
    }

    /// The host address width in bits (the table's field plus one): the
    /// widest physical address DMA can reach.
    pub fn host_address_width(&self) -> u32 {
        u32::from(read_u8(self.table, WIDTH_OFFSET).unwrap_or(0)) + 1
    }

    /// The DMAR flags (`FLAG_*`).
    pub fn flags(&self) -> u8 {
        read_u8(self.table, FLAGS_OFFSET).unwrap_or(0)
    }

    /// Whether the platform supports interrupt remapping.
    pub fn intr_remap(&self) -> bool {
        self.flags() & FLAG_INTR_REMAP != 0
    }

    /// Whether firmware asks not to enable x2APIC.
    pub fn x2apic_opt_out(&self) -> bool {
        self.flags() & FLAG_X2APIC_OPT_OUT != 0
    }

    /// Whether firmware opted in to keep DMA protection (Linux
    /// `dmar_platform_optin()`).
    pub fn dma_ctrl_platform_opt_in(&self) -> bool {
        self.flags() & FLAG_DMA_CTRL_PLATFORM_OPT_IN != 0
    }

    /// The remapping structures, in table order.
    pub fn structures(&self) -> Structures<'a> {
        Structures {
            rest: self.table.get(DMAR_HEADER_LEN..).unwrap_or(&[]),
        }
    }

    /// The DRHDs, in table order (errors of other structures included).
    pub fn drhds(&self) -> impl Iterator<Item = Result<Drhd<'a>, Errno>> + 'a {
        self.structures().filter_map(|s| match s {
            Ok(Remapping::Drhd(d)) => Some(Ok(d)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
    }

    /// The RMRRs, in table order (errors of other structures included).
    /// Each one's region is checked by [`Rmrr::region`].
    pub fn rmrrs(&self) -> impl Iterator<Item = Result<Rmrr<'a>, Errno>> + 'a {
        self.structures().filter_map(|s| match s {
            Ok(Remapping::Rmrr(r)) => Some(Ok(r)),
            Ok(_) => None,
            Err(e) => Some(Err(e)),
        })
    }

    /// Walks every structure, device scope and path once; the first error.
    pub fn validate(&self) -> Result<(), Errno> {
        for s in self.structures() {
            if let Some(scopes) = s?.device_scopes() {
                for scope in scopes {
                    scope?;
                }
            }
        }
        Ok(())
    }

    /// The DRHD that translates PCI device `bus`/`devfn` of `segment`: the
    /// one with a single-entry endpoint or bridge scope naming exactly that
    /// device, else the segment's INCLUDE_PCI_ALL unit.
    ///
    /// Devices below a bridge scope, or named by multi-entry paths, need the
    /// PCI topology (bridges' secondary buses) and are not found here except
    /// through INCLUDE_PCI_ALL. [`Errno::EINVAL`] on a malformed table.
    pub fn find_drhd(&self, segment: u16, bus: u8, devfn: u8) -> Result<Option<Drhd<'a>>, Errno> {
        let mut catch_all = None;
        for drhd in self.drhds() {
            let drhd = drhd?;
            if drhd.segment != segment {
                continue;
            }
            if drhd.include_pci_all() {
                catch_all.get_or_insert(drhd);
                continue;
            }
            for scope in drhd.device_scopes() {
                let scope = scope?;
                let pci = scope.kind == SCOPE_PCI_ENDPOINT || scope.kind == SCOPE_PCI_BRIDGE;
                if pci && scope.single_level_devfn() == Some((bus, devfn)) {
                    return Ok(Some(drhd));
                }
            }
        }
        Ok(catch_all)
    }
}

/// The 8-bit sum of `bytes` (0 for a valid ACPI table).
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |sum, b| sum.wrapping_add(*b))
}

/// A remapping structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remapping<'a> {
    /// DMA remapping hardware unit definition.
    Drhd(Drhd<'a>),
    /// Reserved memory region.
    Rmrr(Rmrr<'a>),
    /// Root port ATS capability (type [`TYPE_ATSR`]) or SoC integrated
    /// address translation cache (type [`TYPE_SATC`]): same layout.
    Atsr(Atsr<'a>),
    /// Remapping hardware static affinity.
    Rhsa(Rhsa),
    /// Any other type (ANDD, SIDP, reserved types): its whole bytes.
    Other {
        /// The structure type.
        kind: u16,
        /// The structure, header included.
        bytes: &'a [u8],
    },
}

impl<'a> Remapping<'a> {
    /// The device scopes of a DRHD, RMRR, ATSR or SATC.
    pub fn device_scopes(&self) -> Option<DeviceScopes<'a>> {
        match self {
            Remapping::Drhd(d) => Some(d.device_scopes()),
            Remapping::Rmrr(r) => Some(r.device_scopes()),
            Remapping::Atsr(a) => Some(a.device_scopes()),
            Remapping::Rhsa(_) | Remapping::Other { .. } => None,
        }
    }
}

/// Iterator over the remapping structures of a [`Dmar`]; stops after the
/// first error.
#[derive(Clone, Debug)]
pub struct Structures<'a> {
    /// The bytes not yet walked.
    rest: &'a [u8],
}

impl<'a> Structures<'a> {
    /// Parses the structure at the start of `rest`; returns it and its
    /// length.
    fn parse_one(rest: &'a [u8]) -> Result<(Remapping<'a>, usize), Errno> {
        let kind = read_u16(rest, 0)?;
        let len = usize::from(read_u16(rest, STRUCT_LENGTH_OFFSET)?);
        if len < STRUCT_HEADER_LEN {
            return Err(Errno::EINVAL);
        }
        let bytes = rest.get(..len).ok_or(Errno::EINVAL)?;
        let parsed = match kind {
            TYPE_DRHD => Remapping::Drhd(Drhd::parse(bytes)?),
            TYPE_RMRR => Remapping::Rmrr(Rmrr::parse(bytes)?),
            TYPE_ATSR | TYPE_SATC => Remapping::Atsr(Atsr::parse(kind, bytes)?),
            TYPE_RHSA => Remapping::Rhsa(Rhsa::parse(bytes)?),
            _ => Remapping::Other { kind, bytes },
        };
        Ok((parsed, len))
    }
}

impl<'a> Iterator for Structures<'a> {
    type Item = Result<Remapping<'a>, Errno>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match Self::parse_one(self.rest) {
            Ok((s, len)) => {
                self.rest = self.rest.get(len..).unwrap_or(&[]);
                Some(Ok(s))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// A DMA remapping hardware unit definition (spec 8.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Drhd<'a> {
    /// Flags ([`DRHD_INCLUDE_PCI_ALL`]).
    pub flags: u8,
    /// Register set size: `2^size` 4 KiB pages.
    pub size: u8,
    /// PCI segment.
    pub segment: u16,
    /// Register base address.
    pub register_base: u64,
    /// The device scope bytes.
    scopes: &'a [u8],
}

impl<'a> Drhd<'a> {
    /// Parses a DRHD (`bytes` is the whole structure).
    fn parse(bytes: &'a [u8]) -> Result<Self, Errno> {
        Ok(Drhd {
            flags: read_u8(bytes, DRHD_FLAGS_OFFSET)?,
            size: read_u8(bytes, DRHD_SIZE_OFFSET)?,
            segment: read_u16(bytes, SEGMENT_OFFSET)?,
            register_base: read_u64(bytes, DRHD_BASE_OFFSET)?,
            scopes: bytes.get(DRHD_LEN..).ok_or(Errno::EINVAL)?,
        })
    }

    /// Whether the unit covers all PCI devices of its segment not listed by
    /// another unit.
    pub fn include_pci_all(&self) -> bool {
        self.flags & DRHD_INCLUDE_PCI_ALL != 0
    }

    /// Size in bytes of the register set (`4 KiB << size`, Linux
    /// `dmaru->reg_size`); `None` if it does not fit 64 bits.
    pub fn register_size(&self) -> Option<u64> {
        1u64.checked_shl(u32::from(self.size) + DRHD_SIZE_SHIFT)
    }

    /// The device scopes.
    pub fn device_scopes(&self) -> DeviceScopes<'a> {
        DeviceScopes { rest: self.scopes }
    }
}

/// A reserved memory region (spec 8.4): memory the listed devices may DMA
/// to before and after the OS takes over; it must stay identity mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rmrr<'a> {
    /// PCI segment.
    pub segment: u16,
    /// First address of the region (4 KiB aligned).
    pub base: u64,
    /// Last address of the region (inclusive; 4 KiB aligned plus 0xfff).
    pub limit: u64,
    /// The device scope bytes.
    scopes: &'a [u8],
}

/// The memory an [`Rmrr`] reserves, checked: `[base, end]`, both ends on
/// 4 KiB boundaries (`base` aligned, `end + 1` aligned), `end > base`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RmrrRegion {
    /// First address (4 KiB aligned).
    pub base: u64,
    /// Last address, inclusive (`end + 1` is 4 KiB aligned).
    pub end: u64,
}

impl RmrrRegion {
    /// Checks `[base, end]` as Linux 7.3's `rmrr_sanity_check()`
    /// (drivers/iommu/intel/iommu.c) does, less its e820 test (the region
    /// must be firmware-reserved memory), which needs the memory map:
    /// [`Errno::EINVAL`] if `base` or `end + 1` is not 4 KiB aligned (or
    /// `end + 1` overflows), or `end <= base`.
    pub fn new(base: u64, end: u64) -> Result<Self, Errno> {
        let after = end.checked_add(1).ok_or(Errno::EINVAL)?;
        if !super::is_page_aligned(base) || !super::is_page_aligned(after) || end <= base {
            return Err(Errno::EINVAL);
        }
        Ok(RmrrRegion { base, end })
    }

    /// Its length in bytes, `end - base + 1` (at least 4 KiB; at most
    /// `u64::MAX - 4095`, since `end + 1` does not overflow).
    pub fn len(&self) -> u64 {
        self.end - self.base + 1
    }

    /// Always false: a checked region has at least one page.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl<'a> Rmrr<'a> {
    /// The reserved memory, checked ([`RmrrRegion::new`]).
    pub fn region(&self) -> Result<RmrrRegion, Errno> {
        RmrrRegion::new(self.base, self.limit)
    }

    /// The last address of the region (inclusive), unchecked: the table's
    /// limit field.
    pub fn end(&self) -> u64 {
        self.limit
    }

    /// Parses an RMRR.
    fn parse(bytes: &'a [u8]) -> Result<Self, Errno> {
        Ok(Rmrr {
            segment: read_u16(bytes, SEGMENT_OFFSET)?,
            base: read_u64(bytes, RMRR_BASE_OFFSET)?,
            limit: read_u64(bytes, RMRR_LIMIT_OFFSET)?,
            scopes: bytes.get(RMRR_LEN..).ok_or(Errno::EINVAL)?,
        })
    }

    /// The device scopes.
    pub fn device_scopes(&self) -> DeviceScopes<'a> {
        DeviceScopes { rest: self.scopes }
    }
}

/// A root port ATS capability report (spec 8.5), or with `kind`
/// [`TYPE_SATC`] an SoC integrated address translation cache report (spec
/// 8.8), which has the same layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Atsr<'a> {
    /// [`TYPE_ATSR`] or [`TYPE_SATC`].
    pub kind: u16,
    /// Flags ([`ATSR_ALL_PORTS`]; for SATC, bit 0 is ATC_REQUIRED).
    pub flags: u8,
    /// PCI segment.
    pub segment: u16,
    /// The device scope bytes.
    scopes: &'a [u8],
}

impl<'a> Atsr<'a> {
    /// Parses an ATSR or SATC.
    fn parse(kind: u16, bytes: &'a [u8]) -> Result<Self, Errno> {
        Ok(Atsr {
            kind,
            flags: read_u8(bytes, ATSR_FLAGS_OFFSET)?,
            segment: read_u16(bytes, SEGMENT_OFFSET)?,
            scopes: bytes.get(ATSR_LEN..).ok_or(Errno::EINVAL)?,
        })
    }

    /// The device scopes.
    pub fn device_scopes(&self) -> DeviceScopes<'a> {
        DeviceScopes { rest: self.scopes }
    }
}

/// A remapping hardware static affinity (spec 8.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rhsa {
    /// Register base address of the DRHD it describes.
    pub register_base: u64,
    /// Its proximity domain.
    pub proximity_domain: u32,
}

impl Rhsa {
    /// Parses an RHSA.
    fn parse(bytes: &[u8]) -> Result<Self, Errno> {
        Ok(Rhsa {
            register_base: read_u64(bytes, RHSA_BASE_OFFSET)?,
            proximity_domain: read_u32(bytes, RHSA_PROXIMITY_OFFSET)?,
        })
    }
}

/// A device scope (spec 8.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceScope<'a> {
    /// Type (`SCOPE_*`).
    pub kind: u8,
    /// Flags.
    pub flags: u8,
    /// Enumeration id (I/O APIC id, HPET number, ACPI device number).
    pub enumeration_id: u8,
    /// Bus number of the first path entry.
    pub start_bus: u8,
    /// The path bytes, an even number.
    path: &'a [u8],
}

/// A path entry: a device and function on the current bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciPath {
    /// PCI device (slot).
    pub device: u8,
    /// PCI function.
    pub function: u8,
}

impl PciPath {
    /// The devfn, `None` if the device or function is out of range.
    pub const fn devfn(&self) -> Option<u8> {
        super::devfn(self.device, self.function)
    }
}

impl<'a> DeviceScope<'a> {
    /// Parses the scope at the start of `rest`; returns it and its length.
    fn parse(rest: &'a [u8]) -> Result<(Self, usize), Errno> {
        let kind = read_u8(rest, 0)?;
        let len = usize::from(read_u8(rest, SCOPE_LENGTH_OFFSET)?);
        if len < SCOPE_HEADER_LEN || (len - SCOPE_HEADER_LEN) % PATH_ENTRY_LEN != 0 {
            return Err(Errno::EINVAL);
        }
        let bytes = rest.get(..len).ok_or(Errno::EINVAL)?;
        let scope = DeviceScope {
            kind,
            flags: read_u8(bytes, SCOPE_FLAGS_OFFSET)?,
            enumeration_id: read_u8(bytes, SCOPE_ENUM_ID_OFFSET)?,
            start_bus: read_u8(bytes, SCOPE_BUS_OFFSET)?,
            path: bytes.get(SCOPE_HEADER_LEN..).ok_or(Errno::EINVAL)?,
        };
        Ok((scope, len))
    }

    /// Number of path entries.
    pub fn path_len(&self) -> usize {
        self.path.len() / PATH_ENTRY_LEN
    }

    /// The path: from `start_bus`, each entry's device is a bridge whose
    /// secondary bus holds the next entry; the last is the device itself.
    pub fn path(&self) -> impl Iterator<Item = PciPath> + 'a {
        self.path.chunks_exact(PATH_ENTRY_LEN).map(|e| PciPath {
            device: e[0],
            function: e[1],
        })
    }

    /// `(bus, devfn)` of a one-entry path (a device on `start_bus`); `None`
    /// for longer paths, empty ones or an out-of-range device or function.
    pub fn single_level_devfn(&self) -> Option<(u8, u8)> {
        if self.path_len() != 1 {
            return None;
        }
        let entry = self.path().next()?;
        Some((self.start_bus, entry.devfn()?))
    }
}

/// Iterator over device scopes; stops after the first error.
#[derive(Clone, Debug)]
pub struct DeviceScopes<'a> {
    /// The bytes not yet walked.
    rest: &'a [u8],
}

impl<'a> Iterator for DeviceScopes<'a> {
    type Item = Result<DeviceScope<'a>, Errno>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match DeviceScope::parse(self.rest) {
            Ok((scope, len)) => {
                self.rest = self.rest.get(len..).unwrap_or(&[]);
                Some(Ok(scope))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::scope::{
        owning_unit, registration_order, rmrr_scope_covers, PciDev, ScopeDev, UnitScope,
    };
    use super::*;

    /// Builds tables by hand.
    struct Builder(Vec<u8>);

    impl Builder {
        /// A DMAR header with host address width `haw` and `flags`.
        fn new(haw: u8, flags: u8) -> Self {
            let mut b = Vec::new();
            b.extend_from_slice(b"DMAR");
            b.extend_from_slice(&0u32.to_le_bytes()); // length, fixed later
            b.push(1); // revision
            b.push(0); // checksum, fixed later
            b.extend_from_slice(b"BOCHS ");
            b.extend_from_slice(b"BXPC    ");
            b.extend_from_slice(&1u32.to_le_bytes());
            b.extend_from_slice(b"BXPC");
            b.extend_from_slice(&1u32.to_le_bytes());
            assert_eq!(b.len(), ACPI_HEADER_LEN);
            b.push(haw - 1);
            b.push(flags);
            b.extend_from_slice(&[0; 10]);
            Builder(b)
        }

        fn scope(kind: u8, enum_id: u8, bus: u8, path: &[(u8, u8)]) -> Vec<u8> {
            let mut s = vec![kind, (6 + 2 * path.len()) as u8, 0, 0, enum_id, bus];
            for &(d, f) in path {
                s.push(d);
                s.push(f);
            }
            s
        }

        fn drhd(mut self, flags: u8, segment: u16, base: u64, scopes: &[Vec<u8>]) -> Self {
            let len: usize = 16 + scopes.iter().map(Vec::len).sum::<usize>();
            self.0.extend_from_slice(&0u16.to_le_bytes());
            self.0.extend_from_slice(&(len as u16).to_le_bytes());
            self.0.push(flags);
            self.0.push(0);
            self.0.extend_from_slice(&segment.to_le_bytes());
            self.0.extend_from_slice(&base.to_le_bytes());
            for s in scopes {
                self.0.extend_from_slice(s);
            }
            self
        }

        fn rmrr(self, base: u64, limit: u64, scopes: &[Vec<u8>]) -> Self {
            self.rmrr_seg(0, base, limit, scopes)
        }

        fn rmrr_seg(mut self, segment: u16, base: u64, limit: u64, scopes: &[Vec<u8>]) -> Self {
            let len: usize = 24 + scopes.iter().map(Vec::len).sum::<usize>();
            self.0.extend_from_slice(&1u16.to_le_bytes());
            self.0.extend_from_slice(&(len as u16).to_le_bytes());
            self.0.extend_from_slice(&[0, 0]);
            self.0.extend_from_slice(&segment.to_le_bytes());
            self.0.extend_from_slice(&base.to_le_bytes());
            self.0.extend_from_slice(&limit.to_le_bytes());
            for s in scopes {
                self.0.extend_from_slice(s);
            }
            self
        }

        fn atsr(mut self, flags: u8) -> Self {
            self.0.extend_from_slice(&2u16.to_le_bytes());
            self.0.extend_from_slice(&8u16.to_le_bytes());
            self.0.extend_from_slice(&[flags, 0, 0, 0]);
            self
        }

        fn raw(mut self, bytes: &[u8]) -> Self {
            self.0.extend_from_slice(bytes);
            self
        }

        /// Fixes the length and checksum.
        fn finish(mut self) -> Vec<u8> {
            let len = self.0.len() as u32;
            self.0[4..8].copy_from_slice(&len.to_le_bytes());
            self.0[9] = 0;
            self.0[9] = 0u8.wrapping_sub(checksum(&self.0));
            self.0
        }
    }

    /// QEMU (<= 6.0) q35: INCLUDE_PCI_ALL, IOAPIC scope, ATSR.
    fn qemu_old_q35() -> Vec<u8> {
        Builder::new(39, FLAG_INTR_REMAP)
            .drhd(
                DRHD_INCLUDE_PCI_ALL,
                0,
                0xfed9_0000,
                &[Builder::scope(SCOPE_IOAPIC, 0, 0xff, &[(0, 0)])],
            )
            .atsr(ATSR_ALL_PORTS)
            .finish()
    }

    /// QEMU (>= 6.1) q35: explicit scopes for 00:01.0 (VGA), 00:02.0
    /// (e1000e), a bridge at 00:03.0 and 00:1f.2 (AHCI).
    fn qemu_new_q35() -> Vec<u8> {
        Builder::new(48, FLAG_INTR_REMAP)
            .drhd(
                0,
                0,
                0xfed9_0000,
                &[
                    Builder::scope(SCOPE_IOAPIC, 0, 0xff, &[(0, 0)]),
                    Builder::scope(SCOPE_PCI_ENDPOINT, 0, 0, &[(1, 0)]),
                    Builder::scope(SCOPE_PCI_ENDPOINT, 0, 0, &[(2, 0)]),
                    Builder::scope(SCOPE_PCI_BRIDGE, 0, 0, &[(3, 0)]),
                    Builder::scope(SCOPE_PCI_ENDPOINT, 0, 0, &[(0x1f, 2)]),
                ],
            )
            .finish()
    }

    #[test]
    fn parses_old_qemu_table() {
        let bytes = qemu_old_q35();
        let dmar = Dmar::parse(&bytes).unwrap();
        assert_eq!(dmar.host_address_width(), 39);
        assert!(dmar.intr_remap());
        assert!(!dmar.x2apic_opt_out());
        assert!(!dmar.dma_ctrl_platform_opt_in());
        assert_eq!(dmar.revision(), 1);
        assert_eq!(dmar.oem_id(), b"BOCHS ");
        assert_eq!(dmar.validate(), Ok(()));
        let all: Vec<_> = dmar.structures().collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 2);
        let Remapping::Drhd(drhd) = all[0] else {
            panic!("not a DRHD: {:?}", all[0]);
        };
        assert!(drhd.include_pci_all());
        assert_eq!(drhd.segment, 0);
        assert_eq!(drhd.register_base, 0xfed9_0000);
        assert_eq!(drhd.register_size(), Some(4096));
        let scopes: Vec<_> = drhd.device_scopes().collect::<Result<_, _>>().unwrap();
        assert_eq!(scopes.len(), 1);
        assert_eq!(scopes[0].kind, SCOPE_IOAPIC);
        assert_eq!(scopes[0].enumeration_id, 0);
        assert_eq!(scopes[0].start_bus, 0xff);
        assert_eq!(
            scopes[0].path().collect::<Vec<_>>(),
            [PciPath {
                device: 0,
                function: 0
            }]
        );
        let Remapping::Atsr(atsr) = all[1] else {
            panic!("not an ATSR: {:?}", all[1]);
        };
        assert_eq!(
            (atsr.kind, atsr.flags, atsr.segment),
            (TYPE_ATSR, ATSR_ALL_PORTS, 0)
        );
        assert_eq!(atsr.device_scopes().count(), 0);
        // Everything on segment 0 falls to the catch-all unit.
        assert_eq!(dmar.find_drhd(0, 0, 0x10).unwrap(), Some(drhd));
        assert_eq!(dmar.find_drhd(1, 0, 0x10).unwrap(), None);
        assert_eq!(dmar.drhds().count(), 1);
    }

    #[test]
    fn parses_new_qemu_table() {
        let bytes = qemu_new_q35();
        let dmar = Dmar::parse(&bytes).unwrap();
        assert_eq!(dmar.host_address_width(), 48);
        assert_eq!(dmar.validate(), Ok(()));
        let drhds: Vec<_> = dmar.drhds().collect::<Result<_, _>>().unwrap();
        assert_eq!(drhds.len(), 1);
        let drhd = drhds[0];
        assert!(!drhd.include_pci_all());
        let scopes: Vec<_> = drhd.device_scopes().collect::<Result<_, _>>().unwrap();
        let kinds: Vec<_> = scopes.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                SCOPE_IOAPIC,
                SCOPE_PCI_ENDPOINT,
                SCOPE_PCI_ENDPOINT,
                SCOPE_PCI_BRIDGE,
                SCOPE_PCI_ENDPOINT
            ]
        );
        assert_eq!(scopes[4].single_level_devfn(), Some((0, 0xfa)));
        assert_eq!(scopes[4].path_len(), 1);
        assert_eq!(dmar.find_drhd(0, 0, 0x10).unwrap(), Some(drhd));
        assert_eq!(dmar.find_drhd(0, 0, 0x18).unwrap(), Some(drhd));
        assert_eq!(dmar.find_drhd(0, 0, 0xfa).unwrap(), Some(drhd));
        // Not listed, no catch-all.
        assert_eq!(dmar.find_drhd(0, 0, 0x20).unwrap(), None);
        // The IOAPIC scope names 0xff:00.0 but is not a PCI scope.
        assert_eq!(dmar.find_drhd(0, 0xff, 0).unwrap(), None);
    }

    #[test]
    fn two_units_and_rmrr() {
        let bytes = Builder::new(
            46,
            FLAG_INTR_REMAP | FLAG_X2APIC_OPT_OUT | FLAG_DMA_CTRL_PLATFORM_OPT_IN,
        )
        .drhd(
            0,
            0,
            0xfed9_1000,
            &[Builder::scope(SCOPE_PCI_ENDPOINT, 0, 0, &[(2, 0)])],
        )
        .rmrr(
            0x7c00_0000,
            0x7fff_ffff,
            &[Builder::scope(SCOPE_PCI_ENDPOINT, 0, 0, &[(0x14, 0)])],
        )
        .drhd(
            DRHD_INCLUDE_PCI_ALL,
            0,
            0xfed9_0000,
            &[
                Builder::scope(SCOPE_IOAPIC, 2, 0xf0, &[(0x1f, 0)]),
                Builder::scope(SCOPE_HPET, 0, 0, &[(0x1f, 0)]),
                // A device behind two bridges: 00:1c.0 -> 01:00.0 -> dev.
                Builder::scope(SCOPE_PCI_ENDPOINT, 0, 0, &[(0x1c, 0), (0, 0), (5, 1)]),
            ],
        )
        .raw(&[7, 0, 6, 0, 0xaa, 0xbb]) // a reserved type: skipped
        .finish();
        let dmar = Dmar::parse(&bytes).unwrap();
        assert!(dmar.intr_remap() && dmar.x2apic_opt_out() && dmar.dma_ctrl_platform_opt_in());
        assert_eq!(dmar.validate(), Ok(()));
        let all: Vec<_> = dmar.structures().collect::<Result<_, _>>().unwrap();
        assert_eq!(all.len(), 4);
        let Remapping::Rmrr(rmrr) = all[1] else {
            panic!("not an RMRR");
        };
        assert_eq!((rmrr.base, rmrr.limit), (0x7c00_0000, 0x7fff_ffff));
        assert_eq!(rmrr.device_scopes().count(), 1);
        assert_eq!(
            all[3],
            Remapping::Other {
                kind: 7,
                bytes: &[7, 0, 6, 0, 0xaa, 0xbb]
            }
        );
        assert_eq!(all[3].device_scopes().map(|s| s.count()), None);
        let igfx = dmar.find_drhd(0, 0, 0x10).unwrap().unwrap();
        assert_eq!(igfx.register_base, 0xfed9_1000);
        let other = dmar.find_drhd(0, 0, 0x18).unwrap().unwrap();
        assert_eq!(other.register_base, 0xfed9_0000);
        let Remapping::Drhd(catch_all) = all[2] else {
            panic!("not a DRHD");
        };
        let deep = catch_all.device_scopes().nth(2).unwrap().unwrap();
        assert_eq!(deep.path_len(), 3);
        assert_eq!(deep.single_level_devfn(), None);
        assert_eq!(
            deep.path().collect::<Vec<_>>(),
            [
                PciPath {
                    device: 0x1c,
                    function: 0
                },
                PciPath {
                    device: 0,
                    function: 0
                },
                PciPath {
                    device: 5,
                    function: 1
                }
            ]
        );
        let hpet = catch_all.device_scopes().nth(1).unwrap().unwrap();
        assert_eq!(hpet.kind, SCOPE_HPET);
    }

    /// A table with two DRHDs (an explicit one for 00:02.0, then the
    /// catch-all), a unit on segment 1, and three RMRRs.
    fn rmrr_table() -> Vec<u8> {
        Builder::new(46, FLAG_INTR_REMAP)
            .drhd(
                0,
                0,
                0xfed9_1000,
                &[Builder::scope(SCOPE_PCI_ENDPOINT, 0, 0, &[(2, 0)])],
            )
            .drhd(
                DRHD_INCLUDE_PCI_ALL,
                0,
                0xfed9_0000,
                &[Builder::scope(SCOPE_IOAPIC, 2, 0xf0, &[(0x1f, 0)])],
            )
            .rmrr(
                0x7c00_0000,
                0x7fff_ffff,
                &[
                    Builder::scope(SCOPE_PCI_ENDPOINT, 0, 0, &[(2, 0)]),
                    Builder::scope(SCOPE_PCI_ENDPOINT, 0, 0, &[(0x14, 0)]),
                ],
            )
            .rmrr(
                0x000e_8000,
                0x000e_8fff,
                &[
                    Builder::scope(SCOPE_PCI_BRIDGE, 0, 0, &[(0x1c, 0)]),
                    // Behind a bridge: not a single-level scope.
                    Builder::scope(SCOPE_PCI_ENDPOINT, 0, 0, &[(0x1c, 4), (0, 0)]),
                ],
            )
            .rmrr_seg(
                1,
                0x1_0000_0000,
                0x1_0000_0fff,
                &[Builder::scope(SCOPE_PCI_ENDPOINT, 0, 0, &[(2, 0)])],
            )
            .drhd(
                0,
                1,
                0xfed9_2000,
                &[Builder::scope(SCOPE_PCI_ENDPOINT, 0, 0, &[(2, 0)])],
            )
            .finish()
    }

    #[test]
    fn rmrr_accessors() {
        let bytes = rmrr_table();
        let dmar = Dmar::parse(&bytes).unwrap();
        assert_eq!(dmar.validate(), Ok(()));
        let rmrrs: Vec<_> = dmar.rmrrs().collect::<Result<_, _>>().unwrap();
        assert_eq!(rmrrs.len(), 3);
        assert_eq!(
            rmrrs[0].region(),
            Ok(RmrrRegion {
                base: 0x7c00_0000,
                end: 0x7fff_ffff
            })
        );
        assert_eq!(rmrrs[0].region().unwrap().len(), 0x400_0000);
        assert!(!rmrrs[0].region().unwrap().is_empty());
        assert_eq!(rmrrs[0].end(), 0x7fff_ffff);
        assert_eq!(rmrrs[0].segment, 0);
        assert_eq!(rmrrs[1].region().unwrap().len(), 0x1000);
        assert_eq!((rmrrs[2].segment, rmrrs[2].base), (1, 0x1_0000_0000));
        let devs: Vec<_> = rmrrs[0]
            .device_scopes()
            .map(|s| ScopeDev::of(&s.unwrap()))
            .collect();
        assert_eq!(
            devs,
            [
                Some(ScopeDev {
                    bridge: false,
                    rid: 0x0010
                }),
                Some(ScopeDev {
                    bridge: false,
                    rid: 0x00a0
                })
            ]
        );
        let devs: Vec<_> = rmrrs[1]
            .device_scopes()
            .map(|s| ScopeDev::of(&s.unwrap()))
            .collect();
        assert_eq!(
            devs,
            [
                Some(ScopeDev {
                    bridge: true,
                    rid: 0x00e0
                }),
                None
            ]
        );
        // The DRHD side of the same table, through the pure owner rule.
        let scopes: Vec<(u16, bool, Vec<ScopeDev>)> = dmar
            .drhds()
            .map(|d| {
                let d = d.unwrap();
                let s = d
                    .device_scopes()
                    .filter_map(|s| ScopeDev::of(&s.unwrap()))
                    .collect();
                (d.segment, d.include_pci_all(), s)
            })
            .collect();
        let units = || {
            scopes
                .iter()
                .map(|(segment, include_all, scope)| UnitScope {
                    segment: *segment,
                    include_all: *include_all,
                    scope,
                })
        };
        let gfx = PciDev {
            segment: 0,
            rid: 0x0010,
            root_rid: 0x0010,
        };
        let usb = PciDev {
            rid: 0x00a0,
            root_rid: 0x00a0,
            ..gfx
        };
        let behind = PciDev {
            rid: 0x0300,
            root_rid: 0x00e0,
            ..gfx
        };
        let seg1 = PciDev { segment: 1, ..gfx };
        assert_eq!(owning_unit(units(), &gfx), Some(0));
        assert_eq!(owning_unit(units(), &usb), Some(1));
        assert_eq!(owning_unit(units(), &behind), Some(1));
        assert_eq!(owning_unit(units(), &seg1), Some(2));
        assert_eq!(
            registration_order(scopes.iter().map(|s| s.1)).collect::<Vec<_>>(),
            [0, 2, 1]
        );
        // Which RMRRs name which device.
        let names = |d: &PciDev| -> Vec<u64> {
            rmrrs
                .iter()
                .filter(|r| {
                    let s: Vec<_> = r
                        .device_scopes()
                        .filter_map(|s| ScopeDev::of(&s.unwrap()))
                        .collect();
                    rmrr_scope_covers(r.segment, &s, d)
                })
                .map(|r| r.base)
                .collect()
        };
        assert_eq!(names(&gfx), [0x7c00_0000]);
        assert_eq!(names(&usb), [0x7c00_0000]);
        assert_eq!(names(&behind), [0x000e_8000]);
        assert_eq!(names(&seg1), [0x1_0000_0000]);
        assert!(names(&PciDev {
            rid: 0x0018,
            root_rid: 0x0018,
            ..gfx
        })
        .is_empty());
    }

    #[test]
    fn rmrr_bad_regions() {
        for (base, end) in [
            (0x2000, 0x1fff),   // base > end
            (0x2000, 0x0fff),   // base > end
            (0x1000, 0x1000),   // end == base
            (0x1800, 0x2fff),   // unaligned base
            (0x1000, 0x1ffe),   // end + 1 unaligned
            (0x1000, 0x2000),   // end + 1 unaligned
            (0x1000, u64::MAX), // end + 1 overflows
            (u64::MAX - 0xfff, u64::MAX),
        ] {
            assert_eq!(
                RmrrRegion::new(base, end),
                Err(Errno::EINVAL),
                "{base:#x}-{end:#x}"
            );
            let bytes = Builder::new(39, 0).rmrr(base, end, &[]).finish();
            let dmar = Dmar::parse(&bytes).unwrap();
            // The structure is well formed; its region is not.
            assert_eq!(dmar.validate(), Ok(()));
            let rmrr = dmar.rmrrs().next().unwrap().unwrap();
            assert_eq!((rmrr.base, rmrr.end()), (base, end));
            assert_eq!(rmrr.region(), Err(Errno::EINVAL), "{base:#x}-{end:#x}");
        }
        // The smallest and the largest good regions.
        assert_eq!(RmrrRegion::new(0, 0xfff).unwrap().len(), 0x1000);
        let top = RmrrRegion::new(0, u64::MAX - 0x1000).unwrap();
        assert_eq!(top.len(), u64::MAX - 0xfff);
    }

    #[test]
    fn rmrr_bad_lengths() {
        // Shorter than the fixed part (24): every length from 4 to 23.
        for len in 4u8..24 {
            let mut raw = vec![1, 0, len, 0];
            raw.resize(usize::from(len), 0);
            let bytes = Builder::new(39, 0).raw(&raw).finish();
            let dmar = Dmar::parse(&bytes).unwrap();
            assert_eq!(dmar.validate(), Err(Errno::EINVAL), "len {len}");
            let mut it = dmar.rmrrs();
            assert_eq!(it.next(), Some(Err(Errno::EINVAL)), "len {len}");
            assert_eq!(it.next(), None);
        }
        // Longer than the table.
        let mut raw = vec![1, 0, 40, 0, 0, 0, 0, 0];
        raw.extend_from_slice(&0x1000u64.to_le_bytes());
        raw.extend_from_slice(&0x1fffu64.to_le_bytes());
        let bytes = Builder::new(39, 0).raw(&raw).finish();
        let dmar = Dmar::parse(&bytes).unwrap();
        assert_eq!(dmar.rmrrs().next(), Some(Err(Errno::EINVAL)));
        // A device scope running past the RMRR: the RMRR parses, its
        // scopes fail.
        let bytes = Builder::new(39, 0)
            .rmrr(0x1000, 0x1fff, &[vec![1, 10, 0, 0, 0, 0, 2, 0]])
            .finish();
        let dmar = Dmar::parse(&bytes).unwrap();
        assert_eq!(dmar.validate(), Err(Errno::EINVAL));
        let rmrr = dmar.rmrrs().next().unwrap().unwrap();
        assert_eq!(rmrr.region().unwrap().base, 0x1000);
        let mut scopes = rmrr.device_scopes();
        assert_eq!(scopes.next(), Some(Err(Errno::EINVAL)));
        assert_eq!(scopes.next(), None);
        // An error before an RMRR stops the walk there.
        let bytes = Builder::new(39, 0)
            .raw(&[0, 0, 2, 0])
            .rmrr(0x1000, 0x1fff, &[])
            .finish();
        let dmar = Dmar::parse(&bytes).unwrap();
        let all: Vec<_> = dmar.rmrrs().collect();
        assert_eq!(all, [Err(Errno::EINVAL)]);
    }

    #[test]
    fn rhsa_and_trailing_bytes() {
        let mut rhsa = vec![3, 0, 20, 0, 0, 0, 0, 0];
        rhsa.extend_from_slice(&0xfed9_0000u64.to_le_bytes());
        rhsa.extend_from_slice(&2u32.to_le_bytes());
        let mut bytes = Builder::new(39, 0).raw(&rhsa).finish();
        // Bytes past the table's length (a page-sized mapping) are ignored.
        bytes.extend_from_slice(&[0xff; 100]);
        let dmar = Dmar::parse(&bytes).unwrap();
        assert_eq!(dmar.bytes().len(), 48 + 20);
        assert_eq!(
            dmar.structures().next(),
            Some(Ok(Remapping::Rhsa(Rhsa {
                register_base: 0xfed9_0000,
                proximity_domain: 2
            })))
        );
        assert_eq!(dmar.validate(), Ok(()));
        // An empty table is fine.
        let empty = Builder::new(39, 0).finish();
        assert_eq!(Dmar::parse(&empty).unwrap().structures().count(), 0);
    }

    #[test]
    fn bad_headers() {
        let good = qemu_old_q35();
        assert!(Dmar::parse(&good).is_ok());
        // Truncated buffer: the header says more than we have.
        assert_eq!(Dmar::parse(&good[..good.len() - 1]), Err(Errno::EINVAL));
        assert_eq!(Dmar::parse(&good[..40]), Err(Errno::EINVAL));
        assert_eq!(Dmar::parse(&[]), Err(Errno::EINVAL));
        // Bad checksum.
        let mut bad = good.clone();
        bad[60] ^= 1;
        assert_eq!(Dmar::parse(&bad), Err(Errno::EINVAL));
        // Bad signature (checksum fixed).
        let mut bad = good.clone();
        bad[0] = b'X';
        bad[9] = bad[9].wrapping_add(b'D').wrapping_sub(b'X');
        assert_eq!(checksum(&bad), 0);
        assert_eq!(Dmar::parse(&bad), Err(Errno::EINVAL));
        // Length shorter than the DMAR header.
        let mut bad = Builder::new(39, 0).finish();
        bad[4] = 40;
        bad[9] = 0;
        bad[9] = 0u8.wrapping_sub(checksum(&bad[..40]));
        assert_eq!(Dmar::parse(&bad), Err(Errno::EINVAL));
    }

    #[test]
    fn malformed_structures() {
        // A structure longer than the table.
        let mut drhd = vec![0, 0, 40, 0, 0, 0, 0, 0];
        drhd.extend_from_slice(&0xfed9_0000u64.to_le_bytes());
        let bytes = Builder::new(39, 0).raw(&drhd).finish();
        let dmar = Dmar::parse(&bytes).unwrap();
        assert_eq!(dmar.validate(), Err(Errno::EINVAL));
        let mut it = dmar.structures();
        assert_eq!(it.next(), Some(Err(Errno::EINVAL)));
        assert_eq!(it.next(), None);

        // Zero and too-small lengths.
        for len in [0u8, 3] {
            let bytes = Builder::new(39, 0)
                .raw(&[5, 0, len, 0, 0, 0, 0, 0])
                .finish();
            assert_eq!(
                Dmar::parse(&bytes).unwrap().validate(),
                Err(Errno::EINVAL),
                "len {len}"
            );
        }
        // A DRHD shorter than its fixed part.
        let bytes = Builder::new(39, 0)
            .raw(&[0, 0, 12, 0, 1, 0, 0, 0, 0, 0, 0, 0])
            .finish();
        assert_eq!(Dmar::parse(&bytes).unwrap().validate(), Err(Errno::EINVAL));
        // An RMRR shorter than its fixed part.
        let bytes = Builder::new(39, 0).raw(&[1, 0, 8, 0, 0, 0, 0, 0]).finish();
        assert_eq!(Dmar::parse(&bytes).unwrap().validate(), Err(Errno::EINVAL));
        // An RHSA too short.
        let bytes = Builder::new(39, 0).raw(&[3, 0, 8, 0, 0, 0, 0, 0]).finish();
        assert_eq!(Dmar::parse(&bytes).unwrap().validate(), Err(Errno::EINVAL));
        // A dangling partial header.
        let bytes = Builder::new(39, 0).raw(&[0, 0]).finish();
        assert_eq!(Dmar::parse(&bytes).unwrap().validate(), Err(Errno::EINVAL));

        // Bad device scopes: zero length, odd path, overlong, too short.
        for scope in [
            vec![1, 0, 0, 0, 0, 0],
            vec![1, 7, 0, 0, 0, 0, 1],
            vec![1, 10, 0, 0, 0, 0, 1, 0],
            vec![1, 4, 0, 0],
            vec![1],
        ] {
            let bytes = Builder::new(39, 0)
                .drhd(0, 0, 0xfed9_0000, core::slice::from_ref(&scope))
                .finish();
            let dmar = Dmar::parse(&bytes).unwrap();
            assert_eq!(dmar.validate(), Err(Errno::EINVAL), "{scope:?}");
            assert_eq!(dmar.find_drhd(0, 0, 0), Err(Errno::EINVAL));
            let drhd = dmar.drhds().next().unwrap().unwrap();
            let mut scopes = drhd.device_scopes();
            assert_eq!(scopes.next(), Some(Err(Errno::EINVAL)));
            assert_eq!(scopes.next(), None);
        }
        // A good scope followed by a bad one: the good one is returned first.
        let bytes = Builder::new(39, 0)
            .drhd(
                0,
                0,
                0xfed9_0000,
                &[
                    Builder::scope(SCOPE_PCI_ENDPOINT, 0, 0, &[(1, 0)]),
                    vec![1, 0],
                ],
            )
            .finish();
        let dmar = Dmar::parse(&bytes).unwrap();
        let drhd = dmar.drhds().next().unwrap().unwrap();
        let mut scopes = drhd.device_scopes();
        assert!(matches!(scopes.next(), Some(Ok(_))));
        assert_eq!(scopes.next(), Some(Err(Errno::EINVAL)));
        assert_eq!(scopes.next(), None);
        // Out-of-range device/function in a path.
        let bytes = Builder::new(39, 0)
            .drhd(
                0,
                0,
                0,
                &[Builder::scope(SCOPE_PCI_ENDPOINT, 0, 0, &[(32, 9)])],
            )
            .finish();
        let dmar = Dmar::parse(&bytes).unwrap();
        let scope = dmar
            .drhds()
            .next()
            .unwrap()
            .unwrap()
            .device_scopes()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(scope.single_level_devfn(), None);
        let drhd = Drhd {
            size: 60,
            ..dmar.drhds().next().unwrap().unwrap()
        };
        assert_eq!(drhd.register_size(), None);
    }

    /// Exercises every accessor of a parsed table.
    fn walk_everything(bytes: &[u8]) -> usize {
        let Ok(dmar) = Dmar::parse(bytes) else {
            return 0;
        };
        let mut seen = dmar.host_address_width() as usize + dmar.flags() as usize;
        seen += dmar.oem_id().len() + dmar.revision() as usize;
        let _ = dmar.validate();
        let _ = dmar.find_drhd(0, 0, 0);
        for s in dmar.structures() {
            let Ok(s) = s else { break };
            if let Remapping::Drhd(d) = s {
                seen += d.register_size().map_or(0, |s| s as usize & 1);
            }
            if let Remapping::Rmrr(r) = s {
                seen += r.region().map_or(0, |g| (g.len() & 1) as usize);
            }
            if let Some(scopes) = s.device_scopes() {
                for scope in scopes {
                    let Ok(scope) = scope else { break };
                    seen += scope.path().count() + scope.path_len();
                    let _ = scope.single_level_devfn();
                }
            }
        }
        seen
    }

    #[test]
    fn random_bytes_never_panic() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let seeds = [qemu_old_q35(), qemu_new_q35()];
        for i in 0..20000u32 {
            let mut bytes = if i % 3 == 0 {
                // Pure noise behind a valid signature.
                let len = (next() % 200) as usize;
                let mut b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                if b.len() >= 8 {
                    b[..4].copy_from_slice(b"DMAR");
                    let claimed = (next() % 220) as u32;
                    b[4..8].copy_from_slice(&claimed.to_le_bytes());
                }
                b
            } else {
                // A real table with a few bytes mutated, truncated or
                // extended.
                let mut b = seeds[(i % 2) as usize].clone();
                for _ in 0..(next() % 6 + 1) {
                    let at = (next() as usize) % b.len();
                    b[at] = next() as u8;
                }
                match next() % 4 {
                    0 => b.truncate((next() as usize) % (b.len() + 1)),
                    1 => b.extend((0..next() % 16).map(|_| next() as u8)),
                    _ => {}
                }
                b
            };
            // Usually make the checksum right so the walk gets exercised.
            if next() % 4 != 0 && bytes.len() >= DMAR_HEADER_LEN {
                let len = u32::from_le_bytes(bytes[4..8].try_into().unwrap()) as usize;
                if len >= 10 && len <= bytes.len() {
                    bytes[9] = 0;
                    bytes[9] = 0u8.wrapping_sub(checksum(&bytes[..len]));
                }
            }
            walk_everything(&bytes);
        }
    }
}
