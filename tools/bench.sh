#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: the C mock versus riommu_mock benchmark.
#
# Builds the modules and tools/bench/riommu_bench, boots the test kernel in
# QEMU once (tools/vm.sh, run mode, no shell), loads riommu_mock.ko, runs
# the benchmark in the guest, prints its table and regenerates
# Documentation/performance.rst from it: date, guest kernel, QEMU version,
# host CPU, method and results.  The hand-written analysis of that file,
# between the lines ".. BEGIN ANALYSIS" and ".. END ANALYSIS", is kept
# as it is.  Takes about two minutes under TCG.
#
#   tools/bench.sh              (or: make bench)
#
# Environment:
#   KDIR, KSRC        as for tools/check.sh (default: tools/kernel.sh's)
#   RIOMMU_OUT        where the logs go (default build/; this run: build/bench)
#   BENCH_ROUNDS      rounds (default 11; at least 5 for the document)
#   BENCH_SUBS        interleaved batches per backend per round (12)
#   BENCH_BATCH_MS    minimum length of one batch in ms (10)
#   BENCH_ONLY        comma-separated measure keys (riommu_bench --list)
#   BENCH_PROFILE     also profile, in the guest, the measures whose
#                     ratio is above 1.0 ("above"), all of them ("all") or
#                     the given keys; demangled profiles go to
#                     build/bench/profile.txt, not into the document
#   BENCH_MODULE      load this riommu_mock.ko instead of building one
#                     (to compare a patched driver: only ratios count)
#   BENCH_DOC=0       do not touch Documentation/performance.rst
#   RIOMMU_ACCEL, RIOMMU_MEM, RIOMMU_QEMU_ARGS: see tools/vm.sh;
#   RIOMMU_SMP defaults to 1 here (one vCPU thread: less host noise)
#
# Files in build/bench: bench.log (the program's output), table.txt,
# results.txt (the RESULT lines), profile.txt, vm/ (tools/vm.sh's logs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
. "$here/lib.sh"
cd "$top"
outroot=${RIOMMU_OUT:-$top/build}
export RIOMMU_OUT=$outroot
out=$outroot/bench
doc=$top/Documentation/performance.rst
rounds=${BENCH_ROUNDS:-11}
subs=${BENCH_SUBS:-12}
batch_ms=${BENCH_BATCH_MS:-10}
export RIOMMU_SMP=${RIOMMU_SMP:-1}

# ---- kernel and sources ----------------------------------------------------
default_kdir=$RIOMMU_CACHE/build/linux-$KVER-x86_64
if [ -z "${KDIR:-}" ] || [ "$(readlink -f "$KDIR")" = "$(readlink -f "$default_kdir")" ]; then
	"$here/setup.sh"
	KDIR=$("$here/kernel.sh" x86_64)
fi
KDIR=$(cd "$KDIR" && pwd)
if [ -z "${KSRC:-}" ]; then
	if [ -d "$KDIR/source" ]; then KSRC=$(readlink -f "$KDIR/source"); else KSRC=$KDIR; fi
fi
[ -f "$KDIR/arch/x86/boot/bzImage" ] || die "no $KDIR/arch/x86/boot/bzImage"

rm -rf "$out"
mkdir -p "$out/bin"

# ---- build -----------------------------------------------------------------
if [ -n "${BENCH_MODULE:-}" ]; then
	module=$(readlink -f "$BENCH_MODULE")
	[ -f "$module" ] || die "BENCH_MODULE=$BENCH_MODULE: no such file"
	log "bench: using $module (not building the modules)"
else
	log "bench: building the modules"
	make -C "$top" modules KDIR="$KDIR" >"$out/modules.log" 2>&1 ||
		{ tail -n 25 "$out/modules.log" >&2; die "make modules failed (log: $out/modules.log)"; }
	module=$top/riommu_mock.ko
	[ -f "$module" ] || die "make modules did not produce $module"
