// SPDX-License-Identifier: GPL-2.0
/* The test drivers' shim, compiled in this module (see riommu_test_shim.h). */
#include "../rust/shim/riommu_test_shim.c"
