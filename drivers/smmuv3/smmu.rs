// SPDX-License-Identifier: GPL-2.0

//! One SMMUv3 instance: its registers, command and event queues and stream
//! table, and the ASID/VMID spaces.
//!
//! - Queues and tables are zeroed pages ([`DmaPages`]) named by their
//!   physical address.  The driver only binds to an SMMU with coherent
//!   table and queue accesses (`IDR0.COHACC`, which QEMU's has): nothing is
//!   flushed from the CPU caches, and `CR1` declares the memory inner
//!   shareable write-back.
//! - Commands are issued in batches that end with a `CMD_SYNC` whose
//!   completion is polled on `CMDQ_CONS` (`CS = NONE`: QEMU's CMD_SYNC never
//!   writes an MSI), under a spinlock; the queue is empty between batches.
//!   A command the SMMU refuses (`GERROR.CMDQ_ERR`) is overwritten with a
//!   `CMD_SYNC` so that the queue moves on, and its batch fails with `EIO`.
//! - The stream table is two-level when the SMMU supports it (QEMU's 16
//!   StreamID bits would need a 4 MiB linear table): level 2 tables of 256
//!   STEs (one PCI bus) are allocated when a device with a StreamID in their
//!   range is probed, their STEs starting as abort.
//! - STEs and CDs are changed with the hitless update plan of
//!   `riommu_core/src/smmuv3/hitless.rs`: each `Write` step is done as
//!   64-bit single-copy-atomic stores, each `Sync` step as `CMD_CFGI_STE`
//!   (or `CMD_CFGI_CD`) then `CMD_SYNC`.
//! - Events are drained from the event queue by the threaded handler of
//!   the SMMU's `eventq` interrupt (see `bind.rs`; a periodic work item if
//!   the firmware names no such interrupt) and whenever someone reads the
//!   `events` debugfs file; global errors by the `gerror` interrupt's
//!   handler and on every drain.  Each event is decoded,
//!   counted, and logged (the first [`EVENTS_LOGGED`]; of a burst of
//!   events of one type on one page drained together, as a DMA of a
//!   buffer gives, only the first).  The stage 1 events that Linux would
//!   report to the owner of a stream's stage 1 ([`reportable`]) are handed
//!   to the caller of the drain, outside the queue's lock: `instance.rs`
//!   forwards those of a device attached to a nested domain to its
//!   vIOMMU.  One drain runs at a time, with its reports (as the C driver
//!   has one `evtq` thread): events are reported in the queue's order, and
//!   a debugfs read returns only when every event it counted has been
//!   through reporting.
//!   This module knows nothing of iommufd.

#![forbid(unsafe_code)]

use crate::{
    regs::{self as reg, REGS_MIN},
    riommu::{
        hw::{DmaPages, Mmio},
        platform::mmio_of,
        pure::smmuv3::{
            cd::{Cd, CD_QWORDS},
            cmdq::{Command, CMD_QWORDS},
            event::{Event, EventId, EVT_QWORDS},
            hitless::{plan_cd, plan_ste, Step},
            regs::*,
            ste::{Ste, STE_QWORDS},
        },
    },
};
use kernel::{
    bitmap::BitmapVec,
    device::{Core, Device},
    io::{poll::read_poll_timeout_atomic, Io, Region},
    new_mutex, new_spinlock,
    page::PAGE_SIZE,
    platform,
    prelude::*,
    sync::{
        barrier::{dma_mb, Write},
        Mutex, SpinLock,
    },
    time::Delta,
};

/// How many times, 1 µs apart, the driver polls for the SMMU to acknowledge
/// a `CR0` write or consume a command batch (at least 1 s; QEMU does both
/// synchronously).  Polled, not waited for with an interrupt: QEMU raises no
/// `CMD_SYNC` MSI, and both waits happen under a spinlock.
const POLL_RETRIES: usize = 1_000_000;
/// The delay between two polls.
const POLL_DELAY: Delta = Delta::from_micros(1);
/// log2 of the command queue entries we use (4 KiB of 16-byte commands).
const CMDQ_LOG2: u32 = 8;
/// log2 of the event queue entries we use (4 KiB of 32-byte records).
const EVTQ_LOG2: u32 = 7;
/// The most StreamID bits the stream table covers.
const MAX_SID_BITS: u32 = 16;
/// The most StreamID bits a linear stream table may cover (64 KiB).
const MAX_LINEAR_SID_BITS: u32 = 10;
/// Events logged to the kernel log (repeats aside); later ones are only
/// counted.
pub const EVENTS_LOGGED: u64 = 32;
/// log2 of the page size the event log groups addresses by (the 4 KiB
/// granule the driver uses, which on arm64 need not be the CPU's).
const PAGE_SHIFT: u32 = kernel::sizes::SZ_4K.trailing_zeros();
/// Commands per batch (the queue holds [`CMDQ_LOG2`] entries; one is the
/// batch's `CMD_SYNC`).
pub const CMDQ_BATCH: usize = 64;
/// The smallest ASID and VMID handed out: 0 is left for streams that do not
/// translate (bypass, abort, and stage 1 STEs' `S2VMID`).
const FIRST_ID: usize = 1;
/// `IDR5.OAS`-style encodings above which we clamp the output size.
const MAX_OAS_BITS: u32 = 48;
/// The largest IPA space we give a stage 2 domain: QEMU's `S2T0SZ` must
/// be at least `64 - 44`, whatever the OAS.
pub const MAX_IAS_BITS: u32 = 44;
/// The VA size of stage 1 domains (a four-level walk).
pub const S1_VA_BITS: u32 = 48;

