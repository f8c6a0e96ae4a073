#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The arm64 tests: build the arm64 test kernel, the modules, our selftests
# and the SMMUv3 selftests for arm64, and boot QEMU virt with an emulated
# SMMUv3 (nested stages) and edu twice:
#
#   1. the arm64 modules (`make modules-list ARCH=arm64`: riommu_mock,
#      riommu_minimal, riommu_smmuv3, which binds to the SMMU): our
#      selftests (tools/testing/selftests/riommu, reported with an .arm64
#      suffix: riommu_nested.arm64...) and the SMMUv3 selftests
#      (tools/testing/selftests/riommu_smmuv3), reported as
#      riommu_smmuv3_nested, then riommu_smmuv3_reload.sh (unbind, rmmod,
#      insmod, and the nested test again), then 1000 insmod/rmmod cycles of
#      riommu_mock (modcycle-riommu_mock.sh.arm64) and of riommu_smmuv3
#      (modcycle-riommu_smmuv3.sh; tools/testing/selftests/riommu/
#      riommu_modcycle.sh); riommu_smmuv3_bench_smoke (make bench's SMMUv3
#      program, each measure once with edu DMA checked before and after,
#      so that it cannot rot) runs after the VMM client;
#   2. Linux's arm_smmu_v3.ko bound to the SMMU instead: the SMMUv3
#      program, reported as riommu_smmuv3_nested.c-driver, and the VMM
#      client, as vmm-client.c-driver, and the benchmark's smoke run, as
#      riommu_smmuv3_bench_smoke.c-driver (the C driver refuses the vIOMMU
#      in QEMU, which all three check and report as skips).
#
# In the first boot the VMM client (tools/vmm-client, a static Rust binary
# built with the rust-vmm/Cloud Hypervisor crates of its Cargo.lock) runs
# after riommu_smmuv3_nested: a vSMMU for edu, driven as a VMM drives it.
#
# The kernel's own iommufd selftests are not run on arm64 (they link
# libcap, which Debian only has for the host architecture here).
#
#   tools/check-arm64.sh [--results FILE] [--out DIR]
#
# --results FILE   append the results there (tools/tap.py's TSV) instead of
#                  printing a summary of our own; tools/check.sh uses it.
# --out DIR        where the logs go (default $RIOMMU_OUT/arm64, i.e.
#                  build/arm64)
# Environment:
#   KDIR_ARM64=DIR  an arm64 7.3 build (O= directory, headers installed)
#                   with kernel/arm64.config's options, instead of building
#                   tools/kernel.sh's
#   KSRC=DIR        the kernel source (default: the cached one)
#   RIOMMU_OUT      where the logs go (default build/; this in build/arm64)
#   RIOMMU_PROG_TIMEOUT, RIOMMU_MEM, RIOMMU_SMP: see tools/vm.sh
#
# The modules are built in a copy of the sources (build/arm64-src), so that
# the x86_64 objects of the working tree are left alone.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

results_arg='' out=
while [ $# -gt 0 ]; do
	case "$1" in
	--results) results_arg=$2; shift ;;
	--out) out=$2; shift ;;
	-h | --help) sed -n '/^# The arm64/,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "check-arm64.sh: unknown argument $1" ;;
	esac
	shift
done

out=${out:-${RIOMMU_OUT:-$top/build}/arm64}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out/vm-riommu" "$out/vm-cdriver" "$out/selftests" "$out/selftests-riommu" "$out/modcycle" \
	"$out/bench"
results=${results_arg:-$out/results.tsv}
[ -n "$results_arg" ] || : >"$results"
# tap, record, step: tools/lib.sh.
finish() {
	if [ -z "$results_arg" ]; then
		tap total "$results"
		exit $?
	fi
	exit 0
}

# ---- kernel ----------------------------------------------------------------
t0=$(date +%s)
if [ -n "${KDIR_ARM64:-}" ]; then
	kdir=$(cd "$KDIR_ARM64" && pwd) || { record "arm64 kernel" 1 "no $KDIR_ARM64"; finish; }
	[ -f "$kdir/arch/arm64/boot/Image" ] || { record "arm64 kernel" 1 "no Image in $kdir"; finish; }
else
	if kdir=$("$here/kernel.sh" arm64); then
		record "arm64 kernel" 0
	else
		record "arm64 kernel" 1
		finish
	fi
