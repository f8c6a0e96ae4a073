#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check`: build everything and run every test, on the host and in
# QEMU.  Ends with the line "N passed, N failed" (", N skipped" when some
# were skipped) summing all of them; exits non-zero on any failure.
#
#   tools/check.sh             (or: make check)
#
# Environment:
#   KDIR=DIR    use this built 7.3 kernel (an O= build directory or a
#               source tree with the build in it) instead of building
#               tools/kernel.sh's; its image is DIR/arch/x86/boot/bzImage
#   KSRC=DIR    that kernel's source (default: DIR/source, or DIR)
#   RIOMMU_OUT  where the logs go (default: build/, this run in build/check)
#   RIOMMU_PROG_TIMEOUT  seconds each guest test program may take (300)
#   RIOMMU_ACCEL, RIOMMU_MEM, RIOMMU_SMP, RIOMMU_QEMU_ARGS: see tools/vm.sh
#
# Stages (each timed):
#   setup       tools/setup.sh (packages, kernel source, Rust bits)
#   kernel      tools/kernel.sh, unless KDIR= names a kernel
#   modules     make modules KDIR=... (when the Makefile has that target)
#   selftests   the kernel's iommufd selftests (tools/selftests-upstream.sh)
#               and ours (make -C tools/testing/selftests/riommu)
#   host tests  cargo test in rust/riommu_core; lint (see lint() below)
#   compile-fail  tools/compile-fail/run.sh: misuses of the riommu API that
#               must not compile (one rustc per case, Kbuild's flags)
#   runner      tools/test-runner/run.sh, the runner's self-test
#   qemu        one boot: load the modules, run the upstream iommufd and
#               iommufd_fail_nth selftests on the C mock and on riommu_mock
#               (PROG.riommu), and ours (tools/vm.sh), last
#               1000 insmod/rmmod cycles of each module (riommu_modcycle.sh)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
cd "$top" || exit 1

outroot=${RIOMMU_OUT:-$top/build}
export RIOMMU_OUT=$outroot
out=$outroot/check
rm -rf "$out"
mkdir -p "$out"
results=$out/results.tsv
: >"$results"
times=()

# has_target T: the top Makefile has a rule for T.
has_target() { [ -f "$top/Makefile" ] && grep -Eq "^$1[[:space:]]*:" "$top/Makefile"; }
# tap, record, step, stage: tools/lib.sh.
finish() {
	stage_end
	echo
	echo "stage times:"
	printf '  %s\n' "${times[@]}"
	echo "logs: $out"
	local rc=0
	tap total "$results" >"$out/summary.txt" || rc=$?
	cat "$out/summary.txt"
	exit $rc
}

# ---- setup -------------------------------------------------------------
t_all=$(date +%s)
stage setup
# setup.sh is quiet when there is nothing to do; on a fresh machine its
# progress lines are worth seeing.
"$here/setup.sh" 2>&1 | tee "$out/setup.log" >&2
record setup "${PIPESTATUS[0]}" || finish

# ---- kernel --------------------------------------------------------------
stage kernel
default_kdir=$RIOMMU_CACHE/build/linux-$KVER-x86_64
if [ -n "${KDIR:-}" ] && [ "$(readlink -f "$KDIR")" != "$(readlink -f "$default_kdir")" ]; then
	if ! kd=$(cd "$KDIR" 2>/dev/null && pwd); then
		record kernel 1 "KDIR=$KDIR does not exist"
		finish
	fi
	KDIR=$kd
	log "using the kernel in KDIR=$KDIR (not building one)"
	if [ ! -f "$KDIR/arch/x86/boot/bzImage" ]; then
		record kernel 1 "no $KDIR/arch/x86/boot/bzImage: build the kernel first"
		finish
	fi
	if [ ! -f "$KDIR/usr/include/linux/iommufd.h" ]; then
		step "kernel headers" "$out/headers.log" make -C "$KDIR" headers_install || finish
	fi
else
	# kernel.sh logs its progress on stderr: let it through.
	if KDIR=$("$here/kernel.sh" x86_64); then
		record kernel 0
	else
		record kernel 1
		finish
	fi
fi
export KDIR
if [ -z "${KSRC:-}" ]; then
	if [ -d "$KDIR/source" ]; then KSRC=$(readlink -f "$KDIR/source"); else KSRC=$KDIR; fi
fi
export KSRC
log "KDIR=$KDIR KSRC=$KSRC"

