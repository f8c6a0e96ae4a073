// SPDX-License-Identifier: GPL-2.0

//! Exhaustive host checks of the hitless update plans.
//!
//! For every ordered pair of a catalogue of STEs (and of CDs) the plan is
//! replayed phase by phase, and every state the SMMU could observe is
//! checked: within a phase the SMMU may read each word before or after its
//! store, so all `2^k` mixtures of the `k` words a phase writes are tried.
//! Each observed entry must behave as the current entry or as the target
//! (equal on every bit its configuration uses, except the bits the plan was
//! allowed to change early), or, in a breaking plan only, be non-valid; and
//! the roles go one way only: current, then broken, then target.

use std::string::String;
use std::vec::Vec;

use super::super::cd::{Cd, CdCfg, S1Tcr};
use super::super::lpae::MAIR;
use super::super::ste::*;
use super::*;

type Entry = [u64; ENTRY_QWORDS];

/// Which entry an observed state behaves as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    /// The current entry.
    Cur,
    /// Non-valid, in a breaking plan.
    Broken,
    /// The target entry.
    Target,
}

/// `a & b`, word by word.
fn and(a: &Entry, b: &Entry) -> Entry {
    core::array::from_fn(|i| a[i] & b[i])
}

/// Whether `obs` behaves as `x`: same used bits, equal on them except the
/// `relaxed` ones.
fn behaves_as<K: EntryKind<ENTRY_QWORDS>>(obs: &Entry, x: &Entry, relaxed: &Entry) -> bool {
    let used = K::used_bits(obs);
    used == K::used_bits(x)
        && (0..ENTRY_QWORDS).all(|i| (obs[i] ^ x[i]) & used[i] & !relaxed[i] == 0)
}

/// An STE the SMMU would refuse: stage 2 stalls with ATS enabled.
fn ste_is_illegal(e: &Entry) -> bool {
    let s = Ste(*e);
    let s2 = CONFIG_ENABLE_BIT | CONFIG_S2_BIT;
    s.v() != 0 && s.config() & s2 == s2 && s.s2s() != 0 && s.eats() != 0
}

/// What replaying a plan showed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Replay {
    /// Number of syncs.
    syncs: usize,
    /// A phase ended with word 0 zero (Linux KUnit's "invalid entry written").
    invalid_written: bool,
    /// Observed states checked.
    observed: usize,
    /// The plan changed a safe bit early.
    used_safe: bool,
}

/// Replays the plan from `cur` to `target`, checking every observable state.
fn replay<K: EntryKind<ENTRY_QWORDS>>(
    cur: &Entry,
    target: &Entry,
    illegal: fn(&Entry) -> bool,
    what: &str,
) -> (Plan<ENTRY_QWORDS>, Replay) {
    let p = plan::<K, ENTRY_QWORDS>(cur, target);
    let relaxed = and(
        &K::update_safe_bits(cur, target),
        &and(&K::used_bits(cur), &K::used_bits(target)),
    );
    let breaking = p.kind() == PlanKind::Breaking;
    let role = |obs: &Entry| -> Role {
        assert!(!illegal(obs), "{what}: illegal entry {obs:x?}");
        if behaves_as::<K>(obs, cur, &relaxed) {
            Role::Cur
        } else if behaves_as::<K>(obs, target, &relaxed) {
            Role::Target
        } else if breaking && !K::is_valid(obs) {
            Role::Broken
        } else {
            panic!(
                "{what}: the SMMU could see a mixture {obs:x?} ({:?})",
                p.kind()
            );
        }
    };

    let mut r = Replay {
        used_safe: p.kind() != PlanKind::Breaking
            && (0..ENTRY_QWORDS).any(|i| (cur[i] ^ target[i]) & relaxed[i] != 0),
        ..Replay::default()
    };
    let steps = p.steps();
    assert!(steps.len() % 2 == 0 && steps.len() <= MAX_STEPS, "{what}");
    let mut state = *cur;
    let mut state_role = role(&state);
    assert_eq!(state_role, Role::Cur);
    for phase in steps.chunks(2) {
        let (Step::Write { mask, values }, Step::Sync) = (phase[0], phase[1]) else {
            panic!("{what}: a phase is not a write then a sync: {phase:?}");
        };
        // A write stores exactly the words that change.
        for i in 0..ENTRY_QWORDS {
            assert_eq!(mask & (1 << i) != 0, state[i] != values[i], "{what}");
        }
        let next_role = role(&values);
        assert!(
            state_role <= next_role,
            "{what}: goes back from {state_role:?}"
        );
        let words: Vec<usize> = (0..ENTRY_QWORDS).filter(|i| mask & (1 << i) != 0).collect();
        for sub in 0u32..(1 << words.len()) {
            let mut obs = state;
            for (j, &i) in words.iter().enumerate() {
                if sub & (1 << j) != 0 {
                    obs[i] = values[i];
                }
            }
            let obs_role = role(&obs);
            assert!(
                obs_role == state_role || obs_role == next_role,
                "{what}: {obs_role:?} between {state_role:?} and {next_role:?}"
            );
            r.observed += 1;
        }
        if values[0] == 0 {
            r.invalid_written = true;
        }
        r.syncs += 1;
        state = values;
        state_role = next_role;
    }
    assert_eq!(&state, target, "{what}: the plan does not reach the target");
    let mut applied = *cur;
    p.apply(&mut applied);
    assert_eq!(&applied, target, "{what}");
    assert_eq!(r.syncs, p.syncs());

    // The shape of each kind.
    match p.kind() {
        PlanKind::Identical => assert!(steps.is_empty() && cur == target),
        PlanKind::UnusedOnly => assert_eq!(p.syncs(), 1, "{what}"),
        PlanKind::Hitless { critical } => {
            // One phase writes the critical word alone, and it is the one
            // where the SMMU switches from the current to the target entry.
            let switch = steps
                .iter()
                .filter(|s| matches!(s, Step::Write { mask, .. } if *mask == 1 << critical))
                .count();
            assert_eq!(switch, 1, "{what}");
            assert!(p.syncs() <= 3, "{what}");
        }
        PlanKind::Breaking => {
            assert!(!K::is_valid(cur) || p.syncs() >= 2, "{what}");
            assert!(p.syncs() <= 3, "{what}");
        }
    }
    (p, r)
}

