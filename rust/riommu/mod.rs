// SPDX-License-Identifier: GPL-2.0

//! riommu: safe Rust abstractions for IOMMU drivers that plug into iommufd.
//!
//! A driver implements [`driver::Driver`] (the `iommu_ops` side) and the
//! domain traits of [`domain`]; [`driver::declare_iommu_driver!`] builds the
//! C operation tables for it.  Every `unsafe` block of a riommu driver lives
//! in this module tree; drivers themselves are `#![forbid(unsafe_code)]`.
//!
//! The module tree is compiled into each driver crate (out-of-tree modules
//! cannot link against a shared Rust library crate), together with the
//! `no_std` pure-logic files of `rust/riommu_core`, which are also tested
//! on the host.

// Each driver crate compiles the whole API and uses part of it, a different
// part per driver, so whether `dead_code` fires depends on the crate:
// `allow`, not `expect`, which would fail in the crates that use an item.
#![allow(dead_code)]

pub mod bindings;
pub mod device;
pub mod domain;
pub mod driver;
pub mod flags;
pub mod hw;
pub mod iommufd;
pub mod iopf;
pub mod iotlb;
mod kmem;
#[cfg(riommu_test)]
pub mod mockbus;
pub mod objset;
pub mod pages;
pub mod pgtable;
pub mod platform;
pub mod pure;
pub mod registration;
pub mod sva;
pub mod uapi_check;
pub mod userdata;
pub mod viommu;
pub mod vtable;
