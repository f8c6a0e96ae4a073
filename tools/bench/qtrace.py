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
    desc:untraced  descriptors QEMU consumed (the tail register's advance,
                 IQT_REG, over the queue set in IQA_REG) without a
                 vtd_inv_desc line: QEMU 10.0 processes pasid-cache
                 descriptors (type 7) as no-ops and traces nothing for them
                 (its binary has no "pasid-cache" trace string; later
                 QEMUs trace them).  Only when IQA_REG's write is in the
                 trace (it is at the driver's set-up) and the count is > 0.
    waits        invalidation-wait descriptors (= desc:wait)
    mmio_r, mmio_w  vtd_reg_read / vtd_reg_write: register accesses, but
                 for reads of the fault status register (FSTS_REG), which
                 are fsts_r: riommu_vtd polls it on a timer (100 ms; Linux
                 7.3 gives a module no DMAR fault interrupt), so those reads
                 land in a window by wall time, not by op, and differ run
                 to run; intel-iommu reads it in its fault interrupt
  SMMUv3 (hw/arm/trace-events):
    cmd:<OPCODE> one per command the SMMU consumed (smmuv3_cmdq_opcode),
                 by the specification's name (QEMU's without "SMMU_"),
                 CMD_SYNC included as cmd:CMD_SYNC
    syncs        CMD_SYNC commands (= cmd:CMD_SYNC)
    mmio_r, mmio_w  smmuv3_read_mmio / smmuv3_write_mmio
    tlbi_pages   4 KiB pages that TLBIs by address covered
                 (smmuv3_range_inval, if traced: one line per address, or
                 per power-of-two part of a range; num_pages is in units
                 of the command's TG, 4 KiB for TG 0)
    tlbi_ttl     those lines with a level hint (TTL != 0)

  compare(rust_prog, rust_trace, c_prog, c_trace) -> (ok, report lines)
compares two drivers' windows of the same measures (SMMUv3): for every
measure both have, Rust's commands and TLBI pages per op are at most C's,
and its level-hinted ranges at least C's.

Raises ValueError when the windows and the QCOUNT lines do not pair up (a
marker missing, a window not closed, a window opened twice), when a key
comes twice, or when the trace has no event of either IOMMU.

  python3 tools/bench/qtrace.py [--need-work KEY,...] PROG_OUT TRACE
prints a table: one row per measure, one column per counter; exits 1 if
the windows do not pair up, or (--need-work) unless each KEY has a
window with at least one descriptor (VT-d) or command (SMMUv3) per op.
  python3 tools/bench/qtrace.py compare RUST_OUT RUST_TRACE C_OUT C_TRACE
prints compare()'s report; exits 1 unless it holds (tools/check-arm64.sh).
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
# smmuv3_range_inval (hw/arm/trace-events): "vmid=%d asid=%d addr=0x%"PRIx64
# " tg=%d num_pages=0x%"PRIx64" ttl=%d leaf=%d stage=%d" (QEMU 10.0).
SMMU_RANGE_RE = re.compile(r"\btg=(\d+) num_pages=0x([0-9a-fA-F]+) ttl=(\d+)")
QCOUNT_RE = re.compile(r"^QCOUNT (\S+) (-?\d+)\s*$")

VTD_WAIT = "wait"
# VT-d registers (VT-d spec, 11.4.9 "Invalidation Queue Interface"):
# IQT_REG, the queue's tail (its byte offset in the queue), and IQA_REG:
# the queue's base, DW (bit 11: 256-bit descriptors) and QS (bits 2:0:
# 2^QS 4 KiB pages).
VTD_IQT_REG = 0x88
VTD_FSTS_REG = 0x34  # fault status (VT-d spec 11.4.7.1)
VTD_REG_READ_RE = re.compile(r"addr 0x([0-9a-fA-F]+) size")
VTD_IQA_REG = 0x90
VTD_IQA_DW = 1 << 11
VTD_IQA_QS_MASK = 0x7
VTD_IQT_MASK = 0x7FFF0  # IQT_REG's QT field, bits 18:4
VTD_PAGE = 4096
VTD_DESC_128 = 16  # bytes of a descriptor, DW=0
VTD_DESC_256 = 32  # DW=1
VTD_REG_WRITE_RE = re.compile(r"addr 0x([0-9a-fA-F]+) size 0x[0-9a-fA-F]+ value 0x([0-9a-fA-F]+)")
SMMU_SYNC = "CMD_SYNC"

VTD_EVENTS = ("vtd_inv_desc", "vtd_reg_read", "vtd_reg_write")
SMMU_EVENTS = ("smmuv3_cmdq_opcode", "smmuv3_read_mmio", "smmuv3_write_mmio",
               "smmuv3_range_inval")


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


class _Queue:
    """The VT-d invalidation queue as the trace's register writes set it:
    how many descriptors each tail write hands QEMU."""

    def __init__(self):
        self.size = None  # bytes, None: IQA_REG not seen
        self.desc = VTD_DESC_128
        self.tail = 0

    def write(self, args):
        """A vtd_reg_write; returns the descriptors it queued (0 if none or
        the queue is unknown)."""
        m = VTD_REG_WRITE_RE.search(args)
        if not m:
            return 0
        addr, val = int(m.group(1), 16), int(m.group(2), 16)
        if addr == VTD_IQA_REG:
            self.size = VTD_PAGE << (val & VTD_IQA_QS_MASK)
            self.desc = VTD_DESC_256 if val & VTD_IQA_DW else VTD_DESC_128
            self.tail = 0  # the driver resets the tail with the queue
            return 0
        if addr != VTD_IQT_REG or self.size is None:
            return 0
        tail = val & VTD_IQT_MASK
        n = ((tail - self.tail) % self.size) // self.desc
        self.tail = tail
        return n


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
            m = VTD_REG_READ_RE.search(args)
            if m and int(m.group(1), 16) == VTD_FSTS_REG:
                c["fsts_r"] = c.get("fsts_r", 0) + 1
            else:
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
        elif ev == "smmuv3_range_inval":
            m = SMMU_RANGE_RE.search(args)
            if not m:
                raise ValueError(f"{trace_path}: smmuv3_range_inval without tg, num_pages "
                                 f"and ttl: {args!r}")
            tg, pages, ttl = int(m.group(1)), int(m.group(2), 16), int(m.group(3))
            # TG 1, 2, 3: 4, 16, 64 KiB (log2 tg * 2 + 10); 0: one address.
            c["tlbi_pages"] = c.get("tlbi_pages", 0) + (pages << (tg * 2 - 2) if tg else pages)
            if ttl:
                c["tlbi_ttl"] = c.get("tlbi_ttl", 0) + 1


def raw_windows(trace_path, kind=None):
    """The trace's windows, in order: [counter dict (totals)]; @kind 'vtd',
    'smmuv3' or None (detected)."""
    kind = kind or detect(trace_path)
    if kind not in ("vtd", "smmuv3"):
        raise ValueError(f"kind {kind!r}: 'vtd' or 'smmuv3'")
    wins, cur = [], None
    queue = _Queue()
    for ev, args in _events(trace_path):
        if kind == "vtd" and ev == "vtd_reg_write":
            n = queue.write(args)
            if cur is not None and queue.size is not None:
                cur["_queued"] = cur.get("_queued", 0) + n
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
                queued = cur.pop("_queued", None)
                traced = sum(v for k, v in cur.items() if k.startswith("desc:"))
                if queued is not None and queued > traced:
                    cur["desc:untraced"] = queued - traced
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


def work(counts):
    """Descriptors (VT-d) or commands (SMMUv3) per op in a window's counters."""
    return sum(v for k, v in counts.items() if k.startswith(("desc:", "cmd:")))


def compare(rust_prog, rust_trace, c_prog, c_trace):
    """(ok, lines): the SMMUv3 drivers' windows of the same measures."""
    r = windows(rust_prog, rust_trace, "smmuv3")
    c = windows(c_prog, c_trace, "smmuv3")
    keys = [k for k in r if k in c]
    lines, ok = [], bool(keys)
    if not keys:
        lines.append("no measure has a window in both traces")
    if keys and not any(c[k].get("tlbi_pages") for k in keys):
        ok = False
        lines.append("the C driver's windows have no TLBI by address: "
                     "was smmuv3_range_inval traced?")
    for k in keys:
        rc, cc = r[k], c[k]
        checks = [("commands", work(rc), work(cc), "<="),
                  ("TLBI pages", rc.get("tlbi_pages", 0), cc.get("tlbi_pages", 0), "<="),
                  ("level-hinted ranges", rc.get("tlbi_ttl", 0), cc.get("tlbi_ttl", 0), ">=")]
        bad = [f"{n} {fmt_count(a)} vs C {fmt_count(b)}" for n, a, b, op in checks
               if (a > b if op == "<=" else a < b)]
        ok = ok and not bad
        lines.append(f"{k}: " + (", ".join(f"{n} {fmt_count(a)} (C {fmt_count(b)})"
                                          for n, a, b, _ in checks)
                                + ("" if not bad else "; FAILS: " + "; ".join(bad))))
    return ok, lines


def main(argv):
    if len(argv) == 6 and argv[1] == "compare":
        try:
            ok, lines = compare(*argv[2:])
        except (ValueError, OSError) as e:
            print(f"qtrace.py: {e}", file=sys.stderr)
            return 1
        print("\n".join(lines))
        return 0 if ok else 1
    need = []
    args = argv[1:]
    if len(args) == 4 and args[0] == "--need-work":
        need = [k for k in args[1].split(",") if k]
        args = args[2:]
    if len(args) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        per_key = windows(args[0], args[1])
    except (ValueError, OSError) as e:
        print(f"qtrace.py: {e}", file=sys.stderr)
        return 1
    print(table(per_key))
    bad = [k for k in need if k not in per_key or work(per_key[k]) <= 0]
    for k in bad:
        print(f"qtrace.py: {k}: " + ("no window" if k not in per_key
                                     else "no descriptor or command in its window"),
              file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
