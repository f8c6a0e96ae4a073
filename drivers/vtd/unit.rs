// SPDX-License-Identifier: GPL-2.0

//! One VT-d remapping unit (a DRHD): its registers, the scalable-mode root
//! and context tables, each device's PASID directory and table, the
//! invalidation queue, domain ids and the fault log.
//!
//! Bring-up follows the spec's order (and Linux `init_dmars()`): refuse a
//! unit someone else enabled (translation or queued invalidation on: the
//! built-in intel-iommu driver owns it unless booted with
//! `intel_iommu=off`), mask fault events (faults are polled), clear
//! recorded faults, enable the invalidation queue with 256-bit descriptors,
//! set the root table pointer, invalidate every cache, and only once
//! devices are probed and attached enable translation.

#![forbid(unsafe_code)]

use crate::regs::{
    CAP, ECAP, FECTL, FRCD_F, FRCD_HI, FRCD_LO, FSTS, GCMD, GSTS, IQA, IQER, IQH, IQT, REGS_MIN,
    RTADDR, VER,
};
use crate::riommu::{
    hw::{dma_aliases, pci_ids, AcpiTable, DmaPages, DynReg, Mmio, PciIds},
    pure::vtd::{
        context::{
            pdts_for_dir_bytes, pdts_for_pasid_bits, root_index, sm_context_slot, ContextHalf,
            RootEntry, SmContextEntry, SmContextOptions, ROOT_ENTRIES, ROOT_ENTRY_SIZE,
            SM_CONTEXT_ENTRY_SIZE,
        },
        dmar::{DeviceScopes, Dmar, RmrrRegion},
        fault::{next_fault_index, reason_str, AccessType, Fault},
        inval::{pasid_entry_changed, PasidOwner, PasidState, Plan},
        pasid::{
            aw_for_levels, dir_index, table_index, Common, FirstStage, PasidDirEntry, PasidEntry,
            SecondStage, PASID_DIR_ENTRY_SIZE, PASID_ENTRY_SIZE, PGTT_FIRST_STAGE, PGTT_NESTED,
            PGTT_PASS_THROUGH, PGTT_SECOND_STAGE,
        },
        pte::FS_4LEVEL_CANONICAL_BITS,
        qi::{
            page_selective_am_within, CcGranularity, Descriptor, Drain, IotlbGranularity,
            PageRange, PcGranularity, PiotlbGranularity, DESC_SIZE_256,
        },
        regs::{
            fault_regs_base, queue_free, queue_index, queue_reg_value, Cap, Ecap, Gcmd, Gsts, Iqa,
            Rtaddr,
        },
        scope::{owning_unit, registration_order, rmrr_scope_covers, PciDev, ScopeDev, UnitScope},
        source_id,
        stage::{ss_geometry, SsGeometry, Stage, Stages},
        update::{plan, plan_in_place, EntryUpdate, Step, Sync as EntrySync},
        RID_PASID_DEFAULT,
    },
};
use core::{
    fmt,
    sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering},
};
use kernel::{
    id_pool::IdPool,
    io::{poll::read_poll_timeout_atomic, Io},
    new_mutex, new_spinlock, pci,
    prelude::*,
    sync::{
        barrier::{dma_mb, Write},
        Arc, Mutex, SpinLock,
    },
    time::Delta,
};

/// How many times, 1 µs apart, a register handshake (GCMD/GSTS) or an
/// invalidation wait is polled (at least 1 s).  Polled: the handshakes have
/// no interrupt, and the invalidation wait runs under the queue's spinlock
/// (the C driver's `qi_submit_sync()` spins too).
const POLL_RETRIES: usize = 1_000_000;
/// The delay between two polls.
const POLL_DELAY: Delta = Delta::from_micros(1);
/// How many times a submission is repeated after an invalidation time-out
/// error aborted its wait (7.3 repeats until the device is gone).
const QI_ITE_RETRIES: usize = 3;
/// The invalidation queue is one 4 KiB page (IQA.QS = 0).
const QI_QS: u64 = 0;
/// Bytes of a 64-bit word of the tables.
const WORD: usize = core::mem::size_of::<u64>();
/// 64-bit words of a 256-bit descriptor.
const DESC_WORDS: usize = DESC_SIZE_256 / WORD;
/// 64-bit words of a root entry.
const ROOT_WORDS: usize = ROOT_ENTRY_SIZE / WORD;
/// 64-bit words of a scalable-mode context entry.
const CTX_WORDS: usize = SM_CONTEXT_ENTRY_SIZE / WORD;
/// 64-bit words of a PASID table entry.
const PASID_WORDS: usize = PASID_ENTRY_SIZE / WORD;
/// 64-bit words of a PASID directory entry.
const PDIR_WORDS: usize = PASID_DIR_ENTRY_SIZE / WORD;
/// Context tables: two (lower and upper devfn halves) per bus.
const CTX_TABLES: usize = 2 * ROOT_ENTRIES;
/// The domain id of the identity (pass-through) PASID entries, as Linux's
/// `FLPT_DEFAULT_DID`; paging domains get ids from [`FIRST_PAGING_DID`].
pub const IDENTITY_DID: u16 = 1;
/// The first domain id for paging domains (0 is reserved with caching
/// mode, 1 is the identity domain's).
const FIRST_PAGING_DID: u16 = 2;
/// How many domain ids the driver hands out (at most CAP.ND allows).
const MAX_DIDS: usize = 1024;
/// How many faults the log keeps.
const FAULT_LOG_LEN: usize = 32;

/// What a device's RID_PASID entry translates with.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// No entry: DMA is blocked (and reported as a fault).
    Blocked,
    /// Pass-through (PGTT 100): DMA addresses are physical addresses.
    Identity,
    /// First-stage translation (PGTT 001) with the table rooted at `root`
    /// in domain `did`.
    FirstStage {
        /// The first-stage table root.
        root: u64,
        /// The domain id.
        did: u16,
        /// The domain's snoop control (PGSNP), read under the tables' lock
        /// ([`Unit::enforce_snoop`]).
        snoop: &'a AtomicBool,
    },
    /// Second-stage translation (PGTT 010) with the table rooted at `root`
    /// in domain `did` (the unit's second-stage geometry gives AW).
    SecondStage {
        /// The second-stage table root.
        root: u64,
        /// The domain id.
        did: u16,
    },
    /// Nested translation (PGTT 011): a user first stage on top of a
    /// second-stage table rooted at `ss_root`, in domain `did`.
    Nested {
        /// The validated first-stage half.
        fs: FirstStage,
        /// The nesting parent's second-stage table root.
        ss_root: u64,
        /// The nested domain's id.
        did: u16,
        /// The nesting parent's snoop control: PGSNP as 7.3's
        /// `pasid_pte_config_nested()` sets it.
        snoop: &'a AtomicBool,
    },
}

/// A device behind the unit: its ids and its PASID tables.
///
/// The tables are written only with the unit's table lock held.
pub struct VtdDev {
    /// The device's PCI ids.
    pub ids: PciIds,
    /// The PASID directory (entry 0 points to `table`), owned here.
    _dir: DmaPages,
    /// The PASID table of PASIDs 0-63 (entry 0 is RID_PASID's), shared with
    /// the unit's device list (for the `pasid_entries` debugfs dump).
    table: Arc<DmaPages>,
    /// The RID_PASID entry's state: 0 not present, else PGTT << 16 | DID.
    state: AtomicU32,
}

