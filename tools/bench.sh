#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make bench`: the Rust drivers against the kernel's C drivers, in QEMU.
#
#   1. riommu_mock against the C selftest mock: builds the modules and
#      tools/bench/riommu_bench, boots the test kernel once (tools/vm.sh,
#      run mode, no shell), loads riommu_mock.ko and runs the benchmark.
#   2. VT-d: riommu_vtd against the kernel's intel-iommu, on QEMU's
#      emulated intel-iommu (scalable mode; a first- and a second-stage
#      unit, BENCH_VTD_STAGES) with its edu DMA
#      device bound to vfio-pci: tools/bench/riommu_vtd_bench in boots of
#      the same QEMU configuration, one driver per boot (both cannot own
#      the one unit in a boot): intel_iommu=off with riommu_vtd.ko, or
#      intel_iommu=on,sm_on.  The boots come in alternated pairs
#      (BENCH_VTD_PAIRS); Rust/C is the ratio of the drivers' medians.
#   3. SMMUv3: riommu_smmuv3 against the kernel's arm_smmu_v3.ko, on QEMU
#      virt's emulated SMMUv3 (arm64 guest under TCG, tools/vm.sh --arch
#      arm64) with edu bound to vfio-pci: tools/bench/riommu_smmuv3_bench
#      in alternated boot pairs (BENCH_SMMU_PAIRS), one driver per boot
#      (riommu_smmuv3 with allow_unsafe_viommu=1, for its vIOMMU).  Then
#      count boots, two per driver: QEMU traces the SMMU's commands
#      (smmuv3_cmdq_opcode), its register accesses (smmuv3_read_mmio,
#      smmuv3_write_mmio), the pages its TLBIs by address cover
#      (smmuv3_range_inval) and the program's window markers (pci_cfg_read,
#      tools/bench/bench_util.h), and tools/bench/qtrace.py gives the work
#      per op; the two boots of a driver must count the same.
#
# Prints the tables and regenerates Documentation/performance.rst from
# them (tools/bench/perfdoc.py): date, guest kernel, QEMU version, host
# CPU, method and results.  The hand-written analysis of that file,
# between the lines ".. BEGIN ANALYSIS" and ".. END ANALYSIS", is kept as
# it is, and so is the section of a part this run leaves out.  Takes about
# two minutes under TCG (the VT-d part about 10 s per boot); the sweeps
# (BENCH_SWEEP) add about 16 s to the mock boot and 11 to 13 s to each
# VT-d boot that sweeps (2026-12-03, timed in the guest, host load average
# 5 on 2 CPUs; less on a quiet host); the SMMUv3 part about 100 s (its
# boots about 10 s each, its count boots 3 s; timings.txt has each part's
# time).
#
#   tools/bench.sh              (or: make bench)
#
# Environment:
#   KDIR, KSRC        as for tools/check.sh (default: tools/kernel.sh's)
#   RIOMMU_OUT        where the logs go (default build/; this run: build/bench)
#   BENCH_VTD         1 (default): the VT-d part; 0: not; only: the VT-d
#                     part only (and the SMMUv3 part if BENCH_SMMU=1 is
#                     given)
#   BENCH_SMMU        1 (default): the SMMUv3 part; 0: not; only: the
#                     SMMUv3 part only
#   BENCH_SMMU_PAIRS  SMMUv3 timing boot pairs (3), alternated as VT-d's
#   BENCH_SMMU_COUNT  ops per counted window in the SMMUv3 count boots (16,
#                     as BENCH_VTD_COUNT; 0: no count boots)
#   BENCH_SMMU_COUNT_RUNS  count boots per driver (2): their counts must
#                     agree
#   BENCH_SMMU_ONLY   comma-separated measure keys of the SMMUv3 part
#                     (riommu_smmuv3_bench --list)
#   BENCH_SMMU_MODULE load this riommu_smmuv3.ko (arm64) instead of
#                     building one
#   KDIR_ARM64        an arm64 build instead of tools/kernel.sh arm64's
#   BENCH_ROUNDS      rounds (default 11; at least 5 for the document)
#   BENCH_SUBS        batches per backend (mock) or measure (VT-d) per
#                     round (12)
#   BENCH_BATCH_MS    minimum length of one batch in ms (10)
#   BENCH_ONLY        comma-separated measure keys of the mock part
#                     (riommu_bench --list)
#   BENCH_PROFILE     also profile, in the guest, after the timed rounds,
#                     the measures whose ratio is above 1.0 ("above"), all
#                     of them ("all") or the given keys (tools/bench/
#                     profile.h): the mock's, and the VT-d and SMMUv3
#                     ones in each driver's boot of the first timing pair
#                     (per unit for VT-d; never in the count boots), where
#                     "above" is "all" (a boot runs one driver: no ratio);
#                     each profile samples 1.5 s; demangled profiles go
#                     to build/bench/profile.txt (the mock's, then
#                     VT-d's, then SMMUv3's), not into the document
#   BENCH_MODULE      load this riommu_mock.ko instead of building one
#                     (to compare a patched driver: only ratios count)
#   BENCH_VTD_STAGES  the units to measure on (default "first second":
#                     QEMU's first-stage unit, x-flts=on, and its
#                     second-stage unit, where riommu_vtd also gets
#                     force_nesting=1 for the nested invalidation)
#   BENCH_VTD_PAIRS   VT-d boot pairs per unit (3), alternated: riommu_vtd,
#                     intel-iommu, intel-iommu, riommu_vtd, ...; each
#                     driver's rounds are pooled over its boots
#   BENCH_VTD_ONLY    comma-separated measure keys of the VT-d part
#                     (riommu_vtd_bench --list)
#   BENCH_VTD_COUNT   ops per counted window in the VT-d count boots (16;
#                     0: no count boots).  Per unit, after the timed
#                     boots, each driver gets BENCH_VTD_COUNT_RUNS (2)
#                     boots of riommu_vtd_bench --count under QEMU's trace
#                     of its queued-invalidation descriptors, register
#                     accesses and edu's PCI config reads (the window
#                     markers); tools/bench/qtrace.py counts the hardware
#                     work per op, and the runs of a driver must agree
#   BENCH_VTD_MODULE  load this riommu_vtd.ko instead of building one
#   BENCH_VTD_RIOMMU_ARGS  module parameters for riommu_vtd.ko in its boot,
#                     "NAME=VALUE ..." (e.g. an opt-in to nesting); they go
#                     on its kernel command line as riommu_vtd.NAME=VALUE,
#                     which the guest's init passes to insmod, and into
#                     the document
#   BENCH_VTD_INTEL_APPEND  more kernel command line for the intel-iommu
#                     boot (e.g. more intel_iommu= options)
#   BENCH_DOC=0       do not touch Documentation/performance.rst (nor do
#                     BENCH_ONLY and BENCH_MODULE for the mock part,
#                     BENCH_VTD_ONLY and BENCH_VTD_MODULE for the VT-d
#                     part: that part's section is kept)
#   BENCH_SWEEP       1 (default): also sweep the sizes (how the cost grows,
#                     issue #20): riommu_bench's map_4k, map_1 and inval
#                     series, riommu_vtd_bench's map_4k and map_1 (the
#                     SWEEP lines of their headers), plotted by
#                     tools/bench/plot.py into build/bench/perf-*.svg (and
#                     next to Documentation/performance.rst with the
#                     document); 0: no sweeps
#   BENCH_SWEEP_PAIRS VT-d boot pairs (per unit) that sweep (1): the
#                     first ones; a sweep takes 11 to 13 s per boot
#   RIOMMU_ACCEL, RIOMMU_MEM, RIOMMU_QEMU_ARGS: see tools/vm.sh;
#   RIOMMU_SMP defaults to 1 here (one vCPU thread: less host noise)
#
# Files in build/bench: bench.log (riommu_bench's output), table.txt,
# perf-*.svg and sweep-*.rst (the sweeps' plots and tables, plot.py),
# results.txt (its RESULT lines), profile.txt, vm/ (tools/vm.sh's logs);
# vtd-riommu-N.out and vtd-intel-N.out (riommu_vtd_bench's output in pair
# N), vtd-table.txt, vtd-riommu-N/ and vtd-intel-N/ (tools/vm.sh's logs,
# its output in vtd-*-N.log); the count boots' vtd-count-DRIVER-STAGE-R.out
# (riommu_vtd_bench --count's output) and .trace (QEMU's trace);
# smmu-riommu-N.out and smmu-c-N.out (riommu_smmuv3_bench's output),
# smmu-count-DRIVER-R.out and .trace (its count boots), smmu-table.txt,
# timings.txt (how long each part took).
set -euo pipefail
bench_t0=$(date +%s)
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR source=lib.sh
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
vtd=${BENCH_VTD:-1}
case "$vtd" in 0 | 1 | only) ;; *) die "BENCH_VTD=$vtd: use 1 (both parts), 0 (no VT-d) or only" ;; esac
pairs=${BENCH_VTD_PAIRS:-3}
count_iters=${BENCH_VTD_COUNT:-16}
[[ $count_iters =~ ^[0-9]+$ ]] || die "BENCH_VTD_COUNT=$count_iters: a number of ops (0: no count boots)"
count_runs=${BENCH_VTD_COUNT_RUNS:-2}
[[ $count_runs =~ ^[1-9][0-9]*$ ]] || die "BENCH_VTD_COUNT_RUNS=$count_runs: at least 1"
# QEMU's trace events for the counts (hw/i386/trace-events,
# hw/pci/trace-events): every queued-invalidation descriptor QEMU processes
# (vtd_inv_desc and its details), register reads and writes, and the PCI
# config reads that mark the windows.  One -trace option per pattern: in
# one option, a repeated enable= keeps only the last (QemuOpts); patterns
# may be globs.
vtd_trace_events="-trace enable=vtd_inv_desc* -trace enable=vtd_reg_read -trace enable=vtd_reg_write -trace enable=pci_cfg_read"
[[ $pairs =~ ^[1-9][0-9]*$ ]] || die "BENCH_VTD_PAIRS=$pairs: a number of boot pairs, at least 1"
smmu=${BENCH_SMMU:-1}
case "$smmu" in 0 | 1 | only) ;; *) die "BENCH_SMMU=$smmu: use 1, 0 (no SMMUv3) or only" ;; esac
smmu_pairs=${BENCH_SMMU_PAIRS:-3}
[[ $smmu_pairs =~ ^[1-9][0-9]*$ ]] || die "BENCH_SMMU_PAIRS=$smmu_pairs: a number of boot pairs, at least 1"
smmu_count=${BENCH_SMMU_COUNT:-16}
[[ $smmu_count =~ ^[0-9]+$ ]] || die "BENCH_SMMU_COUNT=$smmu_count: ops per window (0: no count boots)"
smmu_count_runs=${BENCH_SMMU_COUNT_RUNS:-2}
[[ $smmu_count_runs =~ ^[1-9][0-9]*$ ]] || die "BENCH_SMMU_COUNT_RUNS=$smmu_count_runs: at least 1"
do_mock=1 do_vtd=1 do_smmu=1
# ---- sweeps (settings) ---------------------------------------------------------
sweep=${BENCH_SWEEP:-1}
case "$sweep" in 0 | 1) ;; *) die "BENCH_SWEEP=$sweep: use 1 (sweep) or 0" ;; esac
sweep_pairs=${BENCH_SWEEP_PAIRS:-1}
[[ $sweep_pairs =~ ^[0-9]+$ ]] || die "BENCH_SWEEP_PAIRS=$sweep_pairs: a number of boot pairs"
# vtd_sweep_opt N: riommu_vtd_bench's sweep option for VT-d boot pair N.
vtd_sweep_opt() { if [ "$sweep" = 1 ] && [ "$1" -le "$sweep_pairs" ]; then echo ,sweep:1; else echo ,sweep:0; fi; }
# plot_python: a python3 with matplotlib (tools/lib.sh).
plot_python() {
	matplotlib_python || die "no python3 with matplotlib (tools/setup.sh installs python3-matplotlib)"
}
# profile_opt N: the programs' profile option for (VT-d or SMMUv3) boot
# pair N: BENCH_PROFILE's in the first pair, none otherwise.
profile_opt() {
	if [ -n "${BENCH_PROFILE:-}" ] && [ "$1" = 1 ]; then echo ",profile:${BENCH_PROFILE//,/+}"; fi
}
# profiles LOG: LOG's PROFILE blocks, Rust v0 symbols demangled (binutils'
# c++filt; hashes dropped), appended to $out/profile.txt.
profiles() {
	grep -q '^PROFILE begin' "$1" || return 0
	sed -n '/^PROFILE begin/,/^PROFILE end/p' "$1" |
		if command -v c++filt >/dev/null; then c++filt; else cat; fi |
		sed 's/\[[0-9a-f]\{16\}\]//g' >>"$out/profile.txt"
}
# sweep_secs LOG...: the seconds the programs' sweeps took, summed.
sweep_secs() { awk '/^# sweeps done in [0-9.]+ s$/ { t += $5 } END { printf "%.1f", t }' "$@"; }
[ "$vtd" = 0 ] && do_vtd=0
[ "$vtd" = only ] && do_mock=0
# BENCH_VTD=only leaves the SMMUv3 part out unless BENCH_SMMU is given.
if [ "$vtd" = only ] && [ -z "${BENCH_SMMU:-}" ]; then do_smmu=0; fi
[ "$smmu" = 0 ] && do_smmu=0
[ "$smmu" = only ] && do_mock=0 do_vtd=0
# The VT-d hardware, as tools/check-vtd.sh: QEMU's intel-iommu in scalable
# mode with PASIDs, first-stage (x-flts=on) or second-stage tables
# (BENCH_VTD_STAGES), and edu with a 64-bit DMA mask.  On the second-stage
# unit riommu_vtd is loaded with force_nesting=1, so that its nested
# HWPT_INVALIDATE can be timed (the C driver has no nesting on QEMU).
vtd_stages=${BENCH_VTD_STAGES:-first second}
for st in $vtd_stages; do
	case $st in first | second) ;; *) die "BENCH_VTD_STAGES: '$st' is not first or second" ;; esac
