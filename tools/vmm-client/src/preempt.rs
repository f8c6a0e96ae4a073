// SPDX-License-Identifier: GPL-2.0
//! Holding riommu_smmuv3's event interrupt thread off its CPU in the middle
//! of its reports, so that a test sees what a reader of the driver's
//! counters gets while a drain is under way.
//!
//! The thread of the SMMU's `eventq` interrupt (SCHED_FIFO 50, on the CPUs
//! of the interrupt's affinity) drains the event queue and reports each
//! stage 1 event to its vIOMMU, whose vEVENTQ wakes its pollers.  A thread
//! of ours pinned to the interrupt's CPU at SCHED_FIFO 99, waiting on the
//! vEVENTQ, preempts the interrupt thread at that first wake-up (the test
//! kernel is preemptible) and keeps the CPU for a while: the rest of the
//! drain's reports wait, and the other CPU can look at the driver's state.

use std::fs;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The name of riommu_smmuv3's event queue interrupt in /proc/interrupts.
const EVTQ_IRQ_NAME: &str = "riommu-smmuv3-evtq";

/// The number of riommu_smmuv3's event queue interrupt.
pub fn evtq_irq() -> Result<u32, String> {
    let text =
        fs::read_to_string("/proc/interrupts").map_err(|e| format!("/proc/interrupts: {e}"))?;
    text.lines()
        .filter(|l| l.split_whitespace().last() == Some(EVTQ_IRQ_NAME))
        .find_map(|l| l.split(':').next()?.trim().parse().ok())
        .ok_or_else(|| format!("no {EVTQ_IRQ_NAME} in /proc/interrupts"))
}

/// An interrupt's affinity, set to one CPU until dropped.
pub struct IrqOnCpu {
    irq: u32,
    old: String,
}

impl IrqOnCpu {
    /// Routes `irq` (and so its thread) to `cpu` only.
    pub fn new(irq: u32, cpu: usize) -> Result<Self, String> {
        let path = format!("/proc/irq/{irq}/smp_affinity_list");
        let old = fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        fs::write(&path, format!("{cpu}\n")).map_err(|e| format!("{path} = {cpu}: {e}"))?;
        Ok(Self { irq, old })
    }
}

impl Drop for IrqOnCpu {
    fn drop(&mut self) {
        let path = format!("/proc/irq/{}/smp_affinity_list", self.irq);
        if let Err(e) = fs::write(&path, self.old.trim()) {
            eprintln!("# restoring {path} to {}: {e}", self.old.trim());
        }
    }
}

/// The calling thread's CPUs.
fn cpus() -> io::Result<libc::cpu_set_t> {
    // SAFETY: an all-zero `cpu_set_t` is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is valid for its size, and pid 0 names this thread.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(set)
}

/// Sets the calling thread's CPUs to `set`.
fn set_cpus(set: &libc::cpu_set_t) -> io::Result<()> {
    // SAFETY: `set` is valid for its size, and pid 0 names this thread.
    if unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(set), set) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Pins the calling thread to `cpu`.
fn pin(cpu: usize) -> Result<(), String> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(format!("CPU {cpu} is past a cpu_set_t"));
    }
    // SAFETY: an all-zero `cpu_set_t` is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid set, and `cpu` is inside it (checked above).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    set_cpus(&set).map_err(|e| format!("sched_setaffinity({cpu}): {e}"))
}

/// The calling thread, pinned to one CPU until dropped.
pub struct Pinned(libc::cpu_set_t);

impl Pinned {
    /// Pins the calling thread to `cpu`.
    pub fn to(cpu: usize) -> Result<Self, String> {
        let old = cpus().map_err(|e| format!("sched_getaffinity: {e}"))?;
        pin(cpu)?;
        Ok(Self(old))
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let _ = set_cpus(&self.0);
    }
}

/// When the preempting thread held its CPU.
#[derive(Clone, Copy, Debug)]
pub struct Held {
    /// The vEVENTQ's first wake-up.
    pub from: Instant,
    /// The end of the spin.
    pub to: Instant,
}

/// A thread on one CPU at SCHED_FIFO 99 that waits for a file to become
/// readable and then spins.  Dropping it before [`Preemptor::finish`]
/// stops and joins the thread, so that it never outlives its step (its
/// poll() would keep the vEVENTQ's file open).
pub struct Preemptor {
    thread: Option<JoinHandle<Option<Held>>>,
    /// An eventfd the thread polls too: written to stop it.
    stop: OwnedFd,
}

impl Preemptor {
    /// Starts the thread on `cpu`: it waits (up to `wait`) for `fd` to
    /// become readable, then spins for `hold`.  Returns once the thread
    /// runs at its priority on `cpu`.
    pub fn start(fd: RawFd, cpu: usize, wait: Duration, hold: Duration) -> Result<Self, String> {
        // SAFETY: eventfd() takes no pointers.
        let efd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
        if efd < 0 {
            return Err(format!("eventfd: {}", io::Error::last_os_error()));
        }
        // SAFETY: `efd` is a new fd that nothing else owns.
        let stop = unsafe { OwnedFd::from_raw_fd(efd) };
        let (ready, waiting) = mpsc::channel();
        let thread = thread::spawn(move || {
            let setup = (|| {
                pin(cpu)?;
                let p = libc::sched_param { sched_priority: 99 };
                // SAFETY: `p` is a valid sched_param; pid 0 names this thread.
                if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &p) } != 0 {
                    return Err(format!(
                        "sched_setscheduler(SCHED_FIFO 99): {}",
                        io::Error::last_os_error()
                    ));
                }
                Ok(())
            })();
            let failed = setup.is_err();
            let _ = ready.send(setup);
            if failed {
                return None;
            }
            let mut pfd = [
                libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: efd,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            let ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
            // SAFETY: two valid pollfds for the duration of the call; the
            // eventfd stays open until this thread is joined.
            let n = unsafe { libc::poll(pfd.as_mut_ptr(), 2, ms) };
            if n < 1 || pfd[0].revents & libc::POLLIN == 0 {
                return None;
            }
            let from = Instant::now();
            while from.elapsed() < hold {
                std::hint::spin_loop();
            }
            Some(Held {
                from,
                to: Instant::now(),
            })
        });
        let p = Self {
            thread: Some(thread),
            stop,
        };
        // Until the thread has its CPU and priority, the caller must not
        // start what it waits for.  (Once it has them, the interrupt's
        // thread cannot run on that CPU before it blocks in poll().)
        match waiting.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(())) => Ok(p),
            Ok(Err(e)) => Err(e),
            Err(e) => Err(format!("the preempting thread did not start: {e}")),
        }
    }

    /// Waits for the thread: when it held its CPU, or `None` if `fd` did
    /// not become readable in time.
    pub fn finish(mut self) -> Option<Held> {
        // A thread that panics aborts the program (panic = "abort").
        self.thread.take()?.join().ok().flatten()
    }
}

impl Drop for Preemptor {
    fn drop(&mut self) {
        if let Some(t) = self.thread.take() {
            let one = 1u64;
            // SAFETY: writes 8 bytes from `one` to the eventfd, which is open.
            unsafe {
                libc::write(
                    self.stop.as_raw_fd(),
                    (&one as *const u64).cast(),
                    std::mem::size_of::<u64>(),
                )
            };
            let _ = t.join();
        }
    }
}
