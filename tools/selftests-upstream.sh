#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the kernel's own iommufd selftests as static binaries.
#   tools/selftests-upstream.sh KDIR [KSRC]
#
# KDIR is a built kernel with installed uAPI headers ($KDIR/usr/include,
# `make headers_install`); KSRC is its source tree (default: $KDIR/source,
# the link an O= build leaves, else KDIR itself).  Prints the directory that
# holds the binaries `iommufd` and `iommufd_fail_nth` on stdout.
#
# It also builds `iommufd.riommu` and `iommufd_fail_nth.riommu`: the same
# unmodified sources, compiled with -include of
# tools/testing/selftests/riommu/upstream/riommu_adapter.h, which sends
# every mock-device and mock-domain op to riommu_mock (/dev/riommu-mock)
# instead of the C mock (see that header).
#
# The sources are compiled in place (not copied): they include
# "kselftest_harness.h" and "../../../../drivers/iommu/iommufd/iommufd_test.h"
# relative to their own directory.  The binaries are static so that the guest
# initramfs needs no libc.  They are rebuilt only when a hash of the sources,
# the uAPI headers, the flags and this script changes.  The flags are those
# of tools/testing/selftests/{lib.mk,iommu/Makefile}, plus -static.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

kdir=$(cd "${1:?usage: $0 KDIR [KSRC]}" && pwd)
ksrc=${2:-}
if [ -z "$ksrc" ]; then
	if [ -d "$kdir/source" ]; then ksrc=$(readlink -f "$kdir/source"); else ksrc=$kdir; fi
fi
st="$ksrc/tools/testing/selftests"
dir="$st/iommu"
out="${RIOMMU_OUT:-$top/build}/selftests-upstream"
inc="$kdir/usr/include"
progs=(iommufd iommufd_fail_nth)
adapter=$top/tools/testing/selftests/riommu/upstream/riommu_adapter.h

[ -f "$dir/iommufd.c" ] || die "no iommufd selftests in $dir"
[ -f "$inc/linux/iommufd.h" ] ||
	die "no uAPI headers in $inc: run 'make -C $kdir headers_install'"

CC=${CC:-gcc}
cflags=(-Wall -O2 -Wno-unused-function -D_GNU_SOURCE= -isystem "$inc" -I"$st" -static)
libs=(-lcap -lpthread)

# Everything the result depends on.
hash=$( (echo "$CC ${cflags[*]} ${libs[*]}"; "$CC" --version | head -n1
	cat "$0" "$dir"/*.c "$adapter" "$top/include/uapi/linux/riommu_mock.h" "$dir"/*.h "$st"/kselftest*.h \
		"$ksrc/drivers/iommu/iommufd/iommufd_test.h"
	find "$inc" -type f -name '*.h' | LC_ALL=C sort | xargs cat) |
	sha256sum | cut -c1-16)

if [ "$(cat "$out/.stamp" 2>/dev/null)" = "$hash" ]; then
	echo "$out"
	exit 0
fi

mkdir -p "$out"
rm -f "$out/.stamp"
for p in "${progs[@]}"; do
	log "upstream selftest: building $p (static)"
	"$CC" "${cflags[@]}" -o "$out/$p.tmp" "$dir/$p.c" "${libs[@]}" \
		>"$out/$p.log" 2>&1 || { cat "$out/$p.log" >&2; die "building $p failed"; }
	mv "$out/$p.tmp" "$out/$p"
	log "upstream selftest: building $p.riommu (static, riommu_mock adapter)"
	"$CC" "${cflags[@]}" -I"$top/include/uapi" -I"$ksrc/drivers/iommu/iommufd" \
		-include "$adapter" -o "$out/$p.riommu.tmp" "$dir/$p.c" "${libs[@]}" \
		>"$out/$p.riommu.log" 2>&1 || { cat "$out/$p.riommu.log" >&2; die "building $p.riommu failed"; }
	mv "$out/$p.riommu.tmp" "$out/$p.riommu"
done
echo "$hash" >"$out/.stamp"
echo "$out"