/// Bytes of a 64-bit word of a queue entry or table entry.
const WORD_BYTES: u64 = 8;
/// `SMMU_IDR0` to `SMMU_IDR5`.
pub const NR_IDRS: usize = 6;
/// The SubstreamID of the one CD of a CD table (no substreams).
const SSID0: u32 = 0;

/// The index of the first word of the queue entry at `p`.
fn entry_word(geom: QueueGeometry, p: u32, entry_size: u64) -> usize {
    (geom.entry_offset(p, entry_size) / WORD_BYTES) as usize
}

/// Order (log2 pages) of an allocation of `bytes`.
fn order_of(bytes: u64) -> u32 {
    let pages = bytes.div_ceil(PAGE_SIZE as u64).max(1);
    pages.next_power_of_two().trailing_zeros()
}

/// What the ID registers say.
#[derive(Clone, Copy, Debug)]
pub struct Features {
    /// `SMMU_IDR0`.
    pub idr0: Idr0,
    /// `SMMU_IDR1`.
    pub idr1: Idr1,
    /// `SMMU_IDR3`.
    pub idr3: Idr3,
    /// `SMMU_IDR5`.
    pub idr5: Idr5,
    /// `SMMU_IDR0` to `SMMU_IDR5` as read (for `IOMMU_GET_HW_INFO`).
    pub idr_raw: [u32; NR_IDRS],
    /// `SMMU_IIDR`.
    pub iidr: u32,
    /// `SMMU_AIDR`.
    pub aidr: u32,
    /// Output address size in bits.
    pub oas_bits: u32,
    /// IPA size of stage 2 domains, in bits.
    pub ias_bits: u32,
    /// StreamID bits covered by the stream table.
    pub sid_bits: u32,
}

impl Features {
    fn read(mmio: &Mmio<REGS_MIN>) -> Result<Self> {
        let io = mmio.io();
        let idr0 = io.read(reg::IDR0).idr0();
        let idr1 = io.read(reg::IDR1).idr1();
        let idr3 = io.read(reg::IDR3).idr3();
        let idr5 = io.read(reg::IDR5).idr5();
        let oas_bits = oas_bits(idr5.oas()).ok_or(ENODEV)?.min(MAX_OAS_BITS);
        let idr_raw: [u32; NR_IDRS] = [
            io.read(reg::IDR0).into_raw(),
            io.read(reg::IDR1).into_raw(),
            io.read(reg::IDR2).into_raw(),
            io.read(reg::IDR3).into_raw(),
            io.read(reg::IDR4).into_raw(),
            io.read(reg::IDR5).into_raw(),
        ];
        Ok(Self {
            idr_raw,
            idr0,
            idr1,
            idr3,
            idr5,
            iidr: io.read(reg::IIDR).into_raw(),
            aidr: io.read(reg::AIDR).into_raw(),
            oas_bits,
            ias_bits: oas_bits.min(MAX_IAS_BITS),
            sid_bits: (idr1.sidsize() as u32).min(MAX_SID_BITS),
        })
    }

    /// Stage 1 translation.
    pub fn s1(&self) -> bool {
        self.idr0.s1p() != 0
    }

    /// Stage 2 translation.
    pub fn s2(&self) -> bool {
        self.idr0.s2p() != 0
    }
}

/// The stream table.
struct StreamTable {
    /// Level 1 descriptors (two-level) or the STEs (linear).
    l1: DmaPages,
    /// Level 2 tables by level 1 index (two-level only).
    l2: KVec<Option<DmaPages>>,
    two_level: bool,
    sid_bits: u32,
}

impl StreamTable {
    fn new(sid_bits: u32, two_level: bool) -> Result<Self> {
        let mut l2 = KVec::new();
        let l1 = if two_level {
            let n = 1usize << sid_bits.saturating_sub(STRTAB_SPLIT);
            for _ in 0..n {
                l2.push(None, GFP_KERNEL)?;
            }
            DmaPages::alloc(order_of(n as u64 * STRTAB_L1_DESC_SIZE), true)?
        } else {
            let t = DmaPages::alloc(order_of((1u64 << sid_bits) * STE_SIZE), true)?;
            // Every STE starts as abort.
            for sid in 0..1u32 << sid_bits {
                write_words(&t, sid as usize * STE_QWORDS, &Ste::abort().0)?;
            }
            t
        };
        Ok(Self {
            l1,
            l2,
            two_level,
            sid_bits,
        })
    }