/// Bits of [`VtdDev::state`] above the domain id.
const STATE_PGTT_SHIFT: u32 = 16;

impl VtdDev {
    /// The device's source id.
    pub fn sid(&self) -> u16 {
        self.ids.rid()
    }

    fn state(&self) -> Option<PasidState> {
        let s = self.state.load(Ordering::Acquire);
        if s == 0 {
            None
        } else {
            Some(PasidState {
                did: s as u16,
                pgtt: u64::from(s >> STATE_PGTT_SHIFT),
            })
        }
    }

    fn set_state(&self, s: Option<PasidState>) {
        let v = s.map_or(0, |s| {
            ((s.pgtt as u32) << STATE_PGTT_SHIFT) | u32::from(s.did)
        });
        self.state.store(v, Ordering::Release);
    }
}

/// The invalidation queue.
struct Qi {
    /// The queue: 128 descriptors of 256 bits.
    queue: DmaPages,
    /// Word 0 receives the status data of wait descriptors.
    status: DmaPages,
    /// Index of the next free descriptor.
    tail: u32,
    /// Number of descriptors the queue holds.
    entries: u32,
    /// The status data of the last wait descriptor.
    seq: u32,
    /// Whether the unit may still hold descriptors it has not fetched: a
    /// submission timed out or failed.  A completed wait means the unit
    /// has fetched everything up to it, so only then is `IQH` read.
    unsettled: bool,
}

/// Root and context tables.
struct Tables {
    root: DmaPages,
    /// Context table of (bus, half), at `bus * 2 + half`.
    ctx: KVec<Option<DmaPages>>,
    /// The probed devices' source ids and PASID tables, for the dump.
    devs: KVec<(u16, Arc<DmaPages>)>,
    /// Who uses each context entry: (requester id, device source id, the
    /// device's context entry).  A device's own id and each of its DMA
    /// aliases (a bridge's id that its DMA carries, `hw::dma_aliases`):
    /// several devices behind one PCIe-to-PCI bridge share an alias, and
    /// the entry then points to one of their PASID directories.  They are
    /// in one IOMMU group (the core groups DMA aliases), so attached to
    /// the same domains.
    ctx_users: KVec<(u16, u16, [u64; CTX_WORDS])>,
}

/// A logged fault.
#[derive(Clone, Copy)]
struct LoggedFault {
    seq: u64,
    fault: Fault,
}

/// The fault log: counts and the last [`FAULT_LOG_LEN`] faults.
struct FaultLog {
    count: u64,
    overflows: u64,
    iq_errors: u64,
    ring: [Option<LoggedFault>; FAULT_LOG_LEN],
}

/// Domain id allocator: the kernel's `IdPool`, of at least `limit` ids
/// (it rounds small pools up), of which ids below `limit` are handed out.
struct Dids {
    pool: IdPool,
    limit: usize,
}

/// One VT-d remapping unit.
///
/// `regs` is the first field: it drops first and turns queued invalidation
/// off before the queue's memory is freed.
#[pin_data]
pub struct Unit {
    regs: Regs,
    /// The capability register.
    pub cap: Cap,
    /// The extended capability register.
    pub ecap: Ecap,
    /// The version register.
    ver: u32,
    /// This unit's index in `drhds` (DMAR table order).
    index: usize,
    /// Every DRHD of the DMAR table (shared by all units): which unit
    /// translates a device ([`Unit::covers`]).
    drhds: Arc<Drhds>,
    /// The RMRRs of the unit's segment, checked, in table order: reported
    /// to the devices they name ([`Unit::rmrrs_of`]).
    rmrrs: KVec<Rmrr>,
    /// Whether the unit snoops root, context and PASID table reads (ECAP.C).
    coherent: bool,
    /// Whether first-stage table walks snoop (ECAP.SMPWCS, with PWSNP).
    pt_coherent: bool,
    /// The AW field of first-stage and pass-through PASID entries.
    aw: u64,
    /// What the unit translates with, as the driver treats it.
    pub stages: Stages,
    /// The second-stage table shape, if the unit has a second stage.
    pub ss: Option<SsGeometry>,
    /// IOVA bits of a first-stage domain: the canonical lower half.
    va_bits: u32,
    /// Whether translation is on.
    te: AtomicBool,
    /// Serialises GCMD commands: each writes the persistent bits read
    /// from GSTS with its own (the C driver's `register_lock`).
    #[pin]
    gcmd: SpinLock<()>,
    #[pin]
    qi: SpinLock<Qi>,
    #[pin]
    tables: Mutex<Tables>,
    #[pin]
    dids: SpinLock<Dids>,
    #[pin]
    faults: SpinLock<FaultLog>,
    /// Descriptors submitted, for the info file.
    qi_submitted: AtomicU64,
}

/// A DRHD of the DMAR table: where its registers are and which devices it
/// covers.
pub struct DrhdInfo {
    /// Register base address.
    pub base: u64,
    /// PCI segment.
    pub segment: u16,
    /// INCLUDE_PCI_ALL.
    pub include_all: bool,
    /// Its PCI device scope entries with a one-entry path (the rest are
    /// skipped: the driver knows a device's own id and its ancestor on the
    /// root bus, not the bus numbers of deeper paths).
    pub scope: KVec<ScopeDev>,
}

/// The DRHDs of the DMAR table, in table order.
pub struct Drhds(KVec<DrhdInfo>);

impl Drhds {
    /// The units as `riommu_core::vtd::scope::owning_unit` takes them.
    fn scopes(&self) -> impl Iterator<Item = UnitScope<'_>> {
        self.0.iter().map(|d| UnitScope {
            segment: d.segment,
            include_all: d.include_all,
            scope: &d.scope,
        })
    }
}

/// An RMRR: its checked region and the PCI devices it names.
pub struct Rmrr {
    /// The reserved memory.
    pub region: RmrrRegion,
    /// PCI segment.
    pub segment: u16,
    /// Its PCI device scope entries with a one-entry path.
    pub scope: KVec<ScopeDev>,
}

/// The PCI devices a device scope list names (one-entry paths).
fn pci_scope(scopes: DeviceScopes<'_>) -> Result<KVec<ScopeDev>> {
    let mut out = KVec::new();
    for s in scopes {
        if let Some(d) = ScopeDev::of(&s?) {
            out.push(d, GFP_KERNEL)?;
        }
    }
    Ok(out)
}

/// What the DMAR table says: its DRHDs and its RMRRs (those whose region
/// fails the checks of `RmrrRegion::new` are logged and left out).
fn parse_dmar() -> Result<(Drhds, KVec<Rmrr>)> {
    let table = AcpiTable::get(b"DMAR").inspect_err(|_| pr_info!("no ACPI DMAR table\n"))?;
    let dmar = Dmar::parse(table.bytes())?;
    dmar.validate()?;
    let mut drhds = KVec::new();
    for d in dmar.drhds() {
        let d = d?;
        drhds.push(
            DrhdInfo {
                base: d.register_base,
                segment: d.segment,
                include_all: d.include_pci_all(),
                scope: pci_scope(d.device_scopes())?,
            },
            GFP_KERNEL,
        )?;
    }
    let mut rmrrs = KVec::new();
    for r in dmar.rmrrs() {
        let r = r?;
        let Ok(region) = r.region() else {
            // 7.3 warns ("Your BIOS is broken; bad RMRR"), taints the
            // kernel and still reports it; this driver leaves it out (a
            // region of partial pages cannot be identity-mapped as given,
            // and one ending at or before its base has no length).
            pr_warn!(
                "firmware bug: bad RMRR [{:#018x}-{:#018x}] ignored\n",
                r.base,
                r.end()
            );
            continue;
        };
        rmrrs.push(
            Rmrr {
                region,
                segment: r.segment,
                scope: pci_scope(r.device_scopes())?,
            },
            GFP_KERNEL,
        )?;
    }
    Ok((Drhds(drhds), rmrrs))
}

