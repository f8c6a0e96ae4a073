#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make check-debug`: the QEMU stage of `make check` on the debug kernel
# (KASAN, lockdep, DEBUG_ATOMIC_SLEEP, DEBUG_LIST, kmemleak, failslab and
# fail_page_alloc: kernel/x86_64-debug.config on top of kernel/x86_64.config,
# built with clang, LLVM=-19).  Ends with "N passed, N failed[, N skipped]";
# exits non-zero on any failure.  Any KASAN, lockdep, sleep-in-atomic,
# list-corruption or kmemleak report in the console fails the run
# (tools/tap.py).
#
#   tools/check-debug.sh [--reduced] [--slub-debug[=FLAGS]] [--no-setup]
#
# --reduced      skip the upstream `iommufd` program on the C mock (by far
#                the longest under KASAN+lockdep); run it on riommu_mock,
#                iommufd_fail_nth on both mocks, every riommu
#                program and the VT-d boots (34-46 min; .ci/run runs it after
#                make check when it fits in the CI budget)
# --slub-debug   also boot with slub_debug=FLAGS (default FZPU: consistency
#                checks, red zones, poisoning, owner tracking); mostly
#                redundant with KASAN, and slower
# --no-setup     do not run tools/setup.sh first
#
# Environment:
#   RIOMMU_OUT           logs go to $RIOMMU_OUT/check-debug (default build/)
#   RIOMMU_PROG_TIMEOUT  seconds each guest program may take (1800)
#   RIOMMU_TIMEOUT_SCALE the kselftest harness's per-test timeouts are
#                        multiplied by this (10)
#   RIOMMU_MEM           guest memory (3G here: KASAN's shadow is 1/8 of it,
#                        and its quarantine holds freed objects a while)
#   RIOMMU_ACCEL, RIOMMU_SMP, RIOMMU_QEMU_ARGS: see tools/vm.sh
#
# Stages (each timed):
#   setup       tools/setup.sh
#   kernel      tools/kernel.sh x86_64 debug: cached in
#               $RIOMMU_CACHE/build/linux-7.3-x86_64-debug, apart from the
#               normal kernel; from scratch it takes ~4x the normal one
#   modules     the modules, built with LLVM=-19 against the debug kernel in a
#               copy of the sources, build/debug/src (see below)
#   selftests   the upstream iommufd selftests and ours, static, into
#               build/debug/ (the same programs as make check's)
#   qemu        one boot of the debug kernel (tools/vm.sh), as in make check
#   vtd         make check's VT-d boots (tools/check-vtd.sh) on the debug
#               kernel; RIOMMU_SKIP_VTD=1 skips them
#
# Why a copy of the sources for the modules: kbuild puts an external
# module's objects next to its sources, so building the same tree against
# two kernels (make check's and this one) would clobber each other's .o/.ko
# and the generated bindings.  Kbuild's MO= (separate output directory for
# external modules) does not help here: rust/riommu/bindings.rs includes
# "gen/bindings_generated.rs" relative to the source file, so with MO= the
# Rust code would read the source tree's bindings, generated for the other
# kernel (lockdep changes the size of every lock).  rsync copies only the
# sources (the .gitignore rules exclude build products, which are kept in the
# copy between runs, so the modules rebuild incrementally) and deletes
# sources removed from the tree.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
cd "$top" || exit 1

reduced=0 slub='' setup=1
while [ $# -gt 0 ]; do
	case "$1" in
	--reduced) reduced=1 ;;
	--slub-debug) slub=FZPU ;;
	--slub-debug=*) slub=${1#--slub-debug=} ;;
	--no-setup) setup=0 ;;
	-h | --help)
		# shellcheck disable=SC2016 # the backquotes are the text searched for
		sed -n '/^# `make check-debug`/,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	*) die "check-debug.sh: unknown option $1 (see --help)" ;;
	esac
	shift
done

outroot=${RIOMMU_OUT:-$top/build}
out=$outroot/check-debug
work=$outroot/debug
rm -rf "$out"
mkdir -p "$out" "$work"
results=$out/results.tsv
: >"$results"
times=()

# tap, record, step, stage: tools/lib.sh.
finish() {
	stage_end
	echo
	echo "stage times (check-debug$([ $reduced = 1 ] && echo ", reduced")):"
	printf '  %s\n' "${times[@]}"
	echo "  total        $(($(date +%s) - t_all))s"
	echo "logs: $out"
	local rc=0
	# Rows named "debug: ..." so that they can be added to make check's
	# (cat both results.tsv files | tap.py total).
	sed -i 's/^/debug: /' "$results"
	tap total "$results" >"$out/summary.txt" || rc=$?
	cat "$out/summary.txt"
	exit $rc
}

t_all=$(date +%s)
log "check-debug: load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"

# ---- setup -------------------------------------------------------------
if [ $setup = 1 ]; then
	stage setup
	"$here/setup.sh" 2>&1 | tee "$out/setup.log" >&2
	record setup "${PIPESTATUS[0]}" || finish
fi

# ---- kernel --------------------------------------------------------------
stage kernel
if KDIR=$("$here/kernel.sh" x86_64 debug); then
	record "debug kernel" 0
else
	record "debug kernel" 1
	finish
fi
KSRC=$(readlink -f "$KDIR/source")
export KDIR KSRC
log "KDIR=$KDIR KSRC=$KSRC"

# ---- modules ---------------------------------------------------------------
stage modules
src=$work/src
modules=()
if step "copy sources" "$out/copy.log" rsync -a --delete --exclude=/.git --exclude=/build/ \
	--filter=':- .gitignore' "$top/" "$src/" &&
	step "modules (LLVM=-19)" "$out/modules.log" make -C "$src" modules KDIR="$KDIR" LLVM=-19; then
	mapfile -t modules < <(make -s --no-print-directory -C "$src" modules-list KDIR="$KDIR")
	log "modules: ${modules[*]:-none}"