    /// `STRTAB_BASE_CFG`.
    fn base_cfg(&self) -> Result<StrtabBaseCfg> {
        let fmt = if self.two_level {
            STRTAB_FMT_2LVL
        } else {
            STRTAB_FMT_LINEAR
        };
        let split = if self.two_level { STRTAB_SPLIT } else { 0 };
        StrtabBaseCfg::ZERO
            .with_log2size(u64::from(self.sid_bits))
            .and_then(|c| c.with_split(u64::from(split)))
            .and_then(|c| c.with_fmt(fmt))
            .ok_or(EINVAL)
    }

    /// Makes sure `sid` has an STE (allocates its level 2 table).
    fn prepare(&mut self, sid: u32) -> Result {
        if sid >> self.sid_bits != 0 {
            return Err(ERANGE);
        }
        if !self.two_level {
            return Ok(());
        }
        let i = strtab_l1_index(sid, STRTAB_SPLIT) as usize;
        if self.l2[i].is_some() {
            return Ok(());
        }
        let t = DmaPages::alloc(order_of((1u64 << STRTAB_SPLIT) * STE_SIZE), true)?;
        for n in 0..1usize << STRTAB_SPLIT {
            write_words(&t, n * STE_QWORDS, &Ste::abort().0)?;
        }
        let desc = StrtabL1Desc::new(t.phys(), STRTAB_SPLIT).ok_or(EINVAL)?;
        // The level 2 STEs before the descriptor that makes them reachable.
        dma_mb(Write);
        self.l1.write_u64(i, desc.raw())?;
        self.l2[i] = Some(t);
        Ok(())
    }

    /// The memory holding `sid`'s STE and the index of its first word.
    fn ste(&self, sid: u32) -> Result<(&DmaPages, usize)> {
        if sid >> self.sid_bits != 0 {
            return Err(ERANGE);
        }
        if !self.two_level {
            return Ok((&self.l1, sid as usize * STE_QWORDS));
        }
        let i = strtab_l1_index(sid, STRTAB_SPLIT) as usize;
        let t = self.l2[i].as_ref().ok_or(ENODEV)?;
        Ok((t, strtab_l2_index(sid, STRTAB_SPLIT) as usize * STE_QWORDS))
    }
}

/// Reads `N` words at word `first` of `mem`.
fn read_words<const N: usize>(mem: &DmaPages, first: usize) -> Result<[u64; N]> {
    let mut w = [0; N];
    for (i, v) in w.iter_mut().enumerate() {
        *v = mem.read_u64(first + i)?;
    }
    Ok(w)
}

/// Writes `words` at word `first` of `mem`, one 64-bit store each.
fn write_words(mem: &DmaPages, first: usize, words: &[u64]) -> Result {
    for (i, v) in words.iter().enumerate() {
        mem.write_u64(first + i, *v)?;
    }
    Ok(())
}

/// The command queue: empty between batches (see the module documentation).
struct CmdQueue {
    mem: DmaPages,
    geom: QueueGeometry,
    prod: u32,
    /// Batches that failed (a command refused or a timeout).
    errors: u64,
    /// Whether the SMMU may still hold commands it has not consumed: a
    /// batch timed out.  After a completed `CMD_SYNC` it has consumed
    /// everything up to it, so only then is `CMDQ_CONS` read for room.
    unsettled: bool,
}

/// The event queue and what was seen on it.
pub struct EventQueue {
    mem: DmaPages,
    geom: QueueGeometry,
    cons: u32,
    /// Events drained.
    pub events: u64,
    /// Translation faults among them.
    pub faults: u64,
    /// Event queue overflows seen.
    pub overflows: u64,
    /// Global errors seen.
    pub gerrors: u64,
    /// The last event.
    pub last: Option<Event>,
    /// Events logged.
    logged: u64,
    /// Events not logged because they repeat the previous one (same type,
    /// stream and page).
    pub repeats: u64,
}

/// Events handed to the drain's caller per drain (more are only counted).
const REPORTED_PER_DRAIN: usize = 64;

/// Whether an event of type `id` is one the owner of a stream's stage 1 (a
/// guest, through its vIOMMU) is told of, as Linux's
/// `arm_smmu_handle_event()` decides.
fn reportable(id: EventId) -> bool {
    matches!(
        id,
        EventId::CBadSte
            | EventId::FStreamDisabled
            | EventId::CBadSubstreamId
            | EventId::CBadCd
            | EventId::FTranslation
            | EventId::FAddrSize
            | EventId::FAccess
            | EventId::FPermission
    )
}

/// ASIDs and VMIDs in use.
struct IdSpaces {
    asids: BitmapVec,
    vmids: BitmapVec,
}

/// Which ID space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    /// Stage 1 address space ids.
    Asid,
    /// Stage 2 virtual machine ids.
    Vmid,
}