/// Replays an STE update.
fn replay_ste(cur: &Ste, target: &Ste, what: &str) -> (Plan<ENTRY_QWORDS>, Replay) {
    replay::<SteKind>(&cur.0, &target.0, ste_is_illegal, what)
}

/// Replays a CD update.
fn replay_cd(cur: &Cd, target: &Cd, what: &str) -> (Plan<ENTRY_QWORDS>, Replay) {
    replay::<CdKind>(&cur.0, &target.0, |_| false, what)
}

// ---------------------------------------------------------------------------
// The catalogues.

/// Two parameter sets of stage 1: CD table addresses.
const CD_TABLES: [u64; 2] = [0x4000_0000, 0x5_1234_5640];
/// Two parameter sets of stage 2: VMID, table address, AFFD.
const S2_PARAMS: [(u16, u64, bool); 2] = [(1, 0x8000_0000, false), (2, 0x9_8765_4000, true)];

fn s1cfg(set: usize, dss: S1Dss, cdmax: u32) -> S1Cfg {
    S1Cfg {
        dss,
        cdmax,
        fmt: if cdmax == 0 {
            S1Fmt::Linear
        } else {
            S1Fmt::TwoLevel64K
        },
        ..S1Cfg::single(CD_TABLES[set])
    }
}

fn s2cfg(set: usize, stall: bool) -> S2Cfg {
    let (vmid, ttb, affd) = S2_PARAMS[set];
    S2Cfg {
        vmid,
        vtcr: S2Vtcr {
            t0sz: 20,
            sl0: S2SL0_LEVEL0_4K,
            ir0: CACHE_WBRA,
            or0: CACHE_WBRA,
            sh0: SH_ISH,
            tg: S2TG_4K,
            ps: 4,
        },
        ttb,
        affd,
        ptw: true,
        stall,
        record: true,
        fwb: false,
        ha: false,
        hd: false,
    }
}

fn opts(eats: Eats, mev: bool) -> StreamOpts {
    StreamOpts {
        eats,
        shcfg: Shcfg::Incoming,
        mev,
    }
}

