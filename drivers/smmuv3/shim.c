// SPDX-License-Identifier: GPL-2.0
/* riommu_smmuv3's copy of the shared C shim (kbuild builds one per module). */
#include "../../rust/shim/riommu_shim.c"
