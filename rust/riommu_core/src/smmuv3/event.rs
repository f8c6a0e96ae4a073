// SPDX-License-Identifier: GPL-2.0

//! Event queue records (SMMUv3 §7.3 "Event records").
//!
//! An event record is 32 bytes, four 64-bit little-endian words. Every
//! record has the event type, StreamID and SubstreamID; the translation
//! faults add the stall tag, access attributes, input address and IPA, the
//! fetch faults a fetch address. [`Event::decode`] extracts all of them;
//! fields that a given event type does not define read as whatever the SMMU
//! left there (zero on QEMU).

use super::super::bitfield::bitfield;

/// Size of an event record in bytes.
pub const EVT_SIZE: u64 = 32;
/// Number of 64-bit words in an event record.
pub const EVT_QWORDS: usize = 4;

bitfield! {
    /// The fields of an event record.
    pub struct RawEvent([u64; 4]) {
        /// Event type ([`EventId`]).
        id, with_id: 7, 0;
        /// SSV: the SubstreamID is valid.
        ssv, with_ssv: 11, 11;
        /// SubstreamID.
        ssid, with_ssid: 31, 12;
        /// StreamID.
        sid, with_sid: 63, 32;
        /// STAG: stall tag (with Stall).
        stag, with_stag: 79, 64;
        /// Stall: the transaction is stalled, resume it with CMD_RESUME.
        stall, with_stall: 95, 95;
        /// PnU: privileged transaction.
        pnu, with_pnu: 97, 97;
        /// InD: instruction fetch.
        ind, with_ind: 98, 98;
        /// RnW: read (1) or write (0).
        rnw, with_rnw: 99, 99;
        /// S2: the fault was raised by stage 2.
        s2, with_s2: 103, 103;
        /// Class: what was being accessed ([`CLASS_CD`], [`CLASS_TT`],
        /// [`CLASS_IN`]).
        class, with_class: 105, 104;
        /// TTRnW: the faulting table access was a read (hardware updates).
        tt_rnw, with_tt_rnw: 108, 108;
        /// InputAddr: the transaction's input address.
        input_addr, with_input_addr: 191, 128;
        /// IPA bits 51:12 (stage 2 faults).
        ipa, with_ipa: 243, 204;
        /// FetchAddr bits 51:3 (F_STE_FETCH, F_CD_FETCH, F_WALK_EABT...).
        fetch_addr, with_fetch_addr: 243, 195;
    }
}

/// `Class`: a CD fetch.
pub const CLASS_CD: u64 = 0;
/// `Class`: a stage 1 translation table fetch.
pub const CLASS_TT: u64 = 1;
/// `Class`: the input address itself.
pub const CLASS_IN: u64 = 2;
/// Low bit of the IPA field.
const IPA_SHIFT: u32 = 12;
/// Low bit of the FetchAddr field.
const FETCH_ADDR_SHIFT: u32 = 3;

