#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Hardware work per operation, counted from QEMU's trace (issue #20, part 3).

A bench program marks each measure's window (tools/bench/bench_util.h,
qcount_begin/qcount_end): it prints "QCOUNT KEY ITERS" and reads edu's PCI
configuration space at 0x29 (one byte), runs the measure's op ITERS
times, and reads it at 0x2d.  QEMU, started with
  -trace enable=pci_cfg_read,enable=EVENT...,file=TRACE
(the log backend), writes one line per event.  This module pairs the
program's QCOUNT lines with the trace's windows, in order, counts the
IOMMU's events in each window and divides them by ITERS.

  windows(prog_out_path, trace_path) -> {key: {counter: per-op float}}

Counters (the IOMMU is detected from the trace's events):
  VT-d (hw/i386/trace-events):
    desc:<TYPE>  one per queued-invalidation descriptor QEMU processed,
                 by vtd_inv_desc's type ("iotlb", "p-iotlb", "context-cache",
                 "pasid-cache", "wait", "device", "device-piotlb", "iec")
    waits        invalidation-wait descriptors (= desc:wait)
    mmio_r, mmio_w  vtd_reg_read / vtd_reg_write: register accesses
  SMMUv3 (hw/arm/trace-events):
    cmd:<OPCODE> one per command the SMMU consumed (smmuv3_cmdq_opcode),
                 by the specification's name (QEMU's without "SMMU_"),
                 CMD_SYNC included as cmd:CMD_SYNC
    syncs        CMD_SYNC commands (= cmd:CMD_SYNC)
    mmio_r, mmio_w  smmuv3_read_mmio / smmuv3_write_mmio

Raises ValueError when the windows and the QCOUNT lines do not pair up (a
marker missing, a window not closed, a window opened twice), when a key
comes twice, or when the trace has no event of either IOMMU.

  python3 tools/bench/qtrace.py PROG_OUT TRACE
prints a table: one row per measure, one column per counter.
Tests: python3 -m unittest discover -s tools/bench -p 'test_*.py'
"""

import re
import sys

# bench_util.h's markers: offsets in edu's PCI configuration space of its
# one-byte reads (unaligned, so that the kernel's dword reads of the header,
# pci_save_state(), are no markers).
QMARK_BEGIN = 0x29  # PCI_CARDBUS_CIS + 1
QMARK_END = 0x2D  # PCI_SUBSYSTEM_VENDOR_ID + 1
# QEMU's name for the device whose configuration reads mark the windows
# (hw/misc/edu.c, TYPE_PCI_EDU_DEVICE).
MARK_DEVICE = "edu"

# One line of QEMU's log trace backend: "EVENT ARGS", or, with
# -msg timestamp=on, "PID@SECONDS.MICROSECONDS:EVENT ARGS".
LINE_RE = re.compile(r"^(?:\d+@\d+\.\d+:)?([a-z0-9_]+) ?(.*)$")
# pci_cfg_read (hw/pci/trace-events): "%s %02x:%02x.%x @0x%x -> 0x%x"
# (older QEMUs: "%s %02u:%u @0x%x -> 0x%x"): device name, address, offset.
PCI_CFG_READ_RE = re.compile(r"^(\S+) \S+ @0x([0-9a-fA-F]+) -> ")
# vtd_inv_desc (hw/i386/trace-events):
# "invalidate desc type %s high 0x%"PRIx64" low 0x%"PRIx64.
VTD_INV_DESC_RE = re.compile(r"\btype (\S+)")
# smmuv3_cmdq_opcode (hw/arm/trace-events): "<--- %s", with QEMU's name of
# the command (hw/arm/smmuv3-internal.h, cmd_stringify: "SMMU_CMD_SYNC"...);
# the counter drops the "SMMU_" prefix, giving the Arm SMMUv3
# specification's names (CMD_SYNC, CMD_TLBI_NH_VA...).
SMMU_OPCODE_RE = re.compile(r"<--- (?:SMMU_)?(\S+)")
QCOUNT_RE = re.compile(r"^QCOUNT (\S+) (-?\d+)\s*$")

VTD_WAIT = "wait"
SMMU_SYNC = "CMD_SYNC"

VTD_EVENTS = ("vtd_inv_desc", "vtd_reg_read", "vtd_reg_write")
SMMU_EVENTS = ("smmuv3_cmdq_opcode", "smmuv3_read_mmio", "smmuv3_write_mmio")


def qcount_lines(prog_out_path):
    """The program's windows, in order: [(key, iters)]."""
    out, seen = [], set()
    with open(prog_out_path, encoding="utf-8", errors="replace") as f:
        for ln in f:
            m = QCOUNT_RE.match(ln.strip())
            if not m:
                continue
            key, iters = m.group(1), int(m.group(2))
            if iters <= 0:
                raise ValueError(f"{prog_out_path}: QCOUNT {key} {iters}: iterations must be > 0")
            if key in seen:
                raise ValueError(f"{prog_out_path}: QCOUNT {key} comes twice")
            seen.add(key)
            out.append((key, iters))
    return out


