// SPDX-License-Identifier: GPL-2.0

//! The platform driver of `arm,smmu-v3` device-tree nodes: probing an SMMU
//! maps and enables it ([`crate::smmu::Smmu`], in a [`SmmuData`]),
//! registers it with the iommu core as
//! `/sys/class/iommu/riommu-smmuv3.<base>` (which then probes the PCI
//! devices whose `iommu-map` names it), requests its `eventq` and
//! `gerror` interrupts and creates the debugfs file
//! `riommu_smmuv3.<base>/events` (the event counters and the last event,
//! after draining the queue), `<base>` being the SMMU's register base in
//! hex, so that each SMMU has names of its own.  Unbinding undoes it in
//! reverse.
//!
//! Interrupts are those the device tree wires (`interrupt-names`, as
//! `arm_smmu_setup_unique_irqs()` finds them).  The SMMU's own MSIs
//! (`SMMU_*_IRQ_CFG0`) are not used: their addresses stay 0, which the
//! spec and QEMU take as "signal the wired interrupt".  A node without an
//! `eventq` interrupt (an SMMU that only has MSIs, or a combined line) has
//! its queue drained every [`EVENT_POLL_MS`] ms instead, where the C
//! driver would report nothing (`"no evtq irq - events will not be
//! reported!"`).  `CMD_SYNC` completion is polled, not interrupt driven:
//! the C driver polls it as well, and QEMU's `CMD_SYNC` signals no
//! interrupt for `CS = NONE`.

#![forbid(unsafe_code)]

use crate::{
    instance::{SmmuData, SmmuDriver},
    riommu::{
        hw::{PeriodicHandler, PeriodicWork},
        platform::request_threaded_irq,
        pure::smmuv3::regs::IrqCtrl,
        registration::{Instance, IommuRegistration},
    },
};
use kernel::{
    debugfs,
    device::Core,
    irq::{self, IrqReturn, ThreadedHandler},
    of, platform,
    prelude::*,
    str::CString,
    sync::Arc,
};

/// How often the event queue is drained, when the SMMU has no `eventq`
/// interrupt, and nobody reads the debugfs file.
const EVENT_POLL_MS: u32 = 100;

/// The name of the event queue interrupt in `/proc/interrupts` (the C
/// driver's is `arm-smmu-v3-evtq`).
const EVTQ_IRQ_NAME: &CStr = c"riommu-smmuv3-evtq";

/// The name of the global error interrupt in `/proc/interrupts`.
const GERROR_IRQ_NAME: &CStr = c"riommu-smmuv3-gerror";

kernel::of_device_table!(
    OF_TABLE,
    <SmmuPlatform as platform::Driver>::IdInfo,
    [(of::DeviceId::new(c"arm,smmu-v3"), ())]
);

/// The platform driver of `arm,smmu-v3` nodes.
pub struct SmmuPlatform;

/// Drains an SMMU's event queue periodically (no `eventq` interrupt).
pub struct EventPoller(Arc<Instance<SmmuDriver>>);

impl PeriodicHandler for EventPoller {
    fn run(&self) {
        self.0.data().drain_events();
    }
}

/// The event queue interrupt (`arm_smmu_evtq_thread`): drains the queue in
/// the interrupt's thread, where reporting a vEVENT may sleep.
pub struct EventIrq(Arc<Instance<SmmuDriver>>);

impl ThreadedHandler for EventIrq {
    fn handle_threaded(&self) -> IrqReturn {
        self.0.data().drain_events();
        // Whatever it found: a debugfs read may have drained the events
        // this interrupt announced (the C thread returns IRQ_HANDLED too).
        IrqReturn::Handled
    }
}

/// The global error interrupt (`arm_smmu_gerror_handler`), threaded: the
/// errors are counted under the event queue's lock.
pub struct GerrorIrq(Arc<Instance<SmmuDriver>>);

impl ThreadedHandler for GerrorIrq {
    fn handle_threaded(&self) -> IrqReturn {
        self.0.data().hw().handle_gerror();
        // Handled even if nothing was left to acknowledge: a drain or the
        // command issuer (`CMDQ_ERR`) may have been first.
        IrqReturn::Handled
    }
}

/// Turns the SMMU's interrupts off (`SMMU_IRQ_CTRL`) when dropped, before
/// their handlers are freed.
pub struct IrqsOn(Arc<Instance<SmmuDriver>>);

impl Drop for IrqsOn {
    fn drop(&mut self) {
        if self.0.data().hw().set_irqs(IrqCtrl::ZERO).is_err() {
            pr_err!("the SMMU did not acknowledge its interrupts off\n");
        }
    }
}

/// The data of an SMMU's debugfs `events` file: the SMMU.
pub struct EventsFile(Arc<Instance<SmmuDriver>>);

