/* SPDX-License-Identifier: GPL-2.0 */
/* Headers bindgen reads for rust/riommu/gen/bindings_generated.rs. */
#include <linux/iommu.h>
#include <linux/iommufd.h>
#include "../shim/riommu_shim.h"
