/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Headers bindgen reads for rust/riommu/gen/test_bindings_generated.rs, the
 * test drivers' (riommu_mock, riommu_minimal) bindings only.
 */
#include "../shim/riommu_test_shim.h"
/*
 * The selftest uAPI riommu_mock shares with the C mock: a test uAPI header
 * of iommufd (found through -I$(srctree)/drivers/iommu, Kbuild), not one of
 * its private headers.  drivers/mock/uapi.rs takes its values from here and
 * asserts its structs' layouts against these.
 */
#include <iommufd/iommufd_test.h>
/* riommu_mock's own control-device uAPI, for the same checks. */
#include "../../include/uapi/linux/riommu_mock.h"