/// Every STE kind and variant, named.
fn ste_catalogue() -> Vec<(String, Ste)> {
    let mut c: Vec<(String, Ste)> = vec![
        ("invalid".into(), Ste::INVALID),
        ("abort".into(), Ste::abort()),
        ("bypass".into(), Ste::bypass(Shcfg::NonShareable)),
        ("bypass+shcfg".into(), Ste::bypass(Shcfg::Incoming)),
    ];
    for set in 0..2 {
        for dss in [S1Dss::Terminate, S1Dss::Bypass, S1Dss::Ssid0] {
            for eats in [Eats::Abort, Eats::Trans] {
                for cdmax in [0, 8] {
                    let ste = Ste::s1(&s1cfg(set, dss, cdmax), &opts(eats, false)).unwrap();
                    c.push((format!("s1[{set}] {dss:?} {eats:?} cdmax={cdmax}"), ste));
                }
            }
        }
        for eats in [Eats::Abort, Eats::Trans] {
            let ste = Ste::s2(&s2cfg(set, false), &opts(eats, false)).unwrap();
            c.push((format!("s2[{set}] {eats:?}"), ste));
        }
        let stall = Ste::s2(&s2cfg(set, true), &opts(Eats::Abort, false)).unwrap();
        c.push((format!("s2[{set}] stall"), stall));
        for dss in [S1Dss::Terminate, S1Dss::Bypass, S1Dss::Ssid0] {
            for eats in [Eats::Abort, Eats::Trans] {
                let ste = Ste::nested(&s1cfg(set, dss, 0), &s2cfg(set, false), &opts(eats, true))
                    .unwrap();
                c.push((format!("nested[{set}] {dss:?} {eats:?}"), ste));
            }
        }
    }
    c
}

/// Two table addresses of stage 1.
const TTB0S: [u64; 2] = [0x1_0000_0000, 0x2_3456_7000];

fn cdcfg(asid: u16, ttb: usize, hw_dirty: bool) -> CdCfg {
    CdCfg {
        asid,
        ttb0: TTB0S[ttb],
        tcr: S1Tcr {
            t0sz: 16,
            tg0: 0,
            ir0: 1,
            or0: 1,
            sh0: 3,
            ips: 5,
        },
        mair: MAIR,
        epd0: false,
        record: true,
        stall: false,
        ha: hw_dirty,
        hd: hw_dirty,
    }
}

/// Every CD kind and variant, named.
fn cd_catalogue() -> Vec<(String, Cd)> {
    let mut c: Vec<(String, Cd)> = vec![("invalid".into(), Cd::INVALID)];
    for asid in [1, 2] {
        for ttb in 0..2 {
            for hd in [false, true] {
                let cd = Cd::stage1(&cdcfg(asid, ttb, hd)).unwrap();
                c.push((format!("cd asid={asid} ttb={ttb} hd={hd}"), cd));
            }
        }
        let off = Cd::stage1(&CdCfg {
            epd0: true,
            record: false,
            ..cdcfg(asid, 0, false)
        })
        .unwrap();
        c.push((format!("cd asid={asid} epd0"), off));
    }
    c
}

/// Per-kind counts of the plans of a catalogue.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    pairs: usize,
    identical: usize,
    unused_only: usize,
    hitless: usize,
    breaking: usize,
    used_safe: usize,
    observed: usize,
}

fn tally<E: Copy>(
    catalogue: &[(String, E)],
    mut replay: impl FnMut(&E, &E, &str) -> (Plan<ENTRY_QWORDS>, Replay),
) -> Tally {
    let mut t = Tally::default();
    for (cur_name, cur) in catalogue {
        for (target_name, target) in catalogue {
            let what = format!("{cur_name} -> {target_name}");
            let (p, r) = replay(cur, target, &what);
            t.pairs += 1;
            t.observed += r.observed;
            if r.used_safe {
                t.used_safe += 1;
            }
            match p.kind() {
                PlanKind::Identical => t.identical += 1,
                PlanKind::UnusedOnly => t.unused_only += 1,
                PlanKind::Hitless { .. } => t.hitless += 1,
                PlanKind::Breaking => t.breaking += 1,
            }
        }
    }
    t
}

/// Finds an entry of a catalogue by name.
fn find<E: Copy>(catalogue: &[(String, E)], name: &str) -> E {
    catalogue
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .1
}

#[test]
fn catalogue_entries_set_only_used_bits() {
    for (name, ste) in ste_catalogue() {
        let used = ste_used_bits(&ste.0);
        for (i, (word, used)) in ste.0.iter().zip(used.iter()).enumerate() {
            assert_eq!(word & !used, 0, "{name} word {i}");
        }
    }
    for (name, cd) in cd_catalogue() {
        let used = cd_used_bits(&cd.0);
        for (i, (word, used)) in cd.0.iter().zip(used.iter()).enumerate() {
            assert_eq!(word & !used, 0, "{name} word {i}");
        }
    }
}

#[test]
fn every_ste_pair_is_updated_without_mixtures() {
    let catalogue = ste_catalogue();
    let t = tally(&catalogue, |c: &Ste, t: &Ste, w: &str| replay_ste(c, t, w));
    assert_eq!(catalogue.len(), 46);
    assert_eq!(
        t,
        Tally {
            pairs: 2116,
            identical: 46,
            unused_only: 40,
            hitless: 636,
            breaking: 1394,
            used_safe: 232,
            observed: 17600,
        }
    );
}