done
vtd_edu="-device edu,dma_mask=0xffffffffffffffff"
# shellcheck disable=SC2034 # read as ${!q}, by name
vtd_qemu_first="-device intel-iommu,x-scalable-mode=on,x-flts=on,x-pasid-mode=on $vtd_edu"
# shellcheck disable=SC2034 # as above
vtd_qemu_second="-device intel-iommu,x-scalable-mode=on,x-pasid-mode=on $vtd_edu"
# riommu_vtd's parameters, as riommu_vtd.NAME=VALUE words for its boot.
vtd_params=''
for w in ${BENCH_VTD_RIOMMU_ARGS:-}; do
	[[ $w =~ ^[A-Za-z0-9_]+=[^[:space:]]+$ ]] ||
		die "BENCH_VTD_RIOMMU_ARGS: '$w' is not NAME=VALUE"
	vtd_params+=" riommu_vtd.$w"
done

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
# pick_module VAR FILE: sets $module to the module a part loads: the file
# the variable VAR names (BENCH_MODULE...), or else FILE as make built it.
pick_module() {
	local given=${!1:-}
	if [ -n "$given" ]; then
		module=$(readlink -f "$given")
		[ -f "$module" ] || die "$1=$given: no such file"
		log "bench: using $module (not building it)"
	else
		module=$top/$2
		[ -f "$module" ] || die "make modules did not produce $module"
	fi
}
if { [ $do_mock = 1 ] && [ -z "${BENCH_MODULE:-}" ]; } ||
	{ [ $do_vtd = 1 ] && [ -z "${BENCH_VTD_MODULE:-}" ]; }; then
	log "bench: building the modules"
	make -C "$top" modules KDIR="$KDIR" >"$out/modules.log" 2>&1 ||
		{ tail -n 25 "$out/modules.log" >&2; die "make modules failed (log: $out/modules.log)"; }
