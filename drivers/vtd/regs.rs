// SPDX-License-Identifier: GPL-2.0

//! The remapping unit's registers (VT-d spec chapter 11), typed with
//! `kernel::io::register!`: offset, width and fields together, accessed
//! through [`Mmio::io`](crate::riommu::hw::Mmio::io) and `kernel::io::Io`.
//!
//! The offsets are the spec's, as `rust/riommu_core/src/vtd/regs.rs` names
//! them (`CAP_REG`...): a compile-time assertion below ties each register to
//! that constant.  Where the driver's logic decodes or encodes a register
//! with a host-tested type of `riommu_core` ([`Cap`], [`Gsts`],
//! [`Gcmd`]...), the register has one field spanning it, of that type;
//! registers the driver only reads or sets bit by bit ([`FSTS`], [`FECTL`])
//! have their fields here.
//!
//! Every fixed register lies in the first 4 KiB ([`REGS_MIN`]), which
//! every unit has, so their 32-bit accesses are checked at compile time.
//! 64-bit registers go through the run-time checked accessors
//! (`try_read`, `try_write_reg`): 7.3's `Region` promises 4-byte alignment
//! only, and the compile-time checked ones refuse wider accesses.  The
//! fault recording registers ([`FRCD_LO`], [`FRCD_HI`], [`FRCD_F`]) and the
//! IOTLB registers ([`IVA`], [`IOTLB`]) sit at offsets the unit reports
//! (`CAP.FRO`, `ECAP.IRO`): they are relative registers, located with
//! [`DynReg`](crate::riommu::hw::DynReg) and accessed with run-time checks.

#![forbid(unsafe_code)]

use crate::riommu::{
    hw::whole_register,
    pure::vtd::regs::{
        Cap, Ecap, Gcmd, Gsts, IotlbReg, Iqa, Iqer, Iva, Rtaddr, CAP_REG, ECAP_REG, FECTL_REG,
        FRCD_HI_DWORD, FRCD_REG_SIZE, FSTS_REG, GCMD_REG, GSTS_REG, IOTLB_REG_FROM_IRO, IQA_REG,
        IQER_REG, IQH_REG, IQT_REG, MAX_FAULT_REGS, RTADDR_REG, VER_REG,
    },
};
use kernel::{
    io::{
        register,
        register::{Register, RegisterArray},
    },
    sizes::SZ_4K,
};

/// The size every unit's register set has at least (a DRHD declares a
/// whole number of 4 KiB pages, spec 8.3): the compile-time bound of the
/// fixed registers.
pub(crate) const REGS_MIN: usize = SZ_4K;

/// The base family of the fault recording registers, at `CAP.FRO * 16`
/// ([`fault_regs_base`](crate::riommu::pure::vtd::regs::fault_regs_base)).
pub(crate) struct FaultRecording;

/// The base family of the IOTLB registers, at `ECAP.IRO * 16`
/// ([`iva_reg_offset`](crate::riommu::pure::vtd::regs::iva_reg_offset)).
pub(crate) struct IotlbRegisters;