#[test]
fn every_cd_pair_is_updated_without_mixtures() {
    let catalogue = cd_catalogue();
    let t = tally(&catalogue, |c: &Cd, t: &Cd, w: &str| replay_cd(c, t, w));
    assert_eq!(catalogue.len(), 11);
    assert_eq!(
        t,
        Tally {
            pairs: 121,
            identical: 11,
            unused_only: 0,
            hitless: 86,
            breaking: 24,
            used_safe: 0,
            observed: 452,
        }
    );
}

/// The plan kind and number of syncs of `cur -> target`.
fn ste_outcome(c: &[(String, Ste)], cur: &str, target: &str) -> (PlanKind, usize) {
    let (p, r) = replay_ste(&find(c, cur), &find(c, target), cur);
    (p.kind(), r.syncs)
}

/// `Hitless` with any critical word.
fn is_hitless(kind: PlanKind) -> bool {
    matches!(kind, PlanKind::Hitless { .. })
}

#[test]
fn known_ste_transitions() {
    let c = ste_catalogue();
    let s1 = "s1[0] Ssid0 Abort cdmax=0";
    // Bypass and abort use word 0 (and 1): a single switch.
    let (k, syncs) = ste_outcome(&c, "bypass+shcfg", "abort");
    assert!(is_hitless(k) && syncs == 2);
    let (k, syncs) = ste_outcome(&c, "abort", "bypass+shcfg");
    assert!(is_hitless(k) && syncs == 2);
    assert_eq!(
        ste_outcome(&c, "bypass", "abort"),
        (PlanKind::Hitless { critical: 0 }, 1)
    );
    // Adding or removing ATS is one store: EATS may change early.
    assert_eq!(
        ste_outcome(&c, s1, "s1[0] Ssid0 Trans cdmax=0"),
        (PlanKind::UnusedOnly, 1)
    );
    assert_eq!(
        ste_outcome(&c, "s2[1] Trans", "s2[1] Abort"),
        (PlanKind::UnusedOnly, 1)
    );
    // Changing S1DSS alone is one store of word 1.
    assert_eq!(
        ste_outcome(
            &c,
            "s1[0] Ssid0 Abort cdmax=8",
            "s1[0] Bypass Abort cdmax=8"
        ),
        (PlanKind::Hitless { critical: 1 }, 1)
    );
    // S1 (S2VMID 0) to S2 with a VMID changes words 0 and 2: break.
    assert_eq!(ste_outcome(&c, s1, "s2[0] Abort"), (PlanKind::Breaking, 3));
    assert_eq!(ste_outcome(&c, "s2[0] Abort", s1), (PlanKind::Breaking, 3));
    // Another CD table and another S1DSS: break.
    assert_eq!(
        ste_outcome(&c, s1, "s1[1] Bypass Abort cdmax=0"),
        (PlanKind::Breaking, 3)
    );
    // Another VMID alone: one store of word 2.
    let s2a = Ste::s2(&s2cfg(0, false), &opts(Eats::Abort, false)).unwrap();
    let mut other = s2cfg(0, false);
    other.vmid = 7;
    let s2b = Ste::s2(&other, &opts(Eats::Abort, false)).unwrap();
    let (p, r) = replay_ste(&s2a, &s2b, "vmid");
    assert_eq!((p.kind(), r.syncs), (PlanKind::Hitless { critical: 2 }, 1));
    // S2 to nested over the same stage 2 and back: a switch of word 0.
    let (k, syncs) = ste_outcome(&c, "s2[0] Abort", "nested[0] Ssid0 Trans");
    assert!(is_hitless(k) && syncs == 2);
    let (k, syncs) = ste_outcome(&c, "nested[0] Bypass Trans", "s2[0] Abort");
    assert!(is_hitless(k) && syncs == 3);
    // ATS cannot be turned on early next to a stalling stage 2 (S2S with
    // EATS is illegal), so dropping the stall and adding ATS breaks.
    assert_eq!(
        ste_outcome(&c, "s2[0] stall", "s2[0] Trans"),
        (PlanKind::Breaking, 3)
    );
    assert_eq!(
        ste_outcome(&c, "s2[0] stall", "s2[0] Abort"),
        (PlanKind::Hitless { critical: 2 }, 1)
    );
    // From and to a non-valid STE is always a switch of word 0.
    for (name, _) in &c {
        if name != "invalid" {
            let (k, _) = ste_outcome(&c, "invalid", name);
            assert_eq!(k, PlanKind::Hitless { critical: 0 }, "{name}");
            let (k, _) = ste_outcome(&c, name, "invalid");
            assert_eq!(k, PlanKind::Hitless { critical: 0 }, "{name}");
        }
    }
}

