#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Collect riommu test results: TAP, cargo test output, kernel logs.

Subcommands (each prints a human summary; those given --results append one
line per result to that TSV file, "name<TAB>passed<TAB>failed<TAB>skipped
<TAB>note", which `total` adds up):

  tap.py vm OUTDIR [--skips FILE] [--qemu STATUS] [--mode check|run]
      Judge one QEMU run of tools/vm.sh: OUTDIR/tap.log is what the guest
      wrote to its second serial port (see tools/guest/init for the
      markers), OUTDIR/console.log the kernel console.  Splits the output
      per program into OUTDIR/progs/PROG.log.  STATUS is "ok", "timeout:N"
      or "exit:N" (how QEMU ended).
  tap.py tap FILE --name NAME [--rc N]
      Judge one TAP stream that a host program printed.
  tap.py cargo FILE --name NAME [--rc N]
      Add up the "test result: ok. N passed; M failed; K ignored" lines of
      `cargo test`.
  tap.py check NAME RC [NOTE]
      Record one pass/fail check (a build, a lint) by its exit code.
  tap.py total RESULTS
      Print the table of RESULTS and the final line "N passed, N failed"
      (", N skipped" when there are skips).

Exit status: 0 when what was judged passed, 1 when it failed, 2 on usage
errors.
"""

import argparse
import fnmatch
import json
import os
import re
import sys

# --------------------------------------------------------------------------
# TAP


TEST_RE = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?([^#]*?)\s*(?:#\s*(.*))?$")
PLAN_RE = re.compile(r"^1\.\.(\d+)\s*(?:#\s*(.*))?$")
# Exit codes that no TAP output explains: killed by timeout or a signal,
# or could not be run at all.
UNEXPLAINED_RC = {124, 125, 126, 127}


class Prog:
    """The results of one TAP-speaking program."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.plan = None  # N of "1..N"
        self.plan_skip = None  # reason of "1..0 # SKIP reason"
        self.points = 0  # test lines seen
        self.failures = []  # names of failed tests
        self.skips = []  # (name, reason)
        self.problems = []  # things wrong with the program as a whole
        self.rc = None
        self.secs = None
        self.ended = False
        self.notes = []  # worth saying, not failures

    def line(self, line, skiplist=()):
        """Feed one line of the program's output."""
        if line.startswith((" ", "\t")):
            return  # a nested (subtest) stream: its parent line counts
        if line.startswith("Bail out!"):
            self.problems.append(line.strip())
            return
        m = PLAN_RE.match(line)
        if m:
            if self.plan is not None:
                self.problems.append("more than one plan line")
            self.plan = int(m.group(1))
            if self.plan == 0 and m.group(2) and m.group(2).upper().startswith("SKIP"):
                self.plan_skip = m.group(2)[4:].strip() or "skipped"
            return
        m = TEST_RE.match(line)
        if not m:
            return  # diagnostics and anything else
        ok = m.group(1) == "ok"
        name = m.group(3).strip() or "#%s" % (m.group(2) or self.points + 1)
        directive = (m.group(4) or "").strip()
        d = directive.upper()
        self.points += 1
        if d.startswith("SKIP"):
            self.skipped += 1
            self.skips.append((name, directive[4:].strip()))
        elif d.startswith("TODO") and not ok:
            # TAP: a failing TODO test is not a failure; not a pass either.
            self.skipped += 1
            self.skips.append((name, directive))
        elif ok:
            self.passed += 1  # includes kselftest's "# XFAIL"/"# XPASS"
            if match_skiplist(skiplist, self.name, name) is not None:
                self.notes.append("%s passes but is in the skip list: drop it from there" % name)
        else:
            reason = match_skiplist(skiplist, self.name, name)
            if reason is not None:
                self.skipped += 1
                self.skips.append((name, "listed in skips: " + reason))
            else:
                self.failed += 1
                self.failures.append(name)

    def finish(self, timeout=None):
        """Check the plan and the exit status once the output is complete."""
        if self.plan is None:
            self.problems.append("no TAP plan (1..N)")
        elif self.points != self.plan:
            self.problems.append("incomplete: plan 1..%d, %d test lines"
                                 % (self.plan, self.points))
        if self.plan_skip is not None and self.points == 0:
            self.skipped += 1
            self.skips.append((self.name, self.plan_skip))
        if self.rc not in (None, 0):
            self.problems.extend(self.explain_rc(timeout))

    def explain_rc(self, timeout):
        rc = self.rc
        if rc > 128 or rc in UNEXPLAINED_RC:
            what = "exit status %d" % rc
            if rc > 128:
                what += " (signal %d)" % (rc - 128)
            if timeout and self.secs is not None and self.secs >= timeout:
                what += ": timed out after %ds" % self.secs
            return [what]
        notok = self.failed + sum(1 for _, r in self.skips if r.startswith("listed in skips"))
        if notok:
            return []  # the "not ok" lines explain it
        if rc == 4 and self.skipped:
            return []  # kselftest's KSFT_SKIP
        return ["exit status %d that its TAP does not explain" % rc]

    @property
    def bad(self):
        return self.failed > 0 or bool(self.problems)

    def counts(self):
        """passed, failed, skipped: a broken program counts as one failure more."""
        return self.passed, self.failed + (1 if self.problems else 0), self.skipped

    def summary(self):
        s = "%d passed, %d failed" % (self.passed, self.failed)
        if self.skipped:
            s += ", %d skipped" % self.skipped
        extra = []
        if self.plan is not None:
            extra.append("plan 1..%d" % self.plan)
        if self.rc is not None:
            extra.append("rc=%d" % self.rc)
        if self.secs is not None:
            extra.append("%ds" % self.secs)
        if extra:
            s += " (" + ", ".join(extra) + ")"
        return s

    def report(self, label, out=sys.stdout, detail=None):
        status = "FAIL" if self.bad else "ok"
        print("  %-4s %-24s %s" % (status, label, self.summary()), file=out)
        for p in self.problems:
            print("         ! %s" % p, file=out)
        for n in self.notes:
            print("         note: %s" % n, file=out)
        for f in self.failures[:30]:
            print("         not ok: %s" % f, file=out)
        if len(self.failures) > 30:
            print("         ... and %d more" % (len(self.failures) - 30), file=out)
        # Skips, grouped by reason; the names only with RIOMMU_VERBOSE=1.
        reasons = {}
        for n, r in self.skips:
            reasons.setdefault(r or "no reason given", []).append(n)
        for r, names in reasons.items():
            print("         skipped %d: %s" % (len(names), r), file=out)
            if os.environ.get("RIOMMU_VERBOSE"):
                for n in names:
                    print("           %s" % n, file=out)
        if self.bad and detail and os.path.exists(detail):
            print("         output: %s" % detail, file=out)


def load_skiplist(path):
    """Lines "TEST-NAME REASON..."; TEST-NAME may be PROG:NAME and may use
    shell wildcards; '#' starts a comment line."""
    entries = []
    if not path:
        return entries
    with open(path, encoding="utf-8") as f:
        for ln in f:
            ln = ln.strip()
            if not ln or ln.startswith("#"):
                continue
            pat, _, reason = ln.partition(" ")
            entries.append((pat, reason.strip() or "no reason given"))
    return entries


def match_skiplist(entries, prog, test):
    for pat, reason in entries:
        p, sep, t = pat.partition(":")
        if sep:
            if fnmatch.fnmatchcase(prog, p) and fnmatch.fnmatchcase(test, t):
                return reason
        elif fnmatch.fnmatchcase(test, pat):
            return reason
    return None


# --------------------------------------------------------------------------
# The kernel console


# Each is a sign of a kernel bug.  Case matters: "oops=panic" on the command
# line is not an Oops.
CONSOLE_BAD = [
    r"\bBUG:", r"kernel BUG at", r"\bWARNING:", r"\bOops\b", r"Kernel panic",
    r"\bKASAN\b", r"\bUBSAN\b", r"general protection fault",
    r"Unable to handle kernel",
    r"INFO: task .* blocked for more than", r"rcu: INFO: .*stall",
    r"\bKFENCE\b", r"refcount_t: ",
    # lockdep's headers are "WARNING: ..." or "BUG: ..." (caught above) but
    # for this one (a lock used before it was initialised); and a kmemleak
    # that turned itself off (its scans then find nothing).
    r"INFO: trying to register non-static key",
    r"kmemleak: Kernel memory leak detector disabled",
]
CONSOLE_BAD_RE = re.compile("|".join(CONSOLE_BAD))
# Stack dumps that are not bugs: fault injection ("verbose" on).
CONSOLE_BENIGN_RE = re.compile(r"FAULT_INJECTION: forcing a failure")
CALL_TRACE_RE = re.compile(r"Call Trace:")
# A "Call Trace:" this many lines after a header belongs to that header.
TRACE_WINDOW = 60


LEAK_RE = re.compile(r"unreferenced object 0x")
FRAME_RE = re.compile(r"^\s+(?:\[<[0-9a-f]+>\] )?([A-Za-z0-9_.]+)\+0x")


def scan_console(path, skiplist=()):
    """Scan the console log.  Returns (hits, known): hits are [(line number,
    line)] showing a bug; known are [(line number, reason)] of kmemleak
    reports that the skip list explains ("kmemleak:FUNCTION reason": a leak
    whose backtrace has FUNCTION)."""
    hits, known = [], []
    last_header = -10 ** 9
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [ln.rstrip("\r\n") for ln in f]
    except OSError:
        return [(0, "no console log at %s" % path)], []
    leak_pats = [(p.partition(":")[2], r) for p, r in skiplist if p.startswith("kmemleak:")]
    i = 0
    while i < len(lines):
        n, ln = i + 1, lines[i]
        i += 1
        if LEAK_RE.search(ln):
            # A kmemleak report: this line, then indented lines.
            funcs = []
            while i < len(lines) and lines[i].startswith((" ", "\t")):
                m = FRAME_RE.match(lines[i])
                if m:
                    funcs.append(m.group(1))
                i += 1
            reason = next((r for pat, r in leak_pats
                           if any(fnmatch.fnmatchcase(fn, pat) for fn in funcs)), None)
            if reason is None:
                hits.append((n, ln))
            else:
                known.append((n, reason))
            last_header = n
        elif CONSOLE_BAD_RE.search(ln):
            hits.append((n, ln))
            last_header = n
        elif CONSOLE_BENIGN_RE.search(ln):
            last_header = n
        elif CALL_TRACE_RE.search(ln) and n - last_header > TRACE_WINDOW:
            hits.append((n, ln + "   (stack dump of unknown cause)"))
            last_header = n
    return hits, known


# --------------------------------------------------------------------------
# One QEMU run


MARK = "@@riommu "


ADD_DEV = re.compile(r"\] (\S+) \S+: Adding to iommu group")


def mock_devices(console, prog):
    """Devices the iommu core probed while PROG ran, by bus name, from the
    console log (the guest init prints "riommu-init: running PROG" first);
    "dropped" counts printk's lost-message notes.  None without a section."""
    counts, inside, seen = {}, False, False
    try:
        with open(console, encoding="utf-8", errors="replace") as f:
            for ln in f:
                if "riommu-init: " in ln:
                    inside = ("riommu-init: running %s " % prog) in ln
                    seen = seen or inside
                    continue
                if not inside:
                    continue
                m = ADD_DEV.search(ln)
                if m:
                    counts[m.group(1)] = counts.get(m.group(1), 0) + 1
                elif "printk messages dropped" in ln:
                    counts["dropped"] = counts.get("dropped", 0) + 1
    except OSError:
        return None
    return counts if seen else None


def judge_vm(outdir, skiplist, qemu, mode, results):
    tap = os.path.join(outdir, "tap.log")
    console = os.path.join(outdir, "console.log")
    progdir = os.path.join(outdir, "progs")
    os.makedirs(progdir, exist_ok=True)
    try:
        with open(os.path.join(outdir, "vm.json"), encoding="utf-8") as f:
            meta = json.load(f)
    except OSError:
        meta = {}
    want_progs = meta.get("progs", [])
    want_mods = meta.get("modules", [])
    timeout = meta.get("prog_timeout")

    progs, insmod = {}, {}
    booted = done = False
    leaks = None
    cur, curf = None, None
    last = "nothing"
    try:
        with open(tap, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    for raw in lines:
        ln = raw.rstrip("\r")
        # A marker may follow output that lacked a final newline.
        i = ln.find(MARK)
        if i > 0:
            if cur:
                cur.line(ln[:i], skiplist)
                curf.write(ln[:i] + "\n")
            ln = ln[i:]
        if ln.startswith(MARK):
            words = ln[len(MARK):].split()
            kv = dict(w.split("=", 1) for w in words if "=" in w)
            what = words[0] if words else ""
            last = " ".join(words)
            if what == "boot":
                booted = True
            elif what == "insmod" and len(words) > 1:
                insmod[words[1]] = int(kv.get("rc", -1))
            elif what == "begin" and len(words) > 1:
                cur = Prog(words[1])
                progs[cur.name] = cur
                curf = open(os.path.join(progdir, cur.name + ".log"), "w", encoding="utf-8")
            elif what == "end" and cur:
                cur.ended = True
                cur.rc = int(kv.get("rc", -1))
                cur.secs = int(kv.get("secs", 0))
                curf.close()
                cur, curf = None, None
            elif what == "kmemleak":
                leaks = int(kv.get("leaks", -1))
            elif what == "done":
                done = True
            continue
        if cur:
            cur.line(ln, skiplist)
            curf.write(ln + "\n")
    if curf:
        curf.close()

    # Compose the verdict.  Every check is a line of the results file.
    rows = []  # (name, passed, failed, skipped, note)
    print("vm: results (%s)" % outdir)

    def check(name, good, note):
        print("  %-4s %-24s %s" % ("ok" if good else "FAIL", name, note))
        rows.append((name, 1 if good else 0, 0 if good else 1, 0, note))

    if qemu.startswith("timeout"):
        check("qemu", False, "QEMU timed out after %ss (last guest marker: %s)"
              % (qemu.partition(":")[2], last))
    elif qemu != "ok":
        check("qemu", False, "QEMU failed (%s)" % qemu)
    if not booted:
        check("boot", False, "the guest never reached its init (see the console log)")
    for m in want_mods:
        rc = insmod.get(m)
        check("insmod " + m, rc == 0, "not attempted" if rc is None else "rc=%d" % rc)
    for name in want_progs:
        p = progs.get(name)
        if p is None:
            p = Prog(name)
            p.problems.append("did not run")
        else:
            if not p.ended:
                p.problems.append("did not finish (no end marker: the guest died or hung)")
            if mode == "check":
                p.finish(timeout)
            elif p.rc:
                # Run mode: the output is not TAP; any failure exit counts.
                p.problems.append("exit status %d" % p.rc)
        if mode == "check":
            p.report(name, detail=os.path.join(progdir, name + ".log"))
            ps, fl, sk = p.counts()
            rows.append((name, ps, fl, sk, p.summary()))
        else:
            check(name, not p.problems, "; ".join(p.problems) or "rc=0")
    # The kernel's iommufd selftests run twice: on the C mock, and through
    # tools/testing/selftests/riommu/upstream/riommu_adapter.h on
    # riommu_mock (PROG.riommu).  The kernel log says which mock each run
    # really used: the iommu core logs "Adding to iommu group" for every
    # device it probes, under the device's bus name.
    for name in want_progs:
        if name.endswith(".riommu"):
            want, other = "riommu_mock", "iommufd_mock"
        elif name + ".riommu" in want_progs:
            want, other = "iommufd_mock", "riommu_mock"
        else:
            continue
        n = mock_devices(console, name)
        if n is None:
            check(name + " devices", False, "no section for it in the console log")
            continue
        good = n.get(want, 0) > 0 and n.get(other, 0) == 0 and not n.get("dropped")
        check(name + " devices", good, "kernel log: %d %s, %d %s device(s)%s" % (
            n.get(want, 0), want, n.get(other, 0), other,
            "; printk dropped messages" if n.get("dropped") else ""))
    if booted and not done and not qemu.startswith("timeout"):
        check("guest", False, "the guest stopped before the end (last marker: %s)" % last)
    hits, known = scan_console(console, skiplist)
    if hits:
        check("kernel log", False, "%d problem line(s) in %s" % (len(hits), console))
        for n, ln in hits[:20]:
            print("         %s:%d: %s" % (console, n, ln))
        if len(hits) > 20:
            print("         ... and %d more" % (len(hits) - 20))
    else:
        check("kernel log", True, "clean (%s)" % console)
    if mode == "check" and done:
        if leaks is None:
            print("  note kmemleak                 no scan (not in this kernel, or --no-kmemleak)")
        elif known and leaks <= len(known):
            # Only leaks the skip list knows: skipped, not passed.
            note = "%d known leak(s): %s" % (len(known), "; ".join(sorted({r for _, r in known})))
            print("  skip %-24s %s" % ("kmemleak", note))
            for n, _ in known:
                print("         %s:%d" % (console, n))
            rows.append(("kmemleak", 0, 0, 1, note))
        else:
            check("kmemleak", leaks == 0, "%d leak(s)" % leaks)
    if results:
        write_rows(results, rows, prefix="qemu: ")
    return 1 if any(r[2] for r in rows) else 0


# --------------------------------------------------------------------------
# Host-side results


def judge_tap(path, name, rc, results):
    p = Prog(name)
    with open(path, encoding="utf-8", errors="replace") as f:
        for ln in f.read().splitlines():
            p.line(ln.rstrip("\r"))
    p.rc = rc
    p.ended = True
    p.finish()
    p.report(name, detail=path)
    if results:
        ps, fl, sk = p.counts()
        write_rows(results, [(name, ps, fl, sk, p.summary())])
    return 1 if p.bad else 0


CARGO_RE = re.compile(r"test result: (\w+)\. (\d+) passed; (\d+) failed; (\d+) ignored")


def judge_cargo(path, name, rc, results):
    ps = fl = sk = 0
    n = 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for ln in f:
            m = CARGO_RE.search(ln)
            if m:
                n += 1
                ps += int(m.group(2))
                fl += int(m.group(3))
                sk += int(m.group(4))
    problems = []
    if n == 0:
        problems.append("no 'test result:' line (did it build?)")
    if rc and not fl:
        problems.append("exit status %d with no failed test" % rc)
    bad = fl or problems
    note = "%d passed, %d failed, %d ignored" % (ps, fl, sk)
    print("  %-4s %-24s %s" % ("FAIL" if bad else "ok", name, note))
    for p in problems:
        print("         ! %s" % p)
    if bad:
        print("         output: %s" % path)
    if results:
        write_rows(results, [(name, ps, fl + (1 if problems else 0), sk, note)])
    return 1 if bad else 0


def write_rows(path, rows, prefix=""):
    with open(path, "a", encoding="utf-8") as f:
        for name, ps, fl, sk, note in rows:
            f.write("%s%s\t%d\t%d\t%d\t%s\n" % (prefix, name, ps, fl, sk, note.replace("\t", " ")))


def total(path):
    tp = tf = ts = 0
    print("summary:")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        lines = []
    for ln in lines:
        parts = ln.split("\t")
        if len(parts) < 4:
            continue
        name, ps, fl, sk = parts[0], int(parts[1]), int(parts[2]), int(parts[3])
        tp, tf, ts = tp + ps, tf + fl, ts + sk
        print("  %-4s %-32s %5d passed %5d failed %5d skipped"
              % ("FAIL" if fl else "ok", name, ps, fl, sk))
    line = "%d passed, %d failed" % (tp, tf)
    if ts:
        line += ", %d skipped" % ts
    print(line)
    return 1 if tf or tp + ts == 0 else 0


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("vm")
    v.add_argument("outdir")
    v.add_argument("--skips")
    v.add_argument("--qemu", default="ok")
    v.add_argument("--mode", default="check", choices=["check", "run"])
    v.add_argument("--results")
    for c in ("tap", "cargo"):
        t = sub.add_parser(c)
        t.add_argument("file")
        t.add_argument("--name", required=True)
        t.add_argument("--rc", type=int, default=0)
        t.add_argument("--results")
    c = sub.add_parser("check")
    c.add_argument("name")
    c.add_argument("rc", type=int)
    c.add_argument("note", nargs="?", default="")
    c.add_argument("--results")
    t = sub.add_parser("total")
    t.add_argument("results")
    a = ap.parse_args(argv)

    if a.cmd == "vm":
        return judge_vm(a.outdir, load_skiplist(a.skips), a.qemu, a.mode, a.results)
    if a.cmd == "tap":
        return judge_tap(a.file, a.name, a.rc, a.results)
    if a.cmd == "cargo":
        return judge_cargo(a.file, a.name, a.rc, a.results)
    if a.cmd == "check":
        good = a.rc == 0
        note = a.note or ("ok" if good else "exit status %d" % a.rc)
        print("  %-4s %-24s %s" % ("ok" if good else "FAIL", a.name, note))
        if a.results:
            write_rows(a.results, [(a.name, int(good), int(not good), 0, note)])
        return 0 if good else 1
    return total(a.results)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