fi
ksrc=${KSRC:-$RIOMMU_CACHE/src/linux-$KVER}
[ -d "$kdir/source" ] && [ -z "${KSRC:-}" ] && ksrc=$(readlink -f "$kdir/source")
log "arm64: KDIR=$kdir ($(($(date +%s) - t0))s)"

# ---- modules ---------------------------------------------------------------
t0=$(date +%s)
src=${RIOMMU_OUT:-$top/build}/arm64-src
mkdir -p "$src"
# Sources only; the copy's build products are excluded from the sync (and
# so kept: the next build is incremental).
arm64_src_copy "$top" "$src"
if ! step "arm64 modules" "$out/modules.log" make -C "$src" ARCH=arm64 KDIR="$kdir" modules; then
	finish
fi
mapfile -t mods < <(make -s --no-print-directory -C "$src" modules-list ARCH=arm64 KDIR="$kdir")
c_ko=$kdir/drivers/iommu/arm/arm-smmu-v3/arm_smmu_v3.ko
log "arm64: modules built ($(($(date +%s) - t0))s)"

# ---- selftests -------------------------------------------------------------
st=$out/selftests
if ! step "build riommu_smmuv3 selftests" "$out/selftests.log" \
	make -C "$top/tools/testing/selftests/riommu_smmuv3" KDIR="$kdir" KSRC="$ksrc" OUT="$st"; then
	finish
fi
# The C driver's run gets its own program name, so its rows stay apart.
cp "$st/riommu_smmuv3_nested" "$st/riommu_smmuv3_nested.c-driver"
# make bench's SMMUv3 program, in its smoke build (tools/bench/Makefile).
smoke=() smoke_c=()
sb=$out/bench
if step "build riommu_smmuv3_bench_smoke" "$out/bench-smoke.log" \
	make -C "$top/tools/bench" KDIR="$kdir" KSRC="$ksrc" OUT="$sb" smmu-smoke; then
	cp "$sb/riommu_smmuv3_bench_smoke" "$sb/riommu_smmuv3_bench_smoke.c-driver"
	smoke=("$sb/riommu_smmuv3_bench_smoke") smoke_c=("$sb/riommu_smmuv3_bench_smoke.c-driver")
fi
# Our selftests, built for arm64, renamed NAME.arm64 (the x86_64 rows keep
# the plain names).
ours=()
sto=$out/selftests-riommu
if step "build riommu selftests (arm64)" "$out/selftests-riommu.log" \
	make -C "$top/tools/testing/selftests/riommu" KDIR="$kdir" KSRC="$ksrc" OUT="$sto" \
	CC=aarch64-linux-gnu-gcc; then
	mkdir -p "$sto/arm64"
	for p in $(find "$sto" -maxdepth 1 -type f -perm -u+x -not -name 'riommu_demo*' | LC_ALL=C sort); do
		cp "$p" "$sto/arm64/$(basename "$p").arm64"
		ours+=("$sto/arm64/$(basename "$p").arm64")
	done
fi

# The VMM client (tools/vmm-client): Cloud Hypervisor's iommufd crates and
# rust-vmm's vfio-ioctls, locked by its Cargo.lock, built as a static
# aarch64 binary (its .cargo/config.toml, read from its directory); the
# target directory is cached.  Then the crate's uAPI struct sizes against
# this kernel's headers.
vmmc=() vmmc_c=()
vt=$RIOMMU_CACHE/vmm-client/target
if step "build vmm-client (arm64)" "$out/vmm-client.log" env -C "$top/tools/vmm-client" \
	CARGO_TARGET_DIR="$vt" cargo build --release --locked --target aarch64-unknown-linux-gnu; then
	mkdir -p "$out/vmm-client"
	cp "$vt/aarch64-unknown-linux-gnu/release/vmm-client" "$out/vmm-client/vmm-client"
	cp "$vt/aarch64-unknown-linux-gnu/release/vmm-client" "$out/vmm-client/vmm-client.c-driver"
	vmmc=("$out/vmm-client/vmm-client") vmmc_c=("$out/vmm-client/vmm-client.c-driver")
	step "vmm-client uAPI sizes" "$out/vmm-client-uapi.log" \
		"$top/tools/vmm-client/uapi-sizes.py" "$kdir/usr/include" || true