#[test]
fn known_cd_transitions() {
    let c = cd_catalogue();
    let out = |cur: &str, target: &str| {
        let (p, r) = replay_cd(&find(&c, cur), &find(&c, target), cur);
        (p.kind(), r.syncs)
    };
    // Another ASID: one store of word 0. Another table: one of word 1.
    assert_eq!(
        out("cd asid=1 ttb=0 hd=false", "cd asid=2 ttb=0 hd=false"),
        (PlanKind::Hitless { critical: 0 }, 1)
    );
    assert_eq!(
        out("cd asid=1 ttb=0 hd=false", "cd asid=1 ttb=1 hd=false"),
        (PlanKind::Hitless { critical: 1 }, 1)
    );
    // Both: break.
    assert_eq!(
        out("cd asid=1 ttb=0 hd=false", "cd asid=2 ttb=1 hd=false"),
        (PlanKind::Breaking, 3)
    );
    // Turning HTTU on is a store of word 0.
    assert_eq!(
        out("cd asid=1 ttb=1 hd=false", "cd asid=1 ttb=1 hd=true"),
        (PlanKind::Hitless { critical: 0 }, 1)
    );
    // Disabling and re-enabling TTB0 walks (an SVA CD released and
    // reused) does not break, even to another table.
    assert_eq!(
        out("cd asid=1 ttb=0 hd=false", "cd asid=1 epd0"),
        (PlanKind::Hitless { critical: 0 }, 2)
    );
    assert_eq!(
        out("cd asid=1 epd0", "cd asid=1 ttb=1 hd=true"),
        (PlanKind::Hitless { critical: 0 }, 2)
    );
    assert_eq!(
        out("invalid", "cd asid=2 ttb=1 hd=true"),
        (PlanKind::Hitless { critical: 0 }, 2)
    );
}

// ---------------------------------------------------------------------------
// The scenarios of Linux 7.3's arm-smmu-v3-test.c, entries built the same
// way (an SMMU with stalls and ATTR_TYPES_OVR), with the same expected number
// of syncs and the same "hitless" verdict (no sync saw word 0 zero).

/// `fake_cdtab_dma_addr` masked to S1ContextPtr.
const FAKE_CDTAB: u64 = 0xf0f0_f0f0_f0c0;
/// The second CD table of the non-hitless test.
const FAKE_CDTAB2: u64 = 0x4b_4b4b_4b40;

/// `arm_smmu_test_make_s2_ste()`.
fn linux_s2(ats: bool, stall: bool) -> Ste {
    let s2 = S2Cfg {
        vmid: 0,
        vtcr: S2Vtcr {
            t0sz: 4,
            sl0: 3,
            ir0: 2,
            or0: 1,
            sh0: 3,
            tg: 2,
            ps: 1,
        },
        ttb: 0xdaed_beef_dead_beef & 0x000f_ffff_ffff_fff0,
        affd: false,
        ptw: true,
        stall,
        record: true,
        fwb: false,
        ha: false,
        hd: false,
    };
    let eats = if ats { Eats::Trans } else { Eats::Abort };
    Ste::s2(&s2, &opts(eats, false)).unwrap()
}

/// `arm_smmu_test_make_cdtable_ste()` (S1CDMax 8 instead of the truncated
/// 31: the same word either way).
fn linux_cdtable(dss: S1Dss, cdtab: u64, ats: bool, stall: bool, nested: bool) -> Ste {
    let s1 = S1Cfg {
        cd_table: cdtab,
        fmt: S1Fmt::TwoLevel64K,
        cdmax: 8,
        dss,
        stalld: !stall,
        ..S1Cfg::single(0)
    };
    let eats = if ats { Eats::Trans } else { Eats::Abort };
    let mut ste = Ste::s1(&s1, &opts(eats, false)).unwrap();
    if nested {
        let s2 = linux_s2(ats, stall);
        ste = ste.with_config(CONFIG_NESTED).unwrap().with_mev(1).unwrap();
        ste.0[2..].copy_from_slice(&s2.0[2..]);
    }
    ste
}

/// `arm_smmu_test_make_s1_cd()`.
fn linux_s1_cd(asid: u16) -> Cd {
    Cd::stage1(&CdCfg {
        asid,
        ttb0: 0xdaed_beef_dead_beef & 0x000f_ffff_ffff_fff0,
        tcr: S1Tcr {
            t0sz: 4,
            tg0: 2,
            ir0: 2,
            or0: 1,
            sh0: 3,
            ips: 1,
        },
        mair: 0xabc_def0_1234_5678,
        epd0: false,
        record: true,
        stall: false,
        ha: false,
        hd: false,
    })
    .unwrap()
}

