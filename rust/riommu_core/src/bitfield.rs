// SPDX-License-Identifier: GPL-2.0

//! Typed bitfields for hardware registers and table entries.
//!
//! [`bitfield!`] declares a newtype over `[u64; N]` (a register is
//! `N = 1`; a 128-bit VT-d context entry is `N = 2`; a 512-bit SMMUv3 STE is
//! `N = 8`) with one getter and one `with_` builder per field.  Fields are
//! named by their absolute bit range `hi:lo` as written in the hardware
//! specification and may not cross a 64-bit word.  Values wider than the
//! field are refused by the builder (it returns `None`), so an encoding can
//! never silently spill into a neighbour.
//!
//! ```ignore
//! bitfield! {
//!     /// An example 128-bit entry.
//!     pub struct Entry([u64; 2]) {
//!         /// Present.
//!         present, with_present: 0, 0;
//!         /// Table pointer, bits 63:12.
//!         addr, with_addr: 63, 12;
//!         /// Domain id.
//!         did, with_did: 87, 72;
//!     }
//! }
//! let e = Entry::ZERO.with_present(1).unwrap().with_did(5).unwrap();
//! assert_eq!(e.did(), 5);
//! ```

/// Mask of a `width`-bit field (1 ..= 64).
pub const fn field_mask(width: u32) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    }
}

/// Declares a bitfield type; see the module documentation.
#[allow(unused_macros)]
macro_rules! bitfield {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident([u64; $n:literal]) {
            $(
                $(#[$fmeta:meta])*
                $get:ident, $set:ident : $hi:literal, $lo:literal;
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        $vis struct $name(pub [u64; $n]);

        #[allow(dead_code)]
        impl $name {
            /// All bits clear.
            $vis const ZERO: Self = Self([0; $n]);

            /// Mask of a `width`-bit field.
            const fn field_mask(width: u32) -> u64 {
                if width >= 64 {
                    u64::MAX
                } else {
                    (1u64 << width) - 1
                }
            }

            $(
                $(#[$fmeta])*
                $vis const fn $get(&self) -> u64 {
                    const { assert!($hi >= $lo && $hi / 64 == $lo / 64 && $hi < $n * 64) };
                    (self.0[$lo / 64] >> ($lo % 64)) & Self::field_mask($hi - $lo + 1)
                }

                /// Returns a copy with the field set to `v`, or `None` if `v`
                /// does not fit.
                $vis const fn $set(self, v: u64) -> Option<Self> {
                    let mask = Self::field_mask($hi - $lo + 1);
                    if v & !mask != 0 {
                        return None;
                    }
                    let mut words = self.0;
                    words[$lo / 64] = (words[$lo / 64] & !(mask << ($lo % 64))) | (v << ($lo % 64));
                    Some(Self(words))
                }
            )*
        }
    };
}

#[allow(unused_imports)]
pub(crate) use bitfield;

#[cfg(test)]
mod tests {

    bitfield! {
        /// A test entry spanning two words.
        struct Entry([u64; 2]) {
            /// bit 0
            present, with_present: 0, 0;
            /// bits 63:12
            addr, with_addr: 63, 12;
            /// bits 87:72
            did, with_did: 87, 72;
            /// bits 127:127
            top, with_top: 127, 127;
        }
    }

    #[test]
    fn fields_round_trip_and_stay_in_place() {
        let e = Entry::ZERO
            .with_present(1)
            .unwrap()
            .with_addr(0xf_ffff_ffff_ffff)
            .unwrap()
            .with_did(0xabcd)
            .unwrap()
            .with_top(1)
            .unwrap();
        assert_eq!(e.present(), 1);
        assert_eq!(e.addr(), 0xf_ffff_ffff_ffff);
        assert_eq!(e.did(), 0xabcd);
        assert_eq!(e.top(), 1);
        assert_eq!(e.0[0], 0xffff_ffff_ffff_f001);
        assert_eq!(e.0[1], (0xabcd << 8) | (1 << 63));
    }

    #[test]
    fn too_wide_values_are_refused() {
        assert!(Entry::ZERO.with_present(2).is_none());
        assert!(Entry::ZERO.with_did(0x1_0000).is_none());
        assert!(Entry::ZERO.with_addr(1 << 52).is_none());
    }

    #[test]
    fn setting_a_field_clears_its_old_value() {
        let e = Entry::ZERO.with_did(0xffff).unwrap().with_did(1).unwrap();
        assert_eq!(e.did(), 1);
        assert_eq!(e.0[1], 1 << 8);
    }
}