fi

# ---- QEMU ------------------------------------------------------------------
# Each boot's QEMU traces the SMMU's commands and TLBI ranges, and edu's
# configuration reads that mark the bench smoke's windows (one op per
# measure): after both boots, qtrace.py compares the two drivers' work per
# op (below).  One -trace option per event.
trace_events="smmuv3_cmdq_opcode smmuv3_range_inval pci_cfg_read"
vm() { # vm NAME "MODULE..." PROG... (VM_APPEND: more kernel command line)
	local name=$1 t rc=0 m args=() targs=
	t=$(date +%s)
	for m in $2; do args+=(--module "$m"); done
	[ -z "${VM_APPEND:-}" ] || args+=(--append "$VM_APPEND")
	for m in $trace_events; do targs+=" -trace enable=$m"; done
	shift 2
	RIOMMU_QEMU_ARGS="${RIOMMU_QEMU_ARGS:-}$targs -trace file=$out/trace-$name.log" \
		"$here/vm.sh" --arch arm64 --kdir "$kdir" --out "$out/vm-$name" --results "$results" \
		--prog-timeout "${RIOMMU_PROG_TIMEOUT:-300}" --skips "$here/upstream-skips.txt" \
		"${args[@]}" "$@" || rc=$?
	log "arm64: the $name boot took $(($(date +%s) - t))s"
	return $rc
}
# The load/unload cycles last: their first rmmod also checks that the tests
# left nothing pinning the module, and each loads its module again at the
# end.  riommu_mock's row gets the .arm64 suffix of our selftests.
# riommu_smmuv3 makes RIOMMU_SMMUV3_CYCLES (300): its platform driver has
# no sysfs unbind (issue #15), so each cycle removes the PCI devices behind
# the SMMU and rescans the bus, ~0.15-0.4 s a cycle under TCG.
cycles=()
if p=$(modcycle "$out/modcycle" riommu_mock .arm64) &&
	p2=$(modcycle "$out/modcycle" "riommu_smmuv3-${RIOMMU_SMMUV3_CYCLES:-300}"); then
	cycles+=("$p" "$p2")
else
	record "arm64 modcycle" 1 "copying riommu_modcycle.sh failed"
fi
rc=0
# riommu_smmuv3 offers the vSMMU on QEMU's SMMU (no CANWBS, no S2FWB) only
# with allow_unsafe_viommu, which taints the kernel; riommu_smmuv3_reload.sh
# checks the refusal without it.
VM_APPEND=riommu_smmuv3.allow_unsafe_viommu=1 \
	vm riommu "${mods[*]}" ${ours[@]+"${ours[@]}"} "$st/riommu_smmuv3_nested" \
	${vmmc[@]+"${vmmc[@]}"} ${smoke[@]+"${smoke[@]}"} "$st/riommu_smmuv3_reload.sh" ${cycles[@]+"${cycles[@]}"} || rc=1
if [ -f "$c_ko" ]; then
	vm cdriver "$c_ko" "$st/riommu_smmuv3_nested.c-driver" ${vmmc_c[@]+"${vmmc_c[@]}"} \
		${smoke_c[@]+"${smoke_c[@]}"} || rc=1
else
	record "arm64 C driver run" 1 "no $c_ko (ARM_SMMU_V3=m in kernel/arm64.config)"
	rc=1
fi
# The same bench ops under both drivers, counted by QEMU: riommu_smmuv3's
# commands and TLBI pages per op at most the C driver's, and as many of its
# TLBI ranges with a level hint (TTL); a 4 KiB unmap's range covers one
# page, as the C driver's, only with the hint.
if [ ${#smoke[@]} -gt 0 ] && [ ${#smoke_c[@]} -gt 0 ]; then
	step "arm64 SMMUv3 commands per op vs arm_smmu_v3 (QEMU trace)" "$out/qtrace-compare.log" \
		python3 "$here/bench/qtrace.py" compare \
		"$out/vm-riommu/progs/$(basename "${smoke[0]}").log" "$out/trace-riommu.log" \
		"$out/vm-cdriver/progs/$(basename "${smoke_c[0]}").log" "$out/trace-cdriver.log" || rc=1
fi
log "arm64: logs in $out"
finish