/// `arm_smmu_make_sva_cd()` with an mm (`live`) or without.
fn linux_sva_cd(asid: u16, live: bool) -> Cd {
    Cd::stage1(&CdCfg {
        asid,
        ttb0: 0x4_5678_9000,
        tcr: S1Tcr {
            t0sz: 16,
            tg0: 0,
            ir0: 1,
            or0: 1,
            sh0: 3,
            ips: 5,
        },
        mair: MAIR,
        epd0: !live,
        record: live,
        stall: false,
        ha: false,
        hd: false,
    })
    .unwrap()
}

#[test]
fn linux_kunit_ste_scenarios() {
    use S1Dss::{Bypass, Ssid0};
    let bypass = Ste::bypass(Shcfg::Incoming);
    let abort = Ste::abort();
    let cdtable = linux_cdtable(Ssid0, FAKE_CDTAB, true, false, false);
    let s1dss_bypass = linux_cdtable(Bypass, FAKE_CDTAB, true, false, false);
    let s2 = linux_s2(true, false);
    let s1_stall = linux_cdtable(Ssid0, FAKE_CDTAB, false, true, false);
    let s2_stall = linux_s2(false, true);
    let nested_bypass = linux_cdtable(Bypass, FAKE_CDTAB, true, false, true);
    let s2_plain = linux_s2(false, false);
    let other = linux_cdtable(Bypass, FAKE_CDTAB2, true, false, false);
    // (name, current, target, syncs, Linux's "hitless")
    let cases = [
        ("bypass_to_abort", bypass, abort, 2, true),
        ("abort_to_bypass", abort, bypass, 2, true),
        ("cdtable_to_abort", cdtable, abort, 2, true),
        ("abort_to_cdtable", abort, cdtable, 2, true),
        ("cdtable_to_bypass", cdtable, bypass, 3, true),
        ("bypass_to_cdtable", bypass, cdtable, 3, true),
        ("cdtable_s1dss_change", cdtable, s1dss_bypass, 1, true),
        ("cdtable_s1dss_change back", s1dss_bypass, cdtable, 1, true),
        ("s1dssbypass_to_stebypass", s1dss_bypass, bypass, 2, true),
        ("stebypass_to_s1dssbypass", bypass, s1dss_bypass, 2, true),
        ("s2_to_abort", s2, abort, 2, true),
        ("abort_to_s2", abort, s2, 2, true),
        ("s2_to_bypass", s2, bypass, 2, true),
        ("bypass_to_s2", bypass, s2, 2, true),
        ("s1_to_s2", cdtable, s2, 3, true),
        ("s2_to_s1", s2, cdtable, 3, true),
        ("non_hitless", cdtable, other, 3, false),
        ("s1_to_s2_stall", s1_stall, s2_stall, 3, true),
        ("s2_to_s1_stall", s2_stall, s1_stall, 3, true),
        (
            "nested_s1dssbypass_to_s1bypass",
            nested_bypass,
            s2_plain,
            3,
            true,
        ),
        (
            "nested_s1bypass_to_s1dssbypass",
            s2_plain,
            nested_bypass,
            2,
            true,
        ),
    ];
    for (name, cur, target, syncs, hitless) in cases {
        let (p, r) = replay_ste(&cur, &target, name);
        assert_eq!(r.syncs, syncs, "{name}");
        assert_eq!(!r.invalid_written, hitless, "{name}");
        assert_eq!(p.kind() == PlanKind::Breaking, !hitless, "{name}");
    }
}

#[test]
fn linux_kunit_cd_scenarios() {
    let invalid = Cd::INVALID;
    let cases = [
        ("s1_clear", invalid, linux_s1_cd(1997), 2, false),
        ("s1_clear back", linux_s1_cd(1997), invalid, 2, false),
        (
            "s1_change_asid",
            linux_s1_cd(778),
            linux_s1_cd(1997),
            1,
            true,
        ),
        (
            "s1_change_asid back",
            linux_s1_cd(1997),
            linux_s1_cd(778),
            1,
            true,
        ),
        ("sva_clear", invalid, linux_sva_cd(1997, true), 2, false),
        (
            "sva_clear back",
            linux_sva_cd(1997, true),
            invalid,
            2,
            false,
        ),
        (
            "sva_release",
            linux_sva_cd(1997, true),
            linux_sva_cd(1997, false),
            2,
            true,
        ),
        (
            "sva_release back",
            linux_sva_cd(1997, false),
            linux_sva_cd(1997, true),
            2,
            true,
        ),
    ];
    for (name, cur, target, syncs, hitless) in cases {
        let (p, r) = replay_cd(&cur, &target, name);
        assert_eq!(r.syncs, syncs, "{name}");
        // Linux counts a CD going to or from non-valid as not hitless (a
        // sync saw it non-valid); the plan itself never breaks a CD here.
        assert_eq!(!r.invalid_written, hitless, "{name}");
        assert!(
            matches!(p.kind(), PlanKind::Hitless { critical: 0 }),
            "{name}"
        );
    }
}