/// The register window.  Dropping it disables the SMMU: it is the first
/// field of [`Smmu`], so the SMMU stops before its tables and queues are
/// freed; with `SMMUEN` clear, `GBPA` (bypass out of reset) applies.
struct Regs(Mmio<REGS_MIN>);

impl Regs {
    /// Writes `CR0` and waits for `CR0ACK` to match.
    fn write_cr0(&self, cr0: Cr0) -> Result {
        let io = self.0.io();
        io.write_reg(reg::CR0::zeroed().with_cr0(cr0));
        read_poll_timeout_atomic(
            || Ok(io.read(reg::CR0ACK).cr0()),
            |&ack| ack == cr0,
            POLL_DELAY,
            POLL_RETRIES,
        )
        .map(|_| ())
    }
}

impl Drop for Regs {
    fn drop(&mut self) {
        if self.write_cr0(Cr0::ZERO).is_err() {
            pr_err!("the SMMU did not acknowledge being disabled\n");
        }
    }
}

/// One SMMUv3.
#[pin_data]
pub struct Smmu {
    mmio: Regs,
    /// The ID registers.
    pub feat: Features,
    #[pin]
    cmdq: SpinLock<CmdQueue>,
    #[pin]
    evtq: SpinLock<EventQueue>,
    /// One drain at a time, held over the drain and the reports of what it
    /// found: events are reported in the queue's order, and a drain that
    /// finds the queue empty returns only after another drain's events are
    /// reported (the debugfs counters then agree with what the vIOMMUs
    /// got).  Taken outermost; reporting may sleep.
    #[pin]
    drain: Mutex<()>,
    /// Serialises configuration changes (STEs, CDs) and holds the table.
    #[pin]
    strtab: Mutex<StreamTable>,
    #[pin]
    ids: SpinLock<IdSpaces>,
    /// Serialises the read-modify-writes of `SMMU_GERRORN`: the command
    /// issuer acknowledges `CMDQ_ERR` (under `cmdq`), the event drain and
    /// the global error interrupt the others (under `evtq`); a write based
    /// on a stale read would undo the other's acknowledgement.  Taken
    /// innermost.
    #[pin]
    gerrorn: SpinLock<()>,
}

impl Smmu {
    /// Maps the SMMU of `pdev`, checks what it offers, allocates its tables
    /// and queues and enables it with every stream aborting.
    pub fn new(pdev: &platform::Device<Core<'_>>) -> Result<impl PinInit<Self, Error>> {
        let mmio = mmio_of(pdev)?;
        let feat = Features::read(&mmio)?;
        let dev: &Device<Core<'_>> = pdev.as_ref();
        if !feat.idr0.aarch64_tables() || feat.idr5.gran4k() == 0 || !(feat.s1() || feat.s2()) {
            dev_err!(dev, "needs AArch64 tables with a 4 KiB granule\n");
            return Err(ENODEV);
        }
        if let Err(why) = check_idrs(feat.idr0, feat.idr1) {
            dev_err!(dev, "unsupported SMMU: {}\n", why.reason());
            return Err(ENODEV);
        }
        if feat.idr0.cohacc() == 0 {
            // Tables and queues would need cache maintenance, which this
            // driver does not do.
            dev_err!(dev, "non-coherent SMMUs are not supported\n");
            return Err(ENODEV);
        }
        let two_level = feat.idr0.two_level_strtab();
        if feat.idr1.sidsize() > u64::from(feat.sid_bits) {
            // As the C driver warns when its two-level table cannot cover
            // SIDSIZE: a device with a larger StreamID is refused at probe
            // (`ERANGE`), and the SMMU aborts such streams (C_BAD_STREAMID).
            dev_warn!(
                dev,
                "the stream table covers {} of {} StreamID bits\n",
                feat.sid_bits,
                feat.idr1.sidsize()
            );
        }
        if !two_level && feat.sid_bits > MAX_LINEAR_SID_BITS {
            dev_err!(
                dev,
                "{} StreamID bits need a two-level stream table\n",
                feat.sid_bits
            );
            return Err(ENODEV);
        }
        let cmd_log2 = CMDQ_LOG2.min(feat.idr1.cmdqs() as u32);
        let evt_log2 = EVTQ_LOG2.min(feat.idr1.evtqs() as u32);
        let cgeom = QueueGeometry::new(cmd_log2).ok_or(EINVAL)?;
        let egeom = QueueGeometry::new(evt_log2).ok_or(EINVAL)?;
        let cmem = DmaPages::alloc(order_of(u64::from(cgeom.entries()) * CMDQ_ENT_SIZE), true)?;
        let emem = DmaPages::alloc(order_of(u64::from(egeom.entries()) * EVTQ_ENT_SIZE), true)?;
        let strtab = StreamTable::new(feat.sid_bits, two_level)?;
        let nids = |bits: u32| 1usize << bits;
        let ids = IdSpaces {
            asids: BitmapVec::new(nids(feat.idr0.asid_bits()), GFP_KERNEL)?,
            vmids: BitmapVec::new(nids(feat.idr0.vmid_bits()), GFP_KERNEL)?,
        };
        dev_info!(
            dev,
            "SMMUv3 IDR0 {:#x} IDR1 {:#x}: stage 1 {}, stage 2 {}, {} StreamID bits ({}), OAS {} bits\n",
            feat.idr0.raw(),
            feat.idr1.raw(),
            feat.s1(),
            feat.s2(),
            feat.sid_bits,
            if two_level { "2-level" } else { "linear" },
            feat.oas_bits
        );
        Ok(try_pin_init!(Self {
            mmio: Regs(mmio),
            feat,
            cmdq <- new_spinlock!(CmdQueue {
                mem: cmem,
                geom: cgeom,
                prod: 0,
                errors: 0,
                unsettled: false,
            }),
            evtq <- new_spinlock!(EventQueue {
                mem: emem,
                geom: egeom,
                cons: 0,
                events: 0,
                faults: 0,
                overflows: 0,
                gerrors: 0,
                last: None,
                logged: 0,
                repeats: 0,
            }),
            drain <- new_mutex!(()),
            strtab <- new_mutex!(strtab),
            ids <- new_spinlock!(ids),
            gerrorn <- new_spinlock!(()),
        }? Error)
        .pin_chain(|s| s.reset()))
    }