/// The `events` file: drains the queue, then the counters and last event.
fn show_events(inst: &Instance<SmmuDriver>, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    let s = inst.data();
    let cmd_errors = s.hw().cmdq_errors();
    s.with_events(|q| {
        let (vevents, lost) = s.vevent_counts();
        writeln!(f, "events {}", q.events)?;
        writeln!(f, "translation_faults {}", q.faults)?;
        writeln!(f, "overflows {}", q.overflows)?;
        writeln!(f, "global_errors {}", q.gerrors)?;
        writeln!(f, "command_errors {}", cmd_errors)?;
        writeln!(f, "vevents {}", vevents)?;
        writeln!(f, "vevents_lost {}", lost)?;
        match &q.last {
            Some(e) => writeln!(
                f,
                "last {} id {:#x} sid {:#x} addr {:#x} ipa {:#x} {}{}",
                e.name(),
                e.id.value(),
                e.sid,
                e.input_addr,
                e.ipa,
                if e.read { "read" } else { "write" },
                if e.s2 { " stage2" } else { "" }
            ),
            None => writeln!(f, "last none"),
        }
    })
}

/// What a bound SMMU holds.  Fields drop in order: interrupts off (their
/// handlers are device managed and go after all of this, at
/// `devres_release_all()`), the poller, the debugfs file, then the
/// registration (each holds the instance, which outlives the registration
/// only while they go).
pub struct SmmuBound {
    _irqs_on: IrqsOn,
    _poll: Option<Pin<KBox<PeriodicWork<EventPoller>>>>,
    _events: Pin<KBox<debugfs::File<EventsFile>>>,
    _dir: debugfs::Dir,
    _iommu: IommuRegistration<SmmuDriver>,
}

impl platform::Driver for SmmuPlatform {
    type IdInfo = ();
    type Data<'bound> = SmmuBound;
    const OF_ID_TABLE: Option<of::IdTable<Self::IdInfo>> = Some(&OF_TABLE);

    fn probe<'bound>(
        pdev: &'bound platform::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        pin_init::pin_init_scope(move || {
            // Names of this SMMU's own (two SMMUs must not share them),
            // after its register base, as the C driver's "smmu3.%pa".
            let base = pdev.resource_by_index(0).ok_or(ENODEV)?.start();
            let name = CString::try_from_fmt(fmt!("riommu-smmuv3.{base:x}"))?;
            let dir_name = CString::try_from_fmt(fmt!("riommu_smmuv3.{base:x}"))?;
            let smmu = SmmuData::new(pdev)?;
            let iommu = IommuRegistration::new_hw(pdev.as_ref(), &name, 0, smmu)?;
            let inst = iommu.instance().clone();
            let dir = debugfs::Dir::new(&dir_name);
            let events = KBox::pin_init(
                dir.read_callback_file(
                    c"events",
                    EventsFile(inst.clone()),
                    &|e: &EventsFile, f| show_events(&e.0, f),
                ),
                GFP_KERNEL,
            )?;
            // The interrupts, off since the reset: their handlers, then on
            // (`arm_smmu_setup_irqs()`).  ONESHOT: the line stays masked while
            // the thread runs, as the C driver's `evtq` thread has it.
            let flags = irq::Flags::ONESHOT;
            let evtq_irq = request_threaded_irq(
                pdev,
                c"eventq",
                flags,
                EVTQ_IRQ_NAME,
                EventIrq(inst.clone()),
            )?;
            let gerror_irq = request_threaded_irq(
                pdev,
                c"gerror",
                flags,
                GERROR_IRQ_NAME,
                GerrorIrq(inst.clone()),
            )?;
            let poll = if !evtq_irq {
                dev_warn!(
                    pdev.as_ref(),
                    "no eventq interrupt: events are polled every {} ms\n",
                    EVENT_POLL_MS
                );
                Some(KBox::pin_init(
                    PeriodicWork::new(EVENT_POLL_MS, EventPoller(inst.clone())),
                    GFP_KERNEL,
                )?)
            } else {
                None
            };
            let ctrl = IrqCtrl::ZERO
                .with_evtq_irqen(u64::from(evtq_irq))
                .and_then(|c| c.with_gerror_irqen(u64::from(gerror_irq)))
                .ok_or(EINVAL)?;
            let irqs_on = IrqsOn(inst.clone());
            inst.data().hw().set_irqs(ctrl)?;
            // What arrived while the SMMU was enabled and its interrupts not
            // yet (the C driver enables them first).
            inst.data().drain_events();
            Ok(try_init!(SmmuBound {
                _irqs_on: irqs_on,
                _poll: poll,
                _events: events,
                _dir: dir,
                _iommu: iommu,
            }? Error))
        })
    }
}