#[test]
fn plans_of_the_typed_helpers() {
    let a = Ste::abort();
    let b = Ste::bypass(Shcfg::Incoming);
    let p = plan_ste(&a, &b);
    assert_eq!(p.kind(), PlanKind::Hitless { critical: 0 });
    assert_eq!(p.syncs(), 2);
    assert_eq!(p.stores(), 2);
    let mut e = a.0;
    for step in p.steps() {
        step.apply(&mut e);
    }
    assert_eq!(e, b.0);
    assert_eq!(plan_ste(&b, &b).kind(), PlanKind::Identical);
    assert!(plan_ste(&b, &b).steps().is_empty());
    let cd = linux_s1_cd(5);
    let p = plan_cd(&Cd::INVALID, &cd);
    let mut e = Cd::INVALID.0;
    p.apply(&mut e);
    assert_eq!(e, cd.0);
    // The first phase writes everything but word 0, the second word 0.
    match p.steps() {
        [Step::Write { mask: m1, .. }, Step::Sync, Step::Write { mask: m2, .. }, Step::Sync] => {
            assert_eq!((*m1, *m2), (0b1010, 0b1));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn used_bits_by_configuration() {
    let v = |e: &Ste| ste_used_bits(&e.0);
    assert_eq!(v(&Ste::INVALID), [1, 0, 0, 0, 0, 0, 0, 0]);
    // A non-valid STE uses V whatever else it holds.
    assert_eq!(v(&Ste([!1; 8])), [1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(v(&Ste::abort()), [0xf, 0, 0, 0, 0, 0, 0, 0]);
    // Reserved configurations 0b001..0b011: V and Config only.
    for config in 1..4 {
        let e = Ste::ZERO.with_v(1).unwrap().with_config(config).unwrap();
        assert_eq!(v(&e), [0xf, 0, 0, 0, 0, 0, 0, 0]);
    }
    let overrides = 0x000f_f1ff_0000_0000;
    assert_eq!(v(&Ste::bypass(Shcfg::NonShareable))[..2], [0xf, overrides]);
    let s1 = Ste::s1(&S1Cfg::single(0), &StreamOpts::DEFAULT).unwrap();
    let s1_q1 = 0xff | 1 << 19 | 0x1f << 27;
    assert_eq!(v(&s1)[..4], [0xf80f_ffff_ffff_ffff, s1_q1, 0xffff, 0]);
    let s1_bypass = Ste::s1(
        &S1Cfg {
            dss: S1Dss::Bypass,
            ..S1Cfg::single(0)
        },
        &StreamOpts::DEFAULT,
    )
    .unwrap();
    assert_eq!(v(&s1_bypass)[1], s1_q1 | overrides);
    let s2 = Ste::s2(&s2cfg(0, false), &StreamOpts::DEFAULT).unwrap();
    assert_eq!(
        v(&s2)[..4],
        [
            0xf,
            1 << 19 | 1 << 25 | 3 << 28 | overrides,
            0x07ff_ffff_0000_ffff,
            0x000f_ffff_ffff_fff0
        ]
    );
    // Linux 7.3's arm_smmu_get_ste_used() is a subset.
    let linux_s2_q2: u64 =
        0xffff | 0x7_ffff << 32 | 1 << 51 | 1 << 52 | 1 << 54 | 1 << 57 | 1 << 58;
    assert_eq!(v(&s2)[2] & linux_s2_q2, linux_s2_q2);

    let c = |e: &Cd| cd_used_bits(&e.0);
    assert_eq!(c(&Cd::INVALID), [1 << 31, 0, 0, 0, 0, 0, 0, 0]);
    let cd = linux_s1_cd(1);
    // EPD1 is set: the TTB1 controls and table are not used.
    assert_eq!(
        c(&cd),
        [
            !0x3fff_0000,
            u64::MAX,
            !0x000f_ffff_ffff_fff0,
            u64::MAX,
            u64::MAX,
            u64::MAX,
            u64::MAX,
            u64::MAX
        ]
    );
    let off = linux_sva_cd(1, false);
    assert_eq!(c(&off)[..2], [!0x3fff_3fff, !0x000f_ffff_ffff_fff0]);

    // Safe bits.
    let s = |a: &Ste, b: &Ste| ste_update_safe_bits(&a.0, &b.0);
    let mev_eats = [0, 1 << 19 | 1 << 28, 0, 0, 0, 0, 0, 0];
    let mev = [0, 1 << 19, 0, 0, 0, 0, 0, 0];
    assert_eq!(s(&s1, &s2), mev_eats);
    let stall = Ste::s2(&s2cfg(0, true), &StreamOpts::DEFAULT).unwrap();
    assert_eq!(s(&s1, &stall), mev);
    let split = s1.with_eats(EATS_S1CHK).unwrap();
    assert_eq!(s(&split, &s1), mev);
}

/// A small deterministic PRNG (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value below `n`.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// One of `choices`.
    fn pick(&mut self, choices: &[u64]) -> u64 {
        choices[self.below(choices.len() as u64) as usize]
    }
}

/// A random STE: any Config (reserved ones included), fields from small
/// domains so that pairs often share some, reserved S1DSS/EATS values, and
/// sometimes garbage in bits the configuration ignores. Never the illegal
/// stage 2 stall with ATS.
fn random_ste(rng: &mut Rng) -> Ste {
    let mut e = Ste::ZERO
        .with_v(u64::from(rng.below(8) != 0))
        .and_then(|s| s.with_config(rng.below(8)))
        .and_then(|s| s.with_s1fmt(rng.pick(&[0, 2])))
        .and_then(|s| s.with_cd_table(rng.pick(&CD_TABLES)))
        .and_then(|s| s.with_s1cdmax(rng.pick(&[0, 8])))
        .and_then(|s| s.with_s1dss(rng.below(4)))
        .and_then(|s| s.with_s1cir(rng.pick(&[0, 1])))
        .and_then(|s| s.with_s1stalld(rng.below(2)))
        .and_then(|s| s.with_eats(rng.below(4)))
        .and_then(|s| s.with_mev(rng.below(2)))
        .and_then(|s| s.with_shcfg(rng.below(2)))
        .and_then(|s| s.with_s2vmid(rng.below(3)))
        .and_then(|s| s.with_s2t0sz(rng.pick(&[16, 20])))
        .and_then(|s| s.with_s2aa64(1))
        .and_then(|s| s.with_s2s(rng.below(2)))
        .and_then(|s| s.with_s2_ttb(rng.pick(&[0x8000_0000, 0x9000_0000])))
        .unwrap();
    if ste_is_illegal(&e.0) {
        e = e.with_eats(0).unwrap();
    }
    if rng.below(4) == 0 {
        // Garbage where the configuration does not look.
        let used = ste_used_bits(&e.0);
        for (word, used) in e.0.iter_mut().zip(used.iter()) {
            *word |= rng.next() & rng.next() & !used;
        }
    }
    e
}

/// A random CD, likewise.
fn random_cd(rng: &mut Rng) -> Cd {
    let mut cfg = cdcfg(
        rng.below(3) as u16,
        rng.below(2) as usize,
        rng.below(2) != 0,
    );
    cfg.epd0 = rng.below(3) == 0;
    cfg.record = rng.below(2) != 0;
    let mut e = Cd::stage1(&cfg).unwrap();
    e = e.with_v(u64::from(rng.below(6) != 0)).unwrap();
    e = e.with_epd1(rng.below(2)).unwrap();
    e = e.with_ttb1(rng.below(2) << 20).unwrap();
    if rng.below(4) == 0 {
        let used = cd_used_bits(&e.0);
        for (word, used) in e.0.iter_mut().zip(used.iter()) {
            *word |= rng.next() & rng.next() & !used;
        }
    }
    e
}

#[test]
fn random_pairs_are_updated_without_mixtures() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut kinds = [0usize; 4];
    for n in 0..40_000 {
        let (cur, target) = (random_ste(&mut rng), random_ste(&mut rng));
        let (p, _) = replay_ste(&cur, &target, &format!("random STE pair {n}"));
        kinds[match p.kind() {
            PlanKind::Identical => 0,
            PlanKind::UnusedOnly => 1,
            PlanKind::Hitless { .. } => 2,
            PlanKind::Breaking => 3,
        }] += 1;
        let (cur, target) = (random_cd(&mut rng), random_cd(&mut rng));
        replay_cd(&cur, &target, &format!("random CD pair {n}"));
    }
    // Every kind of plan was exercised.
    assert!(kinds.iter().skip(1).all(|&k| k > 100), "{kinds:?}");
}
