// SPDX-License-Identifier: GPL-2.0

//! Linux error numbers, kept positive (the kernel side negates them).

/// A Linux error number as a positive value: [`Errno::EINVAL`] is `Errno(22)`.
///
/// The kernel side turns it into its own error type (`-self.0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

impl Errno {
    /// `ENOENT`: no such entry.
    pub const ENOENT: Errno = Errno(2);
    /// I/O error (SMMUv3 uAPI refusals in 7.3).
    pub const EIO: Errno = Errno(5);
    /// `E2BIG`: argument list too long (a too long user struct with non-zero tail).
    pub const E2BIG: Errno = Errno(7);
    /// `ENOMEM`: out of memory.
    pub const ENOMEM: Errno = Errno(12);
    /// `EFAULT`: bad address (a user access faulted).
    pub const EFAULT: Errno = Errno(14);
    /// `EBUSY`: device or resource busy.
    pub const EBUSY: Errno = Errno(16);
    /// `EEXIST`: already exists.
    pub const EEXIST: Errno = Errno(17);
    /// `EINVAL`: invalid argument.
    pub const EINVAL: Errno = Errno(22);
    /// `ERANGE`: result out of range.
    pub const ERANGE: Errno = Errno(34);
    /// `EOVERFLOW`: value too large for the data type.
    pub const EOVERFLOW: Errno = Errno(75);
    /// `EOPNOTSUPP`: operation not supported.
    pub const EOPNOTSUPP: Errno = Errno(95);
    /// `EADDRINUSE`: address already in use (an IOVA already mapped).
    pub const EADDRINUSE: Errno = Errno(98);

    /// The negative value the kernel returns for this error, e.g. `-22`.
    pub const fn to_neg(self) -> i32 {
        -self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Errno;

    #[test]
    fn values_match_linux() {
        let table = [
            (Errno::ENOENT, 2),
            (Errno::E2BIG, 7),
            (Errno::ENOMEM, 12),
            (Errno::EFAULT, 14),
            (Errno::EBUSY, 16),
            (Errno::EEXIST, 17),
            (Errno::EINVAL, 22),
            (Errno::ERANGE, 34),
            (Errno::EOVERFLOW, 75),
            (Errno::EOPNOTSUPP, 95),
            (Errno::EADDRINUSE, 98),
        ];
        for (e, v) in table {
            assert_eq!(e.0, v);
            assert_eq!(e.to_neg(), -v);
        }
    }
}
