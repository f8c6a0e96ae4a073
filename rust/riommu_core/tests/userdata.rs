// SPDX-License-Identifier: GPL-2.0

//! Tests of the iommufd user-data copy rules (Linux 7.3).

// Test code: std is fine, and the helpers need not be reachable.
#![allow(unreachable_pub, clippy::std_instead_of_core)]

mod common;

use std::cell::Cell;

use common::{FakeUser, Rng};
use riommu_core::errno::Errno;
use riommu_core::userdata::{
    copy_struct_from_user, read_array_entry, read_full_array, read_user_data, UserMem,
};

const TYPE: u32 = 0xfeed_beef;
const OTHER: u32 = 7;
/// Size of the kernel struct in these tests.
const SIZE: usize = 16;
/// Size of its first version.
const MIN: usize = 8;
/// What the destination holds before a copy.
const GARBAGE: u8 = 0xa5;

/// `n` bytes counting up from `first` (never 0 for small n and first >= 1).
fn pattern(first: u8, n: usize) -> Vec<u8> {
    (0..n).map(|i| first.wrapping_add(i as u8)).collect()
}

fn garbage(n: usize) -> Vec<u8> {
    vec![GARBAGE; n]
}

/// `bytes` followed by zeros up to `len`.
fn zero_extended(bytes: &[u8], len: usize) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v.resize(len, 0);
    v
}

/// Counts the calls to `copy_from`.
struct Counting<'a> {
    inner: &'a FakeUser,
    copies: Cell<usize>,
}

impl UserMem for Counting<'_> {
    fn copy_from(&self, offset: usize, dst: &mut [u8]) -> Result<(), Errno> {
        self.copies.set(self.copies.get() + 1);
        self.inner.copy_from(offset, dst)
    }

    fn is_zeroed(&self, offset: usize, len: usize) -> Result<bool, Errno> {
        self.inner.is_zeroed(offset, len)
    }
}

// ---------------------------------------------------------------------------
// copy_struct_from_user

#[test]
fn copy_struct_shorter_is_zero_extended() {
    let user = FakeUser::new(pattern(1, 64));
    let mut dst = garbage(SIZE);
    copy_struct_from_user(&mut dst, &user, 3, 5).unwrap();
    assert_eq!(dst, zero_extended(&pattern(4, 5), SIZE));
}

#[test]
fn copy_struct_longer_needs_zero_tail() {
    let mut bytes = pattern(1, SIZE);
    bytes.extend([0; 8]);
    let user = FakeUser::new(bytes.clone());
    let mut dst = garbage(SIZE);
    copy_struct_from_user(&mut dst, &user, 0, SIZE + 8).unwrap();
    assert_eq!(dst, pattern(1, SIZE));

    bytes[SIZE + 7] = 1;
    let user = FakeUser::new(bytes);
    assert_eq!(
        copy_struct_from_user(&mut dst, &user, 0, SIZE + 8),
        Err(Errno::E2BIG)
    );
}

#[test]
fn copy_struct_faults() {
    // Fault in the tail: EFAULT from the zero check.
    let user = FakeUser::with_fault(vec![0; 64], SIZE + 2..SIZE + 3);
    let mut dst = garbage(SIZE);
    assert_eq!(
        copy_struct_from_user(&mut dst, &user, 0, SIZE + 4),
        Err(Errno::EFAULT)
    );
    // A non-zero byte before the fault: E2BIG, like check_zeroed_user().
    let mut bytes = vec![0; 64];
    bytes[SIZE + 1] = 9;
    let user = FakeUser::with_fault(bytes, SIZE + 2..SIZE + 3);
    assert_eq!(
        copy_struct_from_user(&mut dst, &user, 0, SIZE + 4),
        Err(Errno::E2BIG)
    );
    // Fault in the copied part.
    let user = FakeUser::with_fault(vec![0; 64], 5..6);
    assert_eq!(
        copy_struct_from_user(&mut dst, &user, 0, SIZE),
        Err(Errno::EFAULT)
    );
    // Past the end of user memory.
    let user = FakeUser::new(vec![0; 10]);
    assert_eq!(
        copy_struct_from_user(&mut dst, &user, 0, SIZE),
        Err(Errno::EFAULT)
    );
    // Offsets that overflow fault.
    assert_eq!(
        copy_struct_from_user(&mut dst, &user, usize::MAX - 4, SIZE + 1),
        Err(Errno::EFAULT)
    );
}