fi
log "bench: building riommu_bench"
make -C "$here/bench" KDIR="$KDIR" KSRC="$KSRC" OUT="$out/bin" >"$out/build.log" 2>&1 ||
	{ cat "$out/build.log" >&2; die "building tools/bench failed"; }

# ---- run -------------------------------------------------------------------
# kmemleak=off: the test kernel tracks every allocation for the leak check,
# which costs both drivers and is not what they cost in production.
opts="rounds:$rounds,subs:$subs,batch-ms:$batch_ms"
[ -n "${BENCH_ONLY:-}" ] && opts+=",only:${BENCH_ONLY//,/+}"
[ -n "${BENCH_PROFILE:-}" ] && opts+=",profile:${BENCH_PROFILE//,/+}"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
log "bench: booting QEMU (${RIOMMU_ACCEL:-tcg}, $RIOMMU_SMP vCPU): $opts"
rc=0
"$here/vm.sh" --mode run --kdir "$KDIR" --out "$out/vm" --module "$module" \
	--prog-timeout 900 --timeout 1200 --append "kmemleak=off riommu_bench=$opts" \
	"$out/bin/riommu_bench" </dev/null >"$out/vm.log" 2>&1 || rc=$?
plog=$out/vm/progs/riommu_bench.log
# tools/tap.py (rightly, for make check) counts kmemleak turning itself off
# as a kernel log problem: here it is asked for.  Any other problem stands.
if [ $rc != 0 ] && grep -q '^  FAIL kernel log' "$out/vm.log" &&
	[ "$(grep -c '^  FAIL' "$out/vm.log")" = 1 ] &&
	! grep -E '^ +/.*console\.log:[0-9]+:' "$out/vm.log" |
		grep -vq 'kmemleak: Kernel memory leak detector disabled'; then
	rc=0
fi
if [ ! -s "$plog" ]; then
	tail -n 20 "$out/vm.log" >&2
	die "the benchmark produced no output (QEMU logs: $out/vm)"
fi
cp "$plog" "$out/bench.log"
sed -n '/^measure /,/^  compare only/p' "$plog" >"$out/table.txt"
grep '^RESULT ' "$plog" >"$out/results.txt" || true
if grep -q '^PROFILE begin' "$plog"; then
	# Rust v0 symbols: binutils' c++filt demangles them.
	demangle() { if command -v c++filt >/dev/null; then c++filt; else cat; fi; }
	sed -n '/^PROFILE begin/,/^PROFILE end/p' "$plog" | demangle |
		sed 's/\[[0-9a-f]\{16\}\]//g' >"$out/profile.txt"
fi
grep -q '^# ERROR' "$plog" && { grep '^# ERROR' "$plog" >&2; rc=1; }
if [ $rc != 0 ] || [ ! -s "$out/results.txt" ]; then
	tail -n 20 "$plog" >&2
	die "the benchmark failed (output: $out/bench.log, QEMU logs: $out/vm)"
fi
echo
cat "$out/table.txt"
echo

# ---- Documentation/performance.rst -----------------------------------------
if [ "${BENCH_DOC:-1}" = 0 ] || [ -n "${BENCH_ONLY:-}" ] || [ -n "${BENCH_MODULE:-}" ]; then
	log "bench: Documentation/performance.rst left alone (BENCH_DOC=0, BENCH_ONLY or BENCH_MODULE)"
	log "bench: done; output in $out"
	exit 0
fi
[ "$rounds" -ge 5 ] || die "BENCH_ROUNDS=$rounds: the document needs at least 5 rounds"
export BENCH_KERNEL BENCH_QEMU BENCH_CPU BENCH_DATE BENCH_SMP BENCH_ACCEL BENCH_LINE BENCH_LOAD
BENCH_KERNEL=$(sed -n 's/^INFO kernel //p' "$plog" | head -n 1)
BENCH_QEMU=$(qemu-system-x86_64 --version | head -n 1)
BENCH_CPU="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) CPUs"
BENCH_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
BENCH_SMP=$RIOMMU_SMP
BENCH_ACCEL=${RIOMMU_ACCEL:-tcg}
BENCH_LINE=$(grep -m1 '^# riommu_bench:' "$plog" | sed 's/^# riommu_bench: //')
BENCH_LOAD="$load_before before the run, $(cut -d' ' -f1-3 /proc/loadavg) after"
python3 - "$out/results.txt" "$doc" <<'EOF'
import os, re, sys

