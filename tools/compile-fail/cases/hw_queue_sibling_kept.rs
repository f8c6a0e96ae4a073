// SPDX-License-Identifier: GPL-2.0
//
// expect: ^error: lifetime may not live long enough
// why: a sibling hardware queue is reachable only while hw_queue_init runs with the vIOMMU's queue table locked: its reference cannot be kept (say, in a global), since the queue may be destroyed as soon as the lock is dropped

#![forbid(unsafe_code)]

use crate::riommu::viommu::{HwQueue, NewHwQueue, ViommuImpl};

/// Keeps the queue at index 0 for later.
pub fn keep_sibling<'a, V: ViommuImpl>(
    new: &NewHwQueue<'a, V>,
) -> Option<&'static HwQueue<V::HwQueue>> {
    new.sibling(0)
}