fi
mock_module='' vtd_module=''
if [ $do_mock = 1 ]; then pick_module BENCH_MODULE riommu_mock.ko; mock_module=$module; fi
if [ $do_vtd = 1 ]; then pick_module BENCH_VTD_MODULE riommu_vtd.ko; vtd_module=$module; fi
if [ $do_mock = 1 ] || [ $do_vtd = 1 ]; then
	log "bench: building riommu_bench and riommu_vtd_bench"
	make -C "$here/bench" KDIR="$KDIR" KSRC="$KSRC" OUT="$out/bin" >"$out/build.log" 2>&1 ||
		{ cat "$out/build.log" >&2; die "building tools/bench failed"; }
fi
timing() { # timing PART T0: how long PART took, into timings.txt
	echo "$1: $(($(date +%s) - $2)) s" >>"$out/timings.txt"
}

# ---- one boot ----------------------------------------------------------------
# boot NAME PROG [vm.sh options...]: boots QEMU in run mode into $out/NAME
# (vm.sh's output in $out/NAME.log) to run the benchmark program PROG;
# sets $plog to its output, and fails unless the boot and the program did.
# kmemleak=off: the test kernel tracks every allocation for the leak check,
# which costs every driver and is not what they cost in production.
# BOOT_KDIR: the kernel build to boot (default $KDIR; the arm64 one with
# --arch arm64 among the options).
boot() {
	local name=$1 prog=$2 rc=0
	shift 2
	"$here/vm.sh" --mode run --kdir "${BOOT_KDIR:-$KDIR}" --out "$out/$name" \
		--prog-timeout 900 --timeout 1200 "$@" "$out/bin/$prog" \
		</dev/null >"$out/$name.log" 2>&1 || rc=$?
	plog=$out/$name/progs/$prog.log
	# tools/tap.py (rightly, for make check) counts kmemleak turning itself
	# off as a kernel log problem: here it is asked for.  Any other
	# problem stands.
	if [ $rc != 0 ] && grep -q '^  FAIL kernel log' "$out/$name.log" &&
		[ "$(grep -c '^  FAIL' "$out/$name.log")" = 1 ] &&
		! grep -E '^ +/.*console\.log:[0-9]+:' "$out/$name.log" |
			grep -vq 'kmemleak: Kernel memory leak detector disabled'; then
		rc=0
	fi
	if [ ! -s "$plog" ]; then
		tail -n 20 "$out/$name.log" >&2
		die "$prog produced no output (QEMU logs: $out/$name)"
	fi
	grep -q '^# ERROR' "$plog" && { grep '^# ERROR' "$plog" >&2; rc=1; }
	if [ $rc != 0 ] || ! grep -q '^RESULT \|^NA \|^COUNTED \|^SWEEP ' "$plog"; then
		tail -n 20 "$plog" >&2
		die "$prog failed (output: $plog, QEMU logs: $out/$name)"
	fi
}
BENCH_CPU="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) CPUs"
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# ---- riommu_mock against the C mock ------------------------------------------
if [ $do_mock = 1 ]; then
	t_part=$(date +%s)
	opts="rounds:$rounds,subs:$subs,batch-ms:$batch_ms,sweep:$sweep"
	[ -n "${BENCH_ONLY:-}" ] && opts+=",only:${BENCH_ONLY//,/+}"
	[ -n "${BENCH_PROFILE:-}" ] && opts+=",profile:${BENCH_PROFILE//,/+}"
	mock_load_before=$(loadavg)
	log "bench: mock: booting QEMU (${RIOMMU_ACCEL:-tcg}, $RIOMMU_SMP vCPU): $opts"
	boot vm riommu_bench --module "$mock_module" --append "kmemleak=off riommu_bench=$opts"
	mock_plog=$plog
	BENCH_LOAD="$mock_load_before before the run, $(loadavg) after"
	cp "$plog" "$out/bench.log"
	sed -n '/^measure /,/^  compare only/p' "$plog" >"$out/table.txt"
	grep '^RESULT ' "$plog" >"$out/results.txt" || true
	profiles "$plog"
	echo
	cat "$out/table.txt"
	echo
	timing "mock part" "$t_part"
