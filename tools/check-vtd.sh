#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The VT-d end-to-end check: build riommu_vtd.ko and the edu DMA selftest
# (tools/testing/selftests/riommu_vtd), then boot QEMU four times with an
# emulated intel-iommu in scalable mode and QEMU's edu device.  QEMU 10.0
# offers one translation stage per unit: the first stage with x-flts=on,
# the second without.  For each stage:
#
#   1. intel_iommu=off and riommu_vtd.ko loaded: the test runs on our
#      driver (the built-in C driver leaves the unit alone); on the
#      second-stage unit with force_nesting=1, so that the nested test
#      checks the nested PASID entries riommu_vtd writes (QEMU reports no
#      ECAP.NEST and cannot translate them);
#   2. intel_iommu=on,sm_on and no riommu module: the same test on the
#      kernel's own C driver, the reference.  Its default domain is a
#      translated DMA domain, so the identity test skips there.  (Not
#      iommu.passthrough=1: after a pass-through DMA, QEMU 10.0 keeps
#      bypassing translation until a context-cache invalidation, which
#      Linux 7.3 does not issue when it attaches a paging domain; every
#      later DMA then goes to physical addresses.  riommu_vtd issues one.)
#
# A fifth boot (first-stage unit, riommu_vtd loaded) makes
# RIOMMU_VTD_CYCLES (300) insmod/rmmod cycles of riommu_vtd
# (tools/testing/selftests/riommu/riommu_modcycle.sh), then runs the DMA
# test on the module loaded last.  It runs QEMU's TCG single-threaded
# (-accel tcg,thread=single: both vCPUs on one host thread): with one host
# thread per vCPU, a guest that removes and rescans q35's PCI devices
# thousands of times while the host's two cores are contended stops taking
# timer interrupts on a vCPU and hangs, with riommu_vtd loaded or not (see
# Documentation/testing.rst).

# The kernel command line tells the test program what to expect
# (riommu_vtd_test.stage=first|second, riommu_vtd_test.nesting=1: a
# parameter of no module, which the kernel ignores).
#
# Both must pass.  The test program requires the driver the command line
# asks for, so a boot where it is missing fails rather than skips.  Each
# boot also runs the smoke run of `make bench`'s VT-d benchmark
# (tools/bench/riommu_vtd_bench --smoke: each measure once, edu DMA
# checked before and after; a second or two).  In the first-stage boots
# it also runs its count windows (riommu_vtd_bench=count:2) under QEMU's
# trace of the unit (tools/bench/qtrace.py, as make bench's count boots):
# a row per boot passes only if every window pairs with the program's
# QCOUNT line and both map measures queued descriptors.
#
#   tools/check-vtd.sh [--results FILE] [--out DIR] [--no-build]
#
#   --results FILE  append the results to FILE (tools/tap.py's TSV, as
#                   tools/check.sh collects them); without it they go to
#                   OUT/results.tsv and the summary is printed at the end
#   --out DIR       logs and binaries (default: $RIOMMU_OUT/vtd, i.e.
#                   build/vtd); each boot's logs in DIR/DRIVER-STAGE
#                   (riommu-first, intel-first, riommu-second, intel-second)
#   --no-build      use the riommu_vtd.ko already built (tools/check.sh has
#                   run make modules); the test program is always built
#
# Environment: KDIR, KSRC (as for tools/check.sh; default the cached test
# kernel), RIOMMU_QEMU_ARGS (more QEMU arguments, added to ours),
# RIOMMU_VTD_BOOT_TIMEOUT (seconds a boot may take, 900), RIOMMU_VTD_CYCLES
# (insmod/rmmod cycles of riommu_vtd in the fifth boot, 300; 0: no fifth
# boot), RIOMMU_PROG_TIMEOUT
# and the other tools/vm.sh variables.
#
# Exit status: 0 when everything passed, 1 otherwise.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

results='' out="${RIOMMU_OUT:-$top/build}/vtd" build=1
while [ $# -gt 0 ]; do
	case "$1" in
	--results) results=$2; shift ;;
	--out) out=$2; shift ;;
	--no-build) build=0 ;;
	-h | --help) sed -n '/^# The VT-d/,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "check-vtd.sh: unknown argument $1 (see --help)" ;;
	esac
	shift
done

