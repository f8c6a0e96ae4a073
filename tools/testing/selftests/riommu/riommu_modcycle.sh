#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Load/unload cycles of one riommu module in the test guest: unload the
# copy tools/vm.sh loaded, then CYCLES times insmod, check that the module
# registered what it should, rmmod, check that it is gone; then compare the
# slab total (/proc/meminfo SUnreclaim, after dropping caches) and the
# module count with their values before the cycles, and load the module
# once more, so that the programs after this one still find it.  TAP
# output, the cycle count and time as comments.
#
#   riommu_modcycle.sh [MODULE [CYCLES [SLAB_TOLERANCE_KIB]]]
#
# tools/vm.sh runs its programs without arguments, so without them the
# module and the count come from the script's own file name:
#   modcycle-MODULE.sh     1000 cycles of MODULE (e.g. modcycle-riommu_mock.sh)
#   modcycle-MODULE-N.sh   N cycles
# Anything from the first dot on is ignored (modcycle-riommu_mock.sh.arm64
# is fine).  tools/lib.sh's modcycle() makes such a copy.  The slab
# tolerance is 512 KiB by default, as in tools/soak.sh, which passes
# arguments.  The module file is /lib/modules/riommu/MODULE.ko, where
# vm.sh puts it.
#
# What is checked per module, after each insmod and after each rmmod:
#   riommu_mock     /dev/riommu-mock and /sys/class/iommu/riommu_mock
#   riommu_minimal  its two instances' buses (/sys/bus/riommu_minimal,
#                   /sys/bus/riommu_minimal1) and /sys/class/iommu entries
#                   (riommu_minimal, riommu_minimal1): two instances of one
#                   driver, registered and unregistered together
#   riommu_vtd      /sys/class/iommu/riommu_vtd0 and QEMU's edu device
#                   (1234:11e8) in an IOMMU group
#   riommu_smmuv3   /sys/class/iommu/riommu-smmuv3.9050000 (QEMU virt's
#                   SMMU base) and edu in a group
#   anything else   /sys/module/MODULE only
# The hardware drivers cannot simply be unloaded: the IOMMU core holds a
# module reference for every device it probed (iommu_init_device()), so
# rmmod fails with EAGAIN while they are there.  Neither can be unbound
# from sysfs: riommu_vtd registers at module init and probes every PCI
# device in the unit's scope (all of them on q35), and riommu_smmuv3's
# platform driver has no unbind file (suppress_bind_attrs: its instance
# must live as long as the module is in use).  Only removing the devices
# releases them.  So each cycle removes them (sysfs "remove"), unloads,
# rescans the bus (the devices come back, untranslated and in no group) and
# loads again, which probes them.

set -u
me=$(basename "$0")
me=${me%%.*}
spec=${me#modcycle-}
mod=${1:-} cycles=${2:-} tol=${3:-512}
if [ -z "$mod" ] && [ "$spec" != "$me" ]; then
	case "$spec" in
	*-*) mod=${spec%-*} cycles=${spec##*-} ;;
	*) mod=$spec ;;
	esac
fi
cycles=${cycles:-1000}
ko=/lib/modules/riommu/$mod.ko
tmp=/tmp/modcycle-$mod

echo "TAP version 13"
if [ -z "$mod" ]; then
	echo "Bail out! no module: run a copy named modcycle-MODULE[-CYCLES].sh, or give MODULE"
	exit 1
fi
case "$cycles$tol" in
*[!0-9]*)
	echo "Bail out! cycles ($cycles) and slab tolerance ($tol) must be numbers"
	exit 1
	;;
esac
if [ ! -f "$ko" ]; then
	echo "Bail out! no $ko"
	exit 1
fi
echo "1..6"