#[test]
fn copy_struct_zero_sizes() {
    // Nothing to copy: no user access at all, even from a faulting pointer.
    let user = FakeUser::with_fault(vec![], 0..usize::MAX);
    let mut dst = garbage(SIZE);
    copy_struct_from_user(&mut dst, &user, 0, 0).unwrap();
    assert_eq!(dst, vec![0; SIZE]);
    let mut empty: [u8; 0] = [];
    copy_struct_from_user(&mut empty, &user, 0, 0).unwrap();
}

// ---------------------------------------------------------------------------
// read_user_data (__iommu_copy_struct_from_user)

#[test]
fn user_data_len_zero() {
    let user = FakeUser::new(pattern(1, 64));
    let mut dst = garbage(SIZE);
    assert_eq!(
        read_user_data(&mut dst, TYPE, TYPE, &user, 0, MIN),
        Err(Errno::EINVAL)
    );
    // With no minimum, an empty struct reads as all zeros.
    read_user_data(&mut dst, TYPE, TYPE, &user, 0, 0).unwrap();
    assert_eq!(dst, vec![0; SIZE]);
}

#[test]
fn user_data_len_min() {
    let user = FakeUser::new(pattern(1, 64));
    let mut dst = garbage(SIZE);
    read_user_data(&mut dst, TYPE, TYPE, &user, MIN, MIN).unwrap();
    assert_eq!(dst, zero_extended(&pattern(1, MIN), SIZE));
    assert_eq!(
        read_user_data(&mut dst, TYPE, TYPE, &user, MIN - 1, MIN),
        Err(Errno::EINVAL)
    );
}

#[test]
fn user_data_len_between_min_and_size() {
    let user = FakeUser::new(pattern(1, 64));
    let mut dst = garbage(SIZE);
    read_user_data(&mut dst, TYPE, TYPE, &user, MIN + 3, MIN).unwrap();
    assert_eq!(dst, zero_extended(&pattern(1, MIN + 3), SIZE));
}

#[test]
fn user_data_len_size() {
    let user = FakeUser::new(pattern(1, SIZE));
    let mut dst = garbage(SIZE);
    read_user_data(&mut dst, TYPE, TYPE, &user, SIZE, MIN).unwrap();
    assert_eq!(dst, pattern(1, SIZE));
}

#[test]
fn user_data_longer_is_refused() {
    let mut dst = garbage(SIZE);
    // Zero tail or not, and even beyond user memory: EINVAL.
    let mut bytes = pattern(1, SIZE);
    bytes.push(0);
    let user = FakeUser::new(bytes.clone());
    assert_eq!(
        read_user_data(&mut dst, TYPE, TYPE, &user, SIZE + 1, MIN),
        Err(Errno::EINVAL)
    );
    bytes[SIZE] = 1;
    let user = FakeUser::new(bytes);
    assert_eq!(
        read_user_data(&mut dst, TYPE, TYPE, &user, SIZE + 1, MIN),
        Err(Errno::EINVAL)
    );
    let user = FakeUser::new(vec![]);
    assert_eq!(
        read_user_data(&mut dst, TYPE, TYPE, &user, usize::MAX, MIN),
        Err(Errno::EINVAL)
    );
    assert_eq!(dst, garbage(SIZE), "dst untouched");
}