/// Refuses a unit someone else has enabled: translation or queued
/// invalidation on means the kernel's own intel-iommu driver (or firmware,
/// or interrupt remapping) owns it; boot with `intel_iommu=off`.
fn check_idle(regs: &Mmio<REGS_MIN>) -> Result {
    let g = regs.io().read(GSTS).sts();
    if g.tes() != 0 || g.qies() != 0 {
        pr_err!(
            "unit in use (GSTS {:#x}): boot with intel_iommu=off\n",
            g.raw()
        );
        return Err(EBUSY);
    }
    Ok(())
}

/// The matching's view of a device.
fn pci_dev(ids: &PciIds) -> PciDev {
    PciDev {
        segment: ids.segment,
        rid: ids.rid(),
        root_rid: source_id(ids.root_bus, ids.root_devfn),
    }
}

/// Brings up every DRHD of the DMAR table (translation off), the units
/// with explicit device scopes first and INCLUDE_PCI_ALL ones last, and
/// returns them in that order.  Fails, taking down the units already up,
/// if any unit fails: as Linux 7.3's `init_dmars()`, which gives up on
/// every unit when one cannot be set up.  At most `max` units.
pub fn probe_all(force_nesting: bool, max: usize) -> Result<KVec<Arc<Unit>>> {
    let (drhds, rmrrs) = parse_dmar()?;
    let n = drhds.0.len();
    if n == 0 {
        pr_info!("no DRHD in the DMAR table\n");
        return Err(ENODEV);
    }
    if n > max {
        pr_err!("{} DRHDs: at most {} supported\n", n, max);
        return Err(ENOSPC);
    }
    let drhds = Arc::new(drhds, GFP_KERNEL)?;
    let mut units = KVec::with_capacity(n, GFP_KERNEL)?;
    for i in registration_order(drhds.0.iter().map(|d| d.include_all)) {
        let unit = Unit::probe(force_nesting, &drhds, i, &rmrrs).inspect_err(|e| {
            pr_err!(
                "DRHD {} at {:#x}: bring-up failed ({:?}); refusing all units\n",
                i,
                drhds.0[i].base,
                e
            )
        })?;
        units.push(unit, GFP_KERNEL)?;
    }
    Ok(units)
}

impl Unit {
    /// The unit's DRHD.
    fn drhd(&self) -> Option<&DrhdInfo> {
        self.drhds.0.get(self.index)
    }

    /// Brings up DRHD `index` of `drhds`: maps its registers, checks what
    /// the driver needs, sets up the queue and the root table, and keeps
    /// the RMRRs of its segment (copied from `all_rmrrs`, parsed once per
    /// load).  Translation stays off: see [`Unit::enable_translation`].
    ///
    /// `force_nesting`: offer nesting parents and nested domains on a unit
    /// with a second stage but without ECAP.NEST (see [`Stages::of`]).
    fn probe(
        force_nesting: bool,
        drhds: &Arc<Drhds>,
        index: usize,
        all_rmrrs: &[Rmrr],
    ) -> Result<Arc<Unit>> {
        let found = drhds.0.get(index).ok_or(EINVAL)?;
        let mut rmrrs = KVec::new();
        for r in all_rmrrs.iter().filter(|r| r.segment == found.segment) {
            let mut scope = KVec::with_capacity(r.scope.len(), GFP_KERNEL)?;
            scope.extend_from_slice(&r.scope, GFP_KERNEL)?;
            rmrrs.push(
                Rmrr {
                    region: r.region,
                    segment: r.segment,
                    scope,
                },
                GFP_KERNEL,
            )?;
        }
        // The DRHD's register set, as large as its CAP and ECAP need.
        let regs = Mmio::map_drhd(&AcpiTable::get(b"DMAR")?, found.base)?;
        let cap = regs.io().try_read(CAP)?.cap();
        let ecap = regs.io().try_read(ECAP)?.ecap();
        let ver = regs.io().read(VER).into_raw();
        // Refuse a unit someone else enabled before anything of ours can
        // touch it (dropping the unit turns translation off).
        check_idle(&regs)?;
        pr_info!(
            "DRHD at {:#x}: version {:#x}, CAP {:#018x}, ECAP {:#018x}\n",
            found.base,
            ver,
            cap.0[0],
            ecap.0[0]
        );
        // Scalable mode with a first or a second stage (QEMU offers one
        // of them: x-flts=on first, else second), the invalidation queue
        // (PASID-granular invalidations only exist there) and pass-through
        // (the identity domain) are required.
        let stages = Stages::of(cap, ecap, force_nesting);
        if ecap.smts() == 0 || !stages.any() || ecap.qi() == 0 || ecap.pt() == 0 {
            pr_err!(
                "unit lacks scalable mode, a usable first or second stage, queued invalidation or pass-through\n"
            );
            return Err(ENODEV);
        }
        let ss = ss_geometry(cap).filter(|_| stages.second);
        if stages.forced {
            pr_warn!(
                "force_nesting: nested PASID entries on a unit without ECAP.NEST; DMA through them faults\n"
            );
        }
        // AW of pass-through and first-stage entries: the unit's AGAW, as
        // the C driver's `iommu->agaw`.
        let Some(aw) = cap.agaw_levels(&ecap).and_then(aw_for_levels) else {
            pr_err!("unit supports no address width (CAP.SAGAW, FL5LP)\n");
            return Err(ENODEV);
        };
        let va_bits = FS_4LEVEL_CANONICAL_BITS.min(cap.mgaw_bits().saturating_sub(1));
        let coherent = ecap.c() != 0;
        let dids = cap
            .num_domains()
            .map_or(MAX_DIDS, |n| (n as usize).min(MAX_DIDS));

        let queue = DmaPages::alloc(QI_QS as u32, coherent)?;
        let status = DmaPages::alloc(0, true)?;
        let entries = Iqa::new(queue.phys(), QI_QS, true)?.entries();
        let root = DmaPages::alloc(0, coherent)?;
        let mut ctx = KVec::with_capacity(CTX_TABLES, GFP_KERNEL)?;
        for _ in 0..CTX_TABLES {
            ctx.push(None, GFP_KERNEL)?;
        }

        let unit = Arc::pin_init(
            try_pin_init!(Unit {
                regs: Regs(regs),
                cap,
                ecap,
                ver,
                index,
                drhds: drhds.clone(),
                rmrrs,
                coherent,
                pt_coherent: ecap.smpwcs() != 0,
                aw,
                stages,
                ss,
                va_bits,
                te: AtomicBool::new(false),
                gcmd <- new_spinlock!(()),
                qi <- new_spinlock!(Qi {
                    queue,
                    status,
                    tail: 0,
                    entries,
                    seq: 0,
                    unsettled: false,
                }),
                tables <- new_mutex!(Tables {
                    root,
                    ctx,
                    devs: KVec::new(),
                    ctx_users: KVec::new(),
                }),
                dids <- new_spinlock!(Dids {
                    pool: IdPool::with_capacity(dids, GFP_KERNEL)?,
                    limit: dids,
                }),
                faults <- new_spinlock!(FaultLog {
                    count: 0,
                    overflows: 0,
                    iq_errors: 0,
                    ring: [None; FAULT_LOG_LEN],
                }),
                qi_submitted: AtomicU64::new(0),
            }? Error),
            GFP_KERNEL,
        )?;
        unit.bring_up()?;
        Ok(unit)
    }

