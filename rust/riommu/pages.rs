// SPDX-License-Identifier: GPL-2.0

//! Zeroed, physically contiguous pages named by their physical address, for
//! regions a driver shares with hardware or maps to userspace.

use super::bindings as rb;
use kernel::{page::PAGE_SIZE, prelude::*};

/// `2^order` zeroed pages, freed on drop.
///
/// # Invariants
///
/// `phys` is the physical address of `2^order` pages allocated by
/// `riommu_shim_alloc_pages_phys(order)` and owned by `self`.
pub struct PhysPages {
    phys: u64,
    order: u32,
}

impl PhysPages {
    /// Allocates `2^order` zeroed pages.
    pub fn alloc(order: u32) -> Result<Self> {
        // SAFETY: plain page allocation.
        let phys = unsafe { rb::riommu_shim_alloc_pages_phys(order) };
        if phys == 0 {
            return Err(ENOMEM);
        }
        // INVARIANT: just allocated.
        Ok(Self { phys, order })
    }

    /// The physical address.
    pub fn phys(&self) -> u64 {
        self.phys
    }

    /// The size in bytes.
    pub fn len(&self) -> usize {
        PAGE_SIZE << self.order
    }

    /// Never empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes `value` as the `index`-th `u32`; out of range is `EINVAL`.
    pub fn write_u32(&self, index: usize, value: u32) -> Result {
        if (index + 1) * size_of::<u32>() > self.len() {
            return Err(EINVAL);
        }
        // SAFETY: in bounds of our pages (checked), mapped in the linear map;
        // userspace may map them too, so use a volatile write.
        unsafe {
            rb::riommu_shim_phys_to_virt(self.phys)
                .cast::<u32>()
                .add(index)
                .write_volatile(value)
        };
        Ok(())
    }
}

impl Drop for PhysPages {
    fn drop(&mut self) {
        // SAFETY: ours (type invariant), freed once.
        unsafe { rb::riommu_shim_free_pages_phys(self.phys, self.order) };
    }
}