#[test]
fn user_data_wrong_type() {
    let user = FakeUser::new(pattern(1, SIZE));
    let mut dst = garbage(SIZE);
    assert_eq!(
        read_user_data(&mut dst, OTHER, TYPE, &user, SIZE, MIN),
        Err(Errno::EINVAL)
    );
    // The type is checked before any access.
    let user = FakeUser::with_fault(vec![0; SIZE], 0..SIZE);
    assert_eq!(
        read_user_data(&mut dst, OTHER, TYPE, &user, SIZE, MIN),
        Err(Errno::EINVAL)
    );
    assert_eq!(dst, garbage(SIZE));
}

#[test]
fn user_data_fault() {
    let user = FakeUser::with_fault(pattern(1, SIZE), 0..SIZE);
    let mut dst = garbage(SIZE);
    assert_eq!(
        read_user_data(&mut dst, TYPE, TYPE, &user, SIZE, MIN),
        Err(Errno::EFAULT)
    );
    let user = FakeUser::with_fault(pattern(1, SIZE), SIZE - 1..SIZE);
    assert_eq!(
        read_user_data(&mut dst, TYPE, TYPE, &user, SIZE, MIN),
        Err(Errno::EFAULT)
    );
    // Bytes beyond `len` may fault.
    read_user_data(&mut dst, TYPE, TYPE, &user, SIZE - 1, MIN).unwrap();
    assert_eq!(dst, zero_extended(&pattern(1, SIZE - 1), SIZE));
}

// ---------------------------------------------------------------------------
// read_array_entry (__iommu_copy_struct_from_user_array)

/// `num` entries of `len` bytes, entry `i` being `pattern(0x10 * (i + 1), len)`.
fn array(num: usize, len: usize) -> Vec<u8> {
    (0..num)
        .flat_map(|i| pattern(0x10 * (i as u8 + 1), len))
        .collect()
}

#[test]
fn entry_reads_the_right_entry() {
    let user = FakeUser::new(array(4, SIZE));
    let mut dst = garbage(SIZE);
    for i in 0..4u32 {
        read_array_entry(&mut dst, TYPE, TYPE, &user, SIZE, 4, i, MIN).unwrap();
        assert_eq!(dst, pattern(0x10 * (i as u8 + 1), SIZE));
    }
}

#[test]
fn entry_shorter_than_min() {
    let user = FakeUser::new(array(4, MIN - 1));
    let mut dst = garbage(SIZE);
    assert_eq!(
        read_array_entry(&mut dst, TYPE, TYPE, &user, MIN - 1, 4, 1, MIN),
        Err(Errno::EINVAL)
    );
}

#[test]
fn entry_shorter_than_size() {
    let len = MIN + 2;
    let user = FakeUser::new(array(3, len));
    let mut dst = garbage(SIZE);
    read_array_entry(&mut dst, TYPE, TYPE, &user, len, 3, 2, MIN).unwrap();
    assert_eq!(dst, zero_extended(&pattern(0x30, len), SIZE));
}

#[test]
fn entry_longer_is_refused() {
    let len = SIZE + 4;
    // Zero tails.
    let mut bytes = Vec::new();
    for i in 0..3u8 {
        bytes.extend(pattern(0x10 * (i + 1), SIZE));
        bytes.extend([0; 4]);
    }
    let user = FakeUser::new(bytes.clone());
    let mut dst = garbage(SIZE);
    assert_eq!(
        read_array_entry(&mut dst, TYPE, TYPE, &user, len, 3, 1, MIN),
        Err(Errno::EINVAL)
    );
    // Non-zero tails.
    bytes[len + SIZE] = 1;
    let user = FakeUser::new(bytes);
    assert_eq!(
        read_array_entry(&mut dst, TYPE, TYPE, &user, len, 3, 1, MIN),
        Err(Errno::EINVAL)
    );
    assert_eq!(dst, garbage(SIZE));
}

