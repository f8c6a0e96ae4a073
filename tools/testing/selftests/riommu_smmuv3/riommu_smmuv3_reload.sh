#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Unload and reload riommu_smmuv3 in the arm64 test guest, then run the
# nested DMA test again: the driver's teardown (IOMMU unregistered, SMMU
# disabled, tables and queues freed) and a second probe.  TAP output.
#
# The SMMU cannot be unbound through sysfs: riommu_smmuv3 registers its
# platform driver without bind/unbind files (suppress_bind_attrs, as the C
# arm-smmu-v3 driver), because its IOMMU instance must outlive every
# domain, vIOMMU and device that uses it (issue #15); the first checks
# show it.  (Before, an unbind with a vIOMMU alive freed the instance that
# the vIOMMU's teardown then used.)  The devices behind
# the SMMU hold references on the module, so they are removed from the PCI
# bus (edu is unbound from vfio-pci first), the module unloaded (which
# unbinds the SMMU), the module loaded again, and the bus rescanned: once
# without allow_unsafe_viommu, where the vSMMU must be refused, then with
# it, where the nested DMA test must pass again.
#
# Expects riommu_smmuv3.ko in /lib/modules/riommu (tools/vm.sh puts the
# modules there) and riommu_smmuv3_nested in /tests.

ko=/lib/modules/riommu/riommu_smmuv3.ko
drv=/sys/bus/platform/drivers/riommu_smmuv3
# The instance's sysfs name, after QEMU virt's SMMU register base
# (VIRT_SMMU, 0x09050000): riommu_smmuv3 names each SMMU by its base.
iommu=riommu-smmuv3.9050000
n=0
fails=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }
check() { # check DESCRIPTION COMMAND...
	d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}

echo "1..17"
smmu=
for d in "$drv"/*.smmuv3; do
	[ -e "$d" ] && smmu=$d && break
done
if [ -z "$smmu" ] || [ ! -f $ko ]; then
	echo "Bail out! riommu_smmuv3 is not loaded and bound"
	exit 1
fi
smmu=$(basename "$smmu")
check "riommu_smmuv3 has no sysfs unbind file" test ! -e $drv/unbind
check "riommu_smmuv3 has no sysfs bind file" test ! -e $drv/bind
check "the SMMU stays bound" test -e "$drv/$smmu"
# tools/check-arm64.sh loads it with allow_unsafe_viommu=1: TAINT_USER (64).
check "allow_unsafe_viommu tainted the kernel (U)" \
	test $(($(cat /proc/sys/kernel/tainted) & 64)) -ne 0

# reload [PARAM...]: take the devices behind the SMMU away, unload the
# module, load it with PARAM, and bring the devices back.
reload() {
	for d in /sys/bus/pci/drivers/vfio-pci/0000:*; do
		[ -e "$d" ] && basename "$d" >/sys/bus/pci/drivers/vfio-pci/unbind
	done
	held=
	for d in /sys/bus/pci/devices/*; do
		[ "$(basename "$(readlink "$d/iommu" 2>/dev/null)")" = $iommu ] &&
			held="$held $(basename "$d")"
	done
	echo "# the PCI devices behind $iommu:$held"
	check "remove the PCI devices behind the SMMU" remove_held
	check "rmmod riommu_smmuv3 (unbinds the SMMU)" rmmod riommu_smmuv3
	check "the IOMMU instance is gone" test ! -e /sys/class/iommu/$iommu
	check "insmod riommu_smmuv3 again $*" insmod $ko "$@"
	echo 1 >/sys/bus/pci/rescan
	check "the IOMMU instance is back" test -e /sys/class/iommu/$iommu
}
remove_held() {
	[ -n "$held" ] || return 1
	for b in $held; do
		[ -e "/sys/bus/pci/devices/$b" ] || continue
		echo 1 >"/sys/bus/pci/devices/$b/remove" || return 1
	done
}

# Without allow_unsafe_viommu the vSMMU is refused (EOPNOTSUPP), as the C
# driver refuses it on QEMU (no CANWBS, no S2FWB): the nested test skips.
reload
if RIOMMU_SMMUV3_NO_VIOMMU=1 /tests/riommu_smmuv3_nested -r smmu.nested_dma \
	>/tmp/reload-refused.log 2>&1 &&
	grep -q '^ok 1 smmu.nested_dma # SKIP .*EOPNOTSUPP' /tmp/reload-refused.log; then
	ok "no vIOMMU without allow_unsafe_viommu"
else
	not_ok "no vIOMMU without allow_unsafe_viommu"
	sed 's/^/# /' /tmp/reload-refused.log
fi

# With it, the nested DMA works again after the reload.
reload allow_unsafe_viommu=1
# shellcheck disable=SC2016 # expanded by the inner sh
check "the PCI devices are in IOMMU groups again" \
	sh -c 'for d in /sys/bus/pci/devices/*; do [ -e $d/iommu_group ] || exit 1; done'
if /tests/riommu_smmuv3_nested -r smmu.nested_dma >/tmp/reload-nested.log 2>&1 &&
	grep -q '^ok 1 smmu.nested_dma$' /tmp/reload-nested.log; then
	ok "nested DMA after the reload"
else
	not_ok "nested DMA after the reload"
	sed 's/^/# /' /tmp/reload-nested.log
fi
[ $fails = 0 ]