register! {
    /// Version register (spec 11.4.1), read-only.
    pub(crate) VER(u32) @ 0x00 {
        /// Major version number.
        7:4 max;
        /// Minor version number.
        3:0 min;
    }

    /// Capability register (spec 11.4.2), read-only.
    pub(crate) CAP(u64) @ 0x08 {
        /// The capabilities.
        63:0 cap => Cap;
    }

    /// Extended capability register (spec 11.4.3), read-only.
    pub(crate) ECAP(u64) @ 0x10 {
        /// The extended capabilities.
        63:0 ecap => Ecap;
    }

    /// Global command register (spec 11.4.4), write-only: write a
    /// [`Gsts::persistent_command`] with one bit changed.
    pub(crate) GCMD(u32) @ 0x18 {
        /// The command.
        31:0 cmd => Gcmd;
    }

    /// Global status register (spec 11.4.5), read-only.
    pub(crate) GSTS(u32) @ 0x1c {
        /// The status.
        31:0 sts => Gsts;
    }

    /// Root table address register (spec 11.4.6).
    pub(crate) RTADDR(u64) @ 0x20 {
        /// The root table address and mode.
        63:0 rtaddr => Rtaddr;
    }

    /// Fault status register (spec 11.4.9.1); the status bits are
    /// write-1-to-clear.
    pub(crate) FSTS(u32) @ 0x34 {
        /// FRI: index of the first fault recording register with a fault.
        15:8 fri;
        /// ITE: invalidation time-out error.
        6:6 ite => bool;
        /// ICE: invalidation completion error.
        5:5 ice => bool;
        /// IQE: invalidation queue error.
        4:4 iqe => bool;
        /// APF: advanced pending fault.
        3:3 apf => bool;
        /// AFO: advanced fault overflow.
        2:2 afo => bool;
        /// PPF: primary pending fault (some fault recording register has F
        /// set).
        1:1 ppf => bool;
        /// PFO: primary fault overflow.
        0:0 pfo => bool;
    }

    /// Fault event control register (spec 11.4.9.2).
    pub(crate) FECTL(u32) @ 0x38 {
        /// IM: interrupt mask.
        31:31 im => bool;
        /// IP: interrupt pending (read-only).
        30:30 ip => bool;
    }

    /// Invalidation queue head register (spec 11.4.9), read-only.
    pub(crate) IQH(u64) @ 0x80 {
        /// QH: the offset of the next descriptor the unit fetches, in
        /// 16-byte units (bit 4 is zero with 256-bit descriptors); see
        /// `queue_index`.
        18:4 qh;
    }

    /// Invalidation queue tail register (spec 11.4.9).
    pub(crate) IQT(u64) @ 0x88 {
        /// QT: the offset of the next descriptor software writes, in
        /// 16-byte units; see `queue_reg_value`.
        18:4 qt;
    }

    /// Invalidation queue address register (spec 11.4.9).
    pub(crate) IQA(u64) @ 0x90 {
        /// Queue base, size and descriptor width.
        63:0 iqa => Iqa;
    }

    /// Invalidation queue error record register (spec 11.4.9), read-only.
    pub(crate) IQER(u64) @ 0xb0 {
        /// The error record.
        63:0 iqer => Iqer;
    }

    /// Fault recording registers (spec 11.4.9.3), low 64 bits: FI.
    pub(crate) FRCD_LO(u64)[MAX_FAULT_REGS, stride = 16] @ FaultRecording + 0x0 {
        /// FI: the page address of the faulting request (bits 63:12).
        63:12 fi;
    }

    /// Fault recording registers, high 64 bits (decoded whole, with
    /// [`FRCD_LO`], by `Fault::decode`).
    pub(crate) FRCD_HI(u64)[MAX_FAULT_REGS, stride = 16] @ FaultRecording + 0x8 {
        /// F: fault recorded.
        63:63 f => bool;
        /// FR: fault reason.
        39:32 fr;
        /// SID: source id of the faulting request.
        15:0 sid;
    }

    /// The upper 32 bits of the fault recording registers, where F is
    /// cleared (write 1) without touching the rest (Linux `dmar_fault()`).
    pub(crate) FRCD_F(u32)[MAX_FAULT_REGS, stride = 16] @ FaultRecording + 0xc {
        /// F: fault recorded; write 1 to clear.
        31:31 f => bool;
    }

    /// Invalidate address register (spec 11.4.8.2).
    pub(crate) IVA(u64) @ IotlbRegisters + 0x0 {
        /// Address, mask and hint of a page-selective invalidation.
        63:0 iva => Iva;
    }

    /// IOTLB invalidate register (spec 11.4.8.1).
    pub(crate) IOTLB(u64) @ IotlbRegisters + 0x8 {
        /// The invalidation command.
        63:0 iotlb => IotlbReg;
    }
}

whole_register!(u32: Gcmd, Gsts; u64: Cap, Ecap, Rtaddr, Iqa, Iqer, Iva, IotlbReg);

// The offsets above are the spec's, as riommu_core names them.
const _: () = {
    assert!(VER::OFFSET == VER_REG);
    assert!(CAP::OFFSET == CAP_REG);
    assert!(ECAP::OFFSET == ECAP_REG);
    assert!(GCMD::OFFSET == GCMD_REG);
    assert!(GSTS::OFFSET == GSTS_REG);
    assert!(RTADDR::OFFSET == RTADDR_REG);
    assert!(FSTS::OFFSET == FSTS_REG);
    assert!(FECTL::OFFSET == FECTL_REG);
    assert!(IQH::OFFSET == IQH_REG);
    assert!(IQT::OFFSET == IQT_REG);
    assert!(IQA::OFFSET == IQA_REG);
    assert!(IQER::OFFSET == IQER_REG);
    assert!(FRCD_LO::STRIDE == FRCD_REG_SIZE);
    assert!(FRCD_HI::OFFSET == FRCD_LO::OFFSET + 8);
    assert!(FRCD_F::OFFSET == FRCD_HI_DWORD);
    assert!(IVA::OFFSET == 0);
    assert!(IOTLB::OFFSET == IOTLB_REG_FROM_IRO);
    assert!(IQER::OFFSET + 8 <= REGS_MIN);
};