    /// The physical address of the register set.
    pub fn base(&self) -> u64 {
        self.regs.phys()
    }

    fn gsts(&self) -> Gsts {
        self.regs.io().read(GSTS).sts()
    }

    /// Issues to GCMD what `cmd` makes of the persistent command bits in
    /// effect (GSTS) and waits until GSTS reports `done`; one command at a
    /// time, as the C driver's `register_lock` has it.
    fn gcmd(&self, cmd: impl FnOnce(Gcmd) -> Option<Gcmd>, done: impl Fn(Gsts) -> bool) -> Result {
        let _g = self.gcmd.lock();
        let cmd = cmd(self.gsts().persistent_command()).ok_or(EINVAL)?;
        self.regs.io().write_reg(GCMD::zeroed().with_cmd(cmd));
        read_poll_timeout_atomic(|| Ok(self.gsts()), |&g| done(g), POLL_DELAY, POLL_RETRIES)
            .inspect_err(|_| pr_err!("GCMD {:#x} timed out\n", cmd.raw()))
            .map(|_| ())
    }

    /// Flushes the unit's internal write buffers (GCMD.WBF, then GSTS.WBFS
    /// clear) if it reports CAP.RWBF, so that it sees the entries written
    /// before: as the C driver's `iommu_flush_write_buffer()`, where no
    /// invalidation does it (with CAP.CM = 0, after a map).
    pub fn flush_write_buffer(&self) -> Result {
        if self.cap.rwbf() == 0 {
            return Ok(());
        }
        self.gcmd(|c| c.with_wbf(1), |g| g.wbfs() == 0)
    }

    fn bring_up(&self) -> Result {
        // Faults are polled: mask the fault event interrupt.
        self.regs.io().write_reg(FECTL::zeroed().with_im(true));
        let stale = self.poll_faults();
        if stale > 0 {
            pr_info!("cleared {} stale fault record(s)\n", stale);
        }

        // The invalidation queue: 256-bit descriptors (IQA.DW), which the
        // PASID-granular descriptors need; tail 0 before enabling.
        {
            let qi = self.qi.lock();
            self.regs.io().try_write_reg(IQT::zeroed())?;
            let iqa = Iqa::new(qi.queue.phys(), QI_QS, true)?;
            self.regs.io().try_write_reg(IQA::zeroed().with_iqa(iqa))?;
        }
        self.gcmd(|c| c.with_qie(1), |g| g.qies() != 0)?;

        // The scalable-mode root table.
        let root = self.tables.lock().root.phys();
        self.regs
            .io()
            .try_write_reg(RTADDR::zeroed().with_rtaddr(Rtaddr::scalable(root)?))?;
        self.gcmd(|c| c.with_srtp(1), |g| g.rtps() != 0)?;

        // Whatever the unit cached before is stale now.
        self.submit(&[
            Descriptor::context_cache(CcGranularity::Global)?,
            Descriptor::pasid_cache(PcGranularity::Global)?,
            Descriptor::iotlb(IotlbGranularity::Global, self.drain())?,
        ])
    }

    /// Turns translation on.
    pub fn enable_translation(&self) -> Result {
        self.gcmd(|c| c.with_te(1), |g| g.tes() != 0)?;
        self.te.store(true, Ordering::Release);
        pr_info!("translation enabled\n");
        Ok(())
    }

    /// Turns translation off (devices then DMA to physical addresses).
    pub fn disable_translation(&self) -> Result {
        self.te.store(false, Ordering::Release);
        self.gcmd(|c| c.with_te(0), |g| g.tes() == 0)
    }

    /// The read/write draining IOTLB invalidations may ask for.
    pub fn drain(&self) -> Drain {
        Drain {
            read: self.cap.drd() != 0,
            write: self.cap.dwd() != 0,
        }
    }

    /// IOVA bits a first-stage domain can use.
    pub fn va_bits(&self) -> u32 {
        self.va_bits
    }

    /// Whether first-stage table walks snoop the CPU caches.
    pub fn pt_coherent(&self) -> bool {
        self.pt_coherent
    }

    // ---- invalidation queue ----------------------------------------------

    /// Queues `descs` and a wait descriptor, and polls until the wait's
    /// status write lands (everything before it completed) or the unit
    /// reports an invalidation queue error.
    pub fn submit(&self, descs: &[Descriptor]) -> Result {
        let mut qi = self.qi.lock();
        if descs.len() + 1 >= qi.entries as usize {
            return Err(EINVAL);
        }
        // A device-TLB invalidation that timed out (ITE) aborts every
        // pending wait descriptor: submit again, as 7.3's qi_submit_sync()
        // does on -EAGAIN (a bounded number of times here).
        for _ in 0..QI_ITE_RETRIES {
            match self.submit_once(&mut qi, descs) {
                Err(e) if e == EAGAIN => continue,
                r => return r,
            }
        }
        pr_err!("invalidation: device-TLB invalidation timed out {QI_ITE_RETRIES} times\n");
        Err(EIO)
    }

    /// One submission of [`Unit::submit`]: `EAGAIN` when an invalidation
    /// time-out error aborted its wait.
    fn submit_once(&self, qi: &mut Qi, descs: &[Descriptor]) -> Result {
        let io = self.regs.io();
        // Room for them and their wait: after a timeout or an error the unit
        // may still hold descriptors of an earlier submission, which must
        // not be overwritten before it fetched them.
        if qi.unsettled {
            let needed = descs.len() as u32 + 1;
            let (tail, entries) = (qi.tail, qi.entries);
            let free = read_poll_timeout_atomic(
                || {
                    Ok(queue_free(
                        queue_index(io.try_read(IQH)?.into_raw(), true),
                        tail,
                        entries,
                    ))
                },
                |free| *free >= needed,
                POLL_DELAY,
                POLL_RETRIES,
            )
            .inspect_err(|e| pr_err!("invalidation queue has no room ({:?})\n", e))?;
            // Settled once the unit caught up (the queue is empty).
            qi.unsettled = free + 1 < entries;
        }
        qi.seq = qi.seq.wrapping_add(1);
        let seq = qi.seq;
        let wait = Descriptor::wait(Some((qi.status.phys(), seq)), false, true, false)?;
        for d in Iterator::chain(descs.iter(), core::iter::once(&wait)) {
            let at = qi.tail as usize * DESC_WORDS;
            qi.queue.write_queue_entry(at, &d.0)?;
            qi.tail = (qi.tail + 1) % qi.entries;
        }
        self.qi_submitted
            .fetch_add(descs.len() as u64 + 1, Ordering::Relaxed);
        io.try_write_reg(IQT::from_raw(queue_reg_value(qi.tail, true)))?;
        // Done when the wait descriptor wrote `seq`, or failed when the
        // unit reports a queue error (IQE) or an invalidation time-out
        // (ITE).  An invalid device-TLB completion (ICE) is cleared and the
        // wait goes on (7.3 `qi_check_fault()`).
        let r = read_poll_timeout_atomic(
            || {
                if qi.status.read_u32(0)? == seq {
                    return Ok(Some(Ok(())));
                }
                let f = io.read(FSTS);
                if f.ice() {
                    io.write_reg(FSTS::zeroed().with_ice(true));
                }
                Ok((f.iqe() || f.ite()).then_some(Err(f)))
            },
            Option::is_some,
            POLL_DELAY,
            POLL_RETRIES,
        )
        .and_then(|done| done.ok_or(ETIMEDOUT));
        if !matches!(r, Ok(Ok(()))) {
            qi.unsettled = true;
        }
        match r {
            Ok(Ok(())) => Ok(()),
            Ok(Err(fsts)) => {
                self.queue_error(qi, fsts, &wait);
                if fsts.ite() && !fsts.iqe() {
                    Err(EAGAIN)
                } else {
                    Err(EIO)
                }
            }
            Err(e) => {
                pr_err!("invalidation wait timed out (status {:#x})\n", seq);
                Err(e)
            }
        }
    }

