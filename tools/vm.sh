#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the riommu test kernel in QEMU (x86_64: q35; arm64: virt, see --arch),
# load modules, run test programs, and judge the result.
#
#   tools/vm.sh [OPTIONS] [PROG...]
#
# PROG...              programs to run in the guest, in order (host paths;
#                      static binaries or #!/bin/sh scripts).  In check mode
#                      each must print TAP.
# -k, --kdir DIR       kernel build directory (default: $KDIR); the image is
#                      DIR/arch/x86/boot/bzImage (arm64: arch/arm64/boot/Image)
#     --arch ARCH      x86_64 (default: q35) or arm64 (virt with an emulated
#                      SMMUv3 in nested mode and QEMU's edu device; the
#                      console is ttyAMA0, the results go to the second
#                      PL011, ttyAMA1, which QEMU >= 10.0 adds for a second
#                      -serial; busybox from $RIOMMU_CACHE/arm64/busybox)
#     --kernel FILE    the kernel image, if not under --kdir
# -m, --module KO      load KO with insmod before the programs (repeatable,
#                      in order); a failed insmod is a failure.  Module
#                      parameters: --append "NAME.PARAM=VALUE" (NAME: KO's
#                      name without .ko), which the guest's init passes to
#                      insmod as modprobe would
# -o, --out DIR        where the logs go (default: build/vm; emptied first)
#     --mode MODE      check (default): run, leak-scan, power off, judge.
#                      run: run the programs (output on the console), then
#                      a shell if stdin is a terminal, else power off.
#     --prog-timeout S seconds each program may take in the guest (300)
#     --timeout S      seconds QEMU may run (default 120 + S per program);
#                      a QEMU timeout is a failure
#     --append ARGS    more kernel command line
#     --skips FILE     known failures to report as skipped (tools/tap.py)
#     --results FILE   append the results to FILE (tools/tap.py total)
#     --hugepages N    2 MiB huge pages to reserve in the guest (64)
#     --no-kmemleak    skip the leak scan at the end of a check run (it
#                      waits for the last allocations to age, ~7 s)
#     --inject WHAT    break the run on purpose, to test the runner:
#                      warn (LKDTM WARN), oops (LKDTM BUG), hang (the guest
#                      hangs before the programs)
# Environment: RIOMMU_ACCEL (tcg; kvm hangs on some machines), RIOMMU_MEM
# (2G), RIOMMU_SMP (2), RIOMMU_QEMU_ARGS (more QEMU arguments).
#
# Output in --out: console.log (kernel console, ttyS0), tap.log (what the
# guest wrote to ttyS1: the programs' output between markers),
# progs/PROG.log (each program's output), initramfs.cpio, qemu.cmd.
# Exit status: 0 when everything passed, 1 otherwise.
#
# Why a busybox initramfs and not virtme-ng: virtme-ng is not packaged for
# Debian bookworm (it would have to come from PyPI and wants a host
# filesystem shared over virtiofs/9p), while an initramfs of busybox-static,
# the modules and static test programs is built in well under a second,
# boots in a few seconds under TCG, needs no root and nothing but cpio,
# and is the same on every machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

kdir=${KDIR:-}
kernel='' out="${RIOMMU_OUT:-$top/build}/vm" mode=check prog_timeout=300
qemu_timeout='' append='' skips='' results='' hugepages=64 inject='' kmemleak=1
modules=() progs=() arch=x86_64
while [ $# -gt 0 ]; do
	case "$1" in
	-k | --kdir) kdir=$2; shift ;;
	--arch) arch=$2; shift ;;
	--kernel) kernel=$2; shift ;;
	-m | --module) modules+=("$2"); shift ;;
	-o | --out) out=$2; shift ;;
	--mode) mode=$2; shift ;;
	--prog-timeout) prog_timeout=$2; shift ;;
	--timeout) qemu_timeout=$2; shift ;;
	--append) append=$2; shift ;;
	--skips) skips=$2; shift ;;
	--results) results=$2; shift ;;
	--hugepages) hugepages=$2; shift ;;
	--inject) inject=$2; shift ;;
	--no-kmemleak) kmemleak=0 ;;
	-h | --help) sed -n '/^# Boot/,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	--) shift; progs+=("$@"); break ;;
	-*) die "vm.sh: unknown option $1 (see --help)" ;;
	*) progs+=("$1") ;;
	esac
	shift
