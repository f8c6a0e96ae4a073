// SPDX-License-Identifier: GPL-2.0

//! The rules by which an IOMMU driver copies its user data (the driver
//! specific structs of `include/uapi/linux/iommufd.h`) from user space,
//! exactly as Linux 7.3 does:
//!
//! - [`copy_struct_from_user`] is `copy_struct_from_user()` of
//!   `include/linux/uaccess.h`;
//! - [`read_user_data`] is `__iommu_copy_struct_from_user()`;
//! - [`read_array_entry`] is `__iommu_copy_struct_from_user_array()`;
//! - [`read_full_array`] is `iommu_copy_struct_from_full_user_array()`
//!
//! (the last three from `include/linux/iommu.h`).
//!
//! The module is byte oriented: the kernel struct is the destination byte
//! slice, whose length is the struct's size (`sizeof(*kdst)`), and user memory
//! is reached through [`UserMem`].

use super::errno::Errno;

/// A view of user memory that starts at a user pointer (offset 0).
///
/// The kernel implements it over a `__user` pointer with `copy_from_user()`
/// and `check_zeroed_user()`; tests implement it over a byte vector.
pub trait UserMem {
    /// Copies `dst.len()` bytes found at `offset` into `dst`.
    ///
    /// Returns [`Errno::EFAULT`] if any of those bytes cannot be read; `dst`
    /// is then unspecified. Callers never pass an empty `dst`.
    fn copy_from(&self, offset: usize, dst: &mut [u8]) -> Result<(), Errno>;

    /// Tells whether the `len` bytes at `offset` are all zero, like
    /// `check_zeroed_user()`: `Ok(true)` if they are (or `len` is 0),
    /// `Ok(false)` on a non-zero byte, `Err(Errno::EFAULT)` on a fault.
    fn is_zeroed(&self, offset: usize, len: usize) -> Result<bool, Errno>;
}

/// Linux's `copy_struct_from_user(dst, ksize, src, usize)` with
/// `ksize == dst.len()`, the user struct found at `src_offset` of `src` and
/// `user_size` bytes long.
///
/// - `user_size < ksize`: the bytes of `dst` past `user_size` are zeroed;
/// - `user_size > ksize`: the user bytes past `ksize` must be zero:
///   [`Errno::E2BIG`] if one is not, the error of [`UserMem::is_zeroed`] if it
///   faults;
///
/// then the first `min(ksize, user_size)` bytes are copied
/// ([`Errno::EFAULT`] on a fault). On error, `dst` is unspecified.
pub fn copy_struct_from_user<M: UserMem + ?Sized>(
    dst: &mut [u8],
    src: &M,
    src_offset: usize,
    user_size: usize,
) -> Result<(), Errno> {
    let ksize = dst.len();
    let size = if user_size < ksize { user_size } else { ksize };

    if user_size < ksize {
        dst[size..].fill(0);
    } else if user_size > ksize {
        let tail = src_offset.checked_add(ksize).ok_or(Errno::EFAULT)?;
        if !src.is_zeroed(tail, user_size - ksize)? {
            return Err(Errno::E2BIG);
        }
    }
    if size != 0 {
        src.copy_from(src_offset, &mut dst[..size])
            .map_err(|_| Errno::EFAULT)?;
    }
    Ok(())
}

/// `__iommu_copy_struct_from_user()` for a user struct at `offset` (`None`:
/// the offset overflowed, which faults only once the checks passed).
fn read_user_data_at<M: UserMem + ?Sized>(
    dst: &mut [u8],
    actual_type: u32,
    want_type: u32,
    mem: &M,
    offset: Option<usize>,
    len: usize,
    min_len: usize,
) -> Result<(), Errno> {
    if actual_type != want_type {
        return Err(Errno::EINVAL);
    }
    if len < min_len || dst.len() < len {
        return Err(Errno::EINVAL);
    }
    let offset = offset.ok_or(Errno::EFAULT)?;
    copy_struct_from_user(dst, mem, offset, len)
}