    /// Recovers from an invalidation queue error: logs it, replaces the
    /// offending descriptor with `wait` (so that the queue drains), clears
    /// the error and restarts the queue.
    fn queue_error(&self, qi: &mut Qi, fsts: FSTS, wait: &Descriptor) {
        self.faults.lock().iq_errors += 1;
        let io = self.regs.io();
        let (iqer, head) = match (io.try_read(IQER), io.try_read(IQH)) {
            (Ok(iqer), Ok(iqh)) => (iqer.iqer(), queue_index(iqh.into_raw(), true)),
            (Err(e), _) | (_, Err(e)) => {
                // Not without IQH: the offending descriptor is unknown.
                pr_err!(
                    "invalidation queue error (FSTS {:#x}) but IQER/IQH unreadable ({:?}): queue left stopped\n",
                    fsts.into_raw(),
                    e
                );
                return;
            }
        };
        pr_err!(
            "invalidation queue error: FSTS {:#x}, IQER {:#x}, head {}\n",
            fsts.into_raw(),
            iqer.0[0],
            head
        );
        if fsts.iqe() {
            if let Err(e) = qi
                .queue
                .write_queue_entry(head as usize * DESC_WORDS, &wait.0)
            {
                pr_err!("cannot replace descriptor {} ({:?})\n", head, e);
            }
        }
        // IQE, ICE and ITE are write-1-to-clear; leave the fault bits be.
        io.write_reg(
            FSTS::zeroed()
                .with_iqe(fsts.iqe())
                .with_ice(fsts.ice())
                .with_ite(fsts.ite()),
        );
        if let Err(e) = io.try_write_reg(IQT::from_raw(queue_reg_value(qi.tail, true))) {
            pr_err!("cannot restart the invalidation queue ({:?})\n", e);
        }
    }

    /// The invalidation of the `stage` translations of `did` covering
    /// `[iova, iova + len)`: page-selective when possible, else the whole
    /// domain.  First-stage (and nested) translations are tagged with the
    /// PASID (PASID-based IOTLB invalidation of RID_PASID), second-stage
    /// ones only with the domain id (IOTLB invalidation).
    pub fn range_flush(&self, stage: Stage, did: u16, iova: u64, len: u64) -> Result<Descriptor> {
        let npages = len.div_ceil(crate::riommu::pure::vtd::PAGE_SIZE);
        let range = if self.cap.psi() == 0 {
            None
        } else {
            page_selective_am_within(iova, npages, self.cap.mamv() as u32).map(|(addr, am)| {
                PageRange {
                    addr,
                    am,
                    ih: false,
                }
            })
        };
        Ok(match (stage, range) {
            (Stage::First, Some(r)) => {
                Descriptor::piotlb(did, RID_PASID_DEFAULT, PiotlbGranularity::Page(r))?
            }
            (Stage::First, None) => {
                Descriptor::piotlb(did, RID_PASID_DEFAULT, PiotlbGranularity::Pasid)?
            }
            (Stage::Second, Some(range)) => {
                Descriptor::iotlb(IotlbGranularity::Page { did, range }, self.drain())?
            }
            (Stage::Second, None) => self.domain_flush(Stage::Second, did)?,
        })
    }

    /// The invalidation of every `stage` translation of `did`.
    pub fn domain_flush(&self, stage: Stage, did: u16) -> Result<Descriptor> {
        Ok(match stage {
            Stage::First => Descriptor::piotlb(did, RID_PASID_DEFAULT, PiotlbGranularity::Pasid)?,
            Stage::Second => Descriptor::iotlb(IotlbGranularity::Domain { did }, self.drain())?,
        })
    }

    /// Invalidates the `stage` translations of `did` covering
    /// `[iova, iova + len)` ([`Unit::range_flush`]).
    pub fn flush_range(&self, stage: Stage, did: u16, iova: u64, len: u64) -> Result {
        self.submit(&[self.range_flush(stage, did, iova, len)?])
    }

    // ---- domain ids --------------------------------------------------------

    /// A free domain id for a paging domain.
    pub fn alloc_did(&self) -> Result<u16> {
        let mut d = self.dids.lock();
        let limit = d.limit;
        let id = d
            .pool
            .find_unused_id(usize::from(FIRST_PAGING_DID))
            .filter(|u| u.as_usize() < limit)
            .ok_or(ENOSPC)?
            .acquire();
        // Below `limit`, at most MAX_DIDS (1024).
        u16::try_from(id).map_err(|_| ENOSPC)
    }

    /// Frees a domain id of [`Unit::alloc_did`].
    pub fn free_did(&self, did: u16) {
        let mut d = self.dids.lock();
        if usize::from(did) < d.limit {
            d.pool.release_id(usize::from(did));
        }
    }

    // ---- devices ------------------------------------------------------------

    /// Whether this unit translates the device with `ids`: the unit
    /// `riommu_core::vtd::scope::owning_unit` picks among all DRHDs (the
    /// last explicit scope in table order listing the device itself or its
    /// ancestor on the root bus, else the segment's INCLUDE_PCI_ALL unit).
    /// Takes no lock: runs under RCU in `find_instance`.
    pub fn covers(&self, ids: &PciIds) -> bool {
        owning_unit(self.drhds.scopes(), &pci_dev(ids)) == Some(self.index)
    }