fi

# ---- selftests -------------------------------------------------------------
# The same programs as make check's, built into build/debug/ (so that the two
# checks can run side by side) with one difference: the kselftest harness's
# per-test timeouts (30 s by default) are multiplied by RIOMMU_TIMEOUT_SCALE,
# through a compiler that force-includes tools/testing/kselftest_timeout_scale.h.
stage selftests
scale=${RIOMMU_TIMEOUT_SCALE:-10}
hdr=$top/tools/testing/kselftest_timeout_scale.h
slowcc=$work/cc-$( (cat "$hdr"; echo "$scale") | sha256sum | cut -c1-12)
if [ ! -x "$slowcc" ]; then
	printf '#!/bin/sh\nexec %s -include %q -DRIOMMU_TIMEOUT_SCALE=%d "$@"\n' \
		"${CC:-gcc}" "$hdr" "$scale" >"$slowcc.tmp" && chmod +x "$slowcc.tmp" && mv "$slowcc.tmp" "$slowcc"
fi
log "kselftest per-test timeouts x$scale (CC=$slowcc)"
progs=()
if up=$(RIOMMU_OUT=$work CC=$slowcc "$here/selftests-upstream.sh" "$KDIR" "$KSRC" 2>"$out/selftests-upstream.log"); then
	record "build upstream selftests" 0
	# The C mock's `iommufd` is left out of the reduced run; its run on
	# riommu_mock stays, as KASAN and lockdep are for our code.
	[ $reduced = 1 ] || progs+=("$up/iommufd")
	progs+=("$up/iommufd.riommu" "$up/iommufd_fail_nth" "$up/iommufd_fail_nth.riommu")
else
	record "build upstream selftests" 1
	tail -n 25 "$out/selftests-upstream.log" >&2
fi
ours=$work/selftests-riommu
# make does not know that the compiler changed: start afresh when it did.
[ "$(cat "$ours/.cc" 2>/dev/null)" = "$slowcc" ] || rm -rf "$ours"
mkdir -p "$ours"
echo "$slowcc" >"$ours/.cc"
if step "build riommu selftests" "$out/selftests-riommu.log" \
	make -C "$top/tools/testing/selftests/riommu" KDIR="$KDIR" KSRC="$KSRC" OUT="$ours" CC="$slowcc"; then
	mapfile -t more < <(find "$ours" -maxdepth 1 -type f -perm -u+x -not -name 'riommu_demo*' | LC_ALL=C sort)
	progs+=(${more[@]+"${more[@]}"})
fi

# ---- QEMU --------------------------------------------------------------------
stage qemu
export RIOMMU_MEM=${RIOMMU_MEM:-3G}
mods=()
for m in ${modules[@]+"${modules[@]}"}; do mods+=(--module "$m"); done
# kasan_multi_shot: report every KASAN bug, not only the first.
# riommu_soak: 1000 object cycles per kind, not 10^4 (ten times slower here),
# and no slab total check: KASAN's quarantine keeps freed objects counted as
# active (+1167 KiB in one run, +35 MiB when the soak ran first), so it
# reports that test as skipped; kmemleak and its exact counters remain.
append="kasan_multi_shot riommu_test.soak_cycles=1000 riommu_test.soak_slab=skip${slub:+ slub_debug=$slub}"
log "guest: $RIOMMU_MEM, command line + '$append'"
"$here/vm.sh" --kdir "$KDIR" --out "$out/vm" --results "$results" \
	--prog-timeout "${RIOMMU_PROG_TIMEOUT:-1800}" --skips "$here/upstream-skips.txt" \
	--append "$append" ${mods[@]+"${mods[@]}"} ${progs[@]+"${progs[@]}"}
# Per-program times, for the CI budget.
grep -a '^@@riommu end ' "$out/vm/tap.log" 2>/dev/null |
	awk '{ split($5, s, "="); printf "  %-28s %5ss\n", $3, s[2] }' >"$out/prog-times.txt"
log "guest program times (QEMU ran $(cat "$out/vm/qemu.secs" 2>/dev/null)s):"
cat "$out/prog-times.txt" >&2

# ---- VT-d ----------------------------------------------------------------------
# make check's VT-d stage (tools/check-vtd.sh: riommu_vtd.ko, then the kernel's
# C driver, with QEMU's intel-iommu and edu doing real DMA) on the debug
# kernel.  The copy's script, so that it loads the copy's riommu_vtd.ko (built
# above with LLVM=-19).  RIOMMU_SKIP_VTD=1 skips it, as for make check.
if [ -x "$src/tools/check-vtd.sh" ] && [ "${RIOMMU_SKIP_VTD:-0}" != 1 ]; then
	stage vtd
	# No insmod/rmmod cycles of riommu_vtd (RIOMMU_VTD_CYCLES=0, unless
	# asked for): their slab check cannot hold under KASAN's quarantine
	# (Documentation/testing.rst), like the other cycle programs'.
	RIOMMU_VTD_CYCLES=${RIOMMU_VTD_CYCLES:-0} \
		RIOMMU_VTD_BOOT_TIMEOUT=${RIOMMU_VTD_BOOT_TIMEOUT:-1800} \
		RIOMMU_PROG_TIMEOUT=${RIOMMU_PROG_TIMEOUT:-1800} \
		"$src/tools/check-vtd.sh" --no-build --results "$results" --out "$out/vtd"
fi

finish