results, doc = sys.argv[1], sys.argv[2]
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

rows = []
for line in open(results):
    head, _, label = line.rstrip("\n").partition(" | ")
    f = head.split()
    key, unit = f[1], f[2]
    cm, cmin, cmax, rm, rmin, rmax, ratio = f[3:10]
    ratio = float(ratio)
    r = f"{ratio:.2f}"
    rows.append((label, f"{fmt(cm, unit)} ({fmt(cmin, unit)}–{fmt(cmax, unit)})",
                 f"{fmt(rm, unit)} ({fmt(rmin, unit)}–{fmt(rmax, unit)})",
                 f"**{r}**" if ratio > 1.0 else r, key))

analysis = (".. BEGIN ANALYSIS\n\n"
            "(No analysis yet: write it here; ``make bench`` keeps what is "
            "between these markers.)\n\n.. END ANALYSIS\n")
if os.path.exists(doc):
    m = re.search(r"^\.\. BEGIN ANALYSIS$.*?^\.\. END ANALYSIS$\n?", open(doc).read(),
                  re.S | re.M)
    if m:
        analysis = m.group(0)
        if not analysis.endswith("\n"):
            analysis += "\n"

table = [".. list-table::", "   :header-rows: 1", "   :widths: 40 22 22 8", "",
         "   * - Measure (per operation)", "     - C mock: median (min–max)",
         "     - riommu_mock: median (min–max)", "     - Rust/C"]
for label, c, r, ratio, key in rows:
    table += [f"   * - {label} (``{key}``)", f"     - {c}", f"     - {r}", f"     - {ratio}"]

text = f"""\
.. SPDX-License-Identifier: GPL-2.0

.. This file is generated by ``make bench`` (tools/bench.sh) but for the
   analysis between the BEGIN/END ANALYSIS markers, which is written by hand
   and kept from one run to the next.

===========================================
Performance: riommu_mock against the C mock
===========================================

``make bench`` boots the test kernel once in QEMU, loads ``riommu_mock.ko``
and runs ``tools/bench/riommu_bench`` in the guest.  The program does the
same iommufd work (``/dev/iommu`` calls with the same IOVAs, sizes, flags
and buffers) against two backends: a device of the kernel's C selftest mock
(``CONFIG_IOMMUFD_TEST``, created with ``IOMMU_TEST_CMD``) and a device of
riommu_mock (created through ``/dev/riommu-mock``).  Only the driver behind
the device differs.

.. note::

   The guest runs under QEMU's TCG, which emulates the CPU: absolute times
   mean nothing across machines (or QEMU versions), and even on one machine
   they depend on what else it runs.  Only the **Rust/C ratios of one boot**
   may be compared.  A ratio above 1.0 (in bold) means riommu_mock is slower
   or bigger.

Last run
========

* Date: {env['BENCH_DATE']}
* Guest kernel (``uname -r``): {env['BENCH_KERNEL']}
* QEMU: {env['BENCH_QEMU']} (accelerator {env['BENCH_ACCEL']}, {env['BENCH_SMP']} vCPU)
* Host CPU: {env['BENCH_CPU']}; load average (1, 5, 15 min):
  {env['BENCH_LOAD']} (other work on the host widens the spreads)
* Program: {env['BENCH_LINE']}

""" + "\n".join(table) + f"""

Method
======

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

Analysis
========

""" + analysis
open(doc, "w").write(text)
EOF
log "bench: wrote $doc"
log "bench: done; output in $out"
