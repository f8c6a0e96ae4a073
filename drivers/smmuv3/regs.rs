// SPDX-License-Identifier: GPL-2.0

//! The SMMU's registers (SMMUv3 spec §6.3), typed with
//! `kernel::io::register!`: offset, width and fields together, accessed
//! through [`Mmio::io`](crate::riommu::hw::Mmio::io) and `kernel::io::Io`.
//!
//! The offsets are the spec's, as `rust/riommu_core/src/smmuv3/regs.rs`
//! names them: a compile-time assertion below ties each register to that
//! constant.  Where the driver's logic decodes or encodes a register with a
//! host-tested type of `riommu_core` ([`Idr0`], [`Cr0`], [`Gerror`],
//! [`QueueBase`]...), the register has one field spanning it, of that
//! type; the queue index registers have their flags here, and their index
//! and wrap bit as `QueueGeometry` encodes them for the queue's size.
//!
//! The SMMU's window is two 64 KiB pages ([`REGS_MIN`]); every register
//! here, the page 1 event queue indexes included, lies in it, so 32-bit
//! accesses are checked at compile time.  The 64-bit base registers go
//! through the run-time checked accessors (`try_write_reg`): 7.3's
//! `Region` promises 4-byte alignment only, and the compile-time checked
//! accessors refuse wider accesses.

#![forbid(unsafe_code)]

use crate::riommu::{
    hw::whole_register,
    pure::smmuv3::regs::{
        self as spec, Cr0, Cr1, Cr2, Gerror, Idr0, Idr1, Idr3, Idr5, IrqCtrl, QueueBase,
        StrtabBase, StrtabBaseCfg,
    },
};
use kernel::{
    io::{register, register::Register},
    sizes::SZ_128K,
};

/// The size of the SMMU's register window: page 0 and page 1 (§6.1), the
/// compile-time bound of the registers.
pub(crate) const REGS_MIN: usize = SZ_128K;

register! {
    /// `SMMU_IDR0`, features (read-only).
    pub(crate) IDR0(u32) @ 0x00 {
        /// The features.
        31:0 idr0 => Idr0;
    }

    /// `SMMU_IDR1`, table and queue sizes (read-only).
    pub(crate) IDR1(u32) @ 0x04 {
        /// The sizes.
        31:0 idr1 => Idr1;
    }

    /// `SMMU_IDR2` (read-only).
    pub(crate) IDR2(u32) @ 0x08 {
        /// BA_VATOS: base address of the VATOS page.
        9:0 ba_vatos;
    }

    /// `SMMU_IDR3`, more features (read-only).
    pub(crate) IDR3(u32) @ 0x0c {
        /// The features.
        31:0 idr3 => Idr3;
    }

    /// `SMMU_IDR4`, implementation defined (read-only).
    pub(crate) IDR4(u32) @ 0x10 {
        /// Implementation defined.
        31:0 imp_def;
    }

    /// `SMMU_IDR5`, address sizes and granules (read-only).
    pub(crate) IDR5(u32) @ 0x14 {
        /// The sizes and granules.
        31:0 idr5 => Idr5;
    }

    /// `SMMU_IIDR`, implementation identification (read-only).
    pub(crate) IIDR(u32) @ 0x18 {
        /// ProductID.
        31:20 product_id;
        /// Variant.
        19:16 variant;
        /// Revision.
        15:12 revision;
        /// Implementer (JEP106 code).
        11:0 implementer;
    }

    /// `SMMU_AIDR`, architecture version (read-only).
    pub(crate) AIDR(u32) @ 0x1c {
        /// ArchMajorRev.
        7:4 arch_major_rev;
        /// ArchMinorRev.
        3:0 arch_minor_rev;
    }

    /// `SMMU_CR0`, global enables; the SMMU acknowledges a write in
    /// [`CR0ACK`].
    pub(crate) CR0(u32) @ 0x20 {
        /// The enables.
        31:0 cr0 => Cr0;
    }

    /// `SMMU_CR0ACK` (read-only).
    pub(crate) CR0ACK(u32) @ 0x24 {
        /// The enables in effect.
        31:0 cr0 => Cr0;
    }

    /// `SMMU_CR1`, memory attributes of table walks and queue accesses.
    pub(crate) CR1(u32) @ 0x28 {
        /// The attributes.
        31:0 cr1 => Cr1;
    }

    /// `SMMU_CR2`.
    pub(crate) CR2(u32) @ 0x2c {
        /// The controls.
        31:0 cr2 => Cr2;
    }

    /// `SMMU_IRQ_CTRL`, interrupt enables; acknowledged in
    /// [`IRQ_CTRLACK`].
    pub(crate) IRQ_CTRL(u32) @ 0x50 {
        /// The enables.
        31:0 irq_ctrl => IrqCtrl;
    }

    /// `SMMU_IRQ_CTRLACK` (read-only).
    pub(crate) IRQ_CTRLACK(u32) @ 0x54 {
        /// The enables in effect.
        31:0 irq_ctrl => IrqCtrl;
    }

    /// `SMMU_GERROR`, global errors (read-only): active while they differ
    /// from [`GERRORN`].
    pub(crate) GERROR(u32) @ 0x60 {
        /// The error bits.
        31:0 errors => Gerror;
    }

    /// `SMMU_GERRORN`: acknowledges a global error by taking its
    /// [`GERROR`] bit's value.
    pub(crate) GERRORN(u32) @ 0x64 {
        /// The acknowledged error bits.
        31:0 errors => Gerror;
    }

    /// `SMMU_STRTAB_BASE`, 64 bits.
    pub(crate) STRTAB_BASE(u64) @ 0x80 {
        /// The stream table's address.
        63:0 base => StrtabBase;
    }

    /// `SMMU_STRTAB_BASE_CFG`.
    pub(crate) STRTAB_BASE_CFG(u32) @ 0x88 {
        /// The stream table's format and size.
        31:0 cfg => StrtabBaseCfg;
    }

    /// `SMMU_CMDQ_BASE`, 64 bits.
    pub(crate) CMDQ_BASE(u64) @ 0x90 {
        /// The command queue's address and size.
        63:0 base => QueueBase;
    }

    /// `SMMU_CMDQ_PROD`.
    pub(crate) CMDQ_PROD(u32) @ 0x98 {
        /// WR: the producer index and, above it, the wrap bit (LOG2SIZE is
        /// at most 19: see `QueueGeometry`).
        19:0 wr;
    }

    /// `SMMU_CMDQ_CONS`.
    pub(crate) CMDQ_CONS(u32) @ 0x9c {
        /// ERR: the error of the command at the consumer index, valid while
        /// `GERROR.CMDQ_ERR` is active.
        30:24 err;
        /// RD: the consumer index and wrap bit.
        19:0 rd;
    }

    /// `SMMU_EVENTQ_BASE`, 64 bits.
    pub(crate) EVTQ_BASE(u64) @ 0xa0 {
        /// The event queue's address and size.
        63:0 base => QueueBase;
    }

    /// `SMMU_EVENTQ_PROD`, in page 1 (read-only for software).
    pub(crate) EVTQ_PROD(u32) @ 0x100a8 {
        /// OVFLG: the queue overflowed (toggles on each overflow).
        31:31 ovflg => bool;
        /// WR: the producer index and wrap bit.
        19:0 wr;
    }

    /// `SMMU_EVENTQ_CONS`, in page 1.
    pub(crate) EVTQ_CONS(u32) @ 0x100ac {
        /// OVACKFLG: software's acknowledgement of `OVFLG` (copy it here).
        31:31 ovackflg => bool;
        /// RD: the consumer index and wrap bit.
        19:0 rd;
    }
}

