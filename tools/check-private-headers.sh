#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Issue #16's rule, checked in make check's lint step: the riommu API
# (rust/riommu/), the shared C shim and the hardware drivers use public
# kernel headers only, and no module imports the IOMMUFD_INTERNAL symbol
# namespace.  Only the test drivers' shim (rust/shim/riommu_test_shim.c,
# linked into riommu_mock and riommu_minimal) may include the private
# headers of drivers/iommu; only the test drivers' bindgen header
# (rust/riommu/test_bindings_helper.h) may include iommufd's selftest uAPI,
# iommufd_test.h.  Prints each offending line; exits 1 if any.
#
#   tools/check-private-headers.sh
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

rc=0
# Prints the lines of the C files of rust, drivers and samples, but the
# file $1, that include a header matching $2; sets rc=1 if there are any.
includes_outside() {
	local allowed=$1 header=$2 f
	while IFS= read -r f; do
		[ "$f" = "$allowed" ] && continue
		if grep -EHn "#[[:space:]]*include[[:space:]]*[\"<][^\">]*($header)" "$f"; then rc=1; fi
	done < <(find rust drivers samples -name '*.[ch]' -not -path '*/target/*' | LC_ALL=C sort)
}
includes_outside rust/shim/riommu_test_shim.c 'iommu-priv\.h|iommufd_private\.h'
# iommufd's selftest uAPI (drivers/iommu/iommufd/iommufd_test.h) is no
# private header, but a test one: only the test drivers' bindgen reads it.
includes_outside rust/riommu/test_bindings_helper.h 'iommufd_test\.h'
if grep -rEn --include='*.rs' --include='*.c' --include='*.h' 'IOMMUFD_INTERNAL' rust drivers samples; then
	rc=1
fi
if [ $rc = 0 ]; then
	echo "no private drivers/iommu header outside rust/shim/riommu_test_shim.c; no IOMMUFD_INTERNAL import;" \
		"iommufd_test.h in rust/riommu/test_bindings_helper.h only"
fi
exit $rc
