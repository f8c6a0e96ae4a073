// SPDX-License-Identifier: GPL-2.0

//! Pure logic of the riommu IOMMU drivers, free of `unsafe`, `std` and `alloc`.
//!
//! Every module below (except this file) is also compiled inside kernel
//! crates, included with `#[path]` into a module laid out exactly like this
//! crate root:
//!
//! ```text
//! mod riommu_core {
//!     #[path = ".../errno.rs"]
//!     pub mod errno;
//!     #[path = ".../userdata.rs"]
//!     pub mod userdata;
//!     #[path = ".../pt.rs"]
//!     pub mod pt;
//!     #[path = ".../mockpt.rs"]
//!     pub mod mockpt;
//!     #[path = ".../vtd/mod.rs"]
//!     pub mod vtd;
//!     #[path = ".../smmuv3/mod.rs"]
//!     pub mod smmuv3;
//! }
//! ```
//!
//! so the modules refer to each other only as `super::name`.

#![cfg_attr(not(test), no_std)]

pub mod bitfield;
pub mod errno;
pub mod mockpt;
pub mod pt;
pub mod smmuv3;
pub mod userdata;
pub mod vtd;
