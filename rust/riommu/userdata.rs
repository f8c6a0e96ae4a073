// SPDX-License-Identifier: GPL-2.0

//! Typed access to driver-specific user data: `struct iommu_user_data` and
//! `struct iommu_user_data_array`.
//!
//! The copy rules (type check, minimum and maximum length, zero-filling,
//! trailing-zero checks) are the pure functions of
//! `riommu_core/src/userdata.rs`, tested on the host; this file only
//! connects them to real user memory.

use super::pure::{errno::Errno, userdata as rules};
use core::mem::MaybeUninit;
use kernel::{
    bindings,
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};

/// A driver-defined uAPI structure that can be read from (or written to)
/// iommufd user data.
///
/// Declare the data type value and the minimum length next to the struct:
///
/// ```ignore
/// #[repr(C)]
/// #[derive(FromBytes, IntoBytes, Immutable, KnownLayout, Default)]
/// struct iommu_hwpt_selftest { iotlb: u32, pagetable_type: u32 }
/// impl UserStruct for iommu_hwpt_selftest {
///     const TYPE: u32 = 0xdead;
///     const MIN_LEN: usize = core::mem::offset_of!(Self, iotlb) + 4;
/// }
/// ```
pub trait UserStruct: FromBytes + IntoBytes + zerocopy::Immutable + Sized {
    /// The `data_type` value identifying this structure.
    const TYPE: u32;
    /// Bytes up to and including the last field of the first version of the
    /// structure (`offsetofend(last mandatory field)`).
    const MIN_LEN: usize;
}

/// Reads one `T` of exactly `size_of::<T>()` bytes at user address `addr`:
/// `EFAULT` if any of it cannot be read.
///
/// This is what the kernel crate's `UserSliceReader::read::<T>()` does, for
/// the zerocopy `FromBytes` of the API's user structs (that method wants the
/// kernel crate's own `transmute::FromBytes`): one `_copy_from_user()` of a
/// size known at compile time, from code monomorphised here, as C's inline
/// `copy_from_user()`.  The chunked and the rule-checked paths go through
/// `UserSliceReader::read_raw` and `rust_helper_copy_from_user`, two more
/// out-of-line calls, which one-entry HWPT_INVALIDATE and allocation data
/// showed (issue #20).
fn read_user_value<T: FromBytes>(addr: usize) -> Result<T> {
    let mut value = MaybeUninit::<T>::uninit();
    // SAFETY: `value` is valid for writes of `size_of::<T>()` bytes.
    // `_copy_from_user()` checks the user range itself (7.3
    // `_inline_copy_from_user()`, include/linux/uaccess.h: `access_ok()` or
    // `mask_user_address()`, and a fault-tolerant copy), so any address is
    // acceptable.  As in `UserSliceReader::read` (rust/kernel/uaccess.rs) it
    // skips `check_object_size()`, which C's `copy_from_user()` skips too for
    // a compile-time-constant size; the destination is a local `T` anyway.
    let left = unsafe {
        bindings::_copy_from_user(
            value.as_mut_ptr().cast(),
            UserPtr::from_addr(addr).as_const_ptr(),
            size_of::<T>(),
        )
    };
    if left != 0 {
        return Err(EFAULT);
    }
    // SAFETY: the copy above wrote all `size_of::<T>()` bytes, and any bytes
    // are a valid `T` (`FromBytes`).
    Ok(unsafe { value.assume_init() })
}

/// Writes `value`, `size_of::<T>()` bytes, to user address `addr`: `EFAULT`
/// if any of it cannot be written.
///
/// As the kernel crate's `UserSliceWriter::write::<T>()` (which wants its own
/// `AsBytes`): one `_copy_to_user()` of a compile-time size.
fn write_user_value<T: IntoBytes + zerocopy::Immutable>(addr: usize, value: &T) -> Result {
    let bytes = value.as_bytes();
    // SAFETY: `bytes` is valid for reads of its length, `size_of::<T>()`.
    // `_copy_to_user()` checks the user range itself (7.3
    // `_inline_copy_to_user()`, include/linux/uaccess.h: `access_ok()`, then
    // a fault-tolerant `raw_copy_to_user()`), so any address is acceptable.
    // As in `UserSliceWriter::write` (rust/kernel/uaccess.rs) it skips
    // `check_object_size()`, which C's `copy_to_user()` skips too for a
    // compile-time-constant size; the source is a `&T` anyway.
    let left = unsafe {
        bindings::_copy_to_user(
            UserPtr::from_addr(addr).as_mut_ptr(),
            bytes.as_ptr().cast(),
            bytes.len(),
        )
    };
    if left != 0 {
        return Err(EFAULT);
    }
    Ok(())
}