    /// The RMRR regions that name the device with `ids` (its own id, or a
    /// bridge scope above it: `riommu_core::vtd::scope::rmrr_scope_covers`),
    /// in table order.
    pub fn rmrrs_of(&self, ids: &PciIds) -> impl Iterator<Item = RmrrRegion> + '_ {
        let dev = pci_dev(ids);
        self.rmrrs
            .iter()
            .filter(move |r| rmrr_scope_covers(r.segment, &r.scope, &dev))
            .map(|r| r.region)
    }

    /// Sets a device up: its PASID directory and table (RID_PASID not
    /// present, i.e. blocked, until the core attaches its default domain)
    /// and a present context entry pointing to them.
    pub fn probe_device(&self, dev: &pci::Device) -> Result<VtdDev> {
        let ids = pci_ids(dev)?;
        if !self.covers(&ids) {
            return Err(ENODEV);
        }
        let dir = DmaPages::alloc(0, self.coherent)?;
        let table = Arc::new(DmaPages::alloc(0, self.coherent)?, GFP_KERNEL)?;
        let pdir = PasidDirEntry::new(table.phys())?;
        dir.write_u64(dir_index(RID_PASID_DEFAULT) * PDIR_WORDS, pdir.0[0])?;
        // What the unit's PASIDs need, but never past the directory page
        // (ECAP.PSS alone would let it read up to 128 KiB).
        let pdts = pdts_for_dir_bytes(dir.len()).min(pdts_for_pasid_bits(self.ecap.pasid_bits()));
        let ctx = SmContextEntry::new(dir.phys(), pdts, SmContextOptions::default())?;
        // Its own requester id first, then each alias its DMA may carry.
        let aliases = dma_aliases(dev)?;
        let vdev = VtdDev {
            ids,
            _dir: dir,
            table,
            state: AtomicU32::new(0),
        };
        let sid = vdev.sid();
        let mut t = self.tables.lock();
        t.devs.reserve(1, GFP_KERNEL)?;
        t.ctx_users.reserve(aliases.as_slice().len(), GFP_KERNEL)?;
        for &rid in aliases.as_slice() {
            // The first device behind a requester id sets its entry, as
            // 7.3's `device_pasid_table_setup()` leaves a present one.
            let used = t.ctx_users.iter().any(|(r, ..)| *r == rid);
            // Recorded before the write (the reservation above makes the
            // push infallible), so that a write that fails after it set P
            // is undone by `drop_ctx_users`: the directory goes with
            // `vdev` on the error.
            t.ctx_users.push((rid, sid, ctx.0), GFP_KERNEL)?;
            if !used {
                if let Err(e) = self.write_context(&mut t, rid, &ctx.0) {
                    self.drop_ctx_users(&mut t, sid);
                    return Err(e);
                }
            }
        }
        t.devs.push((sid, vdev.table.clone()), GFP_KERNEL)?;
        Ok(vdev)
    }

    /// Takes device `sid` off the context entries it uses: each entry that
    /// points to its PASID directory goes to another device that uses it,
    /// or is cleared.  Errors are logged: the device goes anyway.
    fn drop_ctx_users(&self, t: &mut Tables, sid: u16) {
        while let Some(i) = t.ctx_users.iter().position(|(_, user, _)| *user == sid) {
            let Ok((rid, _, ctx)) = t.ctx_users.remove(i) else {
                break;
            };
            let next = t
                .ctx_users
                .iter()
                .find(|(r, ..)| *r == rid)
                .map_or([0; CTX_WORDS], |(.., c)| *c);
            let r = self.read_context(t, rid).and_then(|cur| {
                if cur == ctx {
                    self.write_context(t, rid, &next)
                } else {
                    Ok(())
                }
            });
            if let Err(e) = r {
                let [bus, devfn] = rid.to_be_bytes();
                pr_err!(
                    "context entry of {:02x}:{:02x}.{}: {:?}\n",
                    bus,
                    devfn >> 3,
                    devfn & 7,
                    e
                );
            }
        }
    }

    /// The context entry of requester id `rid` (all zero where no context
    /// table is allocated).
    fn read_context(&self, t: &Tables, rid: u16) -> Result<[u64; CTX_WORDS]> {
        let [bus, devfn] = rid.to_be_bytes();
        let (half, index) = sm_context_slot(devfn);
        let h = match half {
            ContextHalf::Lower => 0,
            ContextHalf::Upper => 1,
        };
        let mut cur = [0u64; CTX_WORDS];
        if let Some(table) = t.ctx[root_index(bus) * 2 + h].as_ref() {
            for (i, w) in cur.iter_mut().enumerate() {
                *w = table.read_u64(index * CTX_WORDS + i)?;
            }
        }
        Ok(cur)
    }

    /// Writes the context entry of requester id `rid` and flushes the
    /// context cache (`riommu_core::vtd::update` orders the two),
    /// allocating its context table and pointing the root entry to it
    /// first if needed.
    fn write_context(&self, t: &mut Tables, rid: u16, words: &[u64; CTX_WORDS]) -> Result {
        let [bus, devfn] = rid.to_be_bytes();
        let (half, index) = sm_context_slot(devfn);
        let h = match half {
            ContextHalf::Lower => 0,
            ContextHalf::Upper => 1,
        };
        let slot = root_index(bus) * 2 + h;
        if t.ctx[slot].is_none() {
            let table = DmaPages::alloc(0, self.coherent)?;
            let at = root_index(bus) * ROOT_WORDS;
            let old = RootEntry([t.root.read_u64(at)?, t.root.read_u64(at + 1)?]);
            let new = old.with_context_table(half, table.phys())?;
            // The two halves are independent: write only the changed word.
            t.root.write_u64(at + h, new.0[h])?;
            t.ctx[slot] = Some(table);
        }
        let table = t.ctx[slot].as_ref().ok_or(EINVAL)?;
        let at = index * CTX_WORDS;
        let mut cur = [0u64; CTX_WORDS];
        for (i, w) in cur.iter_mut().enumerate() {
            *w = table.read_u64(at + i)?;
        }
        // The context cache of the device is what holds the entry, present
        // or (caching mode) not: 7.3 `device_pasid_table_teardown()` and
        // `context_entry_set_pasid_table()` flush it device-selectively.
        // The RID_PASID entry below it is already torn down and flushed
        // when the context entry goes ([`Unit::release_device`]).
        let mut cc = Plan::new();
        cc.push(Descriptor::context_cache(CcGranularity::Device {
            did: 0,
            sid: rid,
            fm: 0,
        })?)?;
        let update = plan(&cur, words, cc, Some(cc))?;
        self.apply(table, at, &update, &[], &[])
    }

    /// Undoes [`Unit::probe_device`]: blocks RID_PASID, clears the context
    /// entries that point to the device's PASID directory (its own and
    /// its aliases', unless another device behind the alias takes it over)
    /// and flushes the context cache.  The tables are freed with `dev`.
    pub fn release_device(&self, dev: &VtdDev) {
        if let Err(e) = self.attach(dev, Target::Blocked) {
            pr_err!("releasing {:?}: blocking failed: {:?}\n", dev.ids, e);
        }
        let mut t = self.tables.lock();
        self.drop_ctx_users(&mut t, dev.sid());
        t.devs.retain(|(sid, _)| *sid != dev.sid());
    }

    /// Points the RID_PASID entry of `dev` to `target`, then issues the
    /// invalidations in spec order (PASID cache, IOTLB, device-TLB, and the
    /// context cache when pass-through changes; see
    /// `riommu_core::vtd::inval`) and waits for them.
    ///
    /// The words are written in the order of `riommu_core::vtd::update`:
    /// a present entry is torn down first (P cleared, the old entry's
    /// invalidations completed) and never rewritten in place, as Linux 7.3
    /// tears down before it sets up (`domain_setup_first_level()`): DMA in
    /// flight during the switch faults.  A blocked entry is all zero (not present, faults reported):
    /// QEMU then finds the context entry invalid and blocks the device's
    /// DMA with a fault, which is what blocking asks for.
    pub fn attach(&self, dev: &VtdDev, target: Target<'_>) -> Result {
        let common = |did, pgsnp| Common {
            did,
            pwsnp: self.pt_coherent,
            pgsnp,
            fault_disable: false,
        };
        let t = self.tables.lock();
        let (entry, state) = match target {
            Target::Blocked => (PasidEntry::ZERO, None),
            Target::Identity => (
                PasidEntry::pass_through(self.aw, common(IDENTITY_DID, false))?,
                Some(PasidState {
                    did: IDENTITY_DID,
                    pgtt: PGTT_PASS_THROUGH,
                }),
            ),
            Target::FirstStage { root, did, snoop } => {
                let fs = FirstStage {
                    table: root,
                    ..Default::default()
                };
                let pgsnp = snoop.load(Ordering::Relaxed);
                (
                    PasidEntry::first_stage(&fs, self.aw, common(did, pgsnp))?,
                    Some(PasidState {
                        did,
                        pgtt: PGTT_FIRST_STAGE,
                    }),
                )
            }
            Target::SecondStage { root, did } => (
                PasidEntry::second_stage(&self.second_stage(root)?, common(did, false))?,
                Some(PasidState {
                    did,
                    pgtt: PGTT_SECOND_STAGE,
                }),
            ),
            Target::Nested {
                fs,
                ss_root,
                did,
                snoop,
            } => (
                PasidEntry::nested(
                    &fs,
                    &self.second_stage(ss_root)?,
                    common(did, snoop.load(Ordering::Relaxed)),
                )?,
                Some(PasidState {
                    did,
                    pgtt: PGTT_NESTED,
                }),
            ),
        };
        let at = table_index(RID_PASID_DEFAULT) * PASID_WORDS;
        let mut cur = [0u64; PASID_WORDS];
        for (i, w) in cur.iter_mut().enumerate() {
            *w = dev.table.read_u64(at + i)?;
        }
        let owner = PasidOwner {
            sid: dev.sid(),
            pasid: RID_PASID_DEFAULT,
            dev_tlb: None,
        };
        let drain = self.drain();
        let mut old = dev.state();
        if old.is_some() && !PasidEntry(cur).is_present() {
            // An earlier update failed after it cleared P: the unit may
            // still cache that entry.  Finish its teardown first.
            self.submit(pasid_entry_changed(owner, old, None, drain)?.as_slice())?;
            dev.set_state(None);
            old = None;
        }
        // QEMU keys its pass-through fast path by the requester id the DMA
        // carries, which for a device behind a PCIe-to-PCI bridge is the
        // alias: the context-cache invalidation that `riommu_core::vtd::inval`
        // issues when an entry leaves or enters pass-through (see there)
        // must name the aliases too, with the same invalidations.
        let pt = |s: Option<PasidState>| s.is_some_and(|s| s.pgtt == PGTT_PASS_THROUGH);
        let mut alias_cc = KVec::new();
        if pt(old) != pt(state) {
            let did = old.or(state).map_or(0, |s| s.did);
            for &(rid, user, _) in t.ctx_users.iter() {
                if user == dev.sid() && rid != dev.sid() {
                    alias_cc.push(
                        Descriptor::context_cache(CcGranularity::Device {
                            did,
                            sid: rid,
                            fm: 0,
                        })?,
                        GFP_KERNEL,
                    )?;
                }
            }
        }
        // Only under caching mode may the unit cache the entry while it is
        // not present: then it is invalidated before and after P is set;
        // without, 7.3 `pasid_flush_caches()` only flushes the write
        // buffer (a no-op without CAP.RWBF).  Entering pass-through then
        // needs no context-cache invalidation either: QEMU takes its fast
        // path at the first pass-through translation, by the requester id
        // the DMA carries.  Leaving it does (the teardown's).
        let caching_mode = self.cap.cm() != 0;
        let (td_extra, su_extra): (&[Descriptor], &[Descriptor]) = if pt(old) {
            (&alias_cc, &[])
        } else if caching_mode {
            (&[], &alias_cc)
        } else {
            (&[], &[])
        };
        let setup = if caching_mode {
            Some(pasid_entry_changed(owner, None, state, drain)?)
        } else {
            None
        };
        let update = plan(
            &cur,
            &entry.0,
            pasid_entry_changed(owner, old, None, drain)?,
            setup,
        )?;
        let mut r = self.apply(&dev.table, at, &update, td_extra, su_extra);
        if r.is_ok() && !caching_mode && state.is_some() {
            r = self.flush_write_buffer();
        }
        // What the unit may cache: the new entry once it is present in
        // memory; the old one until its teardown completed (the check
        // above finishes that when P was cleared).
        let present = dev
            .table
            .read_u64(at)
            .map(|w0| PasidEntry([w0, 0, 0, 0, 0, 0, 0, 0]).is_present());
        if r.is_ok() || present.unwrap_or(false) {
            dev.set_state(state);
        }
        r
    }

    /// Makes domain `did`'s DMA snoop the CPU caches from now on: sets
    /// `snoop` under the tables' lock, so that a concurrent
    /// [`Unit::attach`] either sees it or is seen here, and sets PGSNP in
    /// every present first-stage RID_PASID entry of `did`, in place as 7.3's
    /// `intel_pasid_setup_page_snoop_control()` does
    /// ([`plan_in_place`]: one word, then the entry's invalidations).
    pub fn enforce_snoop(&self, did: u16, snoop: &AtomicBool) -> Result {
        if self.ecap.sc() == 0 {
            return Err(EOPNOTSUPP);
        }
        let t = self.tables.lock();
        snoop.store(true, Ordering::Relaxed);
        let at = table_index(RID_PASID_DEFAULT) * PASID_WORDS;
        for (sid, table) in t.devs.iter() {
            let mut cur = PasidEntry::ZERO;
            for (i, w) in cur.0.iter_mut().enumerate() {
                *w = table.read_u64(at + i)?;
            }
            if !cur.is_present()
                || cur.pgtt() != PGTT_FIRST_STAGE
                || cur.did() != u64::from(did)
                || cur.pgsnp() != 0
            {
                continue;
            }
            let new = cur.with_pgsnp(1).ok_or(EINVAL)?;
            let owner = PasidOwner {
                sid: *sid,
                pasid: RID_PASID_DEFAULT,
                dev_tlb: None,
            };
            let old = PasidState {
                did,
                pgtt: PGTT_FIRST_STAGE,
            };
            let teardown = pasid_entry_changed(owner, Some(old), None, self.drain())?;
            self.apply(
                table,
                at,
                &plan_in_place(&cur.0, &new.0, teardown)?,
                &[],
                &[],
            )?;
        }
        Ok(())
    }

    /// Applies `update` to the entry at 64-bit word `first` of `mem`: each
    /// write after a DMA write barrier, each sync as a queued invalidation
    /// with its wait.
    ///
    /// `td_extra` and `su_extra` are more invalidations for the teardown
    /// and the setup syncs (QEMU's: the aliases' context cache), each a
    /// submission and wait of its own after the plan's.
    fn apply(
        &self,
        mem: &DmaPages,
        first: usize,
        update: &EntryUpdate,
        td_extra: &[Descriptor],
        su_extra: &[Descriptor],
    ) -> Result {
        for step in update.steps() {
            match *step {
                Step::Write { word, value } => {
                    dma_mb(Write);
                    mem.write_u64(first + usize::from(word), value)?;
                }
                Step::Sync(which) => {
                    self.submit(update.plan(which).as_slice())?;
                    let extra = match which {
                        EntrySync::Teardown => td_extra,
                        EntrySync::Setup => su_extra,
                    };
                    if !extra.is_empty() {
                        self.submit(extra)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The second-stage half of a PASID entry for the table at `root`.
    fn second_stage(&self, root: u64) -> Result<SecondStage> {
        let ss = self.ss.ok_or(EOPNOTSUPP)?;
        Ok(SecondStage {
            table: root,
            aw: ss.aw,
            ssade: false,
            ssee: false,
        })
    }

    /// Writes the RID_PASID entry of every probed device as it is in
    /// memory: a line `SID: W0 W1 ... W7` (bus:device.function, then the
    /// eight 64-bit words in hex), in probe order.
    pub fn write_pasid_entries(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.tables.lock();
        let at = table_index(RID_PASID_DEFAULT) * PASID_WORDS;
        for (sid, table) in t.devs.iter() {
            let [bus, devfn] = sid.to_be_bytes();
            write!(f, "{:02x}:{:02x}.{}:", bus, devfn >> 3, devfn & 7)?;
            for i in 0..PASID_WORDS {
                write!(f, " {:016x}", table.read_u64(at + i).unwrap_or(0))?;
            }
            writeln!(f)?;
        }
        Ok(())
    }

    // ---- faults ---------------------------------------------------------------

    /// Reads and clears the fault recording registers; logs each fault and
    /// returns how many there were.
    pub fn poll_faults(&self) -> u32 {
        let mut log = self.faults.lock();
        let io = self.regs.io();
        let fsts = io.read(FSTS);
        let mut n = 0;
        if fsts.ppf() {
            let nfr = self.cap.num_fault_regs();
            let base = fault_regs_base(self.cap);
            let mut index = u32::from(fsts.fri()) % nfr;
            for _ in 0..nfr {
                // The record's two 64-bit halves, then its F bit to clear
                // (`index` is below NFR + 1 <= the arrays' size, and the
                // window holds every record: `Mmio::map_drhd`).
                let i = index as usize;
                let (Some(lo), Some(hi), Some(f)) = (
                    DynReg::<FRCD_LO>::at(base, i),
                    DynReg::<FRCD_HI>::at(base, i),
                    DynReg::<FRCD_F>::at(base, i),
                ) else {
                    pr_err!("fault recording register {} out of range\n", index);
                    break;
                };
                let (lo, hi) = match (io.try_read(lo), io.try_read(hi)) {
                    (Ok(lo), Ok(hi)) => (lo, hi),
                    (Err(e), _) | (_, Err(e)) => {
                        pr_err!("fault recording register {}: {:?}\n", index, e);
                        break;
                    }
                };
                let Some(fault) = Fault::decode(lo.into_raw(), hi.into_raw()) else {
                    break;
                };
                if let Err(e) = io.try_write(f, FRCD_F::zeroed().with_f(true)) {
                    pr_err!("cannot clear fault recording register {}: {:?}\n", index, e);
                }
                log.count += 1;
                let seq = log.count;
                log.ring[(seq as usize) % FAULT_LOG_LEN] = Some(LoggedFault { seq, fault });
                pr_err!("DMA fault: {}\n", FaultLine(&fault));
                n += 1;
                index = next_fault_index(index, nfr);
            }
        }
        if fsts.pfo() {
            log.overflows += 1;
            io.write_reg(FSTS::zeroed().with_pfo(true));
            pr_err!("fault recording overflowed: faults were lost\n");
        }
        n
    }

    /// The number of faults logged so far (after polling).
    pub fn fault_count(&self) -> u64 {
        self.poll_faults();
        self.faults.lock().count
    }

    /// Writes the fault log (after polling): counts, then the last faults,
    /// oldest first.
    pub fn write_faults(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.poll_faults();
        let log = self.faults.lock();
        writeln!(f, "count: {}", log.count)?;
        writeln!(f, "overflows: {}", log.overflows)?;
        writeln!(f, "queue_errors: {}", log.iq_errors)?;
        let first = log.count.saturating_sub(FAULT_LOG_LEN as u64 - 1).max(1);
        for seq in first..=log.count {
            if let Some(l) = log.ring[(seq as usize) % FAULT_LOG_LEN] {
                if l.seq == seq {
                    writeln!(f, "{}: {}", l.seq, FaultLine(&l.fault))?;
                }
            }
        }
        Ok(())
    }

    /// Writes the unit's state: registers, capabilities, queue counters.
    pub fn write_info(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gsts = self.gsts().raw();
        let fsts = self.regs.io().read(FSTS).into_raw();
        writeln!(f, "base: {:#x}", self.base())?;
        writeln!(f, "version: {:#x}", self.ver)?;
        writeln!(f, "cap: {:#018x}", self.cap.0[0])?;
        writeln!(f, "ecap: {:#018x}", self.ecap.0[0])?;
        writeln!(f, "gsts: {:#010x}", gsts)?;
        writeln!(f, "fsts: {:#010x}", fsts)?;
        writeln!(f, "translation: {}", self.te.load(Ordering::Acquire))?;
        let drhd = self.drhd();
        writeln!(f, "segment: {}", drhd.map_or(0, |d| d.segment))?;
        writeln!(
            f,
            "include_pci_all: {}",
            drhd.is_some_and(|d| d.include_all)
        )?;
        writeln!(f, "scope_devices: {}", drhd.map_or(0, |d| d.scope.len()))?;
        writeln!(f, "rmrrs: {}", self.rmrrs.len())?;
        writeln!(f, "first_stage: {}", self.stages.first)?;
        writeln!(f, "second_stage: {}", self.stages.second)?;
        writeln!(
            f,
            "nesting: {}",
            match (self.stages.nesting, self.stages.forced) {
                (false, _) => "no",
                (true, false) => "yes",
                (true, true) => "forced",
            }
        )?;
        writeln!(f, "first_stage_va_bits: {}", self.va_bits)?;
        if let Some(ss) = self.ss {
            writeln!(f, "second_stage_va_bits: {}", ss.va_bits)?;
        }
        writeln!(
            f,
            "qi_descriptors: {}",
            self.qi_submitted.load(Ordering::Relaxed)
        )?;
        Ok(())
    }
}

/// The register window; dropping it turns translation and queued
/// invalidation off first (the module turns translation off earlier, before
/// it unregisters).
struct Regs(Mmio<REGS_MIN>);

impl core::ops::Deref for Regs {
    type Target = Mmio<REGS_MIN>;

    fn deref(&self) -> &Mmio<REGS_MIN> {
        &self.0
    }
}

impl Drop for Regs {
    fn drop(&mut self) {
        let io = self.0.io();
        let Some(cmd) = io
            .read(GSTS)
            .sts()
            .persistent_command()
            .with_te(0)
            .and_then(|c| c.with_qie(0))
        else {
            return;
        };
        io.write_reg(GCMD::zeroed().with_cmd(cmd));
        let done = read_poll_timeout_atomic(
            || Ok(io.read(GSTS).sts()),
            |g| g.tes() == 0 && g.qies() == 0,
            POLL_DELAY,
            POLL_RETRIES,
        );
        if done.is_err() {
            pr_err!("the unit did not turn translation and queued invalidation off\n");
        }
    }
}

/// A fault as one log line.
struct FaultLine<'a>(&'a Fault);

impl fmt::Display for FaultLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0;
        let access = match x.access {
            AccessType::Read => "read",
            AccessType::Write => "write",
            AccessType::PageRequest => "page-request",
            AccessType::AtomicOp => "atomic",
        };
        write!(
            f,
            "{} sid {:02x}:{:02x}.{} addr {:#x} reason {:#04x} ({})",
            access,
            x.bus(),
            x.device(),
            x.function(),
            x.address,
            x.reason,
            reason_str(x.reason)
        )?;
        if let Some(p) = x.pasid {
            write!(f, " pasid {:#x}", p)?;
        }
        Ok(())
    }
}

impl kernel::fmt::Display for FaultLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
