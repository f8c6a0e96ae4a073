#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Self-test of the test runner (tools/vm.sh, tools/tap.py): a runner that
# cannot see failures passes everything, so show that it does see them.
#
#   tools/test-runner/run.sh [--kdir DIR] [--no-vm]
#
# Prints TAP.  The first tests feed tools/tap.py made-up guest output (no
# QEMU, fast).  The last ones boot the kernel in KDIR ($KDIR) six times: a
# good test program must pass; a failing program, a kernel WARN, a kernel
# Oops (a panic, with oops=panic), a program running past its timeout and
# a hung guest must each make tools/vm.sh exit non-zero with a clear
# message.  (Only the good run waits for the kmemleak scan.)
# Without a kernel (or with --no-vm) those are reported as skipped.
# Logs: build/test-runner/.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tools=$(dirname "$here")
top=$(dirname "$tools")
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$tools/lib.sh"

kdir=${KDIR:-} vm=1
while [ $# -gt 0 ]; do
	case "$1" in
	--kdir) kdir=$2; shift ;;
	--no-vm) vm=0 ;;
	*) die "usage: $0 [--kdir DIR] [--no-vm]" ;;
	esac
	shift
done
[ -n "$kdir" ] && [ -f "$kdir/arch/x86/boot/bzImage" ] || vm=0

work="${RIOMMU_OUT:-$top/build}/test-runner"
rm -rf "$work"
mkdir -p "$work"
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n $1"; shift; for l in "$@"; do echo "# $l"; done; }
skip() { n=$((n + 1)); echo "ok $n $1 # SKIP $2"; }

# ---- tools/tap.py on made-up output -------------------------------------
# fake NAME: a results directory as tools/vm.sh leaves it, from stdin
# (tap.log) and $console; vm.json says which programs/modules to expect.
fake() {
	local d="$work/fake/${1// /-}"
	mkdir -p "$d"
	cat >"$d/tap.log"
	printf '%s\n' "${console:-[    0.000000] Linux version 7.3.0-riommu}" >"$d/console.log"
	echo '{"mode": "check", "prog_timeout": 60, "modules": ['"${mods:-}"'], "progs": ["t"]}' >"$d/vm.json"
	echo "$d"
}
# expect NAME WANT-RC PATTERN [tap.py vm options]: judge the fake run,
# check the exit status and that the output matches PATTERN.
expect() {
	local name=$1 want=$2 pat=$3 d got=0
	shift 3
	d=$(fake "$name")
	python3 "$tools/tap.py" vm "$d" "$@" >"$d/out" 2>&1 || got=$?
	if [ "$got" = "$want" ] && grep -Eq -- "$pat" "$d/out"; then
		ok "tap.py: $name"
	else
		notok "tap.py: $name" "exit status $got, wanted $want; output wanted /$pat/:" \
			"$(sed 's/^/  /' "$d/out")"
	fi
}
good_tap() {
	printf '%s\n' "@@riommu boot" "@@riommu begin t" "TAP version 13" "1..2" \
		"ok 1 a" "ok 2 b # SKIP no hardware" "@@riommu end t rc=${1:-0} secs=1" \
		"@@riommu kmemleak leaks=0" "@@riommu done"
}

expect "clean run passes" 0 'ok +t +1 passed, 0 failed, 1 skipped' < <(good_tap)
expect "unexplained exit status fails" 1 'exit status 1 that its TAP does not explain' < <(good_tap 1)
expect "KSFT_SKIP exit with skips passes" 0 'ok +t ' < <(good_tap 4)
expect "killed program fails" 1 'signal 15' < <(good_tap 143)
expect "incomplete plan fails" 1 'incomplete: plan 1..3, 2 test lines' < <(good_tap | sed '/^1\.\.2/s/2/3/')
expect "missing plan fails" 1 'no TAP plan' < <(good_tap | sed '/^1\.\./d')
expect "not ok fails" 1 'not ok: a' < <(good_tap | sed 's/^ok 1 a/not ok 1 a/')
good_tap 1 | sed 's/^ok 1 a/not ok 1 a/' >"$work/skiptap"
echo "t:a known to fail here" >"$work/skips"
expect "skip list turns not ok into a skip" 0 '0 failed, 2 skipped' --skips "$work/skips" <"$work/skiptap"
expect "guest dying mid-program fails" 1 'did not finish' < <(good_tap | sed '/^@@riommu end/,$d')
expect "program that never ran fails" 1 'did not run' < <(good_tap | sed '/^@@riommu begin/,$d')
expect "kmemleak leaks fail" 1 'kmemleak +2 leak' < <(good_tap | sed 's/leaks=0/leaks=2/')
expect "QEMU timeout fails" 1 'QEMU timed out' --qemu timeout:30 < <(good_tap)
mods='"m.ko"' expect "failed insmod fails" 1 'insmod m.ko +rc=1' < <(printf '@@riommu boot\n@@riommu insmod m.ko rc=1\n')
console=$'[ 1.0] WARNING: CPU: 0 PID: 1 at foo.c:1 bar+0x1/0x2\n[ 1.1] Call Trace:' \
	expect "WARNING in the console fails" 1 'console.log:1: .*WARNING: CPU' < <(good_tap)