/// User memory seen from a user pointer, for the pure copy rules.
struct UserMem {
    addr: usize,
}

impl rules::UserMem for UserMem {
    fn copy_from(&self, offset: usize, dst: &mut [u8]) -> Result<(), Errno> {
        let ptr = UserPtr::from_addr(self.addr.wrapping_add(offset));
        UserSlice::new(ptr, dst.len())
            .reader()
            .read_slice(dst)
            .map_err(|_| Errno::EFAULT)
    }

    fn is_zeroed(&self, offset: usize, len: usize) -> Result<bool, Errno> {
        let ptr = UserPtr::from_addr(self.addr.wrapping_add(offset));
        // SAFETY: `check_zeroed_user` validates the user range itself
        // (`access_ok` and fault-tolerant user access); any value is safe to pass.
        let ret = unsafe { bindings::check_zeroed_user(ptr.as_const_ptr(), len) };
        match ret {
            1 => Ok(true),
            0 => Ok(false),
            _ => Err(Errno::EFAULT),
        }
    }
}

/// Driver-specific user data passed to an allocation (`struct iommu_user_data`).
pub struct UserData<'a> {
    raw: Option<&'a bindings::iommu_user_data>,
}

impl<'a> UserData<'a> {
    /// Wraps a possibly NULL `struct iommu_user_data` pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must be NULL or valid for reads for `'a`.
    pub(in crate::riommu) unsafe fn from_raw(ptr: *const bindings::iommu_user_data) -> Self {
        // SAFETY: per the function's safety requirements.
        // SAFETY: per the function's safety requirements.
        let raw = unsafe { ptr.as_ref() };
        Self { raw }
    }

    /// No user data at all (a paging allocation without data).
    pub fn none() -> Self {
        Self { raw: None }
    }

    /// The `data_type`, or `None` when there is no user data.
    pub fn data_type(&self) -> Option<u32> {
        self.raw.map(|r| r.type_)
    }

    /// The user's length in bytes (0 without user data).
    pub fn len(&self) -> usize {
        self.raw.map_or(0, |r| r.len)
    }

    /// Whether there is no user data.
    pub fn is_empty(&self) -> bool {
        self.raw.is_none()
    }

    /// Reads a `T` with the semantics of 7.3's `iommu_copy_struct_from_user`:
    /// a wrong type, a length below `T::MIN_LEN` or above `size_of::<T>()` give
    /// `EINVAL`; a shorter length is zero-filled; a fault gives `EFAULT`.
    /// Without user data, `EINVAL`.
    #[inline]
    pub fn read<T: UserStruct>(&self) -> Result<T> {
        let raw = self.raw.ok_or(EINVAL)?;
        if raw.type_ == T::TYPE && raw.len == size_of::<T>() && raw.len >= T::MIN_LEN {
            // The usual case, for which the rules below make one copy of
            // the whole struct: make it directly (inline in the caller, as
            // C's `iommu_copy_struct_from_user()`).
            return read_user_value(raw.uptr as usize);
        }
        Self::read_by_rules(raw)
    }

    /// [`UserData::read`] for any type and length.
    #[inline(never)]
    fn read_by_rules<T: UserStruct>(raw: &bindings::iommu_user_data) -> Result<T> {
        let mut value = T::new_zeroed();
        let mem = UserMem {
            addr: raw.uptr as usize,
        };
        rules::read_user_data(
            value.as_mut_bytes(),
            raw.type_,
            T::TYPE,
            &mem,
            raw.len,
            T::MIN_LEN,
        )?;
        Ok(value)
    }

    /// Writes `value` back with the semantics of 7.3's
    /// `iommu_copy_struct_to_user`: type and length rules as for
    /// [`UserData::read`]; only the user's length is written.
    pub fn write<T: UserStruct>(&self, value: &T) -> Result {
        let raw = self.raw.ok_or(EINVAL)?;
        if raw.type_ != T::TYPE || raw.len < T::MIN_LEN || raw.len > size_of::<T>() {
            return Err(EINVAL);
        }
        if raw.len == size_of::<T>() {
            return write_user_value(raw.uptr as usize, value);
        }
        let bytes = value.as_bytes();
        UserSlice::new(UserPtr::from_ptr(raw.uptr), raw.len)
            .writer()
            .write_slice(&bytes[..raw.len])
    }
}