done
case "$mode" in check | run) ;; *) die "vm.sh: --mode is check or run" ;; esac
# A check run that stops before tools/tap.py has judged the boot (an error
# here: a missing program, module or kernel) still leaves a failed result
# in --results, so that the total cannot pass without the boot's rows.
judged=0
# shellcheck disable=SC2317 # (called by the EXIT trap)
unjudged() {
	local rc=$?
	[ "$judged" = 0 ] && [ "$mode" = check ] && [ -n "$results" ] || return 0
	tap check "vm $(basename "$out")" 1 "vm.sh stopped before the boot ran or was judged (exit status $rc; see the error above)" \
		--results "$results" || true
}
trap unjudged EXIT
case "$inject" in "" | warn | oops | hang) ;; *) die "vm.sh: --inject is warn, oops or hang" ;; esac
# >>> arch (arm64: tools/check-arm64.sh) >>>
case "$arch" in
x86_64) image=arch/x86/boot/bzImage qemu_bin=qemu-system-x86_64 con=ttyS0 tap_tty=/dev/ttyS1
	busybox=$(command -v busybox) || die "busybox missing: install busybox-static" ;;
arm64) image=arch/arm64/boot/Image qemu_bin=qemu-system-aarch64 con=ttyAMA0 tap_tty=/dev/ttyAMA1
	busybox=$RIOMMU_CACHE/arm64/busybox
	[ -x "$busybox" ] || die "no $busybox: run tools/setup.sh" ;;
