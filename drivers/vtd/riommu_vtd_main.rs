// SPDX-License-Identifier: GPL-2.0

//! riommu_vtd: an Intel VT-d driver in Rust for QEMU q35's emulated
//! `intel-iommu` in scalable mode (`x-scalable-mode=on`, with `x-flts=on` for
//! first-stage or without for second-stage translation), plugged
//! into iommufd through the riommu API.
//!
//! Load it on a kernel booted with `intel_iommu=off`: the built-in C driver
//! then leaves the unit alone (translation off, registers released).
//!
//! This file is the crate root: it pulls in the riommu abstractions (the only
//! code with `unsafe`) and the driver modules, which forbid `unsafe`.
//!
//! Faults are polled (every [`FAULT_POLL_MS`] ms, and whenever the debugfs
//! files are read) and counted in `/sys/kernel/debug/riommu_vtd/`:
//! `fault_count` (a number), `faults` (counts and the last faults),
//! `info` (registers and capabilities) and `pasid_entries` (each probed
//! device's RID_PASID entry as the unit reads it: eight 64-bit words).
//!
//! Module parameter `force_nesting` (default off): see [`iommu`].

#[path = "../../rust/riommu/mod.rs"]
pub mod riommu;

pub mod iommu;
pub mod regs;
pub mod unit;

// The glue's tables for the driver (an `unsafe impl`, so here in the crate
// root: the driver modules forbid `unsafe`).
riommu::driver::declare_iommu_driver!(iommu::VtdDriver);

use kernel::{debugfs, fmt, prelude::*, str::CString, sync::Arc};
use riommu::{
    hw::{PeriodicHandler, PeriodicWork},
    registration::{IommuRegistration, MAX_INSTANCES},
};
use unit::Unit;

module! {
    type: RiommuVtdModule,
    name: "riommu_vtd",
    authors: ["riommu developers"],
    description: "Intel VT-d (scalable mode) IOMMU driver in Rust",
    license: "GPL",
    imports_ns: ["IOMMUFD"],
    params: {
        force_nesting: bool {
            default: false,
            description: "Offer nesting parents and nested (VTD_S1) domains on a unit with a second stage but no ECAP.NEST (QEMU), to check the nested PASID entries written; DMA through them faults",
        },
    },
}

/// How often the fault recording registers are polled, in milliseconds.
///
/// Polled, not interrupt driven: the fault event interrupt is an MSI whose
/// message the unit's `FEDATA`/`FEADDR` registers hold, and 7.3 gives a
/// module no way to get one.  The DMAR MSI domain's `dmar_alloc_hwirq()`
/// (arch/x86/kernel/apic/msi.c) is not exported, and its irq chip writes the
/// message through `dmar_msi_write()` (drivers/iommu/intel/dmar.c), which
/// takes the interrupt's handler data to be the C driver's `struct
/// intel_iommu`.  A candidate upstream change: a DMAR interrupt allocation
/// for modules whose chip hands the MSI message to its owner to program.
pub const FAULT_POLL_MS: u32 = 100;

/// The units, in registration order (explicit device scopes first,
/// INCLUDE_PCI_ALL last).
type Units = Arc<KVec<Arc<Unit>>>;

/// Polls the units' faults.
struct FaultPoller(Units);

impl PeriodicHandler for FaultPoller {
    fn run(&self) {
        for unit in self.0.iter() {
            unit.poll_faults();
        }
    }
}

/// What a debugfs file shows: the units.  With one unit each file is that
/// unit's; with more, `fault_count` is their sum, `pasid_entries` lists
/// every unit's devices, and `faults` and `info` show each unit after a
/// line `unit N (BASE):`.
struct View(Units);

impl View {
    /// Writes `show` of each unit, headed by a line naming the unit when
    /// there is more than one.
    fn each(
        &self,
        f: &mut fmt::Formatter<'_>,
        show: impl Fn(&Unit, &mut fmt::Formatter<'_>) -> fmt::Result,
    ) -> fmt::Result {
        let many = self.0.len() > 1;
        for (i, unit) in self.0.iter().enumerate() {
            if many {
                writeln!(f, "unit {} ({:#x}):", i, unit.base())?;
            }
            show(unit, f)?;
        }
        Ok(())
    }
}

fn show_fault_count(v: &View, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let count: u64 = v.0.iter().map(|u| u.fault_count()).sum();
    writeln!(f, "{}", count)
}

fn show_faults(v: &View, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    v.each(f, Unit::write_faults)
}

fn show_info(v: &View, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    v.each(f, Unit::write_info)
}

fn show_pasid_entries(v: &View, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for unit in v.0.iter() {
        unit.write_pasid_entries(f)?;
    }
    Ok(())
}

/// `/sys/kernel/debug/riommu_vtd/`, removed on drop.
struct Debugfs {
    _files: KVec<Pin<KBox<debugfs::File<View>>>>,
    _dir: debugfs::Dir,
}

impl Debugfs {
    fn new(units: &Units) -> Result<Self> {
        let dir = debugfs::Dir::new(c"riommu_vtd");
        let mut files = KVec::new();
        Self::add(&dir, &mut files, c"fault_count", units, &show_fault_count)?;
        Self::add(&dir, &mut files, c"faults", units, &show_faults)?;
        Self::add(&dir, &mut files, c"info", units, &show_info)?;
        Self::add(
            &dir,
            &mut files,
            c"pasid_entries",
            units,
            &show_pasid_entries,
        )?;
        Ok(Self {
            _files: files,
            _dir: dir,
        })
    }

