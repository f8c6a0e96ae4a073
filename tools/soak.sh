#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Soak test of riommu_mock: boot the test kernel once (tools/vm.sh) and, in
# the guest,
#   1. N insmod/rmmod cycles of riommu_mock.ko (default 1000), with the slab
#      total (/proc/meminfo SUnreclaim, after dropping caches) and the
#      module count compared before and after: make check's
#      tools/testing/selftests/riommu/riommu_modcycle.sh, with N and the
#      tolerance given;
#   2. M create/destroy cycles of every object kind (device, paging HWPT,
#      nested HWPT, vIOMMU with and without its mmap data, vDEVICE; default
#      10^4), by tools/testing/selftests/riommu/riommu_soak, which checks
#      riommu_mock's counters (RIOMMU_MOCK_STATS, module refcount: exact)
#      and the slab total (/proc/slabinfo, within a tolerance);
#   3. optionally (--fuzz T) a long differential fuzz run,
#      riommu_fuzz --seconds T (the `make fuzz` budget).
# vm.sh's check mode then fails the run on any WARN/BUG/Oops or kmemleak
# report in the console.
#
#   tools/soak.sh [OPTIONS]
#
# -k, --kdir DIR          kernel build directory (default: $KDIR, else
#                         tools/kernel.sh's build in the cache)
#     --ksrc DIR          its source tree (default: $KSRC, DIR/source, DIR)
# -m, --module KO         the module (default: riommu_mock.ko at the top)
#     --cycles N          insmod/rmmod cycles (1000)
#     --objects M         create/destroy cycles per object kind (10000)
#     --fuzz T            also run riommu_fuzz for T seconds (0: no)
#     --fuzz-seed S       its seed (default: random, printed)
#     --slab-tolerance K  KiB the slab totals may grow (module loop: 512,
#                         objects: 1024); see riommu_soak.c for why there is
#                         a tolerance at all
# -o, --out DIR           logs (default: build/soak)
#
# Output: TAP from the guest (one test per check) with the figures as
# comments, then vm.sh's verdict; exit status 0 when everything passed.
#
# Why a tolerance on the slab total: per-CPU object caches keep freed
# objects counted as active, RCU frees land late, and the rest of the
# kernel allocates too.  Our own counters are compared exactly; the slab
# total catches leaks that are not ours to count (core, sysfs), at the
# price of a margin.  Module loading allocates outside the slab (module
# memory is vmalloc'ed), and what it allocates in the slab (sysfs nodes,
# kobjects, the module's notes) is freed on unload.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

kdir=${KDIR:-} ksrc=${KSRC:-} module=$top/riommu_mock.ko out=${RIOMMU_OUT:-$top/build}/soak
cycles=1000 objects=10000 slab_tol='' fuzz=0 fuzz_seed=''
while [ $# -gt 0 ]; do
	case "$1" in
	-k | --kdir) kdir=$2; shift ;;
	--ksrc) ksrc=$2; shift ;;
	-m | --module) module=$2; shift ;;
	--cycles) cycles=$2; shift ;;
	--objects) objects=$2; shift ;;
	--slab-tolerance) slab_tol=$2; shift ;;
	--fuzz) fuzz=$2; shift ;;
	--fuzz-seed) fuzz_seed=$2; shift ;;
	-o | --out) out=$2; shift ;;
	-h | --help) sed -n '/^# Soak/,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "soak.sh: unknown argument $1 (see --help)" ;;
	esac
	shift
done
[[ $cycles =~ ^[0-9]+$ ]] || die "soak.sh: --cycles wants a number"
[[ $objects =~ ^[0-9]+$ ]] || die "soak.sh: --objects wants a number"
[ -z "$slab_tol" ] || [[ $slab_tol =~ ^[0-9]+$ ]] || die "soak.sh: --slab-tolerance wants KiB"
[[ $fuzz =~ ^[0-9]+$ ]] || die "soak.sh: --fuzz wants seconds"
[ -z "$fuzz_seed" ] || [[ $fuzz_seed =~ ^[0-9]+$ ]] || die "soak.sh: --fuzz-seed wants a number"
if [ -z "$kdir" ]; then
	kdir=${RIOMMU_CACHE:-$HOME/.cache/riommu}/build/linux-${KVER:-7.3}-x86_64