# ---- modules ---------------------------------------------------------------
stage modules
modules=() modules_built=0
if has_target modules; then
	if step modules "$out/modules.log" make -C "$top" modules KDIR="$KDIR"; then
		modules_built=1
		# The load order: `make -s modules-list` if the Makefile has it
		# (one .ko path a line), else every .ko in the tree, sorted.
		if has_target modules-list; then
			mapfile -t modules < <(make -s --no-print-directory -C "$top" modules-list KDIR="$KDIR")
		else
			mapfile -t modules < <(find "$top" -name '*.ko' -not -path "$outroot/*" -not -path "$top/.git/*" | LC_ALL=C sort)
		fi
		for i in "${!modules[@]}"; do
			case "${modules[$i]}" in /*) ;; *) modules[i]=$top/${modules[$i]} ;; esac
		done
		log "modules: ${modules[*]:-none}"
	fi
else
	log "no 'modules' target in the Makefile yet: no modules to load"
fi

# ---- selftests -------------------------------------------------------------
stage selftests
progs=()
if up=$("$here/selftests-upstream.sh" "$KDIR" "$KSRC" 2>"$out/selftests-upstream.log"); then
	record "build upstream selftests" 0
	# Each twice: on the C mock, and unmodified through the adapter on
	# riommu_mock (PROG.riommu; tools/selftests-upstream.sh).
	progs+=("$up/iommufd" "$up/iommufd_fail_nth" "$up/iommufd.riommu" "$up/iommufd_fail_nth.riommu")
else
	record "build upstream selftests" 1
	tail -n 25 "$out/selftests-upstream.log" >&2
fi
ours=$outroot/selftests-riommu
if [ -f "$top/tools/testing/selftests/riommu/Makefile" ]; then
	mkdir -p "$ours"
	if step "build riommu selftests" "$out/selftests-riommu.log" \
		make -C "$top/tools/testing/selftests/riommu" KDIR="$KDIR" KSRC="$KSRC" OUT="$ours"; then
		# Every executable it built, but the demo (that is for `make run`).
		mapfile -t more < <(find "$ours" -maxdepth 1 -type f -perm -u+x -not -name 'riommu_demo*' | LC_ALL=C sort)
		progs+=(${more[@]+"${more[@]}"})
	fi
fi
# One smoke run of the benchmark (1 round, tiny sizes), so it cannot rot;
# `make bench` is the real run.  Its own OUT, so the find above misses it.
if [ -f "$top/tools/bench/Makefile" ] &&
	step "build bench smoke" "$out/bench-smoke.log" \
		make -C "$top/tools/bench" KDIR="$KDIR" KSRC="$KSRC" OUT="$outroot/bench-smoke" smoke; then
	progs+=("$outroot/bench-smoke/riommu_bench_smoke")
fi
# Last, 1000 insmod/rmmod cycles of each module (riommu_modcycle.sh, a copy
# per module).  After every other program on purpose: the first rmmod also
# checks that nothing the tests did left the module pinned.  Each program
# loads its module again at the end.
for m in ${modules[@]+"${modules[@]}"}; do
	if p=$(modcycle "$out/modcycle" "$(basename "$m" .ko)"); then
		progs+=("$p")
	else
		record "modcycle $(basename "$m" .ko)" 1 "copying riommu_modcycle.sh failed"
	fi
done

# ---- host tests ------------------------------------------------------------
stage "host tests"
if [ -f "$top/rust/riommu_core/Cargo.toml" ]; then
	rc=0
	(cd "$top/rust/riommu_core" && cargo test) >"$out/cargo-test.log" 2>&1 || rc=$?
	tap cargo "$out/cargo-test.log" --name "cargo test (riommu_core)" --rc $rc --results "$results"
fi
# tools/vmm-client's guest encodings, on the host; its target directory is
# cached (the arm64 stage builds it for the guest).
rc=0
(cd "$top/tools/vmm-client" && CARGO_TARGET_DIR=$RIOMMU_CACHE/vmm-client/target \
	cargo test --locked) >"$out/cargo-test-vmm-client.log" 2>&1 || rc=$?
tap cargo "$out/cargo-test-vmm-client.log" --name "cargo test (vmm-client)" --rc $rc --results "$results"
# make bench's trace parser (tools/bench/qtrace.py: windows, counters,
# the VT-d queue's untraced descriptors), on synthetic traces.
step "bench tools unittest (qtrace)" "$out/bench-unittest.log" \
	python3 -m unittest discover -s "$top/tools/bench" -p 'test_*.py' || true

# >>> LINT HOOK (the lead fills this in) >>>
# Lint checks, each recorded as one pass/fail result.  As the Makefile
# grows targets for them, they run here.
lint() {
	if has_target clippy; then
		step "clippy" "$out/clippy.log" make -C "$top" clippy KDIR="$KDIR"
	fi
	step "clippy (vmm-client)" "$out/clippy-vmm-client.log" env -C "$top/tools/vmm-client" \
		CARGO_TARGET_DIR="$RIOMMU_CACHE/vmm-client/target" \
		cargo clippy --locked --all-targets -- -D warnings
	if has_target fmt-check; then
		step "rustfmt" "$out/fmt-check.log" make -C "$top" fmt-check KDIR="$KDIR"
	fi
	# Every shell script of the tools and tests (-x: following lib.sh).
	local scripts
	mapfile -t scripts < <(find "$top/tools" -name '*.sh' | LC_ALL=C sort)
	step "shellcheck" "$out/shellcheck.log" shellcheck -x "${scripts[@]}"
	step "no private headers" "$out/private-headers.log" "$here/check-private-headers.sh"
}
# <<< LINT HOOK <<<
lint

# ---- compile-fail ------------------------------------------------------------
# Each tools/compile-fail/cases/*.rs misuses the API and must fail to compile
# with the errors it names; pass/*.rs must compile.  It reuses the rustc
# command line of the modules' build, so it needs that build.
stage "compile-fail"
if [ $modules_built = 1 ]; then
	rc=0
	"$here/compile-fail/run.sh" "$KDIR" "$out/compile-fail" >"$out/compile-fail.tap" 2>&1 || rc=$?
	tap tap "$out/compile-fail.tap" --name "compile-fail" --rc $rc --results "$results"
else
	record "compile-fail" 1 "not run: the modules did not build"
fi

# ---- the runner's self-test ------------------------------------------------
stage runner
rc=0
"$here/test-runner/run.sh" --kdir "$KDIR" >"$out/test-runner.tap" 2>&1 || rc=$?
tap tap "$out/test-runner.tap" --name "runner self-test" --rc $rc --results "$results"

# ---- QEMU --------------------------------------------------------------------
stage qemu
mods=()
for m in ${modules[@]+"${modules[@]}"}; do mods+=(--module "$m"); done
"$here/vm.sh" --kdir "$KDIR" --out "$out/vm" --results "$results" \
	--prog-timeout "${RIOMMU_PROG_TIMEOUT:-300}" --skips "$here/upstream-skips.txt" \
	${mods[@]+"${mods[@]}"} ${progs[@]+"${progs[@]}"}

# The bench smoke's two-point sweep (SWEEP lines), plotted on the host by
# tools/bench/plot.py check: passes only if each SVG is written with a line
# for both backends (C mock, riommu_mock) of each of its series.
# shellcheck disable=SC2317 # called through step
bench_plot() {
	local py
	py=$(matplotlib_python) || { echo "no python3 with matplotlib (tools/setup.sh)"; return 1; }
	"$py" "$here/bench/plot.py" check "$out/vm/progs/riommu_bench_smoke.log" --out "$out/bench-plot"
}
if [[ " ${progs[*]} " == *"/riommu_bench_smoke "* ]]; then
	step "bench sweep plot" "$out/bench-plot.log" bench_plot
fi

# >>> VT-D HOOK (riommu_vtd) >>>
# Five more boots with QEMU's emulated intel-iommu and edu device: the edu
# DMA test on riommu_vtd.ko and on the kernel's C driver, on a first-stage
# and a second-stage unit, then 1000 insmod/rmmod cycles of riommu_vtd
# (about 3.5 min in all).
# tools/check-vtd.sh appends its results to ours; RIOMMU_SKIP_VTD=1 skips it.
if [ -x "$here/check-vtd.sh" ] && [ "${RIOMMU_SKIP_VTD:-0}" != 1 ]; then
	stage vtd
	"$here/check-vtd.sh" --no-build --results "$results" --out "$out/vtd"
fi
# <<< VT-D HOOK <<<

# >>> ARM64 HOOK (tools/check-arm64.sh) >>>
# The arm64 kernel (cached like the x86_64 one), the modules and the SMMUv3
# selftests for arm64, and two QEMU virt boots with an emulated SMMUv3:
# riommu_smmuv3.ko, then the kernel's C driver.  RIOMMU_SKIP_ARM64=1 skips it.
if [ -x "$here/check-arm64.sh" ] && [ "${RIOMMU_SKIP_ARM64:-0}" != 1 ]; then
	stage arm64
	"$here/check-arm64.sh" --results "$results" --out "$out/arm64"
fi
# <<< ARM64 HOOK <<<

log "make check took $(($(date +%s) - t_all))s"
finish
