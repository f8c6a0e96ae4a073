#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Issue #16's rule, checked in make check's lint step: the riommu API
# (rust/riommu/), the shared C shim and the hardware drivers use public
# kernel headers only, and no module imports the IOMMUFD_INTERNAL symbol
# namespace.  Only the test drivers' shim (rust/shim/riommu_test_shim.c,
# linked into riommu_mock and riommu_minimal) may include the private
# headers of drivers/iommu.  Prints each offending line; exits 1 if any.
#
#   tools/check-private-headers.sh
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1

rc=0
private='#[[:space:]]*include[[:space:]]*["<][^">]*(iommu-priv\.h|iommufd_private\.h)'
while IFS= read -r f; do
	case "$f" in
	rust/shim/riommu_test_shim.c) continue ;;
	esac
	if grep -EHn "$private" "$f"; then rc=1; fi
done < <(find rust drivers samples -name '*.[ch]' -not -path '*/target/*' | LC_ALL=C sort)
if grep -rEn --include='*.rs' --include='*.c' --include='*.h' 'IOMMUFD_INTERNAL' rust drivers samples; then
	rc=1
fi
if [ $rc = 0 ]; then
	echo "no private drivers/iommu header outside rust/shim/riommu_test_shim.c; no IOMMUFD_INTERNAL import"
fi
exit $rc