#[test]
fn entry_index_out_of_range() {
    let user = FakeUser::new(array(4, SIZE));
    let mut dst = garbage(SIZE);
    for index in [4, 5, u32::MAX] {
        assert_eq!(
            read_array_entry(&mut dst, TYPE, TYPE, &user, SIZE, 4, index, MIN),
            Err(Errno::EINVAL)
        );
    }
}

#[test]
fn entry_num_zero() {
    let user = FakeUser::new(array(4, SIZE));
    let mut dst = garbage(SIZE);
    assert_eq!(
        read_array_entry(&mut dst, TYPE, TYPE, &user, SIZE, 0, 0, MIN),
        Err(Errno::EINVAL)
    );
}

#[test]
fn entry_wrong_type_and_fault() {
    let user = FakeUser::with_fault(array(4, SIZE), SIZE..2 * SIZE);
    let mut dst = garbage(SIZE);
    assert_eq!(
        read_array_entry(&mut dst, OTHER, TYPE, &user, SIZE, 4, 1, MIN),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        read_array_entry(&mut dst, TYPE, TYPE, &user, SIZE, 4, 1, MIN),
        Err(Errno::EFAULT)
    );
    // Other entries are fine.
    read_array_entry(&mut dst, TYPE, TYPE, &user, SIZE, 4, 2, MIN).unwrap();
    assert_eq!(dst, pattern(0x30, SIZE));
}

// ---------------------------------------------------------------------------
// read_full_array (iommu_copy_struct_from_full_user_array)

#[test]
fn full_array_same_size_is_one_copy() {
    let user = FakeUser::new(array(5, SIZE));
    let counting = Counting {
        inner: &user,
        copies: Cell::new(0),
    };
    let mut dst = garbage(5 * SIZE);
    read_full_array(&mut dst, SIZE, TYPE, TYPE, &counting, SIZE, 5).unwrap();
    assert_eq!(dst, array(5, SIZE));
    assert_eq!(counting.copies.get(), 1);
}

#[test]
fn full_array_shorter_entries_are_zero_extended() {
    for len in [1, MIN - 1, MIN, SIZE - 1] {
        let user = FakeUser::new(array(3, len));
        let mut dst = garbage(3 * SIZE);
        // No minimum length here, even 1 byte entries are taken.
        read_full_array(&mut dst, SIZE, TYPE, TYPE, &user, len, 3).unwrap();
        let want: Vec<u8> = (0..3u8)
            .flat_map(|i| zero_extended(&pattern(0x10 * (i + 1), len), SIZE))
            .collect();
        assert_eq!(dst, want, "entry_len {len}");
    }
    // Zero-length entries: all zero, no user access.
    let user = FakeUser::with_fault(vec![], 0..usize::MAX);
    let mut dst = garbage(3 * SIZE);
    read_full_array(&mut dst, SIZE, TYPE, TYPE, &user, 0, 3).unwrap();
    assert_eq!(dst, vec![0; 3 * SIZE]);
}

#[test]
fn full_array_longer_entries() {
    let len = SIZE + 3;
    let mut bytes = Vec::new();
    for i in 0..3u8 {
        bytes.extend(pattern(0x10 * (i + 1), SIZE));
        bytes.extend([0; 3]);
    }
    let user = FakeUser::new(bytes.clone());
    let mut dst = garbage(3 * SIZE);
    read_full_array(&mut dst, SIZE, TYPE, TYPE, &user, len, 3).unwrap();
    assert_eq!(dst, array(3, SIZE));

    // A non-zero tail in the last entry.
    bytes[2 * len + SIZE + 2] = 1;
    let user = FakeUser::new(bytes);
    assert_eq!(
        read_full_array(&mut dst, SIZE, TYPE, TYPE, &user, len, 3),
        Err(Errno::E2BIG)
    );
}