/// An array of driver-specific user entries (`struct iommu_user_data_array`),
/// as passed to `cache_invalidate_user`.
pub struct UserDataArray<'a> {
    raw: &'a mut bindings::iommu_user_data_array,
    requested: u32,
}

impl<'a> UserDataArray<'a> {
    /// Wraps the core's array descriptor.
    ///
    /// # Safety
    ///
    /// `ptr` must be valid for reads and writes for `'a`, with no other access.
    pub(in crate::riommu) unsafe fn from_raw(ptr: *mut bindings::iommu_user_data_array) -> Self {
        // SAFETY: per the function's safety requirements.
        let raw = unsafe { &mut *ptr };
        let requested = raw.entry_num;
        Self { raw, requested }
    }

    /// The `data_type` of the entries.
    pub fn data_type(&self) -> u32 {
        self.raw.type_
    }

    /// Number of entries userspace passed.
    pub fn entry_num(&self) -> u32 {
        self.requested
    }

    /// The user's size of one entry.
    pub fn entry_len(&self) -> usize {
        self.raw.entry_len
    }

    fn mem(&self) -> UserMem {
        UserMem {
            addr: self.raw.uptr as usize,
        }
    }

    /// Reads entry `index` with 7.3's `iommu_copy_struct_from_user_array`
    /// rules (the per-entry length rules of [`UserData::read`], with
    /// `entry_len` as the length; `index >= entry_num` gives `EINVAL`).
    pub fn read_entry<T: UserStruct>(&self, index: u32) -> Result<T> {
        let mut value = T::new_zeroed();
        rules::read_array_entry(
            value.as_mut_bytes(),
            self.raw.type_,
            T::TYPE,
            &self.mem(),
            self.raw.entry_len,
            self.requested,
            index,
            T::MIN_LEN,
        )?;
        Ok(value)
    }

    /// Reads the whole array with 7.3's
    /// `iommu_copy_struct_from_full_user_array` rules: `entry_num == 0` or a
    /// wrong type give `EINVAL`; an `entry_len` equal to the struct size is one
    /// copy; any other is read entry by entry, a short entry zero-filled and a
    /// longer one accepted only with a zero tail (`E2BIG` otherwise).
    pub fn read_all<T: UserStruct>(&self) -> Result<KVVec<T>> {
        let n = self.requested as usize;
        if self.raw.type_ != T::TYPE || n == 0 {
            return Err(EINVAL);
        }
        let mut entries = KVVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            entries.push(T::new_zeroed(), GFP_KERNEL)?;
        }
        rules::read_full_array(
            entries.as_mut_slice().as_mut_bytes(),
            size_of::<T>(),
            self.raw.type_,
            T::TYPE,
            &self.mem(),
            self.raw.entry_len,
            self.requested,
        )?;
        Ok(entries)
    }

    /// Reports how many entries were handled: the core copies this back to
    /// userspace's `entry_num`, on success and on error.
    pub fn set_processed(&mut self, n: u32) {
        self.raw.entry_num = n.min(self.requested);
    }

    /// Runs `f` on each entry in order (read with [`UserDataArray::read_entry`]'s
    /// rules), stops at the first error and reports the number of entries
    /// handled before it, as iommufd drivers must.
    ///
    /// When the user's entries have exactly the kernel struct's size (the
    /// usual case) they are copied in chunks of [`CHUNK_BYTES`], one
    /// `copy_from_user()` per chunk instead of one per entry; a chunk that
    /// faults is re-read entry by entry, so that the entry that faults, and
    /// `entry_num`, are exactly those of the per-entry rules.
    pub fn for_each_entry<T: UserStruct>(&mut self, mut f: impl FnMut(T) -> Result) -> Result {
        let size = size_of::<T>();
        let mut done = 0;
        let mut ret = Ok(());
        if self.raw.type_ == T::TYPE && self.raw.entry_len == size && size <= CHUNK_BYTES {
            let per_chunk = CHUNK_BYTES / size;
            // Not zeroed: a chunk is only used once fully copied in.
            let mut buf = [MaybeUninit::<u8>::uninit(); CHUNK_BYTES];
            'chunks: while done < self.requested {
                let n = (self.requested - done).min(per_chunk as u32) as usize;
                let from = (self.raw.uptr as usize).wrapping_add(done as usize * size);
                if n == 1 {
                    // One entry: no chunk, one copy straight into a `T`; a
                    // fault gives `EFAULT` as the per-entry rules do.
                    match read_user_value::<T>(from).and_then(&mut f) {
                        Ok(()) => done += 1,
                        Err(e) => {
                            ret = Err(e);
                            break;
                        }
                    }
                    continue;
                }
                let chunk = &mut buf[..n * size];
                let copied = UserSlice::new(UserPtr::from_addr(from), chunk.len())
                    .reader()
                    .read_raw(chunk);
                // SAFETY: on success `read_raw` initialised every byte of
                // `chunk`; `u8` has no invalid values.
                let bytes = copied.map(|()| unsafe {
                    core::slice::from_raw_parts(chunk.as_ptr().cast::<u8>(), chunk.len())
                });
                let Ok(bytes) = bytes else {
                    // Find the entry that faults, with the per-entry rules.
                    for _ in 0..n {
                        match self.read_entry::<T>(done).and_then(&mut f) {
                            Ok(()) => done += 1,
                            Err(e) => {
                                ret = Err(e);
                                break 'chunks;
                            }
                        }
                    }
                    continue;
                };
                for one in bytes.chunks_exact(size) {
                    // Cannot fail: `one` has `T`'s size and `T: FromBytes`.
                    let Ok(entry) = T::read_from_bytes(one) else {
                        ret = Err(EINVAL);
                        break 'chunks;
                    };
                    if let Err(e) = f(entry) {
                        ret = Err(e);
                        break 'chunks;
                    }
                    done += 1;
                }
            }
        } else {
            while done < self.requested {
                match self.read_entry::<T>(done).and_then(&mut f) {
                    Ok(()) => done += 1,
                    Err(e) => {
                        ret = Err(e);
                        break;
                    }
                }
            }
        }
        self.set_processed(done);
        ret
    }
}