fi
[ -d "$kdir" ] || die "soak.sh: no kernel build at $kdir (give --kdir or KDIR=)"
if [ -z "$ksrc" ]; then
	if [ -d "$kdir/source" ]; then ksrc=$(readlink -f "$kdir/source"); else ksrc=$kdir; fi
fi
[ -f "$module" ] || die "soak.sh: no module $module (make modules)"

mkdir -p "$out"
work=$(mktemp -d "${TMPDIR:-/tmp}/riommu-soak.XXXXXX")
trap 'rm -rf "$work"' EXIT

bins=("$work/riommu_soak")
[ "$fuzz" = 0 ] || bins+=("$work/riommu_fuzz")
log "soak: building ${bins[*]##*/}"
make -s -C "$top/tools/testing/selftests/riommu" KDIR="$kdir" KSRC="$ksrc" \
	OUT="$work" "${bins[@]}" >"$out/build.log" 2>&1 ||
	{ tail -n 20 "$out/build.log" >&2; die "soak.sh: building ${bins[*]##*/} failed"; }

# The guest part: a busybox sh script (vm.sh runs it from /tests), which
# runs the module loop, riommu_modcycle.sh (as make check does, but with
# our count and tolerance), then /tests/riommu_soak with the object cycle
# count (and /tests/riommu_fuzz with --fuzz).  vm.sh runs programs without
# arguments, so the script writes riommu_modcycle.sh out of itself and
# calls it with them.  vm.sh runs riommu_soak and riommu_fuzz once more on
# their own afterwards, with their short defaults.
mod=$(basename "$module" .ko)
{
	cat <<EOF
#!/bin/sh
# Generated by tools/soak.sh
cycles=$cycles
objects=$objects
tol=${slab_tol:-512}
otol=${slab_tol:-1024}
mod=$mod
fuzz=$fuzz
fuzz_seed=$fuzz_seed
cat >/tmp/riommu_modcycle.sh <<'RIOMMU_MODCYCLE_EOF'
EOF
	cat "$top/tools/testing/selftests/riommu/riommu_modcycle.sh"
	cat <<'EOF'
RIOMMU_MODCYCLE_EOF
n=0
echo "TAP version 13"
echo "1..$((2 + (fuzz > 0)))"
# prog NAME CMD...: one test, CMD's TAP nested as comments.
prog() {
	name=$1
	shift
	n=$((n + 1))
	if "$@" >/tmp/soak.tap 2>&1; then r=ok; else r="not ok"; fi
	sed 's/^/# /' /tmp/soak.tap
	echo "$r $n $name"
}
# Leaves the module loaded again for riommu_soak.
prog "insmod/rmmod cycles (riommu_modcycle.sh $mod $cycles $tol)" \
	sh /tmp/riommu_modcycle.sh "$mod" "$cycles" "$tol"
prog "object soak (riommu_soak --cycles $objects)" \
	/tests/riommu_soak --cycles "$objects" --slab-tolerance "$otol"
if [ "$fuzz" -gt 0 ]; then
	prog "fuzz (riommu_fuzz --seconds $fuzz)" \
		/tests/riommu_fuzz --seconds "$fuzz" ${fuzz_seed:+--seed "$fuzz_seed"}
fi
EOF
} >"$work/riommu_soak_guest"
chmod 755 "$work/riommu_soak_guest"

# Time: under TCG an insmod/rmmod cycle takes ~0.1 s, an object cycle
# ~1 ms (a device ~2 ms); generous limits, the guest is quick to report.
prog_timeout=$((300 + cycles / 2 + objects / 50 + fuzz + fuzz / 5))
what="$cycles insmod/rmmod cycles, $objects object cycles per kind"
[ "$fuzz" = 0 ] || what+=", fuzz ${fuzz}s"
log "soak: $what (timeout ${prog_timeout}s per program)"
rc=0
"$here/vm.sh" --kdir "$kdir" --module "$module" --out "$out/vm" \
	--prog-timeout "$prog_timeout" --skips "$here/upstream-skips.txt" \
	"$work/riommu_soak_guest" "${bins[@]}" || rc=$?
echo "guest output ($out/vm/progs/riommu_soak_guest.log):"
grep -vE '^# (ok|TAP|1\.\.)' "$out/vm/progs/riommu_soak_guest.log" 2>/dev/null | sed 's/^/  /' || true
exit $rc