#[test]
fn full_array_fault_in_middle_entry() {
    for len in [SIZE, SIZE - 4, SIZE + 4] {
        let user = FakeUser::with_fault(vec![0; 3 * len], len + 1..len + 2);
        let mut dst = garbage(3 * SIZE);
        assert_eq!(
            read_full_array(&mut dst, SIZE, TYPE, TYPE, &user, len, 3),
            Err(Errno::EFAULT),
            "entry_len {len}"
        );
    }
    // A fault in the tail of the middle entry.
    let len = SIZE + 4;
    let user = FakeUser::with_fault(vec![0; 3 * len], len + SIZE + 1..len + SIZE + 2);
    let mut dst = garbage(3 * SIZE);
    assert_eq!(
        read_full_array(&mut dst, SIZE, TYPE, TYPE, &user, len, 3),
        Err(Errno::EFAULT)
    );
}

#[test]
fn full_array_entry_num_zero_and_wrong_type() {
    let user = FakeUser::new(array(3, SIZE));
    let mut empty: [u8; 0] = [];
    assert_eq!(
        read_full_array(&mut empty, SIZE, TYPE, TYPE, &user, SIZE, 0),
        Err(Errno::EINVAL)
    );
    let mut dst = garbage(3 * SIZE);
    assert_eq!(
        read_full_array(&mut dst, SIZE, OTHER, TYPE, &user, SIZE, 3),
        Err(Errno::EINVAL)
    );
    assert_eq!(dst, garbage(3 * SIZE));
}

#[test]
fn full_array_bad_destination() {
    let user = FakeUser::new(array(3, SIZE));
    let mut dst = garbage(3 * SIZE - 1);
    assert_eq!(
        read_full_array(&mut dst, SIZE, TYPE, TYPE, &user, SIZE, 3),
        Err(Errno::EINVAL)
    );
    let mut dst = garbage(4 * SIZE);
    assert_eq!(
        read_full_array(&mut dst, SIZE, TYPE, TYPE, &user, SIZE, 3),
        Err(Errno::EINVAL)
    );
    let mut dst = garbage(SIZE);
    assert_eq!(
        read_full_array(&mut dst, usize::MAX, TYPE, TYPE, &user, SIZE, 3),
        Err(Errno::EINVAL)
    );
}

// ---------------------------------------------------------------------------
// Randomized comparison with a byte-by-byte reference model.

/// A reference model of user memory: readable bytes.
struct Model<'a> {
    bytes: &'a [u8],
    fault: std::ops::Range<usize>,
}

impl Model<'_> {
    fn byte(&self, i: usize) -> Result<u8, Errno> {
        if i >= self.bytes.len() || self.fault.contains(&i) {
            Err(Errno::EFAULT)
        } else {
            Ok(self.bytes[i])
        }
    }

    /// `copy_struct_from_user()` into a new `ksize` byte struct.
    fn copy_struct(&self, ksize: usize, off: usize, usize_: usize) -> Result<Vec<u8>, Errno> {
        if usize_ > ksize {
            for i in ksize..usize_ {
                match self.byte(off + i)? {
                    0 => {}
                    _ => return Err(Errno::E2BIG),
                }
            }
        }
        let mut out = vec![0; ksize];
        for (i, b) in out.iter_mut().enumerate().take(usize_) {
            *b = self.byte(off + i)?;
        }
        Ok(out)
    }

    fn user_data(
        &self,
        ksize: usize,
        ty: u32,
        want: u32,
        off: usize,
        len: usize,
        min: usize,
    ) -> Result<Vec<u8>, Errno> {
        if ty != want || len < min || len > ksize {
            return Err(Errno::EINVAL);
        }
        self.copy_struct(ksize, off, len)
    }

    #[allow(clippy::too_many_arguments)]
    fn entry(
        &self,
        ksize: usize,
        ty: u32,
        want: u32,
        entry_len: usize,
        num: u32,
        index: u32,
        min: usize,
    ) -> Result<Vec<u8>, Errno> {
        if num == 0 || index >= num {
            return Err(Errno::EINVAL);
        }
        self.user_data(ksize, ty, want, entry_len * index as usize, entry_len, min)
    }

    fn full(
        &self,
        ksize: usize,
        ty: u32,
        want: u32,
        entry_len: usize,
        num: u32,
    ) -> Result<Vec<u8>, Errno> {
        if ty != want || num == 0 {
            return Err(Errno::EINVAL);
        }
        let mut out = Vec::new();
        if entry_len == ksize {
            for i in 0..ksize * num as usize {
                out.push(self.byte(i)?);
            }
            return Ok(out);
        }
        for i in 0..num as usize {
            out.extend(self.copy_struct(ksize, i * entry_len, entry_len)?);
        }
        Ok(out)
    }
}