/// Bytes of user entries [`UserDataArray::for_each_entry`] copies at once
/// (on the stack).
pub const CHUNK_BYTES: usize = 512;

/// Reads an extensible ioctl argument whose first `u32` is its size in bytes
/// (the iommufd convention): a size below `min_len` gives `EINVAL`, a larger
/// size than `T` is accepted only with a zero tail (`E2BIG` otherwise), a
/// shorter one is zero-filled.  Returns the value and the user's size.
///
/// The size is read once and the struct copied once after it; the `size`
/// field inside the returned copy is ignored in favour of the first read, so
/// a concurrent change of the user's buffer cannot make the two disagree.
pub fn read_ioctl<T: FromBytes + IntoBytes>(arg: usize, min_len: usize) -> Result<(T, usize)> {
    let size = read_user_value::<u32>(arg)? as usize;
    if size < min_len {
        return Err(EINVAL);
    }
    if size == size_of::<T>() {
        // The common case (the caller's struct is ours): one typed copy, no
        // tail to check or zero-fill.
        return Ok((read_user_value::<T>(arg)?, size));
    }
    let mut value = T::new_zeroed();
    rules::copy_struct_from_user(value.as_mut_bytes(), &UserMem { addr: arg }, 0, size)?;
    Ok((value, size))
}

/// Writes an ioctl argument back: the first `min(size, size_of::<T>())`
/// bytes of `value`.
pub fn write_ioctl<T: IntoBytes + zerocopy::Immutable>(
    arg: usize,
    value: &T,
    size: usize,
) -> Result {
    let bytes = value.as_bytes();
    if size >= bytes.len() {
        return write_user_value(arg, value);
    }
    UserSlice::new(UserPtr::from_addr(arg), size)
        .writer()
        .write_slice(&bytes[..size])
}

/// Reads `len` bytes of user memory at `addr` into a new vector (`EFAULT` on
/// a fault).
pub fn read_user_bytes(addr: usize, len: usize) -> Result<KVVec<u8>> {
    let mut v = KVVec::with_capacity(len, GFP_KERNEL)?;
    UserSlice::new(UserPtr::from_addr(addr), len).read_all(&mut v, GFP_KERNEL)?;
    Ok(v)
}

/// The physical address behind the user virtual address `addr` of the
/// calling process (faulting the page in if needed).
pub fn user_addr_to_phys(addr: usize) -> Result<u64> {
    let mut phys = 0u64;
    // SAFETY: the shim validates the address through get_user_pages_fast();
    // `phys` is a valid out-parameter.
    kernel::error::to_result(unsafe {
        super::bindings::riommu_shim_user_addr_to_phys(addr, &mut phys)
    })?;
    Ok(phys)
}
