#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Tables and Documentation/performance.rst for tools/bench.sh.

  perfdoc.py vtd-table --riommu LOG... --intel LOG...
                       [--count-riommu RUN... --count-intel RUN...]
      Print the VT-d table (riommu_vtd against intel-iommu) from the output
      of riommu_vtd_bench in each driver's boots (pairs of boots, in the
      same order for both).  --count-*: the count boots (riommu_vtd_bench
      --count under QEMU's trace), each RUN a path without its extension:
      RUN.out (the program's output) and RUN.trace (QEMU's trace); prints
      the hardware work per op (tools/bench/qtrace.py) and whether the
      runs of a driver on a unit agree.
  perfdoc.py smmu-table --riommu LOG... --c LOG...
                        [--count-riommu RUN... --count-c RUN...]
      Print the SMMUv3 tables (riommu_smmuv3 against arm_smmu_v3.ko): times
      from riommu_smmuv3_bench's timing boots, and the hardware work per op
      from its count boots (RUN.out and RUN.trace, as for vtd-table),
      which must agree boot to boot.
  perfdoc.py doc DOC [--mock RESULTS] [--vtd-riommu LOG... --vtd-intel LOG...
                      [--count-riommu RUN... --count-intel RUN...]]
                 [--smmu-riommu LOG... --smmu-c LOG...
                  [--smmu-count-riommu RUN... --smmu-count-c RUN...]]
      Rewrite DOC.  --mock: the RESULT lines of riommu_bench (the mock
      section); --vtd-*: the outputs of riommu_vtd_bench (the VT-d section),
      --count-*: as above; --smmu-*: riommu_smmuv3_bench's (the SMMUv3
      section).
      A section not given is kept as DOC has it (between its BEGIN/END
      RESULTS markers), as is the hand-written analysis between
      ".. BEGIN ANALYSIS" and ".. END ANALYSIS".
      --mock-sweep RST, --vtd-sweep RST...: the sweeps' figures and tables
      (tools/bench/plot.py --rst), appended to the mock and the VT-d
      section when that section is rewritten.