/// Linux 7.3 `__iommu_copy_struct_from_user()`: reads the user data
/// (`struct iommu_user_data` with type `actual_type`, `len` bytes at offset 0
/// of `mem`) into the kernel struct `dst` of type `want_type`.
///
/// `min_len` is the size of the struct's first version (`offsetofend()` of its
/// initial last member). Errors: [`Errno::EINVAL`] if the types differ, if
/// `len < min_len` or if `len > dst.len()` (a longer user struct is refused
/// here, whatever its tail holds); [`Errno::EFAULT`] on a fault. A shorter
/// user struct is zero-extended.
pub fn read_user_data<M: UserMem + ?Sized>(
    dst: &mut [u8],
    actual_type: u32,
    want_type: u32,
    mem: &M,
    len: usize,
    min_len: usize,
) -> Result<(), Errno> {
    read_user_data_at(dst, actual_type, want_type, mem, Some(0), len, min_len)
}

/// Linux 7.3 `__iommu_copy_struct_from_user_array()`: reads entry `index` of
/// a user array (`struct iommu_user_data_array` with type `actual_type`,
/// `entry_num` entries of `entry_len` bytes at offset 0 of `mem`) into `dst`.
///
/// [`Errno::EINVAL`] if `index >= entry_num` or `entry_num == 0`; then as
/// [`read_user_data`] for the `entry_len` bytes at `entry_len * index` (so an
/// entry longer than `dst` is refused with [`Errno::EINVAL`], one shorter than
/// `min_len` too).
#[allow(clippy::too_many_arguments)]
pub fn read_array_entry<M: UserMem + ?Sized>(
    dst: &mut [u8],
    actual_type: u32,
    want_type: u32,
    mem: &M,
    entry_len: usize,
    entry_num: u32,
    index: u32,
    min_len: usize,
) -> Result<(), Errno> {
    if index >= entry_num {
        return Err(Errno::EINVAL);
    }
    if entry_num == 0 {
        return Err(Errno::EINVAL);
    }
    let offset = usize::try_from(index)
        .ok()
        .and_then(|i| entry_len.checked_mul(i));
    read_user_data_at(dst, actual_type, want_type, mem, offset, entry_len, min_len)
}

/// Linux 7.3 `iommu_copy_struct_from_full_user_array()`: reads all
/// `entry_num` entries (`entry_len` bytes each, at offset 0 of `mem`) of a
/// user array of type `actual_type` into `dst`, an array of `entry_num`
/// kernel structs of `size` bytes and type `want_type`.
///
/// [`Errno::EINVAL`] if the types differ, if `entry_num == 0`, or if
/// `dst.len() != entry_num * size`. If `entry_len == size` the whole array is
/// copied at once ([`Errno::EFAULT`] on a fault); otherwise entry by entry
/// with [`copy_struct_from_user`], without any minimum length: a shorter entry
/// is zero-extended, a longer one must have a zero tail ([`Errno::E2BIG`]).
/// The first error stops the copy; `dst` is then unspecified.
pub fn read_full_array<M: UserMem + ?Sized>(
    dst: &mut [u8],
    size: usize,
    actual_type: u32,
    want_type: u32,
    mem: &M,
    entry_len: usize,
    entry_num: u32,
) -> Result<(), Errno> {
    if actual_type != want_type {
        return Err(Errno::EINVAL);
    }
    if entry_num == 0 {
        return Err(Errno::EINVAL);
    }
    let num = usize::try_from(entry_num).map_err(|_| Errno::EINVAL)?;
    if num.checked_mul(size) != Some(dst.len()) {
        return Err(Errno::EINVAL);
    }
    if entry_len == size {
        if !dst.is_empty() {
            mem.copy_from(0, dst).map_err(|_| Errno::EFAULT)?;
        }
        return Ok(());
    }
    for i in 0..num {
        // `i * size + size <= num * size == dst.len()`: no overflow.
        let start = i * size;
        let item = &mut dst[start..start + size];
        let offset = entry_len.checked_mul(i).ok_or(Errno::EFAULT)?;
        copy_struct_from_user(item, mem, offset, entry_len)?;
    }
    Ok(())
}