KDIR=${KDIR:-$RIOMMU_CACHE/build/linux-$KVER-x86_64}
if [ -z "${KSRC:-}" ]; then
	if [ -d "$KDIR/source" ]; then KSRC=$(readlink -f "$KDIR/source"); else KSRC=$KDIR; fi
fi
export KDIR KSRC

# Empty the output directory, but only if it is one of ours.
if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ] && [ ! -f "$out/.check-vtd" ]; then
	die "check-vtd.sh: $out is not empty and not a check-vtd.sh output directory"
fi
rm -rf "$out"
mkdir -p "$out/bin"
: >"$out/.check-vtd"
own_results=0
if [ -z "$results" ]; then
	results=$out/results.tsv
	: >"$results"
	own_results=1
fi
rc=0
t0=$(date +%s)

# The emulated hardware: QEMU's intel-iommu in scalable mode with PASIDs and
# snoop control (ECAP.SC: both drivers then make every iommufd paging HWPT
# coherent, enforce_cache_coherency), first-stage (x-flts=on) or
# second-stage tables, and edu with a 64-bit DMA mask on the root bus.
#
# riommu_vtd's second-stage boot puts edu behind a PCIe-to-PCI bridge
# (below a root port), where its DMA carries the bridge's requester id
# (secondary bus, devfn 0), a DMA alias (riommu_vtd_test.bridge=1 tells the
# test program).  Not the C driver's: in scalable mode 7.3 sets up the
# context entries of a device's own ids only (pasid.c
# pci_pasid_table_setup() skips the aliases of other pci_devs), so on it
# edu's DMA there finds no context entry (QEMU's trace: "vtd_ce_not_present
# Context entry bus 2 devfn 0 not present") and every DMA test fails.
vtd_common="x-scalable-mode=on,x-pasid-mode=on,snoop-control=on"
edu="-device edu,dma_mask=0xffffffffffffffff"
vtd_qemu_first="-device intel-iommu,$vtd_common,x-flts=on $edu"
vtd_qemu_second="-device intel-iommu,$vtd_common $edu"
vtd_qemu_second_bridge="-device intel-iommu,$vtd_common -device pcie-root-port,id=rp0,bus=pcie.0,chassis=1,slot=1 -device pcie-pci-bridge,id=br0,bus=rp0 $edu,bus=br0,addr=0x1"

# A boot takes 20-40 s under TCG; a hung guest fails after this long.
boot_timeout=${RIOMMU_VTD_BOOT_TIMEOUT:-900}
# The smoke run's count windows: ops per window, and QEMU's trace events
# (as tools/bench.sh's count boots; one -trace option per pattern).
smoke_count=2
smoke_trace_events="-trace enable=vtd_inv_desc* -trace enable=vtd_reg_read -trace enable=vtd_reg_write -trace enable=pci_cfg_read"
# insmod/rmmod cycles of riommu_vtd in the fifth boot (~0.3 s each on this
# 2-core machine in Dec 2026: 1000 took 322 s and hit the 300 s program
# timeout, where an earlier machine made them in 95-120 s).
vtd_cycles=${RIOMMU_VTD_CYCLES:-300}
[[ $vtd_cycles =~ ^[0-9]+$ ]] || die "RIOMMU_VTD_CYCLES=$vtd_cycles: a number of cycles"

# ---- build -------------------------------------------------------------------
ko=$top/riommu_vtd.ko
prog=$out/bin/riommu_vtd_dma
if [ $build = 1 ]; then
	log "vtd: building riommu_vtd.ko (make modules)"
	brc=0
	make -C "$top" modules KDIR="$KDIR" >"$out/modules.log" 2>&1 || brc=$?
	[ $brc = 0 ] && [ ! -f "$ko" ] && brc=1
	record "vtd: build riommu_vtd.ko" $brc || rc=1
	[ $brc = 0 ] || tail -n 25 "$out/modules.log" | sed 's/^/    /' >&2
fi
log "vtd: building the edu DMA selftest"
brc=0
make -C "$top/tools/testing/selftests/riommu_vtd" KDIR="$KDIR" KSRC="$KSRC" \
	OUT="$out/bin" >"$out/selftest.log" 2>&1 || brc=$?