    /// Adds the read-only file `name` of `dir`, shown by `show`, to `files`.
    fn add<F>(
        dir: &debugfs::Dir,
        files: &mut KVec<Pin<KBox<debugfs::File<View>>>>,
        name: &CStr,
        units: &Units,
        show: &'static F,
    ) -> Result
    where
        F: Fn(&View, &mut fmt::Formatter<'_>) -> fmt::Result + Send + Sync,
    {
        let file = KBox::pin_init(
            dir.read_callback_file(name, View(units.clone()), show),
            GFP_KERNEL,
        )?;
        files.push(file, GFP_KERNEL)?;
        Ok(())
    }
}

/// Translation is on while this lives.
struct TranslationOn(Arc<Unit>);

impl TranslationOn {
    fn enable(unit: Arc<Unit>) -> Result<Self> {
        unit.enable_translation()?;
        Ok(Self(unit))
    }

    /// Turns translation on in every unit, in order; on a failure the
    /// units already on are turned off again (dropped).
    fn enable_all(units: &Units) -> Result<KVec<Self>> {
        let mut on = KVec::with_capacity(units.len(), GFP_KERNEL)?;
        for unit in units.iter() {
            on.push(Self::enable(unit.clone())?, GFP_KERNEL)?;
        }
        Ok(on)
    }
}

impl Drop for TranslationOn {
    fn drop(&mut self) {
        if let Err(e) = self.0.disable_translation() {
            pr_err!("disabling translation failed: {:?}\n", e);
        }
    }
}

/// Registers an IOMMU instance per unit, `riommu_vtd0`, `riommu_vtd1`...
/// in the units' order; each registration probes the devices it covers
/// (a device of a unit not yet registered is refused with `ENODEV` and
/// probed again when its unit registers).  On a failure the instances
/// already registered are unregistered (dropped).
fn register_all(units: &Units) -> Result<KVec<IommuRegistration<iommu::VtdDriver>>> {
    let mut regs = KVec::with_capacity(units.len(), GFP_KERNEL)?;
    for (i, unit) in units.iter().enumerate() {
        let name = CString::try_from_fmt(fmt!("riommu_vtd{}", i))?;
        let reg = IommuRegistration::new_hw_unparented(&name, 0, Ok::<_, Error>(unit.clone()))
            .inspect_err(|e| pr_err!("registering unit {} failed: {:?}\n", i, e))?;
        regs.push(reg, GFP_KERNEL)?;
    }
    Ok(regs)
}

/// The module.  Fields drop in declaration order: stop polling, turn
/// translation off in every unit (devices DMA untranslated again),
/// unregister (devices are released, their context entries cleared),
/// remove debugfs, and last the units (queued invalidation off, tables
/// freed).
#[pin_data]
pub struct RiommuVtdModule {
    #[pin]
    poller: PeriodicWork<FaultPoller>,
    translation: KVec<TranslationOn>,
    iommu: KVec<IommuRegistration<iommu::VtdDriver>>,
    debugfs: Debugfs,
    units: Units,
}

impl kernel::InPlaceModule for RiommuVtdModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        // Bring up every DRHD first (translation off; any failure refuses
        // the whole load, as 7.3's `init_dmars()`); then register one
        // instance per unit, which probes the devices of its scope and
        // attaches their identity default domain; then turn translation
        // on.  (In the initializer, an initialised field is available by
        // name.)
        try_pin_init!(Self {
            units: Arc::new(
                unit::probe_all(module_parameters::force_nesting.value(), MAX_INSTANCES)?,
                GFP_KERNEL,
            )?,
            iommu: register_all(units)?,
            translation: TranslationOn::enable_all(units)?,
            debugfs: Debugfs::new(units)?,
            poller <- PeriodicWork::new(FAULT_POLL_MS, FaultPoller(units.clone())),
        }? Error)
    }
}
