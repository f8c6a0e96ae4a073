#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Hot-unplug and rescan QEMU's edu device behind the VT-d IOMMU, with
# translation on: the IOMMU driver releases the device (riommu_vtd: its
# RID_PASID entry blocked, its context entry cleared and invalidated) and
# probes it again (context entry, identity default domain).  TAP output.
# Run riommu_vtd_dma afterwards to check that DMA translates again.

n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fail=1; echo "not ok $n - $*"; }
check() { desc=$1; shift; if "$@"; then ok "$desc"; else not_ok "$desc"; fi; }

echo "TAP version 13"
echo "1..5"
bdf=
for d in /sys/bus/pci/devices/*; do
	if [ "$(cat "$d/vendor")" = 0x1234 ] && [ "$(cat "$d/device")" = 0x11e8 ]; then
		bdf=$(basename "$d")
		break
	fi
done
if [ -z "$bdf" ]; then
	echo "1..0 # SKIP no edu device"
	exit 0
fi
dev=/sys/bus/pci/devices/$bdf
echo "# edu at $bdf, group $(basename "$(readlink "$dev/iommu_group")")"

check "edu is in an IOMMU group" test -e "$dev/iommu_group"
echo 1 >"$dev/remove"
check "edu removed" test ! -e "$dev"
echo 1 >/sys/bus/pci/rescan
check "edu back after a rescan" test -e "$dev"
check "edu is in an IOMMU group again" test -e "$dev/iommu_group"
type=$(cat "$dev/iommu_group/type" 2>/dev/null)
echo "# default domain type: $type"
if [ -e /sys/kernel/debug/riommu_vtd ]; then
	check "riommu_vtd: identity default domain" test "$type" = identity
	grep -q "^translation: true" /sys/kernel/debug/riommu_vtd/info || fail=1
else
	check "intel-iommu: a default domain" test -n "$type"
fi
exit $fail