*) die "vm.sh: --arch is x86_64 or arm64" ;;
esac
# <<< arch <<<
[ -n "$kernel" ] || kernel=${kdir:?vm.sh: give --kdir or KDIR=}/$image
[ -f "$kernel" ] || die "vm.sh: no kernel image $kernel"
qemu_timeout=${qemu_timeout:-$((120 + prog_timeout * ${#progs[@]}))}
command -v $qemu_bin >/dev/null || die "$qemu_bin missing: run tools/setup.sh"

# Only static binaries (or scripts) run in the guest: it has no libc.
is_dynamic() { readelf -l "$1" 2>/dev/null | grep -q 'program interpreter'; }

# ---- the initramfs ---------------------------------------------------------
# Empty the output directory, but only if it is one of ours.
if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ] && [ ! -f "$out/vm.json" ]; then
	die "vm.sh: $out is not empty and not a vm.sh output directory; not deleting it"
fi
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)
root="$out/initramfs"
mkdir -p "$root"/{bin,etc,lib/modules/riommu,tests}
is_dynamic "$busybox" && die "$busybox is not static: install busybox-static"
cp "$busybox" "$root/bin/busybox"
cp "$here/guest/init" "$root/init"
chmod 755 "$root/init"

names() { local f; for f in "$@"; do basename "$f"; done; }
for m in ${modules[@]+"${modules[@]}"}; do
	[ -f "$m" ] || die "vm.sh: no module $m"
	n=$(basename "$m")
	[[ $n =~ ^[A-Za-z0-9._+-]+\.ko$ ]] || die "vm.sh: module name '$n': use [A-Za-z0-9._+-].ko"
	[ -e "$root/lib/modules/riommu/$n" ] && die "vm.sh: two modules named $n"
	cp "$m" "$root/lib/modules/riommu/"
done
for p in ${progs[@]+"${progs[@]}"}; do
	[ -f "$p" ] || die "vm.sh: no program $p"
	n=$(basename "$p")
	[[ $n =~ ^[A-Za-z0-9._+-]+$ ]] || die "vm.sh: program name '$n': use [A-Za-z0-9._+-]"
	[ -e "$root/tests/$n" ] && die "vm.sh: two programs named $n"
	is_dynamic "$p" && die "vm.sh: $p is dynamically linked; the guest has no libc (link with -static)"
	cp "$p" "$root/tests/$n"
	chmod 755 "$root/tests/$n"
done
tty=0
[ -t 0 ] && [ -t 1 ] && tty=1
mod_names=$(names ${modules[@]+"${modules[@]}"} | tr '\n' ' ')
prog_names=$(names ${progs[@]+"${progs[@]}"} | tr '\n' ' ')
cat >"$root/etc/riommu.env" <<EOF
RIOMMU_MODE=$mode
RIOMMU_TTY=$tty
RIOMMU_MODULES="$mod_names"
RIOMMU_PROGS="$prog_names"
RIOMMU_PROG_TIMEOUT=$prog_timeout
RIOMMU_HUGEPAGES=$hugepages
RIOMMU_INJECT=$inject
RIOMMU_KMEMLEAK=$kmemleak
RIOMMU_TAP_TTY=$tap_tty
EOF
# What tools/tap.py needs to know about this run.
json_list() { local s='' w; for w in "$@"; do s+="${s:+, }\"$w\""; done; echo "[$s]"; }
# shellcheck disable=SC2086 # the names are split on purpose
cat >"$out/vm.json" <<EOF
{"mode": "$mode", "prog_timeout": $prog_timeout,
 "modules": $(json_list $mod_names), "progs": $(json_list $prog_names)}
EOF
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$out/initramfs.cpio"

# ---- QEMU ------------------------------------------------------------------
# panic=-1 reboots at once on a panic and -no-reboot turns that into QEMU
# exiting, so a dead kernel never waits for the timeout.  oops=panic: after
# an Oops the kernel may hold locks forever, which would look like a hang;
# panicking gives a quick, clear failure (the tests not yet run are
# reported as "did not run").
cmdline="console=$con iommufd.allow_unsafe_interrupts=1 panic=-1 oops=panic"
cmdline+=" rdinit=/init${append:+ $append}"
accel=${RIOMMU_ACCEL:-tcg}
qemu=("$qemu_bin" -accel "$accel" -smp "${RIOMMU_SMP:-2}"
	-m "${RIOMMU_MEM:-2G}" -nographic -no-reboot -nic none
	-kernel "$kernel" -initrd "$out/initramfs.cpio" -append "$cmdline")
# >>> arch >>>
if [ "$arch" = arm64 ]; then
	# cortex-a57: ARMv8.0, the cheapest CPU for TCG (no pointer
	# authentication to emulate); edu (hw/misc/edu.c) is the DMA engine the
	# SMMUv3 tests drive.
	# shellcheck disable=SC2054 # the commas are QEMU's
	qemu+=(-machine virt,iommu=smmuv3 -global arm-smmuv3.stage=nested
		-device edu,dma_mask=0xffffffffffffffff)
	if [ "$accel" = kvm ]; then qemu+=(-cpu host); else qemu+=(-cpu cortex-a57); fi
else
	qemu+=(-machine q35)
	if [ "$accel" = kvm ]; then qemu+=(-cpu host); fi
fi
# <<< arch <<<
if [ "$mode" = run ]; then
	# The console on this terminal (and in console.log); Ctrl-A x quits.
	# shellcheck disable=SC2054 # the commas are QEMU's
	qemu+=(-chardev "stdio,id=con,mux=on,signal=off,logfile=$out/console.log"
		-serial chardev:con -mon chardev=con,mode=readline)
else
	qemu+=(-serial "file:$out/console.log" -monitor none)
fi
qemu+=(-chardev "file,id=tap,path=$out/tap.log" -serial chardev:tap)
# shellcheck disable=SC2206 # word splitting wanted
qemu+=(${RIOMMU_QEMU_ARGS:-})
printf '%q ' timeout "$qemu_timeout" "${qemu[@]}" >"$out/qemu.cmd"
echo >>"$out/qemu.cmd"

log "vm: booting $(basename "$kernel") ($accel, timeout ${qemu_timeout}s, mode $mode${inject:+, inject $inject}); logs in $out"
: >"$out/tap.log"
start=$(date +%s)
if [ "$mode" = check ]; then
	# Show the guest's progress from its markers while QEMU runs.
	( tail -n +1 -F "$out/tap.log" 2>/dev/null | while IFS= read -r l; do
		case "$l" in
		"@@riommu begin "*) log "vm:   running ${l#@@riommu begin }" ;;
		"@@riommu end "*) log "vm:   finished ${l#@@riommu end }" ;;
		"@@riommu insmod "*) log "vm:   insmod ${l#@@riommu insmod }" ;;
		"@@riommu done") break ;;
		esac
	done ) &
	follower=$!
	rc=0
	timeout -k 10 "$qemu_timeout" "${qemu[@]}" </dev/null || rc=$?
	sleep 0.5
	# Its children first (tail and the reading loop): killed after their
	# parent they would be orphans that keep the output pipes open.
	pkill -P "$follower" 2>/dev/null || true
	kill "$follower" 2>/dev/null || true
	wait "$follower" 2>/dev/null || true
else
	rc=0
	if [ $tty = 1 ]; then
		timeout --foreground -k 10 "$qemu_timeout" "${qemu[@]}" || rc=$?
	else
		timeout -k 10 "$qemu_timeout" "${qemu[@]}" </dev/null || rc=$?
	fi
	[ $tty = 1 ] && stty sane 2>/dev/null
fi
secs=$(($(date +%s) - start))
case $rc in
0) status=ok ;;
124 | 137) status=timeout:$qemu_timeout ;;
*) status=exit:$rc ;;
esac
log "vm: QEMU ran for ${secs}s ($status)"
echo "$secs" >"$out/qemu.secs"

rc=0
judged=1
python3 "$here/tap.py" vm "$out" --mode "$mode" --qemu "$status" \
	${skips:+--skips "$skips"} ${results:+--results "$results"} || rc=$?
[ $rc = 0 ] || log "vm: FAILED; kernel console log: $out/console.log"
exit $rc
