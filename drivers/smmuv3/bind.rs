// SPDX-License-Identifier: GPL-2.0

//! The platform driver of `arm,smmu-v3` device-tree nodes: probing an SMMU
//! maps and enables it ([`crate::smmu::Smmu`]), registers it with the iommu
//! core as `/sys/class/iommu/riommu-smmuv3.<base>` (which then probes the
//! PCI devices whose `iommu-map` names it), starts the event poller and
//! creates the debugfs file `riommu_smmuv3.<base>/events` (the event
//! counters and the last event, after draining the queue), `<base>` being
//! the SMMU's register base in hex, so that each SMMU has names of its own.
//! Unbinding undoes it in reverse.

#![forbid(unsafe_code)]

use crate::{
    iommu,
    riommu::{
        driver::{Instance, IommuRegistration},
        hw::{PeriodicHandler, PeriodicWork},
    },
    smmu::{self, Smmu},
};
use kernel::{
    debugfs, device::Core, of, platform, prelude::*, str::CString, sync::Arc, ThisModule,
};

/// This module, for the IOMMU registration made at probe.
static THIS: ThisModule = <crate::SmmuModule as kernel::ModuleMetadata>::THIS_MODULE;

/// How often the event queue is drained when nobody reads the debugfs file.
const EVENT_POLL_MS: u32 = 100;

kernel::of_device_table!(
    OF_TABLE,
    <SmmuPlatform as platform::Driver>::IdInfo,
    [(of::DeviceId::new(c"arm,smmu-v3"), ())]
);

/// The platform driver of `arm,smmu-v3` nodes.
pub struct SmmuPlatform;

/// Drains an SMMU's event queue periodically.
pub struct EventPoller(Arc<Instance<iommu::SmmuDriver>>);

impl PeriodicHandler for EventPoller {
    fn run(&self) {
        self.0.data().drain_events();
    }
}

/// The data of an SMMU's debugfs `events` file: the SMMU.
pub struct EventsFile(Arc<Instance<iommu::SmmuDriver>>);

/// The `events` file: drains the queue, then the counters and last event.
fn show_events(s: &Smmu, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
    let cmd_errors = s.cmdq_errors();
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

/// What a bound SMMU holds.  Fields drop in order: the poller and the
/// debugfs file before the registration (each holds the instance, which
/// outlives the registration only while they go).
#[pin_data]
pub struct SmmuBound {
    #[pin]
    poll: PeriodicWork<EventPoller>,
    events: Pin<KBox<debugfs::File<EventsFile>>>,
    _dir: debugfs::Dir,
    iommu: IommuRegistration<iommu::SmmuDriver>,
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
            let smmu = smmu::Smmu::new(pdev)?;
            let iommu = IommuRegistration::new_hw(&THIS, pdev.as_ref(), &name, 0, smmu)?;
            let inst = iommu.instance().clone();
            let dir = debugfs::Dir::new(&dir_name);
            let events = KBox::pin_init(
                dir.read_callback_file(
                    c"events",
                    EventsFile(inst.clone()),
                    &|e: &EventsFile, f| show_events(e.0.data(), f),
                ),
                GFP_KERNEL,
            )?;
            Ok(try_pin_init!(SmmuBound {
                iommu,
                poll <- PeriodicWork::new(EVENT_POLL_MS, EventPoller(inst)),
                events,
                _dir: dir,
            }? Error))
        })
    }
}