record "vtd: build riommu_vtd_dma" $brc || rc=1
[ $brc = 0 ] || tail -n 25 "$out/selftest.log" | sed 's/^/    /' >&2
# The VT-d benchmark's smoke run (each measure once, edu DMA checked
# before and after), so that `make bench`'s VT-d part cannot rot.
brc=0
make -C "$top/tools/bench" KDIR="$KDIR" KSRC="$KSRC" OUT="$out/bin" vtd-smoke \
	>"$out/bench-smoke.log" 2>&1 || brc=$?
record "vtd: build riommu_vtd_bench_smoke" $brc || rc=1
[ $brc = 0 ] || tail -n 25 "$out/bench-smoke.log" | sed 's/^/    /' >&2

if [ ! -f "$ko" ] || [ ! -f "$prog" ] || [ ! -f "$out/bin/riommu_vtd_replug.sh" ]; then
	record "vtd: QEMU boots" 1 "nothing to boot: the build failed"
	rc=1
else
	# Each boot runs the DMA test, hot-unplugs and rescans edu (release and
	# probe again with translation on), and runs the DMA test again.  The
	# programs get a name per boot and run, so that the result rows differ.
	replug=$out/bin/riommu_vtd_replug.sh
	smoke=$out/bin/riommu_vtd_bench_smoke
	n=0 nboots=4
	[ "$vtd_cycles" -gt 0 ] && nboots=5
	# vmrun TAG QEMU APPEND ARGS...: one boot (vm.sh), logs in $out/TAG.
	vmrun() {
		local tag=$1 qemu=$2 append=$3 t
		shift 3
		log "vtd: boot $n/$nboots, $tag ($append)"
		t=$(date +%s)
		RIOMMU_QEMU_ARGS="${RIOMMU_QEMU_ARGS:-} $qemu" \
			"$here/vm.sh" --kdir "$KDIR" --out "$out/$tag" --results "$results" \
			--prog-timeout "${RIOMMU_PROG_TIMEOUT:-300}" --timeout "$boot_timeout" \
			--append "$append" "$@" || rc=1
		log "vtd: boot $n took $(($(date +%s) - t))s"
	}
	# boot STAGE DRIVER: one boot of the four.
	boot() {
		local stage=$1 drv=$2 qemu append args=() tag
		n=$((n + 1))
		tag=$drv-$stage
		case $stage in
		first) qemu=$vtd_qemu_first ;;
		second) qemu=$vtd_qemu_second ;;
		esac
		append="riommu_vtd_test.stage=$stage"
		if [ "$drv" = riommu ]; then
			append="intel_iommu=off $append"
			args+=(--module "$ko")
			if [ "$stage" = second ]; then
				qemu=$vtd_qemu_second_bridge
				append+=" riommu_vtd_test.bridge=1"
				append+=" riommu_vtd.force_nesting=1 riommu_vtd_test.nesting=1"
				# QEMU's own record of the IOTLB invalidation
				# descriptors (nested_flush_check).
				qemu+=" -trace enable=vtd_inv_desc_iotlb*,file=$out/$tag/qemu-trace.log"
			fi
		else
			append="intel_iommu=on,sm_on $append"
		fi
		if [ "$stage" = first ] && [ -f "$smoke" ]; then
			append+=" riommu_vtd_bench=count:$smoke_count"
			qemu+=" $smoke_trace_events -trace file=$out/$tag/qemu-trace.log"
		fi
		cp "$prog" "$out/bin/vtd_dma-$tag"
		cp "$prog" "$out/bin/vtd_dma-$tag-replugged"
		cp "$replug" "$out/bin/vtd_replug-$tag.sh"
		local progs=("$out/bin/vtd_dma-$tag" "$out/bin/vtd_replug-$tag.sh"
			"$out/bin/vtd_dma-$tag-replugged")
		if [ -f "$smoke" ]; then
			cp "$smoke" "$out/bin/vtd_bench_smoke-$tag"
			progs+=("$out/bin/vtd_bench_smoke-$tag")
		fi
		local accel=${RIOMMU_ACCEL:-tcg}
		if [ "$drv-$stage" = riommu-second ] && [ "${accel%%,*}" = tcg ]; then
			# edu behind the bridge, which vfio-pci resets at each
			# open: with a host thread per vCPU, one such boot
			# (2026-12-03) stopped taking timer interrupts on a vCPU
			# right after a reset and hung (an RCU stall, the host
			# idle), as the cycles boot below did; one thread, as
			# there.
			accel="$accel,thread=single"
		fi
		RIOMMU_ACCEL=$accel vmrun "$tag" "$qemu" "$append" "${args[@]}" "${progs[@]}"
		if [ "$drv-$stage" = riommu-second ]; then
			nested_flush_check "$out/$tag"
		fi
		if [ "$stage" = first ] && [ -f "$smoke" ]; then
			count_check "$out/$tag" "$tag"
		fi
	}
	# count_check DIR TAG: the smoke run's count windows pair up with the
	# trace's, and the map measures queued descriptors.
	count_check() {
		local dir=$1 plog=$1/progs/vtd_bench_smoke-$2.log name="vtd: bench count windows in QEMU's trace, $2" why
		if [ ! -s "$plog" ] || [ ! -s "$dir/qemu-trace.log" ]; then
			record "$name" 1 "no program output ($plog) or no trace ($dir/qemu-trace.log)"
			rc=1
		elif why=$(python3 "$here/bench/qtrace.py" --need-work vtd_map_1m,vtd_map_4k_x256 \
			"$plog" "$dir/qemu-trace.log" 2>&1 >"$dir/counts.txt"); then
			record "$name" 0 "$(grep -c '^QCOUNT ' "$plog") windows paired; counts in $dir/counts.txt"
		else
			record "$name" 1 "${why//$'\n'/; }"
			rc=1
		fi
	}
	# nested_flush_check DIR: when the nesting parent's mappings change,
	# riommu_vtd invalidates what its nested child cached under the child's
	# domain id with IOTLB descriptors (7.3's CACHE_TAG_NESTING_IOTLB), not
	# PASID-based ones.  The nested test unmaps one page of the parent and
	# logs the child's DID and the page's IOVA; QEMU's trace must show a
	# page-selective IOTLB invalidation of that DID at that address (no
	# other descriptor carries both: the child's own teardown is
	# domain-selective).
	nested_flush_check() {
		local dir=$1 line did iova name="vtd: nested-parent unmap invalidates the child DID's IOTLB (QEMU trace)"
		line=$(grep -o 'nested-parent-flush: child did 0x[0-9a-f]* iova 0x[0-9a-f]*' "$dir/tap.log" | tail -n 1)
		did=$(echo "$line" | awk '{print $4}')
		iova=$(echo "$line" | awk '{print $6}')
		if [ -z "$did" ] || [ -z "$iova" ]; then
			record "$name" 1 "the nested test logged no child DID in $dir/tap.log"
			rc=1
		elif grep -Eq "vtd_inv_desc_iotlb_pages iotlb invalidate domain $did addr $iova " "$dir/qemu-trace.log" 2>/dev/null; then
			record "$name" 0 "DID $did, IOVA $iova"
		else
			record "$name" 1 "no vtd_inv_desc_iotlb_pages of DID $did at $iova in $dir/qemu-trace.log"
			rc=1
		fi
	}
	# cycles: the fifth boot, RIOMMU_VTD_CYCLES insmod/rmmod cycles of
	# riommu_vtd on the first-stage unit (riommu_modcycle.sh: each removes
	# the PCI devices behind the unit, unloads, rescans and loads again),
	# then the DMA test on the module loaded last; single-threaded TCG (see
	# the top of this file).
	cycles() {
		local p tag=riommu-cycles
		n=$((n + 1))
		if ! p=$(modcycle "$out/bin" "riommu_vtd-$vtd_cycles"); then
			record "vtd: modcycle riommu_vtd" 1 "copying riommu_modcycle.sh failed"
			rc=1
			return
		fi
		cp "$prog" "$out/bin/vtd_dma-$tag"
		local accel=${RIOMMU_ACCEL:-tcg}
		[ "${accel%%,*}" = tcg ] && accel="$accel,thread=single"
		RIOMMU_ACCEL=$accel \
			vmrun "$tag" "$vtd_qemu_first" "intel_iommu=off riommu_vtd_test.stage=first" \
			--module "$ko" "$p" "$out/bin/vtd_dma-$tag"
	}
	boot first riommu
	boot first intel
	boot second riommu
	boot second intel
	[ "$vtd_cycles" -gt 0 ] && cycles
fi

log "vtd: check-vtd.sh took $(($(date +%s) - t0))s; logs in $out"
if [ $own_results = 1 ]; then
	tap total "$results" || rc=1
fi
exit $rc