# The debug kernel's reports (make check-debug): lockdep, sleep in atomic,
# KASAN, a lock used uninitialised.
console=$'[ 1.0] ======================================================\n[ 1.0] WARNING: possible circular locking dependency detected\n[ 1.0] 7.3.4-riommu #1 Not tainted' \
	expect "lockdep splat in the console fails" 1 'console.log:2: .*possible circular locking' < <(good_tap)
console='[ 1.0] BUG: sleeping function called from invalid context at mm/slub.c:4000' \
	expect "sleep in atomic in the console fails" 1 'console.log:1: .*sleeping function' < <(good_tap)
console=$'[ 1.0] ==================================================================\n[ 1.0] BUG: KASAN: slab-use-after-free in riommu_mock_x+0x1/0x2 [riommu_mock]' \
	expect "KASAN report in the console fails" 1 'console.log:2: .*KASAN: slab-use-after-free' < <(good_tap)
console='[ 1.0] INFO: trying to register non-static key.' \
	expect "uninitialised lock in the console fails" 1 'non-static key' < <(good_tap)
console='[ 1.0] unreferenced object 0xffff888003f0 (size 64):' \
	expect "leak report in the console fails" 1 'unreferenced object' < <(good_tap)
console='[ 1.0] Kernel panic - not syncing: Fatal exception' \
	expect "panic in the console fails" 1 'Kernel panic' < <(good_tap)
console=$'[ 1.0] x\n[ 1.1] Call Trace:' \
	expect "unexplained stack dump fails" 1 'stack dump of unknown cause' < <(good_tap)
console=$'[ 1.0] FAULT_INJECTION: forcing a failure.\n[ 1.1] Call Trace:' \
	expect "fault-injection stack dump passes" 0 'kernel log +clean' < <(good_tap)

leak=$'unreferenced object 0xffff888000ee5c80 (size 64):\n  comm "t", pid 1\n  backtrace (crc 0):\n    __kmalloc_cache_noprof+0x145/0x260\n    iommu_mock_device_add+0x20/0x60'
echo "kmemleak:iommu_mock_device_add known upstream leak" >"$work/leakskips"
console=$leak expect "known kmemleak leak is skipped" 0 'skip kmemleak .*known upstream leak' \
	--skips "$work/leakskips" < <(good_tap | sed 's/leaks=0/leaks=1/')
console=$leak expect "other kmemleak leak fails" 1 'FAIL kmemleak' \
	--skips "$work/skips" < <(good_tap | sed 's/leaks=0/leaks=1/')

# cargo test output and the final line.
printf '%s\n' "test result: ok. 7 passed; 0 failed; 1 ignored; 0 measured" \
	"test result: ok. 2 passed; 0 failed; 0 ignored; 0 measured" >"$work/cargo.log"
rm -f "$work/results"
python3 "$tools/tap.py" cargo "$work/cargo.log" --name cargo --results "$work/results" >/dev/null
python3 "$tools/tap.py" check lint 1 --results "$work/results" >/dev/null
if python3 "$tools/tap.py" total "$work/results" >"$work/total" 2>&1; then
	notok "tap.py: total fails when something failed"
elif [ "$(tail -n1 "$work/total")" = "9 passed, 1 failed, 1 skipped" ]; then
	ok "tap.py: cargo counts and the final line"
else
	notok "tap.py: cargo counts and the final line" "$(tail -n1 "$work/total")"
fi

# ---- real QEMU runs --------------------------------------------------------
# vmtest NAME WANT-RC PATTERN [vm.sh options]
vmtest() {
	local name=$1 want=$2 pat=$3 got=0 d="$work/vm-${1// /-}"
	shift 3
	if [ $vm = 0 ]; then
		skip "vm.sh: $name" "no kernel (give --kdir or KDIR=)"
		return
	fi
	"$tools/vm.sh" --kdir "$kdir" --out "$d" "$@" >"$d.out" 2>&1 || got=$?
	if [ "$got" = "$want" ] && grep -Eq -- "$pat" "$d.out"; then
		ok "vm.sh: $name ($(cat "$d/qemu.secs" 2>/dev/null)s)"
	else
		notok "vm.sh: $name" "exit status $got, wanted $want; output wanted /$pat/:" \
			"$(sed 's/^/  /' "$d.out")"
	fi
}
vmtest good 0 'ok +good.sh +4 passed, 0 failed, 1 skipped' "$here/good.sh"
vmtest "failing program" 1 'not ok: this one fails on purpose' --no-kmemleak "$here/good.sh" "$here/broken.sh"
vmtest "kernel WARN" 1 'kernel log .*problem line.*|WARNING: CPU' --no-kmemleak --inject warn "$here/good.sh"
vmtest "kernel Oops" 1 'Kernel panic' --inject oops "$here/good.sh"
printf '#!/bin/sh\necho 1..1\nsleep 1000\n' >"$work/sleeper.sh"
chmod +x "$work/sleeper.sh"
vmtest "program timeout" 1 'signal 15\): timed out after [5-9]s' --no-kmemleak --prog-timeout 5 "$work/sleeper.sh"
vmtest "hung guest" 1 'QEMU timed out after 15s' --inject hang --timeout 15 "$here/good.sh"

echo "1..$n"
[ $failed = 0 ]