fi

# ---- sweeps: the mock's plots ------------------------------------------------
sweep_docargs=()
if [ $do_mock = 1 ] && [ "$sweep" = 1 ] && grep -q '^SWEEP ' "$out/bench.log"; then
	log "bench: mock sweeps took $(sweep_secs "$out/bench.log") s in the guest"
	"$(plot_python)" "$here/bench/plot.py" mock "$out/bench.log" --out "$out" \
		--rst "$out/sweep-mock.rst" | tee "$out/sweep-mock.txt"
	sweep_docargs+=(--mock-sweep "$out/sweep-mock.rst")
fi

# ---- riommu_vtd against intel-iommu ------------------------------------------
# Pairs of boots, alternated (riommu intel, intel riommu, riommu intel ...)
# so that a drift of the host's load favours neither driver.
vtd_riommu_logs=() vtd_intel_logs=() countargs=()
if [ $do_vtd = 1 ]; then
	t_part=$(date +%s)
	opts="rounds:$rounds,subs:$subs,batch-ms:$batch_ms"
	[ -n "${BENCH_VTD_ONLY:-}" ] && opts+=",only:${BENCH_VTD_ONLY//,/+}"
	BENCH_VTD_QEMU_ARGS=''
	for st in $vtd_stages; do
		v=vtd_qemu_$st
		BENCH_VTD_QEMU_ARGS+="${BENCH_VTD_QEMU_ARGS:+; }$st stage: ${!v}"
	done
	export BENCH_VTD_QEMU_ARGS
	export BENCH_VTD_APPEND_RIOMMU="intel_iommu=off kmemleak=off$vtd_params"
	export BENCH_VTD_APPEND_INTEL="intel_iommu=on,sm_on kmemleak=off${BENCH_VTD_INTEL_APPEND:+ $BENCH_VTD_INTEL_APPEND}"
	vtd_load_before=$(loadavg)
	# vtd_boot riommu|intel N STAGE [count]: pair N's boot of a driver; with
	# "count", count run N instead: riommu_vtd_bench --count under
	# QEMU's trace, into vtd-count-DRIVER-STAGE-N.{out,trace}.
	vtd_boot() {
		local name=vtd-$1-$3-$2 q=vtd_qemu_$3 nest='' bopts=$opts trace=''
		local vtd_qemu=${!q}
		[ "$3" = second ] && nest=' riommu_vtd.force_nesting=1'
		if [ "${4:-}" = count ]; then
			name=vtd-count-$1-$3-$2
			bopts="count:$count_iters${BENCH_VTD_ONLY:+,only:${BENCH_VTD_ONLY//,/+}}"
			trace="$vtd_trace_events -trace file=$out/$name.trace"
			log "bench: VT-d count run $2/$count_runs, $1, $3-stage unit: $bopts"
		else
			bopts=$opts$(vtd_sweep_opt "$2")$(profile_opt "$2")
			log "bench: VT-d pair $2/$pairs, $1, $3-stage unit (${RIOMMU_ACCEL:-tcg}, $RIOMMU_SMP vCPU): $bopts"
		fi
		if [ "$1" = riommu ]; then
			RIOMMU_QEMU_ARGS="${RIOMMU_QEMU_ARGS:-} $vtd_qemu $trace" \
				boot "$name" riommu_vtd_bench --module "$vtd_module" \
				--append "$BENCH_VTD_APPEND_RIOMMU$nest riommu_vtd_bench=$bopts"
			# A misspelt parameter would only give a warning, and n/a.
			if grep -q 'riommu_vtd: unknown parameter' "$out/$name/console.log"; then
				grep 'riommu_vtd: unknown parameter' "$out/$name/console.log" >&2
				die "riommu_vtd.ko refused BENCH_VTD_RIOMMU_ARGS=${BENCH_VTD_RIOMMU_ARGS:-}"
			fi
			[ -n "$trace" ] || vtd_riommu_logs+=("$out/$name.out")
		else
			RIOMMU_QEMU_ARGS="${RIOMMU_QEMU_ARGS:-} $vtd_qemu $trace" \
				boot "$name" riommu_vtd_bench \
				--append "$BENCH_VTD_APPEND_INTEL riommu_vtd_bench=$bopts"
			[ -n "$trace" ] || vtd_intel_logs+=("$out/$name.out")
		fi
		cp "$plog" "$out/$name.out"
		profiles "$plog"
		if [ -n "$trace" ]; then
			grep -q '^COUNTED ' "$plog" || die "$name: riommu_vtd_bench --count did not finish ($plog)"
			# Pairs the windows now, so that a broken trace fails here.
			python3 "$here/bench/qtrace.py" "$out/$name.out" "$out/$name.trace" \
				>"$out/$name.counts" || die "$name: qtrace.py could not pair the windows"
			if [ "$1" = riommu ]; then vtd_count_riommu+=("$out/$name"); else vtd_count_intel+=("$out/$name"); fi
		fi
	}
	vtd_count_riommu=() vtd_count_intel=()
	for st in $vtd_stages; do
		for ((p = 1; p <= pairs; p++)); do
			if ((p % 2)); then
				vtd_boot riommu $p "$st"
				vtd_boot intel $p "$st"
			else
				vtd_boot intel $p "$st"
				vtd_boot riommu $p "$st"
			fi
		done
		if [ "$count_iters" != 0 ]; then
			for ((p = 1; p <= count_runs; p++)); do
				vtd_boot riommu $p "$st" count
				vtd_boot intel $p "$st" count
			done
		fi
	done
	BENCH_VTD_LOAD="$vtd_load_before before the boots, $(loadavg) after"
	export BENCH_VTD_LOAD
	countargs=()
	if [ ${#vtd_count_riommu[@]} != 0 ]; then
		countargs=(--count-riommu "${vtd_count_riommu[@]}" --count-intel "${vtd_count_intel[@]}")
	fi
	python3 "$here/bench/perfdoc.py" vtd-table --riommu "${vtd_riommu_logs[@]}" \
		--intel "${vtd_intel_logs[@]}" "${countargs[@]}" >"$out/vtd-table.txt"
	echo
	cat "$out/vtd-table.txt"
	echo
	timing "VT-d part" "$t_part"
fi

# ---- sweeps: VT-d plots, one per unit ------------------------------------------
if [ $do_vtd = 1 ] && [ "$sweep" = 1 ] && [ "$sweep_pairs" -gt 0 ]; then
	log "bench: VT-d sweeps took $(sweep_secs "$out"/vtd-*.out) s in the guests"
	for st in $vtd_stages; do
		"$(plot_python)" "$here/bench/plot.py" vtd --stage "$st" \
			--riommu "$out"/vtd-riommu-"$st"-*.out --intel "$out"/vtd-intel-"$st"-*.out \
			--out "$out" --rst "$out/sweep-vtd-$st.rst" | tee "$out/sweep-vtd-$st.txt"
		sweep_docargs+=(--vtd-sweep "$out/sweep-vtd-$st.rst")
	done
fi
# ---- riommu_smmuv3 against arm_smmu_v3.ko -------------------------------------
# The arm64 kernel (tools/kernel.sh's, cached), the arm64 modules built in
# a copy of the sources as tools/check-arm64.sh does (the same copy:
# build/arm64-src, incremental), riommu_smmuv3_bench for arm64, then the
# timing pairs and the count boots.
smmu_riommu_logs=() smmu_c_logs=() smmu_count_riommu=() smmu_count_c=()
if [ $do_smmu = 1 ]; then
	t_part=$(date +%s)
	if [ -n "${KDIR_ARM64:-}" ]; then
		kdir64=$(cd "$KDIR_ARM64" && pwd)
	else
		kdir64=$("$here/kernel.sh" arm64) || die "tools/kernel.sh arm64 failed"
	fi
	[ -f "$kdir64/arch/arm64/boot/Image" ] || die "no $kdir64/arch/arm64/boot/Image"
	c_ko=$kdir64/drivers/iommu/arm/arm-smmu-v3/arm_smmu_v3.ko
	[ -f "$c_ko" ] || die "no $c_ko (ARM_SMMU_V3=m in kernel/arm64.config)"
	if [ -n "${BENCH_SMMU_MODULE:-}" ]; then
		smmu_module=$(readlink -f "$BENCH_SMMU_MODULE")
		[ -f "$smmu_module" ] || die "BENCH_SMMU_MODULE=$BENCH_SMMU_MODULE: no such file"
		log "bench: using $smmu_module (not building it)"
	else
		src64=$outroot/arm64-src
		mkdir -p "$src64"
		arm64_src_copy "$top" "$src64"
		log "bench: building the arm64 modules (in $src64)"
		make -C "$src64" ARCH=arm64 KDIR="$kdir64" modules >"$out/modules-arm64.log" 2>&1 ||
			{ tail -n 25 "$out/modules-arm64.log" >&2; die "arm64 make modules failed (log: $out/modules-arm64.log)"; }
		smmu_module=$src64/riommu_smmuv3.ko
		[ -f "$smmu_module" ] || die "make modules did not produce $smmu_module"
	fi
	make -C "$here/bench" KDIR="$kdir64" KSRC="$KSRC" OUT="$out/bin" smmu >"$out/build-arm64.log" 2>&1 ||
		{ cat "$out/build-arm64.log" >&2; die "building riommu_smmuv3_bench failed"; }
	timing "SMMUv3 part: arm64 kernel, modules, program" "$t_part"
	opts="rounds:$rounds,subs:$subs,batch-ms:$batch_ms"
	[ -n "${BENCH_SMMU_ONLY:-}" ] && opts+=",only:${BENCH_SMMU_ONLY//,/+}"
	export BENCH_SMMU_APPEND_RIOMMU="riommu_smmuv3.allow_unsafe_viommu=1 kmemleak=off"
	export BENCH_SMMU_APPEND_C="kmemleak=off"
	# smmu_boot riommu|c NAME OPTS [QEMU args]: one boot of riommu_smmuv3_bench
	smmu_boot() {
		local drv=$1 name=$2 bopts=$3 qargs=${4:-} args
		if [ "$drv" = riommu ]; then
			args=(--module "$smmu_module" --append "$BENCH_SMMU_APPEND_RIOMMU riommu_smmuv3_bench=$bopts,expect:riommu_smmuv3")
		else
			args=(--module "$c_ko" --append "$BENCH_SMMU_APPEND_C riommu_smmuv3_bench=$bopts,expect:arm-smmu-v3")
		fi
		RIOMMU_QEMU_ARGS="${RIOMMU_QEMU_ARGS:-}${qargs:+ $qargs}" BOOT_KDIR=$kdir64 \
			boot "$name" riommu_smmuv3_bench --arch arm64 "${args[@]}"
		cp "$plog" "$out/$name.out"
	}
	smmu_load_before=$(loadavg)
	t_boots=$(date +%s)
	for ((p = 1; p <= smmu_pairs; p++)); do
		if ((p % 2)); then order="riommu c"; else order="c riommu"; fi
		for d in $order; do
			bo=$opts$(profile_opt "$p")
			log "bench: SMMUv3 pair $p/$smmu_pairs, $d (${RIOMMU_ACCEL:-tcg}, $RIOMMU_SMP vCPU): $bo"
			smmu_boot "$d" "smmu-$d-$p" "$bo"
			profiles "$out/smmu-$d-$p.out"
			if [ "$d" = riommu ]; then
				smmu_riommu_logs+=("$out/smmu-$d-$p.out")
			else
				smmu_c_logs+=("$out/smmu-$d-$p.out")
			fi
		done
	done
	BENCH_SMMU_LOAD="$smmu_load_before before the boots, $(loadavg) after"
	export BENCH_SMMU_LOAD
	timing "SMMUv3 part: $smmu_pairs timing pair(s)" "$t_boots"
	# The count boots: each driver BENCH_SMMU_COUNT_RUNS times, the counts
	# must agree.  QEMU's trace events (hw/arm/trace-events,
	# hw/pci/trace-events): each command the SMMU consumes, its register
	# reads and writes, the pages its TLBIs by address cover
	# (smmuv3_range_inval), and the PCI config reads that mark the windows; one
	# -trace option per event (a repeated enable= in one keeps only the
	# last).
	t_boots=$(date +%s)
	count_events="smmuv3_cmdq_opcode smmuv3_read_mmio smmuv3_write_mmio smmuv3_range_inval pci_cfg_read"
	export BENCH_SMMU_COUNT_EVENTS=$count_events BENCH_SMMU_COUNT_OPS=$smmu_count
	export BENCH_SMMU_COUNT_RUNS=$smmu_count_runs
	if [ "$smmu_count" != 0 ]; then
		copts="count:$smmu_count"
		[ -n "${BENCH_SMMU_ONLY:-}" ] && copts+=",only:${BENCH_SMMU_ONLY//,/+}"
		for ((k = 1; k <= smmu_count_runs; k++)); do
			for d in riommu c; do
				name=smmu-count-$d-$k
				log "bench: SMMUv3 count boot $k/$smmu_count_runs, $d: $copts"
				trace=$out/$name.trace targs=''
				for e in $count_events; do targs+=" -trace enable=$e"; done
				smmu_boot "$d" "$name" "$copts" "$targs -trace file=$trace"
				grep -q '^COUNTED ' "$out/$name.out" ||
					die "$name: riommu_smmuv3_bench --count did not finish ($out/$name.out)"
				# Pairs the windows now, so that a broken trace fails here.
				python3 "$here/bench/qtrace.py" "$out/$name.out" "$trace" >"$out/$name.counts" ||
					die "$name: qtrace.py could not pair the windows"
				if [ "$d" = riommu ]; then
					smmu_count_riommu+=("$out/$name")
				else
					smmu_count_c+=("$out/$name")
				fi
			done
		done
	fi
	timing "SMMUv3 part: count boots" "$t_boots"
	smmu_countargs=()
	[ ${#smmu_count_riommu[@]} = 0 ] ||
		smmu_countargs=(--count-riommu "${smmu_count_riommu[@]}" --count-c "${smmu_count_c[@]}")
	python3 "$here/bench/perfdoc.py" smmu-table --riommu "${smmu_riommu_logs[@]}" \
		--c "${smmu_c_logs[@]}" ${smmu_countargs[@]+"${smmu_countargs[@]}"} >"$out/smmu-table.txt"
	echo
	cat "$out/smmu-table.txt"
	echo
	timing "SMMUv3 part (all)" "$t_part"
fi
[ ! -f "$out/timings.txt" ] || { log "bench: timings"; cat "$out/timings.txt" >&2; }

# ---- Documentation/performance.rst -----------------------------------------
# A part updates its section only when it ran complete, on the modules of
# the tree; the other section stays as it is.
docargs=()
if [ $do_mock = 1 ] && [ -z "${BENCH_ONLY:-}" ] && [ -z "${BENCH_MODULE:-}" ]; then
	docargs+=(--mock "$out/results.txt")
fi
if [ $do_vtd = 1 ] && [ -z "${BENCH_VTD_ONLY:-}" ] && [ -z "${BENCH_VTD_MODULE:-}" ]; then
	docargs+=(--vtd-riommu "${vtd_riommu_logs[@]}" --vtd-intel "${vtd_intel_logs[@]}" "${countargs[@]}")
fi
if [ $do_smmu = 1 ] && [ -z "${BENCH_SMMU_ONLY:-}" ] && [ -z "${BENCH_SMMU_MODULE:-}" ]; then
	docargs+=(--smmu-riommu "${smmu_riommu_logs[@]}" --smmu-c "${smmu_c_logs[@]}")
	[ ${#smmu_count_riommu[@]} = 0 ] ||
		docargs+=(--smmu-count-riommu "${smmu_count_riommu[@]}" --smmu-count-c "${smmu_count_c[@]}")
fi
if [ "${BENCH_DOC:-1}" = 0 ] || [ ${#docargs[@]} = 0 ]; then
	log "bench: Documentation/performance.rst left alone (BENCH_DOC=0, BENCH_ONLY, BENCH_MODULE," \
		"BENCH_VTD_ONLY or BENCH_VTD_MODULE)"
	log "bench: done in $(($(date +%s) - bench_t0)) s; output in $out"
	exit 0
fi
[ "$rounds" -ge 5 ] || die "BENCH_ROUNDS=$rounds: the document needs at least 5 rounds"
export BENCH_KERNEL BENCH_QEMU BENCH_QEMU_ARM64 BENCH_CPU BENCH_DATE BENCH_SMP BENCH_ACCEL BENCH_LINE BENCH_LOAD
if [ $do_mock = 1 ]; then
	BENCH_KERNEL=$(sed -n 's/^INFO kernel //p' "$mock_plog" | head -n 1)
	BENCH_LINE=$(grep -m1 '^# riommu_bench:' "$mock_plog" | sed 's/^# riommu_bench: //')
fi
BENCH_QEMU=$(qemu-system-x86_64 --version | head -n 1)
BENCH_QEMU_ARM64=$(qemu-system-aarch64 --version | head -n 1)
BENCH_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
BENCH_SMP=$RIOMMU_SMP
BENCH_ACCEL=${RIOMMU_ACCEL:-tcg}
# The sweeps' figures of the parts the document takes, next to it.
sweep_doc=()
for ((i = 0; i < ${#sweep_docargs[@]}; i += 2)); do
	case "${sweep_docargs[i]}" in
	--mock-sweep) [ "${docargs[0]}" = --mock ] || continue; cp "$out"/perf-mock-*.svg "$(dirname "$doc")/" ;;
	--vtd-sweep) [[ " ${docargs[*]} " == *" --vtd-riommu "* ]] || continue
		cp "$out"/perf-vtd-*.svg "$(dirname "$doc")/" ;;
	esac
	sweep_doc+=("${sweep_docargs[i]}" "${sweep_docargs[i + 1]}")
done
python3 "$here/bench/perfdoc.py" doc "$doc" "${docargs[@]}" ${sweep_doc[@]+"${sweep_doc[@]}"}
log "bench: wrote $doc"
log "bench: done in $(($(date +%s) - bench_t0)) s; output in $out"