def _events(trace_path):
    """(event, args) for each line of the trace that is an event."""
    with open(trace_path, encoding="utf-8", errors="replace") as f:
        for ln in f:
            m = LINE_RE.match(ln.rstrip("\n"))
            if m:
                yield m.group(1), m.group(2)


def detect(trace_path):
    """'vtd' or 'smmuv3': the IOMMU whose events the trace has."""
    for ev, _ in _events(trace_path):
        if ev in VTD_EVENTS:
            return "vtd"
        if ev in SMMU_EVENTS:
            return "smmuv3"
    raise ValueError(f"{trace_path}: no VT-d ({', '.join(VTD_EVENTS)}) nor SMMUv3 "
                     f"({', '.join(SMMU_EVENTS)}) event: was QEMU started with -trace?")


def _base(kind):
    if kind == "vtd":
        return {"waits": 0, "mmio_r": 0, "mmio_w": 0}
    return {"syncs": 0, "mmio_r": 0, "mmio_w": 0}


def _count(kind, c, ev, args, trace_path):
    """Adds the event to the window's counters @c."""
    if kind == "vtd":
        if ev == "vtd_inv_desc":
            m = VTD_INV_DESC_RE.search(args)
            if not m:
                raise ValueError(f"{trace_path}: vtd_inv_desc without a type: {args!r}")
            t = m.group(1)
            c["desc:" + t] = c.get("desc:" + t, 0) + 1
            if t == VTD_WAIT:
                c["waits"] += 1
        elif ev == "vtd_reg_read":
            c["mmio_r"] += 1
        elif ev == "vtd_reg_write":
            c["mmio_w"] += 1
    else:
        if ev == "smmuv3_cmdq_opcode":
            m = SMMU_OPCODE_RE.search(args)
            if not m:
                raise ValueError(f"{trace_path}: smmuv3_cmdq_opcode without an opcode: {args!r}")
            op = m.group(1)
            c["cmd:" + op] = c.get("cmd:" + op, 0) + 1
            if op == SMMU_SYNC:
                c["syncs"] += 1
        elif ev == "smmuv3_read_mmio":
            c["mmio_r"] += 1
        elif ev == "smmuv3_write_mmio":
            c["mmio_w"] += 1


def raw_windows(trace_path, kind=None):
    """The trace's windows, in order: [counter dict (totals)]; @kind 'vtd',
    'smmuv3' or None (detected)."""
    kind = kind or detect(trace_path)
    if kind not in ("vtd", "smmuv3"):
        raise ValueError(f"kind {kind!r}: 'vtd' or 'smmuv3'")
    wins, cur = [], None
    for ev, args in _events(trace_path):
        if ev == "pci_cfg_read":
            m = PCI_CFG_READ_RE.match(args)
            if not m or m.group(1) != MARK_DEVICE:
                continue
            off = int(m.group(2), 16)
            if off == QMARK_BEGIN:
                if cur is not None:
                    raise ValueError(f"{trace_path}: window {len(wins) + 1} opened twice "
                                     "(no end marker)")
                cur = _base(kind)
            elif off == QMARK_END:
                if cur is None:
                    raise ValueError(f"{trace_path}: an end marker after window {len(wins)} "
                                     "without a start")
                wins.append(cur)
                cur = None
        elif cur is not None:
            _count(kind, cur, ev, args, trace_path)
    if cur is not None:
        raise ValueError(f"{trace_path}: window {len(wins) + 1} not closed")
    return wins


def windows(prog_out_path, trace_path, kind=None):
    """{key: {counter: events per op}} for each QCOUNT window."""
    marks = qcount_lines(prog_out_path)
    wins = raw_windows(trace_path, kind)
    if len(marks) != len(wins):
        raise ValueError(f"{prog_out_path}: {len(marks)} QCOUNT lines, but {trace_path} "
                         f"has {len(wins)} windows")
    return {key: {k: v / iters for k, v in w.items()} for (key, iters), w in zip(marks, wins)}


def counters(per_key):
    """All counters of windows()'s result, in a stable order: the fixed
    ones first, then desc:/cmd: by name."""
    fixed = ["waits", "syncs", "mmio_r", "mmio_w"]
    seen = set()
    for c in per_key.values():
        seen.update(c)
    return sorted(seen - set(fixed)) + [f for f in fixed if f in seen]


def fmt_count(v):
    return f"{v:.0f}" if v == int(v) else f"{v:.3g}"


def table(per_key):
    cols = counters(per_key)
    rows = [["measure"] + cols]
    rows += [[k] + [fmt_count(c.get(col, 0)) for col in cols] for k, c in per_key.items()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(s.ljust(w) if i == 0 else s.rjust(w)
                               for i, (s, w) in enumerate(zip(r, widths))).rstrip()
                     for r in rows)


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        per_key = windows(argv[1], argv[2])
    except (ValueError, OSError) as e:
        print(f"qtrace.py: {e}", file=sys.stderr)
        return 1
    print(table(per_key))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