whole_register!(
    u32: Idr0, Idr1, Idr3, Idr5, Cr0, Cr1, Cr2, IrqCtrl, Gerror, StrtabBaseCfg;
    u64: StrtabBase, QueueBase
);

/// `offset` (a `u64` of `riommu_core`) as a window offset.
const fn at(offset: u64) -> usize {
    offset as usize
}

// The offsets above are the spec's, as riommu_core names them.
const _: () = {
    assert!(IDR0::OFFSET == at(spec::IDR0));
    assert!(IDR1::OFFSET == at(spec::IDR1));
    assert!(IDR2::OFFSET == at(spec::IDR2));
    assert!(IDR3::OFFSET == at(spec::IDR3));
    assert!(IDR4::OFFSET == at(spec::IDR4));
    assert!(IDR5::OFFSET == at(spec::IDR5));
    assert!(IIDR::OFFSET == at(spec::IIDR));
    assert!(AIDR::OFFSET == at(spec::AIDR));
    assert!(CR0::OFFSET == at(spec::CR0));
    assert!(CR0ACK::OFFSET == at(spec::CR0ACK));
    assert!(CR1::OFFSET == at(spec::CR1));
    assert!(CR2::OFFSET == at(spec::CR2));
    assert!(IRQ_CTRL::OFFSET == at(spec::IRQ_CTRL));
    assert!(IRQ_CTRLACK::OFFSET == at(spec::IRQ_CTRLACK));
    assert!(GERROR::OFFSET == at(spec::GERROR));
    assert!(GERRORN::OFFSET == at(spec::GERRORN));
    assert!(STRTAB_BASE::OFFSET == at(spec::STRTAB_BASE));
    assert!(STRTAB_BASE_CFG::OFFSET == at(spec::STRTAB_BASE_CFG));
    assert!(CMDQ_BASE::OFFSET == at(spec::CMDQ_BASE));
    assert!(CMDQ_PROD::OFFSET == at(spec::CMDQ_PROD));
    assert!(CMDQ_CONS::OFFSET == at(spec::CMDQ_CONS));
    assert!(EVTQ_BASE::OFFSET == at(spec::EVTQ_BASE));
    assert!(EVTQ_PROD::OFFSET == at(spec::EVTQ_PROD_PAGE1));
    assert!(EVTQ_CONS::OFFSET == at(spec::EVTQ_CONS_PAGE1));
    assert!(EVTQ_CONS::OFFSET + 4 <= REGS_MIN);
};