n=0 fails=0
ok() { n=$((n + 1)); echo "ok $n - $*"; }
not_ok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $*"; }
loaded() { [ -d "/sys/module/$mod" ]; }
settle() { sync; echo 3 >/proc/sys/vm/drop_caches; sleep 1; sync; echo 3 >/proc/sys/vm/drop_caches; sleep 1; }
unrecl() { awk '/^SUnreclaim:/ {print $2}' /proc/meminfo; }
nmods() { wc -l </proc/modules; }
# active_objs * objsize per cache, "name bytes" lines (needs SLUB_DEBUG)
slabs() { awk 'NR > 2 { print $1, $2 * $4 }' /proc/slabinfo 2>/dev/null | sort; }
# The caches that changed most between two slabs() files
slabdiff() {
	awk 'NR == FNR { a[$1] = $2; next } { d = $2 - a[$1]; if (d) print (d < 0 ? -d : d), $1, d }' "$1" "$2" |
		sort -rn | head -n 6 | awk '{ printf "#   %-24s %+d bytes\n", $2, $3 }'
}

# QEMU's edu device, for the hardware drivers: its sysfs directory.
edu=
find_edu() {
	for d in /sys/bus/pci/devices/*; do
		if [ "$(cat "$d/vendor" 2>/dev/null)" = 0x1234 ] &&
			[ "$(cat "$d/device" 2>/dev/null)" = 0x11e8 ]; then
			edu=$d
			return 0
		fi
	done
	return 1
}

# Per module: present and absent check the state after insmod and after
# rmmod, setting $why when it is wrong; release makes the module
# unloadable, restore undoes what release did that the next insmod needs.
why=
release() { :; }
restore() { :; }
iommu= # its /sys/class/iommu entry
case "$mod" in
riommu_mock)
	iommu=riommu_mock
	present() {
		[ -c /dev/riommu-mock ] || { why="no /dev/riommu-mock"; return 1; }
		[ -e /sys/class/iommu/$iommu ] || { why="no /sys/class/iommu/$iommu"; return 1; }
	}
	absent() {
		[ ! -e /dev/riommu-mock ] || { why="/dev/riommu-mock still there"; return 1; }
		[ ! -e /sys/class/iommu/$iommu ] || { why="/sys/class/iommu/$iommu still there"; return 1; }
	}
	;;
riommu_minimal)
	iommu=riommu_minimal
	# (Not $i: the cycles count in $i, and sh functions share variables.)
	present() {
		for inst in riommu_minimal riommu_minimal1; do
			[ -d /sys/bus/$inst ] || { why="no /sys/bus/$inst"; return 1; }
			[ -e /sys/class/iommu/$inst ] || { why="no /sys/class/iommu/$inst"; return 1; }
		done
	}
	absent() {
		for inst in riommu_minimal riommu_minimal1; do
			[ ! -e /sys/bus/$inst ] || { why="/sys/bus/$inst still there"; return 1; }
			[ ! -e /sys/class/iommu/$inst ] || { why="/sys/class/iommu/$inst still there"; return 1; }
		done
	}
	;;
riommu_vtd | riommu_smmuv3)
	if [ "$mod" = riommu_vtd ]; then iommu=riommu_vtd0; else iommu=riommu-smmuv3.9050000; fi
	if ! find_edu; then
		echo "Bail out! no edu PCI device (1234:11e8): give QEMU -device edu"
		exit 1
	fi
	present() {
		[ -e /sys/class/iommu/$iommu ] || { why="no /sys/class/iommu/$iommu"; return 1; }
		[ -e "$edu/iommu_group" ] || { why="edu in no IOMMU group"; return 1; }
	}
	absent() {
		[ ! -e /sys/class/iommu/$iommu ] || { why="/sys/class/iommu/$iommu still there"; return 1; }
		[ -e "$edu" ] || { why="edu is gone"; return 1; }
		[ ! -e "$edu/iommu_group" ] || { why="edu still in an IOMMU group"; return 1; }
	}
	;;
*)
	present() { loaded || { why="no /sys/module/$mod"; return 1; }; }
	absent() { ! loaded || { why="/sys/module/$mod still there"; return 1; }; }
	;;
esac
case "$mod" in
riommu_vtd | riommu_smmuv3)
	# The PCI devices the IOMMU translates, which hold the module: looked
	# up at the first release (the module is loaded then), and the same
	# ones every time after.
	held=
	release() {
		if [ -z "$held" ]; then
			for d in /sys/bus/pci/devices/*; do
				[ "$(basename "$(readlink "$d/iommu" 2>/dev/null)")" = $iommu ] &&
					held="$held $(basename "$d")"
			done
			echo "# the PCI devices behind $iommu:$held"
		fi
		[ -n "$held" ] || { why="no PCI device behind $iommu"; return 1; }
		for b in $held; do
			# A bridge's removal takes the devices below it along.
			[ -e "/sys/bus/pci/devices/$b" ] || continue
			echo 1 >"/sys/bus/pci/devices/$b/remove" || { why="removing $b failed"; return 1; }
		done
	}
	restore() {
		echo 1 >/sys/bus/pci/rescan
		for b in $held; do
			[ -e "/sys/bus/pci/devices/$b" ] || { why="$b not back after a rescan"; return 1; }
		done
	}
	;;
esac

# cycle: one insmod, check, release, rmmod, check; $why says what failed.
cycle() {
	insmod "$ko" || { why="insmod failed"; return 1; }
	present || return 1
	release || return 1
	rmmod "$mod" || { why="rmmod failed"; return 1; }
	restore || return 1
	absent
}

# 1. The module vm.sh loaded.  A driver bound to a device behind a hardware
# IOMMU (vfio-pci, left by an earlier DMA test) goes first, as in
# riommu_smmuv3_reload.sh: the devices are about to lose their IOMMU.
if ! loaded; then
	ok "unload $mod # SKIP it was not loaded"
else
	case "$mod" in
	riommu_vtd | riommu_smmuv3)
		for d in /sys/bus/pci/drivers/vfio-pci/0000:*; do
			[ -e "$d" ] && basename "$d" >/sys/bus/pci/drivers/vfio-pci/unbind
		done
		;;
	esac
	why=
	if release && rmmod "$mod" && restore && absent; then
		ok "unload $mod (loaded at boot)"
	else
		not_ok "unload $mod (loaded at boot) # ${why:-rmmod failed}"
	fi
fi

# 2. One warm-up cycle: the first load populates caches that stay (kallsyms,
# sysfs class directories), which is not a leak of the cycles.
warm=0
if loaded; then
	not_ok "warm-up cycle # not run: $mod is still loaded"
elif cycle; then
	ok "warm-up cycle"
	warm=1
else
	not_ok "warm-up cycle # $why"
fi

# 3. The cycles.
if [ $warm = 1 ]; then
	settle
	s0=$(unrecl) m0=$(nmods)
	slabs >"$tmp.slab0"
	t0=$(date +%s)
	i=0 why=
	while [ $i -lt "$cycles" ]; do
		cycle || break
		i=$((i + 1))
	done
	t1=$(date +%s)
	echo "# $mod: $i insmod/rmmod cycles in $((t1 - t0)) s"
	if [ $i = "$cycles" ]; then
		ok "$cycles insmod/rmmod cycles of $mod"
	else
		not_ok "$cycles insmod/rmmod cycles of $mod # cycle $((i + 1)): $why"
	fi
	settle
	s1=$(unrecl) m1=$(nmods)
	slabs >"$tmp.slab1"
	echo "# SUnreclaim before $s0 kB, after $s1 kB ($((s1 - s0)) kB, tolerance $tol kB); modules $m0 -> $m1; largest per-cache differences:"
	slabdiff "$tmp.slab0" "$tmp.slab1"
	# 4, 5. What the cycles leave behind.
	if [ $((s1 - s0)) -le "$tol" ]; then
		ok "slab total back within $tol kB ($((s1 - s0)) kB)"
	else
		not_ok "slab total back within $tol kB ($((s1 - s0)) kB)"
	fi
	if [ "$m0" = "$m1" ]; then
		ok "module count back ($m1)"
	else
		not_ok "module count back # $m0 before, $m1 after"
	fi
else
	not_ok "$cycles insmod/rmmod cycles of $mod # not run"
	not_ok "slab total back # not run"
	not_ok "module count back # not run"
fi

# 6. Leave the module loaded, as vm.sh did, for the programs after this one.
why=
if loaded || insmod "$ko"; then
	if present; then
		ok "$mod loaded again"
	else
		not_ok "$mod loaded again # $why"
	fi
else
	not_ok "$mod loaded again # insmod failed"
fi
[ $fails = 0 ]