    /// The registers (`regs.rs`), for `kernel::io::Io`.
    fn io(&self) -> kernel::io::Mmio<'_, Region<REGS_MIN>> {
        self.mmio.0.io()
    }

    /// Writes `CR0` and waits for `CR0ACK` to match.
    fn write_cr0(&self, cr0: Cr0) -> Result {
        self.mmio.write_cr0(cr0)
    }

    /// Programs and enables the SMMU (Linux's `arm_smmu_device_reset`).
    fn reset(&self) -> Result {
        // Whatever was on (firmware, a previous driver): off first.
        self.write_cr0(Cr0::ZERO)?;
        let io = self.io();
        // Acknowledge stale global errors.
        io.write_reg(reg::GERRORN::zeroed().with_errors(io.read(reg::GERROR).errors()));
        let cr1 = Cr1::ZERO
            .with_queue_ic(CR1_CACHE_WB)
            .and_then(|c| c.with_queue_oc(CR1_CACHE_WB))
            .and_then(|c| c.with_queue_sh(SH_ISH))
            .and_then(|c| c.with_table_ic(CR1_CACHE_WB))
            .and_then(|c| c.with_table_oc(CR1_CACHE_WB))
            .and_then(|c| c.with_table_sh(SH_ISH))
            .ok_or(EINVAL)?;
        io.write_reg(reg::CR1::zeroed().with_cr1(cr1));
        let cr2 = Cr2::ZERO
            .with_ptm(1)
            .and_then(|c| c.with_recinvsid(1))
            .ok_or(EINVAL)?;
        io.write_reg(reg::CR2::zeroed().with_cr2(cr2));
        {
            let st = self.strtab.lock();
            let base = StrtabBase::new(st.l1.phys()).ok_or(EINVAL)?;
            io.try_write_reg(reg::STRTAB_BASE::zeroed().with_base(base))?;
            io.write_reg(reg::STRTAB_BASE_CFG::zeroed().with_cfg(st.base_cfg()?));
        }
        {
            let q = self.cmdq.lock();
            let base = QueueBase::new(q.mem.phys(), q.geom.log2size()).ok_or(EINVAL)?;
            io.try_write_reg(reg::CMDQ_BASE::zeroed().with_base(base))?;
            io.write_reg(reg::CMDQ_PROD::zeroed());
            io.write_reg(reg::CMDQ_CONS::zeroed());
        }
        {
            let q = self.evtq.lock();
            let base = QueueBase::new(q.mem.phys(), q.geom.log2size()).ok_or(EINVAL)?;
            io.try_write_reg(reg::EVTQ_BASE::zeroed().with_base(base))?;
            io.write_reg(reg::EVTQ_PROD::zeroed());
            io.write_reg(reg::EVTQ_CONS::zeroed());
        }
        // Interrupts off until the driver has its handlers
        // (`arm_smmu_setup_irqs()` likewise): see `set_irqs`.
        self.set_irqs(IrqCtrl::ZERO)?;

        let cr0 = Cr0::ZERO.with_cmdqen(1).ok_or(EINVAL)?;
        self.write_cr0(cr0)?;
        let mut inval = KVec::new();
        inval.push(Command::CFGI_ALL, GFP_KERNEL)?;
        if self.feat.idr0.hyp() != 0 {
            inval.push(Command::TlbiEl2All, GFP_KERNEL)?;
        }
        inval.push(Command::TlbiNsnhAll, GFP_KERNEL)?;
        self.issue(&inval)?;
        let cr0 = cr0.with_evtqen(1).ok_or(EINVAL)?;
        self.write_cr0(cr0)?;
        self.write_cr0(cr0.with_smmuen(1).ok_or(EINVAL)?)
    }

    /// Issues `cmds` followed by a `CMD_SYNC` and waits for all of them, in
    /// batches of [`CMDQ_BATCH`].
    pub fn issue(&self, cmds: &[Command]) -> Result {
        let mut ret = Ok(());
        for chunk in cmds.chunks(CMDQ_BATCH) {
            let r = self.issue_batch(chunk);
            if ret.is_ok() {
                ret = r;
            }
        }
        if cmds.is_empty() {
            ret = self.issue_batch(&[]);
        }
        ret
    }

    /// Issues already encoded commands (user commands converted by the
    /// vSMMU, a domain's TLBIs by address) and a `CMD_SYNC`, in batches of
    /// [`CMDQ_BATCH`].
    pub fn issue_raw(&self, cmds: &[[u64; CMD_QWORDS]]) -> Result {
        let mut ret = Ok(());
        for chunk in cmds.chunks(CMDQ_BATCH) {
            let r = self.issue_words(chunk.iter().copied());
            if ret.is_ok() {
                ret = r;
            }
        }
        ret
    }

    fn issue_batch(&self, cmds: &[Command]) -> Result {
        let mut words = KVec::with_capacity(cmds.len(), GFP_ATOMIC)?;
        for c in cmds {
            words.push(c.encode()?, GFP_ATOMIC)?;
        }
        self.issue_words(words.iter().copied())
    }

    /// Writes the commands `cmds` and a `CMD_SYNC`, rings the doorbell and
    /// polls `CMDQ_CONS` until the SMMU has consumed all of them.
    fn issue_words(&self, cmds: impl ExactSizeIterator<Item = [u64; CMD_QWORDS]>) -> Result {
        let sync = Command::sync_poll().encode()?;
        let mut q = self.cmdq.lock();
        if cmds.len() + 1 >= q.geom.entries() as usize {
            return Err(EINVAL);
        }
        let io = self.io();
        if q.unsettled {
            // After a timeout the SMMU may still hold commands: wait for
            // room rather than overwrite one it has not consumed (the C
            // driver's arm_smmu_cmdq_poll_until_not_full()).
            let (geom, prod, needed) = (q.geom, q.prod, cmds.len() as u32 + 1);
            let cons = read_poll_timeout_atomic(
                || Ok(io.read(reg::CMDQ_CONS).into_raw()),
                |&cons| geom.space(prod, cons) >= needed,
                POLL_DELAY,
                POLL_RETRIES,
            )
            .inspect_err(|e| pr_err!("command queue has no room ({:?})\n", e))?;
            q.unsettled = !geom.is_empty(prod, cons);
        }
        let mut prod = q.prod;
        for c in cmds.chain(core::iter::once(sync)) {
            let first = entry_word(q.geom, prod, CMDQ_ENT_SIZE);
            write_words(&q.mem, first, &c)?;
            prod = q.geom.advance(prod, 1);
        }
        q.prod = prod;
        // The commands before the doorbell, as arm_smmu_cmdq_issue_cmdlist()
        // orders them (`dma_wmb()`; our `writel` would order them as well).
        dma_mb(Write);
        // `prod`: index and wrap bit, as `QueueGeometry` encodes them.
        io.write_reg(reg::CMDQ_PROD::from_raw(prod));
        let mut failed = false;
        let geom = q.geom;
        let r = read_poll_timeout_atomic(
            || {
                let cons = io.read(reg::CMDQ_CONS).into_raw();
                if !geom.is_empty(prod, cons) {
                    let gerror = Gerror::active(
                        io.read(reg::GERROR).into_raw(),
                        io.read(reg::GERRORN).into_raw(),
                    );
                    if gerror.cmdq_err() != 0 {
                        failed = true;
                        self.skip_bad_command(&q, cons);
                    }
                }
                Ok(cons)
            },
            |&cons| geom.is_empty(prod, cons),
            POLL_DELAY,
            POLL_RETRIES,
        );
        if r.is_err() || failed {
            q.errors += 1;
            if r.is_err() {
                q.unsettled = true;
                pr_err!("command queue timeout (prod {:#x})\n", prod);
                return Err(ETIMEDOUT);
            }
            return Err(EIO);
        }
        Ok(())
    }

    /// The command at `cons` was refused (`GERROR.CMDQ_ERR`): reports it,
    /// replaces it with a `CMD_SYNC` and acknowledges the error, so that
    /// the SMMU goes on with the rest of the queue.
    fn skip_bad_command(&self, q: &CmdQueue, cons: u32) {
        let first = entry_word(q.geom, cons, CMDQ_ENT_SIZE);
        let bad: [u64; CMD_QWORDS] = read_words(&q.mem, first).unwrap_or([0; CMD_QWORDS]);
        pr_err!(
            "command {:#018x} {:#018x} refused (CMDQ_CONS.ERR {})\n",
            bad[0],
            bad[1],
            CmdqCons::from_raw(cons).err()
        );
        if let Ok(sync) = Command::sync_poll().encode() {
            let _ = write_words(&q.mem, first, &sync);
        }
        dma_mb(Write);
        let io = self.io();
        {
            let _gerrorn = self.gerrorn.lock();
            let (g, gn) = (
                io.read(reg::GERROR).into_raw(),
                io.read(reg::GERRORN).into_raw(),
            );
            let cmdq_err = Gerror::ZERO.with_cmdq_err(1).map_or(0, |e| e.raw());
            io.write_reg(reg::GERRORN::from_raw((gn & !cmdq_err) | (g & cmdq_err)));
        }
        // Kick the queue again.
        io.write_reg(reg::CMDQ_PROD::from_raw(q.prod));
    }

    /// Drains the event queue, then hands `report` the records of the
    /// stage 1 events a stream's owner is told of ([`reportable`]; the first
    /// [`REPORTED_PER_DRAIN`]), after the queue's lock is dropped: reporting
    /// may sleep.  Waits for a drain under way (`drain`).  Returns how many
    /// events the queue held.  Process context.
    pub fn drain_events(&self, report: impl FnMut(&[u64; EVT_QWORDS])) -> u64 {
        let _one = self.drain.lock();
        self.drain_and_report(report)
    }

    /// [`Smmu::drain_events`], under `drain`.
    fn drain_and_report(&self, mut report: impl FnMut(&[u64; EVT_QWORDS])) -> u64 {
        let mut fwd = KVec::new();
        let n = self.drain_into(&mut fwd);
        for raw in fwd.iter() {
            report(raw);
        }
        n
    }

    /// Drains the event queue, collecting in `fwd` the events a stream's
    /// owner may have to see.
    fn drain_into(&self, fwd: &mut KVec<[u64; EVT_QWORDS]>) -> u64 {
        let mut q = self.evtq.lock();
        let mut n = 0;
        self.check_gerror(&mut q);
        let io = self.io();
        let evtq_prod = io.read(reg::EVTQ_PROD);
        let prod = evtq_prod.into_raw();
        let ovflg = evtq_prod.ovflg();
        // The previous event of this drain.
        let mut prev = None;
        while !q.geom.is_empty(prod, q.cons) {
            let first = entry_word(q.geom, q.cons, EVTQ_ENT_SIZE);
            let Ok(raw) = read_words::<EVT_QWORDS>(&q.mem, first) else {
                break;
            };
            let e = Event::decode(raw);
            q.events += 1;
            if e.id.is_translation_fault() {
                q.faults += 1;
            }
            // A device's DMA of a buffer faults once per access: log the
            // first fault of each page (and type and stream) only.
            let repeat = prev.is_some_and(|l: Event| {
                l.id == e.id
                    && l.sid == e.sid
                    && l.input_addr >> PAGE_SHIFT == e.input_addr >> PAGE_SHIFT
            });
            if repeat {
                q.repeats += 1;
            } else if q.logged < EVENTS_LOGGED {
                q.logged += 1;
                pr_info!(
                    "event {} ({:#x}) sid {:#x} addr {:#x} ipa {:#x} {}{} class {}\n",
                    e.name(),
                    e.id.value(),
                    e.sid,
                    e.input_addr,
                    e.ipa,
                    if e.read { "read" } else { "write" },
                    if e.s2 { " stage 2" } else { "" },
                    e.class_name()
                );
            }
            if reportable(e.id) && !e.s2 && !e.stall && fwd.len() < REPORTED_PER_DRAIN {
                let _ = fwd.push(raw, GFP_ATOMIC);
            }
            q.last = Some(e);
            prev = Some(e);
            q.cons = q.geom.advance(q.cons, 1);
            n += 1;
        }
        // Acknowledge an overflow by copying OVFLG.
        let acked = io.read(reg::EVTQ_CONS).ovackflg();
        if ovflg != acked {
            q.overflows += 1;
            pr_err!("event queue overflow\n");
        }
        io.write_reg(reg::EVTQ_CONS::from_raw(q.cons).with_ovackflg(ovflg));
        n
    }

    /// Reports and acknowledges the active global errors other than
    /// `CMDQ_ERR` (which the command issuer handles).
    fn check_gerror(&self, q: &mut EventQueue) {
        let _gerrorn = self.gerrorn.lock();
        let io = self.io();
        let (g, gn) = (
            io.read(reg::GERROR).into_raw(),
            io.read(reg::GERRORN).into_raw(),
        );
        let active = Gerror::active(g, gn);
        let others = active.raw() & !Gerror::ZERO.with_cmdq_err(1).map_or(0, |e| e.raw());
        if others == 0 {
            return;
        }
        q.gerrors += 1;
        pr_err!("global error {:#x}\n", others);
        io.write_reg(reg::GERRORN::from_raw(gn ^ others));
        if active.sfm_err() != 0 {
            // As `arm_smmu_gerror_handler()`: the SMMU stopped working
            // (Service Failure Mode); disable it (`arm_smmu_device_disable()`),
            // so that `SMMU_GBPA` applies to every stream until the driver
            // is loaded again.
            pr_err!("the SMMU entered Service Failure Mode: disabling it\n");
            if self.write_cr0(Cr0::ZERO).is_err() {
                pr_err!("the SMMU did not acknowledge being disabled\n");
            }
        }
    }

    /// The global error interrupt (`arm_smmu_gerror_handler`): reports and
    /// acknowledges the active errors.
    pub fn handle_gerror(&self) {
        self.check_gerror(&mut self.evtq.lock())
    }

    /// Enables the interrupts `ctrl` (`SMMU_IRQ_CTRL`) and waits for
    /// `SMMU_IRQ_CTRLACK` to match, as `arm_smmu_write_reg_sync()` does.
    pub fn set_irqs(&self, ctrl: IrqCtrl) -> Result {
        let io = self.io();
        io.write_reg(reg::IRQ_CTRL::zeroed().with_irq_ctrl(ctrl));
        read_poll_timeout_atomic(
            || Ok(io.read(reg::IRQ_CTRLACK).irq_ctrl()),
            |&ack| ack == ctrl,
            POLL_DELAY,
            POLL_RETRIES,
        )
        .map(|_| ())
    }

    /// Runs `f` on the event statistics, after draining the queue (its
    /// events to `report`, as [`Smmu::drain_events`]) and before any other
    /// drain: every event counted has been reported.
    pub fn with_events<R>(
        &self,
        report: impl FnMut(&[u64; EVT_QWORDS]),
        f: impl FnOnce(&EventQueue) -> R,
    ) -> R {
        let _one = self.drain.lock();
        self.drain_and_report(report);
        f(&self.evtq.lock())
    }

    /// Failed command batches so far.
    pub fn cmdq_errors(&self) -> u64 {
        self.cmdq.lock().errors
    }

    /// Allocates an ASID or VMID.
    pub fn alloc_id(&self, kind: IdKind) -> Result<u16> {
        let mut ids = self.ids.lock();
        let map = match kind {
            IdKind::Asid => &mut ids.asids,
            IdKind::Vmid => &mut ids.vmids,
        };
        let id = map.next_zero_bit(FIRST_ID).ok_or(ENOSPC)?;
        let id16 = u16::try_from(id).map_err(|_| ENOSPC)?;
        map.set_bit(id);
        Ok(id16)
    }

    /// Frees an ASID or VMID (after its TLB entries were invalidated).
    pub fn free_id(&self, kind: IdKind, id: u16) {
        let mut ids = self.ids.lock();
        let map = match kind {
            IdKind::Asid => &mut ids.asids,
            IdKind::Vmid => &mut ids.vmids,
        };
        if usize::from(id) < map.len() {
            map.clear_bit(usize::from(id));
        }
    }

    /// Gives `sid` an STE (abort) if it has none yet.
    pub fn prepare_sid(&self, sid: u32) -> Result {
        self.strtab.lock().prepare(sid)
    }

    /// The current STE of `sid`.
    pub fn read_ste(&self, sid: u32) -> Result<Ste> {
        let st = self.strtab.lock();
        let (mem, first) = st.ste(sid)?;
        Ok(Ste(read_words(mem, first)?))
    }

    /// Changes the STE of each of `sids` to `target`, hitlessly when the
    /// planner can.
    pub fn write_ste(&self, sids: &[u32], target: &Ste) -> Result {
        let st = self.strtab.lock();
        for &sid in sids {
            let (mem, first) = st.ste(sid)?;
            let cur = Ste(read_words(mem, first)?);
            let plan = plan_ste(&cur, target);
            for step in plan.steps() {
                match step {
                    Step::Write { mask, values } => {
                        for (i, v) in values.iter().enumerate() {
                            if mask & (1 << i) != 0 {
                                mem.write_u64(first + i, *v)?;
                            }
                        }
                    }
                    Step::Sync => self.issue(&[Command::CfgiSte { sid, leaf: true }])?,
                }
            }
        }
        Ok(())
    }

    /// Changes the CD at word `first` of `table` (the CD table of the
    /// streams `sids`, substream 0) to `target`.
    pub fn write_cd(&self, table: &DmaPages, first: usize, sids: &[u32], target: &Cd) -> Result {
        let _guard = self.strtab.lock();
        let cur = Cd(read_words::<CD_QWORDS>(table, first)?);
        let plan = plan_cd(&cur, target);
        let mut cfgi = KVec::with_capacity(sids.len(), GFP_KERNEL)?;
        for &sid in sids {
            cfgi.push(
                Command::CfgiCd {
                    sid,
                    ssid: SSID0,
                    leaf: true,
                },
                GFP_KERNEL,
            )?;
        }
        for step in plan.steps() {
            match step {
                Step::Write { mask, values } => {
                    for (i, v) in values.iter().enumerate() {
                        if mask & (1 << i) != 0 {
                            table.write_u64(first + i, *v)?;
                        }
                    }
                }
                Step::Sync => self.issue(&cfgi)?,
            }
        }
        Ok(())
    }
}