/// Declares [`EventId`] from `(variant, value, name)` triples.
macro_rules! event_ids {
    ($($(#[$meta:meta])* $variant:ident = $value:literal, $name:literal;)*) => {
        /// An event type (§7.3).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum EventId {
            $($(#[$meta])* $variant,)*
            /// A type this module does not know (IMPLEMENTATION DEFINED...).
            Unknown(u8),
        }

        impl EventId {
            /// The type of the event type field value `v`.
            pub const fn from_u8(v: u8) -> EventId {
                match v {
                    $($value => EventId::$variant,)*
                    other => EventId::Unknown(other),
                }
            }

            /// The event type field value.
            pub const fn value(self) -> u8 {
                match self {
                    $(EventId::$variant => $value,)*
                    EventId::Unknown(v) => v,
                }
            }

            /// The specification's name of the event, `"UNKNOWN"` if not known.
            pub const fn name(self) -> &'static str {
                match self {
                    $(EventId::$variant => $name,)*
                    EventId::Unknown(_) => "UNKNOWN",
                }
            }
        }
    };
}

event_ids! {
    /// Unsupported upstream transaction.
    FUut = 0x01, "F_UUT";
    /// StreamID out of range of the stream table (or an invalid L1 descriptor).
    CBadStreamId = 0x02, "C_BAD_STREAMID";
    /// An STE fetch aborted.
    FSteFetch = 0x03, "F_STE_FETCH";
    /// The STE is not valid or is illegal.
    CBadSte = 0x04, "C_BAD_STE";
    /// An ATS translation request was refused.
    FBadAtsTreq = 0x05, "F_BAD_ATS_TREQ";
    /// The stream is disabled (`S1DSS == terminate` without a SubstreamID).
    FStreamDisabled = 0x06, "F_STREAM_DISABLED";
    /// A translated transaction was refused (ATS not enabled).
    FTranslForbidden = 0x07, "F_TRANSL_FORBIDDEN";
    /// The SubstreamID is out of range or not allowed.
    CBadSubstreamId = 0x08, "C_BAD_SUBSTREAMID";
    /// A CD fetch aborted.
    FCdFetch = 0x09, "F_CD_FETCH";
    /// The CD is not valid or is illegal.
    CBadCd = 0x0a, "C_BAD_CD";
    /// A translation table walk access aborted.
    FWalkEabt = 0x0b, "F_WALK_EABT";
    /// Translation fault: no valid mapping.
    FTranslation = 0x10, "F_TRANSLATION";
    /// Address size fault.
    FAddrSize = 0x11, "F_ADDR_SIZE";
    /// Access flag fault.
    FAccess = 0x12, "F_ACCESS";
    /// Permission fault.
    FPermission = 0x13, "F_PERMISSION";
    /// TLB conflict.
    FTlbConflict = 0x20, "F_TLB_CONFLICT";
    /// Configuration cache conflict.
    FCfgConflict = 0x21, "F_CFG_CONFLICT";
    /// A PRI page request (on the event queue: stall-free PRI emulation).
    EPageRequest = 0x24, "E_PAGE_REQUEST";
    /// A VMS fetch aborted.
    FVmsFetch = 0x25, "F_VMS_FETCH";
}

impl EventId {
    /// Whether the event is a translation fault with the full record
    /// (stall tag, attributes, input address, IPA).
    pub const fn is_translation_fault(self) -> bool {
        matches!(
            self,
            EventId::FWalkEabt
                | EventId::FTranslation
                | EventId::FAddrSize
                | EventId::FAccess
                | EventId::FPermission
        )
    }
}

/// A decoded event record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The event type.
    pub id: EventId,
    /// StreamID.
    pub sid: u32,
    /// SubstreamID, if the record has one (`SSV`).
    pub ssid: Option<u32>,
    /// The transaction is stalled (resume it with CMD_RESUME and `stag`).
    pub stall: bool,
    /// Stall tag.
    pub stag: u16,
    /// Privileged transaction.
    pub privileged: bool,
    /// Instruction fetch.
    pub instruction: bool,
    /// Read (else write).
    pub read: bool,
    /// Raised by stage 2.
    pub s2: bool,
    /// What was being accessed ([`CLASS_CD`], ...).
    pub class: u8,
    /// The faulting table access was a read.
    pub tt_read: bool,
    /// Input address.
    pub input_addr: u64,
    /// IPA (bits 51:12) of a stage 2 fault.
    pub ipa: u64,
    /// Fetch address (bits 51:3) of a fetch fault.
    pub fetch_addr: u64,
}

impl Event {
    /// Decodes the four words of an event record.
    pub const fn decode(raw: [u64; 4]) -> Event {
        let e = RawEvent(raw);
        Event {
            id: EventId::from_u8(e.id() as u8),
            sid: e.sid() as u32,
            ssid: if e.ssv() != 0 {
                Some(e.ssid() as u32)
            } else {
                None
            },
            stall: e.stall() != 0,
            stag: e.stag() as u16,
            privileged: e.pnu() != 0,
            instruction: e.ind() != 0,
            read: e.rnw() != 0,
            s2: e.s2() != 0,
            class: e.class() as u8,
            tt_read: e.tt_rnw() != 0,
            input_addr: e.input_addr(),
            ipa: e.ipa() << IPA_SHIFT,
            fetch_addr: e.fetch_addr() << FETCH_ADDR_SHIFT,
        }
    }

    /// The event type's name.
    pub const fn name(&self) -> &'static str {
        self.id.name()
    }

    /// The name of the class.
    pub const fn class_name(&self) -> &'static str {
        match self.class as u64 {
            CLASS_CD => "CD fetch",
            CLASS_TT => "Stage 1 translation table fetch",
            CLASS_IN => "Input address caused fault",
            _ => "Reserved",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_match_linux() {
        for v in 0..=u8::MAX {
            assert_eq!(EventId::from_u8(v).value(), v);
        }
        assert_eq!(EventId::from_u8(0x10), EventId::FTranslation);
        assert_eq!(EventId::from_u8(0x10).name(), "F_TRANSLATION");
        assert_eq!(EventId::from_u8(0x04).name(), "C_BAD_STE");
        assert_eq!(EventId::from_u8(0x0a).name(), "C_BAD_CD");
        assert_eq!(EventId::from_u8(0x25).name(), "F_VMS_FETCH");
        assert_eq!(EventId::from_u8(0x0c), EventId::Unknown(0x0c));
        assert_eq!(EventId::Unknown(0xe0).name(), "UNKNOWN");
        assert!(EventId::FPermission.is_translation_fault());
        assert!(!EventId::CBadSte.is_translation_fault());
    }

    #[test]
    fn decode_translation_fault() {
        // As QEMU's smmuv3_record_event() builds an F_TRANSLATION record:
        // words 0-1 type/SSV/SSID/SID, 2-3 STAG/Stall/PnU/InD/RnW/S2/Class,
        // 4-5 input address, 6-7 the IPA.
        let raw = [
            0x10 | 1 << 11 | 0x12345 << 12 | 0x0010_0008 << 32,
            0x7 | 1 << 31 | 1 << 33 | 1 << 35 | 1 << 39 | 2 << 40 | 1 << 44,
            0xffff_0000_dead_b000,
            0x0000_0987_6543_2000,
        ];
        let e = Event::decode(raw);
        assert_eq!(
            e,
            Event {
                id: EventId::FTranslation,
                sid: 0x0010_0008,
                ssid: Some(0x12345),
                stall: true,
                stag: 7,
                privileged: true,
                instruction: false,
                read: true,
                s2: true,
                class: 2,
                tt_read: true,
                input_addr: 0xffff_0000_dead_b000,
                ipa: 0x0000_0987_6543_2000,
                fetch_addr: 0x0000_0987_6543_2000,
            }
        );
        assert_eq!(e.name(), "F_TRANSLATION");
        assert_eq!(e.class_name(), "Input address caused fault");
    }

    #[test]
    fn decode_fetch_fault_and_no_ssid() {
        let e = Event::decode([0x09 | 0xabc << 12 | 5 << 32, 0, 0, 0x8000_1238]);
        assert_eq!(e.id, EventId::FCdFetch);
        assert_eq!(e.ssid, None);
        assert_eq!(e.sid, 5);
        assert_eq!(e.fetch_addr, 0x8000_1238);
        assert_eq!(e.ipa, 0x8000_1000);
        assert_eq!(Event::decode([0; 4]).name(), "UNKNOWN");
        assert_eq!(Event::decode([0, 3 << 40, 0, 0]).class_name(), "Reserved");
    }
}