The run's details come from the environment: BENCH_DATE, BENCH_QEMU,
BENCH_CPU, BENCH_ACCEL, BENCH_SMP; for the mock section BENCH_KERNEL,
BENCH_LINE, BENCH_LOAD; for the VT-d one BENCH_VTD_LOAD,
BENCH_VTD_QEMU_ARGS, BENCH_VTD_APPEND_RIOMMU and BENCH_VTD_APPEND_INTEL
(the two boots' extra kernel command line); for the SMMUv3 one
BENCH_SMMU_LOAD, BENCH_SMMU_APPEND_RIOMMU, BENCH_SMMU_APPEND_C,
BENCH_SMMU_COUNT_OPS and BENCH_SMMU_COUNT_EVENTS.
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qtrace  # noqa: E402

env = os.environ


def fmt(v, unit):
    v = float(v)
    if unit == "bytes":
        return f"{v / 1024:.1f} KiB" if abs(v) >= 10240 else f"{v:.0f} B"
    if v >= 1e6:
        return f"{v / 1e6:.2f} ms"
    if v >= 1e3:
        return f"{v / 1e3:.2f} µs"
    return f"{v:.1f} ns"


def list_table(widths, header, rows):
    out = [".. list-table::", "   :header-rows: 1", "   :widths: " + " ".join(map(str, widths)), ""]
    for i, row in enumerate([header] + rows):
        out.append(f"   * - {row[0]}")
        out += [f"     - {c}" for c in row[1:]]
    return out


# --------------------------------------------------------------------------
# riommu_vtd_bench output


def median(v):
    s = sorted(v)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def vtd_parse(path):
    """One boot: {'info': {...}, 'line': str, 'rows': {key: row}, 'order': [keys]}."""
    info, rows, order, line = {}, {}, [], ""
    for ln in open(path, encoding="utf-8", errors="replace"):
        ln = ln.rstrip("\n")
        if ln.startswith("INFO "):
            _, k, *v = ln.split(" ", 2)
            info[k] = v[0] if v else ""
        elif re.match(r"# riommu_\w+_bench: ", ln) and not line:
            line = ln.split(": ", 1)[1]
        elif ln.startswith("VALUES ") and ln.split()[1] in rows:
            rows[ln.split()[1]]["values"] = [float(x) for x in ln.split()[2:]]
        elif ln.startswith("RESULT ") or ln.startswith("NA "):
            parts = ln.split(" | ")
            head, label = parts[0].split(), parts[1] if len(parts) > 1 else ""
            note = parts[2] if len(parts) > 2 else ""
            key = head[1]
            if head[0] == "RESULT":
                row = dict(key=key, unit=head[2], med=float(head[3]), values=[],
                           label=label, note=note)
            else:
                row = dict(key=key, na=head[2], label=label, note=note)
            rows[key] = row
            order.append(key)
    # Boots of a first- and of a second-stage unit are different measures.
    stage = info.get("stage")
    if stage in ("first", "second"):
        for k in order:
            rows[k]["label"] += f", {stage}-stage unit"
            rows[k]["key"] = f"{k}@{stage}"
        rows = {f"{k}@{stage}": v for k, v in rows.items()}
        order = [f"{k}@{stage}" for k in order]
    return dict(info=info, line=line, rows=rows, order=order)


def vtd_combine(paths):
    """Several boots of one driver: each measure's rounds pooled (median,
    min, max of them all) and each boot's median in 'boots'; n/a if any
    boot says so."""
    runs = [vtd_parse(p) for p in paths]
    stages = sorted({r["info"].get("stage", "?") for r in runs})
    boots = {st: sum(1 for r in runs if r["info"].get("stage", "?") == st) for st in stages}
    out = dict(info=runs[0]["info"], line=runs[0]["line"], rows={}, order=[],
               boots=min(boots.values()), stages=stages,
               hw={r["info"].get("stage", "?"): r["info"].get("hw", "?") for r in runs})
    for r in runs:
        for k in r["order"]:
            if k not in out["order"]:
                out["order"].append(k)
    for k in out["order"]:
        rs = [r["rows"][k] for r in runs if k in r["rows"]]
        na = [x for x in rs if "na" in x]
        if na:
            out["rows"][k] = na[0]
            continue
        vals = [v for x in rs for v in (x["values"] or [x["med"]])]
        notes = sorted({x["note"] for x in rs if x["note"]})
        out["rows"][k] = dict(key=k, unit=rs[0]["unit"], label=rs[0]["label"],
                              note="; ".join(notes), med=median(vals), min=min(vals),
                              max=max(vals), boots=[x["med"] for x in rs])
    return out


def vtd_cell(row, doc):
    if row is None:
        return "-"
    if "na" in row:
        return f"n/a ({row['na']})"
    dash = "–" if doc else "-"
    cell = f"{fmt(row['med'], row['unit'])} ({fmt(row['min'], row['unit'])}{dash}" \
           f"{fmt(row['max'], row['unit'])})"
    if row["note"]:
        cell += " [unattached]" if "not attached" in row["note"] else f" [{row['note']}]"
    return cell


def vtd_rows(riommu, intel, doc):
    """Rows (label, key, C cell, Rust cell, ratio, ratio range over the boot
    pairs) in riommu's order."""
    keys = riommu["order"] + [k for k in intel["order"] if k not in riommu["rows"]]
    out = []
    for k in keys:
        r, c = riommu["rows"].get(k) or {}, intel["rows"].get(k) or {}
        label = (r or c)["label"]
        ratio, pairs = None, []
        # An attached and an unattached nested HWPT do not compare.
        if "med" in r and "med" in c and c["med"] > 0 and bool(r["note"]) == bool(c["note"]):
            ratio = r["med"] / c["med"]
            pairs = [x / y for x, y in zip(r["boots"], c["boots"]) if y > 0]
        if ratio is None:
            rt, pr = "n/a", "n/a"
        else:
            rt = f"{ratio:.2f}"
            if round(ratio, 2) > 1.0:
                rt = f"**{rt}**" if doc else rt + " *"
            pr = f"{min(pairs):.2f}{'–' if doc else '-'}{max(pairs):.2f}"
        out.append((label, k, vtd_cell(c or None, doc), vtd_cell(r or None, doc), rt, pr))
    return out


def vtd_notes(riommu, intel):
    """Why measures are n/a or unattached, per driver."""
    notes = []
    for name, run in (("intel-iommu", intel), ("riommu_vtd", riommu)):
        seen = []
        for k in run["order"]:
            row = run["rows"][k]
            if row["note"] and row["note"] not in seen:
                seen.append(row["note"])
        for n in seen:
            notes.append(f"{name}: {n}")
    return notes


def cmd_vtd_table(riommu_logs, intel_logs, count_riommu=(), count_intel=()):
    riommu, intel = vtd_combine(riommu_logs), vtd_combine(intel_logs)
    rows = vtd_rows(riommu, intel, doc=False)
    head = ("VT-d measure (median per op, min-max)", "intel-iommu (C)", "riommu_vtd (Rust)",
            "Rust/C", "per pair")
    cols = [(r[0], r[2], r[3], r[4], r[5]) for r in rows]
    w = [max(len(x[i]) for x in [head] + cols) for i in range(5)]
    for x in [head, tuple("-" * n for n in w)] + cols:
        print(" | ".join(f"{c:<{w[i]}}" for i, c in enumerate(x)).rstrip())
    for n in vtd_notes(riommu, intel):
        print(f"n/a or unattached: {n}")
    print(f"\n{riommu['boots']} boot(s) per driver, alternated; median and min-max over all "
          "their rounds;\nper pair: the ratio of each pair of boots.  * Rust/C above 1.0 "
          "(the goal is at most 1.1).")
    if count_riommu:
        print()
        cmd_count_table(count_combine(count_riommu, "riommu_vtd"),
                        count_combine(count_intel, "intel-iommu"), riommu["order"])


# --------------------------------------------------------------------------
# Hardware work counted by QEMU (count boots)

# The counters of the table, in order, with their labels; desc:* (VT-d
# descriptor types) come first, by name.
COUNT_FIXED = [("desc", "descriptors (all types)"), ("waits", "invalidation waits"),
               ("mmio_r", "register reads"), ("mmio_w", "register writes"),
               ("fsts_r", "fault-status reads")]
# Counters of timer-driven work (qtrace.py: riommu_vtd's fault poll): shown,
# but neither compared nor required to agree run to run.
COUNT_TIMED = {"fsts_r"}


def count_run(prefix):
    """One count boot: (stage, {key@stage: counters or None (n/a)}, {key@stage: why})."""
    run = vtd_parse(prefix + ".out")
    stage = run["info"].get("stage", "?")
    suffix = f"@{stage}" if stage in ("first", "second") else ""
    counts = {k + suffix: c for k, c in qtrace.windows(prefix + ".out", prefix + ".trace").items()}
    for c in counts.values():
        c["desc"] = sum(v for k, v in c.items() if k.startswith("desc:"))
    na = {k: f"n/a ({r['na']})" for k, r in run["rows"].items() if "na" in r}
    return stage, counts, na


def count_combine(prefixes, name):
    """A driver's count boots: ({key: counters}, {key: n/a text}, runs per
    stage, [disagreements]).  The counts are exact, so the runs of a stage
    must agree counter for counter; each disagreement says which."""
    by_stage = {}
    for p in prefixes:
        stage, counts, na = count_run(p)
        by_stage.setdefault(stage, []).append((p, counts, na))
    out, nas, diffs = {}, {}, []
    for stage, runs in by_stage.items():
        first_p, first, first_na = runs[0]
        out.update(first)
        nas.update(first_na)
        for p, counts, na in runs[1:]:
            for k in sorted(set(first) | set(counts)):
                a, b = first.get(k), counts.get(k)
                if a is None or b is None:
                    diffs.append(f"{name}, {k}: counted in only one of {first_p} and {p}")
                    continue
                for c in sorted(set(a) | set(b)):
                    if c not in COUNT_TIMED and a.get(c, 0) != b.get(c, 0):
                        diffs.append(f"{name}, {k}, {c}: {qtrace.fmt_count(a.get(c, 0))} in "
                                     f"{os.path.basename(first_p)}, "
                                     f"{qtrace.fmt_count(b.get(c, 0))} in {os.path.basename(p)}")
    runs = {st: len(r) for st, r in by_stage.items()}
    return out, nas, runs, diffs


def count_label(c):
    for k, lab in COUNT_FIXED:
        if c == k:
            return lab
    if c == "desc:untraced":
        return "untraced descriptors"
    if c.startswith("desc:"):
        return f"{c[5:]} descriptors"
    return c


def count_rows(riommu, intel, keys, doc):
    """Rows (key, counter label, C, Rust, Rust/C) per measure and counter
    (counters zero for both drivers left out; a measure n/a for a driver
    shows n/a)."""
    r_counts, r_na = riommu[0], riommu[1]
    c_counts, c_na = intel[0], intel[1]
    allk = [k for k in keys if k in r_counts or k in c_counts or k in r_na or k in c_na]
    allk += [k for k in list(r_counts) + list(c_counts) if k not in allk]
    rows = []
    for k in allk:
        r, c = r_counts.get(k), c_counts.get(k)
        if r is None or c is None:
            rows.append((k, "(all)", c_na.get(k, "-") if c is None else "counted",
                         r_na.get(k, "-") if r is None else "counted", "n/a"))
            if r is None and c is None:
                continue
        have = set(r or {}) | set(c or {})
        descs = sorted(x for x in have if x.startswith("desc:"))
        for cnt in descs + [k2 for k2, _ in COUNT_FIXED]:
            rv = (r or {}).get(cnt, 0) if r is not None else None
            cv = (c or {}).get(cnt, 0) if c is not None else None
            if not rv and not cv:
                continue
            if rv is None or cv is None:
                ratio = "n/a"
            elif cnt in COUNT_TIMED:
                ratio = "timer"
            elif cv == 0:
                ratio = "**C: 0**" if doc else "C: 0 *"
            else:
                ratio = f"{rv / cv:.2f}"
                if round(rv / cv, 2) > 1.0:
                    ratio = f"**{ratio}**" if doc else ratio + " *"
            rows.append((k, count_label(cnt), "-" if cv is None else qtrace.fmt_count(cv),
                         "-" if rv is None else qtrace.fmt_count(rv), ratio))
    return rows


def count_agree(riommu, intel):
    """Lines saying how many count runs each driver had and whether they agree."""
    lines = []
    for name, d in (("intel-iommu", intel), ("riommu_vtd", riommu)):
        runs = ", ".join(f"{n} on the {st}-stage unit" for st, n in sorted(d[2].items()))
        lines.append(f"{name}: count runs: {runs or 'none'}; "
                     + ("identical counts run to run" if not d[3] and min(d[2].values(), default=0) > 1
                        else "a single run: not cross-checked" if not d[3]
                        else f"{len(d[3])} difference(s)"))
    return lines + [f"differs: {x}" for x in riommu[3] + intel[3]]


def cmd_count_table(riommu, intel, keys):
    rows = count_rows(riommu, intel, keys, doc=False)
    head = ("VT-d hardware work per op (QEMU trace)", "counter", "intel-iommu (C)",
            "riommu_vtd (Rust)", "Rust/C")
    w = [max(len(x[i]) for x in [head] + rows) for i in range(5)]
    for x in [head, tuple("-" * n for n in w)] + rows:
        print(" | ".join(f"{c:<{w[i]}}" for i, c in enumerate(x)).rstrip())
    print()
    for ln in count_agree(riommu, intel):
        print(ln)
    print("* Rust above C.  Per op: the events in a window of N ops divided by N "
          "(after one warm-up op).")
    print("timer: fault-status reads of riommu_vtd's 100 ms fault poll, in a window by "
          "wall time, not per op (not compared, may differ run to run).")


# --------------------------------------------------------------------------
# riommu_smmuv3_bench output: times, and the work QEMU counted


def ratio_text(r, c, doc):
    """Rust/C of two counts: bold (or *) above 1.0; "C: 0" when only Rust
    has some."""
    if c == 0:
        return "=" if r == 0 else ("**C: 0**" if doc else "C: 0 *")
    x = r / c
    t = f"{x:.2f}"
    if round(x, 2) > 1.0:
        t = f"**{t}**" if doc else t + " *"
    return t


# The SMMUv3 counters shown, after the commands by type (cmd:*, with
# CMD_SYNC, the completion waits, among them): all commands, the 4 KiB
# pages their TLBIs by address cover (QEMU's smmuv3_range_inval; the
# fewer, the less a real SMMU drops from its TLBs), the register accesses.
SMMU_COUNTERS = (("cmds", "commands (all types)"),
                 ("tlbi_pages", "pages the TLBIs cover (4 KiB)"),
                 ("mmio_w", "register writes"), ("mmio_r", "register reads"))


def smmu_count_rows(riommu, c, keys, doc):
    """Rows (key, counter label, C, Rust, Rust/C) per measure and counter,
    from count_combine()'s results; counters zero for both drivers left
    out, a measure n/a for a driver shown n/a (and the other's totals
    shown even when zero)."""
    (rw, rna), (cw, cna) = riommu[:2], c[:2]
    for w in (rw, cw):
        for x in w.values():
            x["cmds"] = sum(v for k, v in x.items() if k.startswith("cmd:"))
    allk = [k for k in keys if k in rw or k in cw or k in rna or k in cna]
    allk += [k for k in list(rw) + list(cw) if k not in allk]
    rows = []
    for k in allk:
        r, cc = rw.get(k), cw.get(k)
        if r is None or cc is None:
            rows.append((k, "(all)", cna.get(k, "-") if cc is None else "counted",
                         rna.get(k, "-") if r is None else "counted", "n/a"))
            if r is None and cc is None:
                continue
        cmds = sorted({x for d in (r or {}, cc or {}) for x in d if x.startswith("cmd:")})
        for counter, label in [(x, x[4:]) for x in cmds] + list(SMMU_COUNTERS):
            rv = None if r is None else r.get(counter, 0)
            cv = None if cc is None else cc.get(counter, 0)
            one = rv is None or cv is None
            if not rv and not cv and not (one and counter in dict(SMMU_COUNTERS)):
                continue
            rt = "n/a" if rv is None or cv is None else ratio_text(rv, cv, doc)
            rows.append((k, label, "-" if cv is None else qtrace.fmt_count(cv),
                         "-" if rv is None else qtrace.fmt_count(rv), rt))
    return rows


def smmu_count_agree(riommu, c):
    lines = []
    for name, d in (("arm_smmu_v3", c), ("riommu_smmuv3", riommu)):
        n = sum(d[2].values())
        lines.append(f"{name}: {n} count boot(s); "
                     + ("identical counts boot to boot" if not d[3] and n > 1
                        else "a single boot: not cross-checked" if not d[3]
                        else f"{len(d[3])} difference(s)"))
    return lines + [f"differs: {x}" for x in riommu[3] + c[3]]


def smmu_all(riommu_logs, c_logs, riommu_counts, c_counts, doc):
    riommu, c = vtd_combine(riommu_logs), vtd_combine(c_logs)
    rows = vtd_rows(riommu, c, doc)
    crows, cnotes = [], []
    if riommu_counts and c_counts:
        rc = count_combine(riommu_counts, "riommu_smmuv3")
        cc = count_combine(c_counts, "arm_smmu_v3")
        crows = smmu_count_rows(rc, cc, riommu["order"], doc)
        cnotes = smmu_count_agree(rc, cc)
    else:
        cnotes = ["hardware work not counted (no count boots: BENCH_SMMU_COUNT=0)"]
    notes = [n.replace("intel-iommu:", "arm_smmu_v3:").replace("riommu_vtd:", "riommu_smmuv3:")
             for n in vtd_notes(riommu, c)]
    return riommu, c, rows, crows, notes, cnotes


def print_table(head, rows):
    w = [max(len(x[i]) for x in [head] + rows) for i in range(len(head))]
    for x in [head, tuple("-" * n for n in w)] + rows:
        print(" | ".join(f"{c:<{w[i]}}" for i, c in enumerate(x)).rstrip())


def cmd_smmu_table(riommu_logs, c_logs, riommu_counts, c_counts):
    riommu, c, rows, crows, notes, cnotes = smmu_all(riommu_logs, c_logs, riommu_counts,
                                                      c_counts, doc=False)
    print_table(("SMMUv3 measure (median per op, min-max)", "arm_smmu_v3 (C)",
                 "riommu_smmuv3 (Rust)", "Rust/C", "per pair"),
                [(r[0], r[2], r[3], r[4], r[5]) for r in rows])
    for n in notes:
        print(f"n/a or unattached: {n}")
    print(f"\n{riommu['boots']} boot(s) per driver, alternated; median and min-max over all "
          "their rounds;\nper pair: the ratio of each pair of boots.  * Rust/C above 1.0.")
    print()
    if crows:
        print_table(("measure", "work per op (QEMU trace)", "arm_smmu_v3", "riommu_smmuv3",
                     "Rust/C"), crows)
    for n in cnotes:
        print(n)
    print("* Rust above C.  Per op: the events in a window of N ops divided by N "
          "(after one warm-up op).")


# --------------------------------------------------------------------------
# The document


def kept(doc_text, name):
    m = re.search(rf"^\.\. BEGIN {name} RESULTS$\n(.*?)^\.\. END {name} RESULTS$", doc_text,
                  re.S | re.M)
    return m.group(1).lstrip("\n") if m else None


def legacy_mock(doc_text):
    """The results of a performance.rst from before the VT-d section."""
    m = re.search(r"^Last run\n=+\n(.*?)^Method\n=+\n", doc_text, re.S | re.M)
    if not m:
        return None
    return "Last run\n--------\n" + m.group(1)


def mock_section(results):
    rows = []
    for line in open(results):
        head, _, label = line.rstrip("\n").partition(" | ")
        f = head.split()
        key, unit = f[1], f[2]
        cm, cmin, cmax, rm, rmin, rmax, ratio = f[3:10]
        ratio = float(ratio)
        r = f"{ratio:.2f}"
        rows.append([f"{label} (``{key}``)",
                     f"{fmt(cm, unit)} ({fmt(cmin, unit)}–{fmt(cmax, unit)})",
                     f"{fmt(rm, unit)} ({fmt(rmin, unit)}–{fmt(rmax, unit)})",
                     f"**{r}**" if ratio > 1.0 else r])
    table = list_table([40, 22, 22, 8], ["Measure (per operation)", "C mock: median (min–max)",
                                         "riommu_mock: median (min–max)", "Rust/C"], rows)
    return f"""\
Last run
--------

* Date: {env['BENCH_DATE']}
* Guest kernel (``uname -r``): {env['BENCH_KERNEL']}
* QEMU: {env['BENCH_QEMU']} (accelerator {env['BENCH_ACCEL']}, {env['BENCH_SMP']} vCPU)
* Host CPU: {env['BENCH_CPU']}; load average (1, 5, 15 min):
  {env['BENCH_LOAD']} (other work on the host widens the spreads)
* Program: {env['BENCH_LINE']}

""" + "\n".join(table) + "\n\n"


def vtd_count_section(riommu, intel, keys, iters):
    rows = [[f"``{k}``", lab, c, r, rt] for k, lab, c, r, rt in
            count_rows(riommu, intel, keys, doc=True)]
    table = list_table([30, 26, 14, 14, 8], ["Measure", "Per operation", "intel-iommu (C)",
                                             "riommu_vtd", "Rust/C"], rows)
    return f"""\
Hardware work per operation, counted by QEMU
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~

Separate boots of each driver (``riommu_vtd_bench --count``, {iters}),
under QEMU's trace of the unit: queued-invalidation descriptors by type
(``vtd_inv_desc``), invalidation waits (wait descriptors) and register
reads and writes (``vtd_reg_read``, ``vtd_reg_write``), per operation;
counters zero for both drivers are left out.  *Untraced descriptors* are
those QEMU consumed (the advance of the queue's tail register) without a
``vtd_inv_desc`` line: QEMU 10.0 processes pasid-cache invalidations as
no-ops and traces nothing for them (``tools/bench/qtrace.py``).
*Fault-status reads* are counted apart from the other register reads:
riommu_vtd polls the fault status register every 100 ms (Linux 7.3 gives
a module no DMAR fault interrupt), so those reads fall into a window by
wall time, not by operation ("timer": not compared).  The other counts are
exact, so a driver's runs must agree; the list below the table says
whether they did.

""" + "\n".join(table) + "\n\n" + "".join(f"* {x}\n" for x in count_agree(riommu, intel)) + "\n"


def count_iters_text(prefixes):
    for p in prefixes:
        for ln in open(p + ".out", encoding="utf-8", errors="replace"):
            m = re.match(r"^QCOUNT \S+ (\d+)", ln)
            if m:
                return f"one warm-up op, then {m.group(1)} ops in the counted window"
    return "no window"


def vtd_section(riommu_logs, intel_logs, count_riommu=(), count_intel=()):
    riommu, intel = vtd_combine(riommu_logs), vtd_combine(intel_logs)
    rows = [[f"{label} (``{key}``)", c, r, rt, pr]
            for label, key, c, r, rt, pr in vtd_rows(riommu, intel, doc=True)]
    table = list_table([36, 22, 22, 7, 13], ["Measure (per operation)",
                                             "intel-iommu (C): median (min–max)",
                                             "riommu_vtd: median (min–max)", "Rust/C",
                                             "Rust/C per boot pair"], rows)
    notes = vtd_notes(riommu, intel)
    params = riommu["info"].get("params", "none")
    text = f"""\
Last run
--------

* Date: {env['BENCH_DATE']}
* Guest kernel (``uname -r``): {riommu['info'].get('kernel', '?')}
* QEMU: {env['BENCH_QEMU']} (accelerator {env['BENCH_ACCEL']}, {env['BENCH_SMP']} vCPU),
  ``{env['BENCH_VTD_QEMU_ARGS']}``
* Units (``IOMMU_GET_HW_INFO``): {'; '.join(f"{st} stage: {hw}" for st, hw in sorted(intel['hw'].items()))}
* Boots: {riommu['boots']} per driver and unit, alternated (riommu_vtd,
  intel-iommu, intel-iommu, riommu_vtd, ...)
* riommu_vtd's boots: ``{env['BENCH_VTD_APPEND_RIOMMU']}`` (on the
  second-stage unit also ``riommu_vtd.force_nesting=1``); riommu_vtd
  parameters (sysfs): {'``' + params + '``' if params != 'none' else 'none'}
* intel-iommu's boots: ``{env['BENCH_VTD_APPEND_INTEL']}``
* Host CPU: {env['BENCH_CPU']}; load average (1, 5, 15 min):
  {env['BENCH_VTD_LOAD']}
* Program: {riommu['line']}

""" + "\n".join(table) + "\n\n"
    if notes:
        text += "n/a, unattached:\n\n" + "".join(f"* {n}\n" for n in notes) + "\n"
    if count_riommu:
        text += vtd_count_section(count_combine(count_riommu, "riommu_vtd"),
                                  count_combine(count_intel, "intel-iommu"), riommu["order"],
                                  count_iters_text(count_riommu))
    return text


def smmu_section(riommu_logs, c_logs, riommu_counts, c_counts):
    riommu, c, rows, crows, notes, cnotes = smmu_all(riommu_logs, c_logs, riommu_counts,
                                                      c_counts, doc=True)
    rc_runs = count_combine(riommu_counts, "riommu_smmuv3")[2] if riommu_counts else {}
    table = list_table([36, 22, 22, 7, 13], ["Measure (per operation)",
                                             "arm_smmu_v3 (C): median (min–max)",
                                             "riommu_smmuv3: median (min–max)", "Rust/C",
                                             "Rust/C per boot pair"],
                       [[f"{label} (``{key}``)", cc, r, rt, pr]
                        for label, key, cc, r, rt, pr in rows])
    params = riommu["info"].get("params", "none")
    text = f"""\
Last run
--------

* Date: {env['BENCH_DATE']}
* Guest kernel (``uname -r``): {riommu['info'].get('kernel', '?')}
* QEMU: {env['BENCH_QEMU_ARM64']} (accelerator {env['BENCH_ACCEL']}, {env['BENCH_SMP']} vCPU),
  ``-machine virt,iommu=smmuv3 -global arm-smmuv3.stage=nested
  -device edu,dma_mask=0xffffffffffffffff``
* SMMU (``IOMMU_GET_HW_INFO``): {c['info'].get('hw', '?')}
* Boots: {riommu['boots']} per driver, alternated (riommu_smmuv3,
  arm_smmu_v3, arm_smmu_v3, riommu_smmuv3, ...)
* riommu_smmuv3's boots: ``{env['BENCH_SMMU_APPEND_RIOMMU']}``; its
  parameters (sysfs): {'``' + params + '``' if params != 'none' else 'none readable'}
* arm_smmu_v3's boots: ``{env['BENCH_SMMU_APPEND_C']}``
* Host CPU: {env['BENCH_CPU']}; load average (1, 5, 15 min):
  {env['BENCH_SMMU_LOAD']}
* Program: {riommu['line']}

""" + "\n".join(table) + "\n\n"
    if notes:
        text += "n/a, unattached:\n\n" + "".join(f"* {n}\n" for n in notes) + "\n"
    if crows:
        ctable = list_table([30, 22, 14, 14, 10], ["Measure", "Work per operation",
                                                   "arm_smmu_v3", "riommu_smmuv3", "Rust/C"],
                            [[f"``{k}``", n, cv, rv, rt] for k, n, cv, rv, rt in crows])
        text += (f"Hardware work per operation, counted by QEMU (count boots: a warm-up "
                 f"operation, then a window of {env.get('BENCH_SMMU_COUNT_OPS', '?')} "
                 f"operations; trace events ``{env.get('BENCH_SMMU_COUNT_EVENTS', '?')}``; "
                 f"{sum(rc_runs.values())} boots per driver):\n\n" + "\n".join(ctable) + "\n\n")
    for n in cnotes:
        text += f"* {n}\n"
    return text + "\n"


NOT_RUN = "Not run yet: ``make bench`` fills this in.\n\n"


def sweep_text(paths):
    """The sweeps' RST fragments (plot.py --rst), one after the other."""
    return "".join(open(p).read().rstrip("\n") + "\n\n" for p in paths or [])


def cmd_doc(doc, mock, vtd, smmu=None, mock_sweep=None, vtd_sweep=None):
    old = open(doc).read() if os.path.exists(doc) else ""
    analysis = (".. BEGIN ANALYSIS\n\n(No analysis yet: write it here; ``make bench`` keeps "
                "what is between these markers.)\n\n.. END ANALYSIS\n")
    m = re.search(r"^\.\. BEGIN ANALYSIS$.*?^\.\. END ANALYSIS$\n?", old, re.S | re.M)
    if m:
        analysis = m.group(0)
        if not analysis.endswith("\n"):
            analysis += "\n"
    mock_text = mock_section(mock) if mock else (kept(old, "MOCK") or legacy_mock(old) or NOT_RUN)
    vtd_text = vtd_section(*vtd) if vtd and vtd[0] else (kept(old, "VTD") or NOT_RUN)
    smmu_text = smmu_section(*smmu) if smmu and smmu[0] else (kept(old, "SMMU") or NOT_RUN)
    if mock:
        mock_text += sweep_text([mock_sweep] if mock_sweep else [])
    if vtd and vtd[0]:
        vtd_text += sweep_text(vtd_sweep)

    text = f"""\
.. SPDX-License-Identifier: GPL-2.0

.. This file is generated by ``make bench`` (tools/bench.sh) but for the
   analysis between the BEGIN/END ANALYSIS markers, which is written by hand
   and kept from one run to the next.  A section that a run leaves out
   (``BENCH_VTD=0`` or ``only``) keeps its last results.

=================================================
Performance: the riommu drivers against C drivers
=================================================

``make bench`` compares three pairs of drivers doing the same iommufd work
in QEMU:

* riommu_mock against the kernel's C selftest mock, in one boot;
* riommu_vtd against the kernel's intel-iommu driver on QEMU's emulated
  VT-d units (a first-stage and a second-stage one), in alternated boots
  of the same QEMU configuration (one driver each: both cannot own the one
  unit in a boot);
* riommu_smmuv3 against the kernel's arm_smmu_v3 driver on QEMU virt's
  emulated SMMUv3 (an arm64 guest), in alternated boots likewise, with the
  commands and register accesses each driver asks of the SMMU counted by
  QEMU.

``BENCH_VTD=0 make bench`` leaves the VT-d part out, ``BENCH_VTD=only``
runs only it; ``BENCH_SMMU`` does the same for the SMMUv3 part (see
``tools/bench.sh`` for the other settings).

.. note::

   The guest runs under QEMU's TCG, which emulates the CPU: absolute times
   mean nothing across machines (or QEMU versions), and even on one machine
   they depend on what else it runs.  Only the **Rust/C ratios of one run**
   may be compared.  A ratio above 1.0 (in bold) means the Rust driver is
   slower or bigger.

riommu_mock against the C mock
==============================

``make bench`` boots the test kernel once in QEMU, loads ``riommu_mock.ko``
and runs ``tools/bench/riommu_bench`` in the guest.  The program does the
same iommufd work (``/dev/iommu`` calls with the same IOVAs, sizes, flags
and buffers) against two backends: a device of the kernel's C selftest mock
(``CONFIG_IOMMUFD_TEST``, created with ``IOMMU_TEST_CMD``) and a device of
riommu_mock (created through ``/dev/riommu-mock``).  Only the driver behind
the device differs.

.. BEGIN MOCK RESULTS

{mock_text}.. END MOCK RESULTS

Method
------

* **Timing.**  ``clock_gettime(CLOCK_MONOTONIC)`` in the guest around
  batches of operations sized (in a warm-up round that is not reported) to
  last at least the batch length, so that the clock is never what is
  measured.  In each round every measure runs several batches per backend,
  interleaved C, Rust, Rust, C, ... (the mirror order in the next round);
  the round's value for a backend is its best batch, which filters out the
  host preempting QEMU's vCPU thread without favouring either backend.  The
  table gives the median over the rounds and, in brackets, the spread
  (min–max) of the rounds; Rust/C is the ratio of the medians.
* **Nested HWPT alloc + destroy**: ``IOMMU_HWPT_ALLOC`` of a nested HWPT
  (``IOMMU_HWPT_DATA_SELFTEST``) on a ``NEST_PARENT`` paging HWPT, then
  ``IOMMU_DESTROY``.
* **HWPT_INVALIDATE**: one ``IOMMU_HWPT_INVALIDATE`` call on a nested HWPT
  with 1, 64 or 4096 ``IOMMU_HWPT_INVALIDATE_DATA_SELFTEST`` entries
  (``iotlb_id`` cycling over the four slots); per call and per entry.
* **IOAS_MAP + UNMAP**: ``IOMMU_IOAS_MAP`` (fixed IOVA 16 MiB, the start of
  both mocks' aperture) and ``IOMMU_IOAS_UNMAP`` on an IOAS whose only
  domain is the paging domain automatically attached for a mock device, so
  every map and unmap goes through the driver.  The 4 KiB buffer's pages
  are made physically discontiguous on purpose (every other page of a
  pool is freed before the buffer is populated, THP off), so that iommufd
  hands the driver one page per ``iommu_map()``: a fresh guest would
  otherwise give contiguous memory, which both drivers map with large
  leaves.  The 2 MiB measure maps ``MAP_HUGETLB`` pages with the IOAS's
  default ``IOMMU_OPTION_HUGE_PAGES``.  Both mocks use their *default*
  page table (``pagetable_type`` 0): riommu_mock's has 4 KiB, 2 MiB and
  1 GiB leaves; the C mock's (generic_pt AMDv1 with a 2 KiB granule) has
  every power-of-two size, so a 2 MiB page is one (contiguous) leaf for
  both.  ``MOCK_IOMMUPT_HUGE`` is not used: for the C mock it caps leaves at
  1 MiB and changes the aperture, which would compare different work.
  iommufd reads the physical pages back with one ``iova_to_phys`` per 4 KiB
  when it unmaps (to unpin them), so unmap cost is mostly lookups.
* **Replace**: ``iommufd_device_replace()`` of a mock device between two
  paging HWPTs of the same IOAS (``IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE`` for
  the C mock, ``RIOMMU_MOCK_DEV_REPLACE`` for riommu_mock; each replace is
  one operation).
* **Memory**, per domain, from many domains allocated at once over a
  baseline (128 paging domains of an IOAS holding 4096 discontiguous 4 KiB
  mappings, 1024 nested domains): *slab* is the live slab object bytes
  (``/proc/slabinfo`` active objects × object size after shrinking every
  cache, which flushes the per-CPU slabs; the driver's objects and
  iommufd's); *page-table pages* are the C mock's ``nr_iommu_pages``
  (``/proc/vmstat``: generic_pt allocates its tables with
  ``iommu_alloc_pages_node_sz()``, counted there and not in Slab) and
  riommu_mock's ``RIOMMU_MOCK_STATS.out_table_bytes`` (its tables are
  ``get_zeroed_page()`` pages, counted nowhere else); *free memory drop* is
  ``MemFree`` plus the per-CPU free lists (``/proc/zoneinfo``), after
  ``vm.vmstat_refresh``, which counts everything and cross-checks the two
  others.  ``kmemleak=off`` on the command line: the test kernel's leak
  tracker would tax every allocation.

riommu_vtd against intel-iommu (VT-d)
=====================================

``make bench`` boots the test kernel with QEMU's emulated VT-d unit and
its ``edu`` DMA device (``-device intel-iommu,x-scalable-mode=on,x-pasid-mode=on
-device edu,dma_mask=0xffffffffffffffff``, with ``x-flts=on`` for the
first-stage unit and without it for the second-stage one: QEMU 10.0 offers
one stage per unit; as ``tools/check-vtd.sh``) and runs
``tools/bench/riommu_vtd_bench`` in each boot: with ``intel_iommu=off``
and ``riommu_vtd.ko`` loaded (our driver), or with
``intel_iommu=on,sm_on`` (the kernel's C driver, the reference).  One
driver per boot, necessarily: only one driver can own the unit, and
neither can hand it to the other within a boot.  Same kernel, same QEMU
command line, same program, same work; each boot times its own driver.

The two drivers cannot be interleaved within a boot as the mocks are, and
what the host does changes from one boot to the next (on this shared
machine one boot's medians were seen half again as long as the next
boot's of the same driver).  So the boots come in pairs,
``BENCH_VTD_PAIRS`` of them (3 by default), in the order riommu_vtd,
intel-iommu, intel-iommu, riommu_vtd, riommu_vtd, ... so that a drift of
the host's load favours neither; a driver's figures are the median and
spread of the rounds of all its boots, Rust/C the ratio of those medians,
and the last column the lowest and highest ratio of single pairs of boots,
which shows how far one boot pair can be trusted.

The program binds ``edu`` to ``vfio-pci``, opens its VFIO cdev
(``/dev/vfio/devices/vfioN``), binds it to an iommufd
(``VFIO_DEVICE_BIND_IOMMUFD``) and attaches it to the HWPTs measured
(``VFIO_DEVICE_ATTACH_IOMMUFD_PT``).  Every HWPT is a paging HWPT from
``IOMMU_HWPT_ALLOC`` on an IOAS: first-stage tables on the first-stage
unit, second-stage tables on the other, for both drivers (each measure is
reported per unit).  Nested ``HWPT_INVALIDATE`` can only be timed for
riommu_vtd on the second-stage unit, loaded with ``force_nesting=1``:
QEMU reports no ECAP.NEST, so the C driver refuses ``NEST_PARENT``.  Before and after the measures ``edu``
DMAs through the map HWPT (and once through a replace HWPT) and the data
must land where the IOVAs say, so the domains timed are live.

.. BEGIN VTD RESULTS

{vtd_text}.. END VTD RESULTS

Method
------

* **Timing** as for the mock (the best of several batches per round), but
  each boot times one driver, so nothing is interleaved within a boot; the
  median and spread are over the rounds of all of a driver's boots (see
  above).  Each boot sizes its own batches in its warm-up round.
  ``kmemleak=off`` in every boot.
* **IOAS_MAP + UNMAP, 1 MiB (4K x 256) in one call each**
  (``vtd_map_1m``): one ``IOMMU_IOAS_MAP`` of 1 MiB at the fixed IOVA
  1 GiB, then one ``IOMMU_IOAS_UNMAP`` of it, on an IOAS whose only HWPT is
  the paging HWPT ``edu`` is attached to.  The 256 pages are physically
  discontiguous (as for the mock), so the driver maps 256 separate 4 KiB
  pages; the unmap invalidates the IOTLB once per ``iommu_unmap()`` that
  iommufd makes (per batch of pages it reads back, not per page).
* **IOAS_MAP + UNMAP, 4K x 256 in 256 calls each** (``vtd_map_4k_x256``):
  the same pages and IOVAs with 256 ``IOMMU_IOAS_MAP`` calls of 4 KiB and
  then 256 ``IOMMU_IOAS_UNMAP`` calls of 4 KiB; one operation is all 512
  calls, so it compares with the line above: the difference is the
  per-call cost, including one IOTLB invalidation (and its wait on the
  queued-invalidation unit) per unmap.
* **Replace** (``vtd_replace``): ``VFIO_DEVICE_ATTACH_IOMMUFD_PT`` of the
  attached ``edu`` to the other of two paging HWPTs of one IOAS (which
  maps 1 MiB), i.e. ``iommufd_device_replace()``: the driver rewrites the
  device's PASID-table entry and invalidates the caches of the old domain.
  One replace is one operation.
* **HWPT_INVALIDATE** (``vtd_inval_1``, ``vtd_inval_64`` and per entry):
  one ``IOMMU_HWPT_INVALIDATE`` call with 1 or 64
  ``IOMMU_HWPT_INVALIDATE_DATA_VTD_S1`` entries (one 4 KiB page each) on a
  nested ``IOMMU_HWPT_DATA_VTD_S1`` HWPT (4-level, an empty stage-1 table)
  over a ``NEST_PARENT`` paging HWPT, attached to ``edu``.  QEMU's unit
  reports no ECAP.NEST, so both drivers refuse the ``NEST_PARENT`` HWPT
  (``EOPNOTSUPP``) and the measure is *n/a*, with the step that failed and
  its errno: never a number.  Should a driver allocate the nested HWPT but
  not attach ``edu`` to it, the calls are timed on the unattached HWPT and
  marked *unattached*; an attached and an unattached figure get no ratio.
  riommu_vtd's parameters for its boot (such as an opt-in to nesting)
  come from ``BENCH_VTD_RIOMMU_ARGS`` and are listed under *Last run*.
* **Hardware work, counted by QEMU.**  After the timed boots, each driver
  gets ``BENCH_VTD_COUNT_RUNS`` (2) more boots per unit in which
  ``riommu_vtd_bench --count N`` (``BENCH_VTD_COUNT``, 16) runs each
  measure once to warm up and then N times inside a marked window: a
  one-byte read of ``edu``'s PCI configuration space at 0x29 before, at
  0x2d after (``tools/bench/bench_util.h``).  QEMU traces those reads
  (``pci_cfg_read``) with the unit's events (``-trace`` of
  ``vtd_inv_desc*``, ``vtd_reg_read``, ``vtd_reg_write``);
  ``tools/bench/qtrace.py`` pairs the program's windows with the trace's
  and divides each window's events by N.  Nothing is timed there, and the
  host's load cannot change a count; what the driver does on a timer (not
  per operation) can, by landing in a window or not.

riommu_smmuv3 against arm_smmu_v3 (SMMUv3)
==========================================

``make bench`` boots the arm64 test kernel on QEMU virt with its emulated
SMMUv3 (nested stages) and ``edu`` (as ``tools/check-arm64.sh``), once
with ``riommu_smmuv3.ko`` and once with the kernel's ``arm_smmu_v3.ko``
(one driver per boot, as for VT-d), ``BENCH_SMMU_PAIRS`` alternated pairs
(3 by default), and runs ``tools/bench/riommu_smmuv3_bench`` in each:
``edu`` bound to ``vfio-pci`` and attached through iommufd, as for VT-d.
Both drivers' paging HWPTs use stage-1 tables.  riommu_smmuv3 is loaded
with ``allow_unsafe_viommu=1`` (QEMU's SMMU has neither CANWBS nor
S2FWB), so that its vIOMMU can be measured; the kernel's driver refuses a
vIOMMU there, so the two vIOMMU measures have no ratio.

Then *count boots*, ``BENCH_SMMU_COUNT_RUNS`` per driver (2 by default),
run the program with ``count:N``: per
measure a warm-up operation, then a window of N operations marked by two
reads of ``edu``'s PCI configuration space, while QEMU traces the
commands the SMMU consumes (``smmuv3_cmdq_opcode``), the 4 KiB pages its
TLBIs by address cover (``smmuv3_range_inval``: a range without a level
hint, ``TTL``, is rounded up from one page to two, and the more a TLBI
covers the more a real SMMU drops), its register accesses
(``smmuv3_read_mmio``, ``smmuv3_write_mmio``) and the markers
(``pci_cfg_read``).  ``tools/bench/qtrace.py`` counts each window's events
and divides by N.  Under TCG these counts are exact and do not depend on
the host's load (on real hardware the commands, and the waits for their
completion, ``CMD_SYNC``, are much of what an IOMMU operation costs).  The
boots of a driver must count the same; the text under the counts says
whether they did.

.. BEGIN SMMU RESULTS

{smmu_text}.. END SMMU RESULTS

Method
------

* **Timing** as for VT-d (the best of several batches per round, the
  median and spread over the rounds of all of a driver's boots).
* **IOAS_MAP + UNMAP, 1 MiB** (``smmu_map_1m``) and **4K x 256 in 256
  calls** (``smmu_map_4k_x256``): as ``vtd_map_1m`` and
  ``vtd_map_4k_x256`` (physically discontiguous 4 KiB pages, IOVA 1 GiB).
* **IOAS_MAP + UNMAP, 2M x 8** (``smmu_map_2m_x8``): 8 ``IOMMU_IOAS_MAP``
  calls of 2 MiB at 2 MiB-aligned IOVAs (from 2 GiB), each backed by one
  ``MAP_HUGETLB`` page (``tools/vm.sh`` reserves 2 MiB pages in the
  guest), then 8 ``IOMMU_IOAS_UNMAP`` calls; the program checks in
  ``/proc/self/pagemap`` that each page is physically contiguous and
  2 MiB-aligned (so a driver can map it with one block entry), else the
  measure is *n/a*.
* **Replace** (``smmu_replace``): as ``vtd_replace``.  Both drivers' paging
  domains are stage 1, so the driver rewrites ``edu``'s context descriptor
  (``CMD_CFGI_CD``; the STE, which points at the CD table, stays as it is)
  and whatever invalidation it does for the old domain.
* **Nested HWPT alloc + destroy** (``smmu_nested_alloc``, riommu_smmuv3
  only): ``IOMMU_HWPT_ALLOC`` of a nested HWPT from a user STE (stage-1
  translation, a CD table in the IOAS) on a vIOMMU
  (``IOMMU_VIOMMU_TYPE_ARM_SMMUV3`` over a ``NEST_PARENT`` HWPT, with a
  vDEVICE for ``edu``), then ``IOMMU_DESTROY``.
* **vIOMMU invalidate** (``smmu_viommu_inval``, riommu_smmuv3 only): one
  ``IOMMU_HWPT_INVALIDATE`` on the vIOMMU with one
  ``IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3`` entry, a ``CMD_TLBI_NH_VA``
  of one leaf page of the guest's ASID, with ``edu`` attached to a nested
  HWPT of that ASID (``edu`` DMAs through both stages before and after).
* Before and after the measures ``edu`` DMAs through the map HWPT (4 KiB
  pages and 2 MiB pages) and a replace HWPT, and the data must land where
  the IOVAs say.

Analysis
========

""" + analysis
    open(doc, "w").write(text)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("vtd-table")
    t.add_argument("--riommu", nargs="+", required=True)
    t.add_argument("--intel", nargs="+", required=True)
    t.add_argument("--count-riommu", nargs="+", default=[])
    t.add_argument("--count-intel", nargs="+", default=[])
    d = sub.add_parser("doc")
    d.add_argument("doc")
    d.add_argument("--mock")
    d.add_argument("--vtd-riommu", nargs="+", default=[])
    d.add_argument("--vtd-intel", nargs="+", default=[])
    d.add_argument("--count-riommu", nargs="+", default=[])
    d.add_argument("--count-intel", nargs="+", default=[])
    d.add_argument("--mock-sweep")
    d.add_argument("--vtd-sweep", action="append", default=[])
    d.add_argument("--smmu-riommu", nargs="+", default=[])
    d.add_argument("--smmu-c", nargs="+", default=[])
    d.add_argument("--smmu-count-riommu", nargs="+", default=[])
    d.add_argument("--smmu-count-c", nargs="+", default=[])
    s = sub.add_parser("smmu-table")
    s.add_argument("--riommu", nargs="+", required=True)
    s.add_argument("--c", nargs="+", required=True)
    s.add_argument("--count-riommu", nargs="+", default=[])
    s.add_argument("--count-c", nargs="+", default=[])
    a = ap.parse_args(argv[1:])
    if a.cmd == "smmu-table":
        if bool(a.count_riommu) != bool(a.count_c):
            ap.error("--count-riommu and --count-c go together")
        cmd_smmu_table(a.riommu, a.c, a.count_riommu, a.count_c)
        return 0
    if bool(a.count_riommu) != bool(a.count_intel):
        ap.error("--count-riommu and --count-intel go together")
    if a.cmd == "vtd-table":
        cmd_vtd_table(a.riommu, a.intel, a.count_riommu, a.count_intel)
    else:
        if bool(a.vtd_riommu) != bool(a.vtd_intel):
            ap.error("--vtd-riommu and --vtd-intel go together")
        if bool(a.smmu_riommu) != bool(a.smmu_c):
            ap.error("--smmu-riommu and --smmu-c go together")
        if bool(a.smmu_count_riommu) != bool(a.smmu_count_c):
            ap.error("--smmu-count-riommu and --smmu-count-c go together")
        cmd_doc(a.doc, a.mock, (a.vtd_riommu, a.vtd_intel, a.count_riommu, a.count_intel),
                (a.smmu_riommu, a.smmu_c, a.smmu_count_riommu, a.smmu_count_c),
                a.mock_sweep, a.vtd_sweep)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
