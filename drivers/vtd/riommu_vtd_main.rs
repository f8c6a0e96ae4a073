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

use kernel::{debugfs, fmt, prelude::*, sync::Arc};
use riommu::{
    hw::{PeriodicHandler, PeriodicWork},
    registration::IommuRegistration,
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

/// Polls the unit's faults.
struct FaultPoller(Arc<Unit>);

impl PeriodicHandler for FaultPoller {
    fn run(&self) {
        self.0.poll_faults();
    }
}

/// What a debugfs file shows: the unit.
struct View(Arc<Unit>);

fn show_fault_count(v: &View, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "{}", v.0.fault_count())
}

fn show_faults(v: &View, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    v.0.write_faults(f)
}

fn show_info(v: &View, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    v.0.write_info(f)
}

fn show_pasid_entries(v: &View, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    v.0.write_pasid_entries(f)
}

/// `/sys/kernel/debug/riommu_vtd/`, removed on drop.
struct Debugfs {
    _files: KVec<Pin<KBox<debugfs::File<View>>>>,
    _dir: debugfs::Dir,
}

impl Debugfs {
    fn new(unit: &Arc<Unit>) -> Result<Self> {
        let dir = debugfs::Dir::new(c"riommu_vtd");
        let mut files = KVec::new();
        Self::add(&dir, &mut files, c"fault_count", unit, &show_fault_count)?;
        Self::add(&dir, &mut files, c"faults", unit, &show_faults)?;
        Self::add(&dir, &mut files, c"info", unit, &show_info)?;
        Self::add(
            &dir,
            &mut files,
            c"pasid_entries",
            unit,
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
        unit: &Arc<Unit>,
        show: &'static F,
    ) -> Result
    where
        F: Fn(&View, &mut fmt::Formatter<'_>) -> fmt::Result + Send + Sync,
    {
        let file = KBox::pin_init(
            dir.read_callback_file(name, View(unit.clone()), show),
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
}

impl Drop for TranslationOn {
    fn drop(&mut self) {
        if let Err(e) = self.0.disable_translation() {
            pr_err!("disabling translation failed: {:?}\n", e);
        }
    }
}

/// The module.  Fields drop in declaration order: stop polling, turn
/// translation off (devices DMA untranslated again), unregister (devices
/// are released, their context entries cleared), remove debugfs, and last
/// the unit (queued invalidation off, tables freed).
#[pin_data]
pub struct RiommuVtdModule {
    #[pin]
    poller: PeriodicWork<FaultPoller>,
    translation: TranslationOn,
    iommu: IommuRegistration<iommu::VtdDriver>,
    debugfs: Debugfs,
    unit: Arc<Unit>,
}

impl kernel::InPlaceModule for RiommuVtdModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        // Find and set up the unit first (translation off); then register,
        // which probes the devices of the DRHD's scope and attaches their
        // identity default domain; then turn translation on.
        // (In the initializer, an initialised field is available by name.)
        try_pin_init!(Self {
            unit: Unit::probe(module_parameters::force_nesting.value())?,
            iommu: IommuRegistration::new_hw_unparented(
                c"riommu_vtd0",
                0,
                Ok::<_, Error>(unit.clone()),
            )?,
            translation: TranslationOn::enable(unit.clone())?,
            debugfs: Debugfs::new(unit)?,
            poller <- PeriodicWork::new(FAULT_POLL_MS, FaultPoller(unit.clone())),
        }? Error)
    }
}
