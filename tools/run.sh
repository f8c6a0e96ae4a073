#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# `make run`: build the kernel and the modules, boot QEMU, load the modules
# and run the demo program ($OUT/riommu_demo, from the riommu selftests
# directory), or, without a demo, show lsmod and /dev/iommu.  With a
# terminal on stdin it then leaves you in a shell in the guest ('poweroff
# -f' or Ctrl-A x to leave); without one the guest powers off.
#
# Environment: KDIR, KSRC, RIOMMU_OUT as for tools/check.sh; QEMU settings
# as for tools/vm.sh.  Logs: build/run/.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"
cd "$top"
outroot=${RIOMMU_OUT:-$top/build}
export RIOMMU_OUT=$outroot

"$here/setup.sh"
default_kdir=$RIOMMU_CACHE/build/linux-$KVER-x86_64
if [ -z "${KDIR:-}" ] || [ "$(readlink -f "$KDIR")" = "$(readlink -f "$default_kdir")" ]; then
	KDIR=$("$here/kernel.sh" x86_64)
fi
KDIR=$(cd "$KDIR" && pwd)
if [ -z "${KSRC:-}" ]; then
	if [ -d "$KDIR/source" ]; then KSRC=$(readlink -f "$KDIR/source"); else KSRC=$KDIR; fi
fi
has_target() { [ -f "$top/Makefile" ] && grep -Eq "^$1[[:space:]]*:" "$top/Makefile"; }

args=()
if has_target modules; then
	log "building the modules"
	make -C "$top" modules KDIR="$KDIR"
	if has_target modules-list; then
		mapfile -t mods < <(make -s --no-print-directory -C "$top" modules-list KDIR="$KDIR")
	else
		mapfile -t mods < <(find "$top" -name '*.ko' -not -path "$outroot/*" -not -path "$top/.git/*" | LC_ALL=C sort)
	fi
	for m in ${mods[@]+"${mods[@]}"}; do
		case "$m" in /*) ;; *) m=$top/$m ;; esac
		args+=(--module "$m")
	done
fi
ours=$outroot/selftests-riommu
if [ -f "$top/tools/testing/selftests/riommu/Makefile" ]; then
	log "building the riommu selftests and demo"
	mkdir -p "$ours"
	make -C "$top/tools/testing/selftests/riommu" KDIR="$KDIR" KSRC="$KSRC" OUT="$ours"
fi
[ -x "$ours/riommu_demo" ] && args+=("$ours/riommu_demo")
# With a terminal the shell may stay as long as you like.
[ -t 0 ] && args+=(--timeout 86400)

exec "$here/vm.sh" --mode run --kdir "$KDIR" --out "$outroot/run" ${args[@]+"${args[@]}"}
