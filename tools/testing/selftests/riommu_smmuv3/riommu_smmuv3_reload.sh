#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Unbind, unload and reload riommu_smmuv3 in the arm64 test guest, then
# run the nested DMA test again: the driver's teardown (IOMMU unregistered,
# SMMU disabled, tables and queues freed) and a second probe.  TAP output.
#
# Expects riommu_smmuv3.ko in /lib/modules/riommu (tools/vm.sh puts the
# modules there) and riommu_smmuv3_nested in /tests.  The devices behind the
# SMMU hold references on the module, so the SMMU is unbound first; edu is
# unbound from vfio-pci before that, and the test program binds it again.

ko=/lib/modules/riommu/riommu_smmuv3.ko
drv=/sys/bus/platform/drivers/riommu_smmuv3
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }
check() { # check DESCRIPTION COMMAND...
	d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}

echo "1..7"
smmu=$(ls -d $drv/*.smmuv3 2>/dev/null | head -n1)
if [ -z "$smmu" ] || [ ! -f $ko ]; then
	echo "Bail out! riommu_smmuv3 is not loaded and bound"
	exit 1
fi
smmu=$(basename "$smmu")
for d in /sys/bus/pci/drivers/vfio-pci/0000:*; do
	[ -e "$d" ] && echo "$(basename "$d")" >/sys/bus/pci/drivers/vfio-pci/unbind
done
check "unbind the SMMU from riommu_smmuv3" sh -c "echo $smmu >$drv/unbind"
check "the IOMMU instance is gone" test ! -e /sys/class/iommu/riommu-smmuv3
check "rmmod riommu_smmuv3" rmmod riommu_smmuv3
check "insmod riommu_smmuv3 again" insmod $ko
check "the IOMMU instance is back" test -e /sys/class/iommu/riommu-smmuv3
check "the PCI devices are in IOMMU groups again" \
	sh -c 'for d in /sys/bus/pci/devices/*; do [ -e $d/iommu_group ] || exit 1; done'
if /tests/riommu_smmuv3_nested -r smmu.nested_dma >/tmp/reload-nested.log 2>&1 &&
	grep -q '^ok 1 smmu.nested_dma' /tmp/reload-nested.log; then
	ok "nested DMA after the reload"
else
	not_ok "nested DMA after the reload"
	sed 's/^/# /' /tmp/reload-nested.log
fi
[ $fails = 0 ]