fn check<T>(what: &str, got: Result<(), Errno>, dst: &[u8], want: &Result<Vec<u8>, Errno>, ctx: T)
where
    T: std::fmt::Debug,
{
    match want {
        Ok(bytes) => {
            assert_eq!(got, Ok(()), "{what}: {ctx:?}");
            assert_eq!(dst, &bytes[..], "{what}: {ctx:?}");
        }
        Err(e) => assert_eq!(got, Err(*e), "{what}: {ctx:?}"),
    }
}

#[test]
fn randomized_against_model() {
    let mut rng = Rng::new(0x5eed_1234_abcd_0001);
    let mut outcomes = [0usize; 4];
    for iter in 0..20_000 {
        // User memory: mostly zeros so that zero tails are common.
        let n = rng.below(160) as usize;
        let bytes: Vec<u8> = (0..n)
            .map(|_| {
                if rng.chance(3, 4) {
                    0
                } else {
                    rng.below(256) as u8
                }
            })
            .collect();
        let fault = if rng.chance(1, 3) {
            let a = rng.below(n as u64 + 1) as usize;
            let b = a + rng.below(8) as usize;
            a..b
        } else {
            0..0
        };
        let user = FakeUser::with_fault(bytes.clone(), fault.clone());
        let model = Model {
            bytes: &bytes,
            fault,
        };
        let ksize = rng.below(24) as usize;
        let min = rng.below(ksize as u64 + 3) as usize;
        let want_type = TYPE;
        let ty = if rng.chance(9, 10) { TYPE } else { OTHER };
        let ctx = (iter, ksize, min, ty);

        // read_user_data
        let len = rng.below(ksize as u64 + 8) as usize;
        let mut dst = garbage(ksize);
        let got = read_user_data(&mut dst, ty, want_type, &user, len, min);
        let want = model.user_data(ksize, ty, want_type, 0, len, min);
        outcomes[usize::from(want.is_ok())] += 1;
        check("read_user_data", got, &dst, &want, (ctx, len));

        // copy_struct_from_user at an offset
        let off = rng.below(n as u64 + 4) as usize;
        let mut dst = garbage(ksize);
        let got = copy_struct_from_user(&mut dst, &user, off, len);
        let want = model.copy_struct(ksize, off, len);
        check("copy_struct_from_user", got, &dst, &want, (ctx, off, len));

        // read_array_entry
        let entry_len = rng.below(ksize as u64 + 6) as usize;
        let num = rng.below(6) as u32;
        let index = rng.below(7) as u32;
        let mut dst = garbage(ksize);
        let got = read_array_entry(&mut dst, ty, want_type, &user, entry_len, num, index, min);
        let want = model.entry(ksize, ty, want_type, entry_len, num, index, min);
        check(
            "read_array_entry",
            got,
            &dst,
            &want,
            (ctx, entry_len, num, index),
        );

        // read_full_array
        let mut dst = garbage(ksize * num as usize);
        let got = read_full_array(&mut dst, ksize, ty, want_type, &user, entry_len, num);
        let want = model.full(ksize, ty, want_type, entry_len, num);
        outcomes[2 + usize::from(want.is_ok())] += 1;
        check("read_full_array", got, &dst, &want, (ctx, entry_len, num));
    }
    // Both outcomes were exercised a fair number of times.
    assert!(outcomes.iter().all(|&n| n > 1000), "{outcomes:?}");
}
