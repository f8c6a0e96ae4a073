/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Force-included (gcc -include) into the kselftest programs that
 * tools/check-debug.sh runs on the debug kernel, where everything is about
 * ten times slower (KASAN, lockdep, kmemleak, under TCG): multiplies the
 * per-test timeouts of kselftest_harness.h (the default 30 s and every
 * TEST_F_TIMEOUT) by RIOMMU_TIMEOUT_SCALE.
 *
 * It works because kselftest_harness.h has an include guard (the programs'
 * own #include of it is a no-op after this one) and because its test macros
 * expand TEST_TIMEOUT_DEFAULT and TEST_F_TIMEOUT where the tests are
 * defined, after the redefinitions below.  The programs are unchanged.
 */
#if __has_include("kselftest_harness.h")	/* not for programs without it */
#ifndef RIOMMU_TIMEOUT_SCALE
#define RIOMMU_TIMEOUT_SCALE 10
#endif
/* Some programs include the harness for its helpers only, and silence the
 * unused-function warnings after their own includes: here it comes first. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT (30 * RIOMMU_TIMEOUT_SCALE)
#undef TEST_F_TIMEOUT
#define TEST_F_TIMEOUT(fixture_name, test_name, timeout) \
	__TEST_F_IMPL(fixture_name, test_name, -1, (timeout) * RIOMMU_TIMEOUT_SCALE)
#endif
