// SPDX-License-Identifier: GPL-2.0
/*
 * riommu_vtd_bench: iommufd latencies through a VT-d driver, with QEMU's
 * edu device bound to vfio-pci (VFIO cdev, VFIO_DEVICE_BIND_IOMMUFD) and
 * attached to the HWPTs measured.  The same program runs in two boots of
 * the same QEMU configuration (-device intel-iommu,x-scalable-mode=on,
 * x-flts=on,x-pasid-mode=on -device edu,dma_mask=0xffffffffffffffff):
 * one with riommu_vtd.ko (intel_iommu=off), one with the kernel's C
 * driver (intel_iommu=on,sm_on); both drivers cannot own the one unit in
 * one boot.  tools/bench.sh runs both and takes the ratios.
 *
 * Measures (keys as printed by --list):
 *   vtd_map_1m      one IOMMU_IOAS_MAP of 1 MiB (256 physically
 *                   discontiguous 4 KiB pages) at a fixed IOVA, then one
 *                   IOMMU_IOAS_UNMAP of it; the IOAS's only HWPT is a
 *                   paging HWPT (IOMMU_HWPT_ALLOC on it) attached to edu
 *   vtd_map_4k_x256 the same 256 pages with 256 IOAS_MAP calls of 4 KiB
 *                   (consecutive IOVAs), then 256 IOAS_UNMAP calls of
 *                   4 KiB; one op is all 512 calls
 *   vtd_replace     VFIO_DEVICE_ATTACH_IOMMUFD_PT of edu, attached, to the
 *                   other of two paging HWPTs of one IOAS (a replace); one
 *                   op is one replace
 *   vtd_inval_1, vtd_inval_64 (and _entry: per entry)
 *                   one IOMMU_HWPT_INVALIDATE call with 1 or 64
 *                   IOMMU_HWPT_INVALIDATE_DATA_VTD_S1 entries (one 4 KiB
 *                   page each) on a nested IOMMU_HWPT_DATA_VTD_S1 HWPT
 *                   over a NEST_PARENT paging HWPT, attached to edu.  When
 *                   the driver cannot allocate those (QEMU reports no
 *                   ECAP.NEST: EOPNOTSUPP), the measure is "n/a" with the
 *                   failing step and its errno, never a number.  If the
 *                   nested HWPT exists but edu cannot be attached to it,
 *                   the calls are timed on the unattached HWPT and the
 *                   result says so.
 *
 * Sweeps (--sweep, on by default; "sweep" for --only; not in --smoke):
 * after the measures, IOAS_MAP + UNMAP of x = 4 KiB, 16 KiB, ... 64 MiB
 * in 4 KiB calls (series map_4k) and in one call (map_1), see
 * sweep_run(); each point: a warm-up op sizes one batch of >= --sweep-ms
 * (5), then --sweep-rounds (5) rounds, each the best of --sweep-subs (2)
 * batches.  Within the RESULTS block:
 *   SWEEP backend series x median min max
 * (ns per op; backend "Rust" for riommu_vtd, "C" for intel-iommu, as
 * riommu_bench's SWEEP lines), for tools/bench/plot.py.
 *
 * Before and after the measures, edu DMAs through the map HWPT (and
 * through a replace HWPT) and the data must land where the IOVAs say: the
 * domains timed are live.
 *
 * Timing as riommu_bench (tools/bench/edu_bench.h): round 0 warms up and
 * sizes each measure's batch to at least --batch-ms; each of --rounds
 * rounds runs --subs batches per measure and keeps the best (host
 * preemption of the vCPU thread only ever adds time); the result is the
 * median over the rounds with the spread (min-max).
 *
 *   riommu_vtd_bench [--rounds N] [--subs N] [--batch-ms MS] [--only KEY,...]
 *                    [--profile above|all|KEY,...] [--profile-ms MS] [--list]
 *   riommu_vtd_bench --smoke     setup, the DMA checks and each measure
 *                                once, as TAP
 *   riommu_vtd_bench --count N   count mode, for QEMU's trace
 *                                (tools/bench/qtrace.py): after setup,
 *                                for each measure (--only), one warm-up
 *                                op, then a marked window
 *                                (qcount_begin/qcount_end, bench_util.h)
 *                                around N ops; nothing is timed.  With
 *                                --smoke: the smoke run, then the count
 *                                windows as one more TAP test
 *
 * --profile: after the table, a kernel profile of each measure profiled
 * (all, the given keys, or "above", which is "all" here: a boot runs one
 * driver, so the program has no ratio Rust/C), --profile-ms (1500) of
 * perf_event_open sampling per measure, between "PROFILE begin KEY
 * BACKEND" and "PROFILE end KEY BACKEND" lines, BACKEND the driver and
 * the stage of the unit's paging domains (from ECAP): riommu_vtd/first-
 * stage, intel-iommu/second-stage...; see tools/bench/profile.h.  Then
 * edu DMAs through the map HWPT once more.  Not in --smoke nor --count.
 *
 * Options may also come from the kernel command line, as
 * riommu_vtd_bench=rounds:7,only:vtd_map_1m+vtd_replace ('+' for ',').
 * A binary built with -DBENCH_DEFAULT_SMOKE defaults to --smoke.
 *
 * Output (count mode: "QCOUNT key N" before each window, NA lines as below
 * for the measures that are n/a, and "COUNTED n" at the end): INFO lines (driver, kernel, module parameters, ECAP/CAP), a human
 * table, then between "RESULTS begin" and "RESULTS end":
 *   RESULT key unit median min max | label | note
 *   VALUES key v1 v2 ...      (after a RESULT: each round's value, ns)
 *   NA key ERRNO | label | why
 * (note may be empty).  Absolute times under QEMU TCG mean nothing across
 * machines; compare the two drivers' boots of one bench.sh run.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "edu_bench.h"

#define INV_MAX		64
/* ECAP.FLTS, ECAP.SLTS: first- and second-stage translation, bits 47 and 46 */
#define ECAP_FLTS	(1ULL << 47)
#define ECAP_SLTS	(1ULL << 46)
/* ECAP.NEST (nested translation), bit 26 */
#define ECAP_NEST	(1ULL << 26)

/*
 * --count N: ops per counted window (0: no count mode).  The counts are
 * exact, so N only needs to show a per-op figure that does not depend on
 * it (a driver's batching would show as a fraction); 16 keeps the window
 * short under TCG.
 */
#define COUNT_DEFAULT	16

/* ------------------------------------------------------------------------ */
/* State (edu, the map and replace HWPTs: edu_bench.h)                      */

static int driver = -1;
static const char *stage = "none";	/* of the unit's paging domains (ECAP) */
static char *s1_table;			/* the nested HWPT's (empty) stage-1 table */

/* Nesting: an IOAS, a NEST_PARENT paging HWPT on it, a nested HWPT */
static uint32_t nest_ioas, nest_parent, nested;
static char nest_na[192];		/* why there is no nested HWPT ("": there is) */
static int nest_errno;
static char nest_note[192];		/* why the nested HWPT is not attached */
static struct iommu_hwpt_vtd_s1_invalidate inv[INV_MAX];

/* ------------------------------------------------------------------------ */
/* Measures (map and replace: edu_bench.h)                                  */

static int op_inval(const struct measure *m, long iters)
{
	while (iters--) {
		struct iommu_hwpt_invalidate cmd = {
			.size = sizeof(cmd),
			.hwpt_id = nested,
			.data_uptr = (uintptr_t)inv,
			.data_type = IOMMU_HWPT_INVALIDATE_DATA_VTD_S1,
			.entry_len = sizeof(inv[0]),
			.entry_num = m->param,
		};

		if (ioctl(edu.iommufd, IOMMU_HWPT_INVALIDATE, &cmd))
			return -1;
		if (cmd.entry_num != m->param) {
			errno = EIO;
			return -1;
		}
	}
	return 0;
}

static uint32_t nested_pt;	/* nested if edu can be attached to it, else 0 */

static struct measure measures[] = {
	{ "vtd_map_1m", "IOAS_MAP + UNMAP, 1 MiB (4K x 256) in one call each",
	  op_map_1m, &map_hwpt },
	{ "vtd_map_4k_x256", "IOAS_MAP + UNMAP, 4K x 256 in 256 calls each",
	  op_map_4k_x256, &map_hwpt },
	{ "vtd_replace", "replace edu between two paging HWPTs", op_replace,
	  &rep_hwpt[0] },
	{ "vtd_inval_1", "HWPT_INVALIDATE (VTD_S1), 1 entry (per call)", op_inval,
	  &nested_pt, nest_na, &nest_errno, nest_note, 1 },
	{ "vtd_inval_64", "HWPT_INVALIDATE (VTD_S1), 64 entries (per call)", op_inval,
	  &nested_pt, nest_na, &nest_errno, nest_note, INV_MAX, "vtd_inval_64_entry",
	  "HWPT_INVALIDATE (VTD_S1), 64 entries (per entry)" },
};
_Static_assert(INV_MAX == 64, "the labels above");

/* ------------------------------------------------------------------------ */
/* Setup                                                                    */

static void nesting_na(const char *step, int e)
{
	nest_errno = e;
	snprintf(nest_na, sizeof(nest_na), "%s: %s (%s)", step, errno_name(e), strerror(e));
	printf("# nesting unavailable: %s\n", nest_na);
}

/*
 * A NEST_PARENT paging HWPT on an IOAS mapping an empty stage-1 table at
 * IOVA_MAP, and a nested VTD_S1 HWPT over it (4-level, that table); then
 * edu attached to it, once, to see whether it can be.
 */
static void setup_nesting(void)
{
	struct iommu_hwpt_vtd_s1 s1 = { .pgtbl_addr = IOVA_MAP, .addr_width = 48 };
	unsigned int i;

	for (i = 0; i < INV_MAX; i++)
		inv[i] = (struct iommu_hwpt_vtd_s1_invalidate){
			.addr = IOVA_MAP + i * PAGE_4K, .npages = 1 };
	if (ioas_alloc(edu.iommufd, &nest_ioas) ||
	    ioas_map(edu.iommufd, nest_ioas, s1_table, IOVA_MAP, PAGE_4K)) {
		fail("nesting IOAS: %s", strerror(errno));
		return;
	}
	if (hwpt_alloc(edu.iommufd, edu.devid, nest_ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
		       IOMMU_HWPT_DATA_NONE, NULL, 0, &nest_parent)) {
		nesting_na("IOMMU_HWPT_ALLOC (NEST_PARENT paging HWPT)", errno);
		return;
	}
	if (hwpt_alloc(edu.iommufd, edu.devid, nest_parent, 0, IOMMU_HWPT_DATA_VTD_S1,
		       &s1, sizeof(s1), &nested)) {
		nesting_na("IOMMU_HWPT_ALLOC (nested IOMMU_HWPT_DATA_VTD_S1 HWPT)", errno);
		return;
	}
	if (use_pt(nested)) {
		snprintf(nest_note, sizeof(nest_note),
			 "nested HWPT not attached to edu (VFIO_DEVICE_ATTACH_IOMMUFD_PT: %s)",
			 errno_name(errno));
		printf("# %s: invalidations timed unattached\n", nest_note);
	} else {
		nested_pt = nested;
		printf("# nested HWPT %u on NEST_PARENT HWPT %u, attached to edu\n", nested,
		       nest_parent);
	}
}

static int setup(void)
{
	struct iommu_hw_info_vtd vtd = {};
	struct iommu_hw_info info = { .size = sizeof(info), .data_len = sizeof(vtd),
				      .data_uptr = (uintptr_t)&vtd };
	const char *what;
	int expect = expected_backend();

	driver = active_backend();
	printf("INFO driver %s\n", backend_name(driver));
	if (driver < 0 || (expect >= 0 && expect != driver)) {
		fail("the VT-d driver the command line asks for (%s) is not active (%s)",
		     backend_name(expect), backend_name(driver));
		return -1;
	}
	if (edu_open(&edu, &what) || edu_map_bar(&edu, &what)) {
		fail("%s: %s", what, strerror(errno));
		return -1;
	}
	info.dev_id = edu.devid;
	if (!ioctl(edu.iommufd, IOMMU_GET_HW_INFO, &info)) {
		printf("INFO hw ECAP %#llx (NEST %d), CAP %#llx\n",
		       (unsigned long long)vtd.ecap_reg, !!(vtd.ecap_reg & ECAP_NEST),
		       (unsigned long long)vtd.cap_reg);
		/* The stage of the unit's paging domains (QEMU offers one). */
		stage = vtd.ecap_reg & ECAP_FLTS ? "first" :
			vtd.ecap_reg & ECAP_SLTS ? "second" : "none";
		printf("INFO stage %s\n", stage);
	}
	printf("# edu at %s\n", edu.bdf);

	s1_table = mmap(NULL, PAGE_4K, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (s1_table == MAP_FAILED) {
		fail("stage-1 table: %s", strerror(errno));
		return -1;
	}
	if (setup_map_replace() || dma_check_map_1m("before the measures") ||
	    dma_check_replace())
		return -1;
	setup_nesting();
	return failures ? -1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Sweeps: how the cost grows with the size (issue #20, part 4)             */

/*
 * Series (values: ns per op), on the map IOAS and its paging HWPT, edu
 * attached, as the vtd_map_* measures, with their own buffer of physically
 * scattered 4 KiB pages:
 *   map_4k  x bytes mapped with x / 4 KiB IOAS_MAP calls of 4 KiB
 *           (consecutive IOVAs from IOVA_MAP), then unmapped with as many
 *           IOAS_UNMAP calls of 4 KiB; one op is all of those calls
 *   map_1   x bytes in one IOAS_MAP call, then one IOAS_UNMAP
 * x grows by SWEEP_FACTOR from SWEEP_MAP_MIN to SWEEP_MAP_MAX.  The
 * nested invalidation is not swept here: the C driver has no nesting on
 * QEMU, so there would be no pair (riommu_bench sweeps the mocks').
 */
#define SWEEP_FACTOR 4			/* issue #20: powers of 4 */
#define SWEEP_MAP_MIN PAGE_4K		/* issue #20: 4 KiB ... */
#define SWEEP_MAP_MAX (64ULL << 20)	/* ... to 64 MiB */
#define SWEEP_MAX_POINTS 16		/* 4K << 2k up to 64M: 8 points */

_Static_assert(IOVA_MAP + SWEEP_MAP_MAX <= 0xfee00000ULL, "below the MSI window");

static struct sweep_opts swopt = SWEEP_OPTS_DEFAULT;

enum { SW_MAP_4K, SW_MAP_1, NR_SW };
static const char *const sweep_series[NR_SW] = { "map_4k", "map_1" };

struct sweep_point {
	uint64_t x;
	int n;
	double v[MAX_ROUNDS];
};

static struct sweep_point sweep_pts[NR_SW][SWEEP_MAX_POINTS];
static int sweep_npts[NR_SW];
static char *sweep_buf;

/* @iters times the op of series @s at @x; 0 or -1 (errno) */
static int sweep_op(int s, uint64_t x, long iters)
{
	while (iters--)
		if (s == SW_MAP_1 ? map_unmap_each(sweep_buf, IOVA_MAP, x, 1) :
				    map_unmap_each(sweep_buf, IOVA_MAP, PAGE_4K, x / PAGE_4K))
			return -1;
	return 0;
}

static double sweep_timed(int s, uint64_t x, long iters)
{
	double t0 = now_ns();

	if (sweep_op(s, x, iters)) {
		fail("sweep %s at %" PRIu64 ": %s", sweep_series[s], x, strerror(errno));
		return -1;
	}
	return (now_ns() - t0) / iters;
}

/*
 * Every point of every series: a warm-up op sizes one batch of
 * >= swopt.batch_ms, then swopt.rounds rounds, each the best of swopt.subs
 * batches; SWEEP lines come out with
 * the RESULT lines (sweep_print).
 */
static int sweep_run(void)
{
	size_t pages = SWEEP_MAP_MAX / PAGE_4K;
	double t0 = now_ns(), t;
	unsigned int runs;
	uint64_t x;
	long iters;
	int s, r;

	sweep_buf = scattered_pages(pages, &runs);
	if (!sweep_buf)
		return -1;
	if (use_pt(map_hwpt)) {
		fail("sweep: attach edu to the map HWPT: %s", strerror(errno));
		return -1;
	}
	printf("# sweeps: buffer of %zu 4K pages in %u physically contiguous runs,"
	       " %d rounds, best of %d batches of >= %.0f ms\n", pages, runs, swopt.rounds,
	       swopt.subs, swopt.batch_ms);
	for (s = 0; s < NR_SW; s++) {
		double ts = now_ns();

		for (x = SWEEP_MAP_MIN; x <= SWEEP_MAP_MAX && sweep_npts[s] < SWEEP_MAX_POINTS;
		     x *= SWEEP_FACTOR) {
			struct sweep_point *p = &sweep_pts[s][sweep_npts[s]++];

			p->x = x;
			t = sweep_timed(s, x, 1);
			if (t < 0)
				return -1;
			iters = batch_iters(t, 1, swopt.batch_ms);
			for (r = 0; r < swopt.rounds && p->n < MAX_ROUNDS; r++) {
				double best = -1;
				int k;

				for (k = 0; k < swopt.subs; k++) {
					t = sweep_timed(s, x, iters);
					if (t < 0)
						return -1;
					if (best < 0 || t < best)
						best = t;
				}
				p->v[p->n++] = best;
			}
		}
		printf("# sweep %s: %d points in %.1f s\n", sweep_series[s], sweep_npts[s],
		       (now_ns() - ts) / 1e9);
	}
	printf("# sweeps done in %.1f s\n", (now_ns() - t0) / 1e9);
	return 0;
}

/*
 * SWEEP backend series x median min max (ns per op), backend "Rust" for
 * riommu_vtd and "C" for intel-iommu, the tags of riommu_bench's SWEEP lines.
 */
static void sweep_print(void)
{
	const char *tag = driver == RIOMMU_VTD ? "Rust" : "C";
	double med, min, max;
	int s, i;

	for (s = 0; s < NR_SW; s++)
		for (i = 0; i < sweep_npts[s]; i++) {
			const struct sweep_point *p = &sweep_pts[s][i];

			med_min_max(p->v, p->n, &med, &min, &max);
			printf("SWEEP %s %s %" PRIu64 " %.1f %.1f %.1f\n", tag, sweep_series[s],
			       p->x, med, min, max);
		}
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */

/* ------------------------------------------------------------------------ */
/* Main                                                                     */

static const char *const flag_opts[] = { "smoke", "list", "sweep", "profile", NULL };

static int set_opt(const char *k, const char *v)
{
	if (!strcmp(k, "count")) {
		char *end = NULL;

		count_iters = v ? strtol(v, &end, 10) : COUNT_DEFAULT;
		if (v && (*end || count_iters < 1))
			return -1;
		return 0;
	}
	return bench_opt(&opt, k, v) && sweep_opt(&swopt, k, v, MAX_ROUNDS) &&
	       profile_opt(&popt, k, v);
}

/* Count mode: the windows (edu_bench.h), "COUNTED n" at the end */
static int count_mode(void)
{
	int windows = count_measures(measures, ARRAY_LEN(measures));

	if (windows < 0)
		return -1;
	printf("COUNTED %d\n", windows);
	return 0;
}

/*
 * --profile: after the table, the measures profiled (edu_bench.h); PROFILE
 * lines name the driver and the unit's stage, e.g. "PROFILE begin
 * vtd_map_1m riommu_vtd/first-stage".  Then edu DMAs once more.
 */
static void profile_all(void)
{
	char be[64];

	snprintf(be, sizeof(be), "%s/%s-stage", backend_name(driver), stage);
	/* The map HWPT still translates after the profiled ops */
	if (!profile_measures(measures, ARRAY_LEN(measures), be))
		dma_check_map_1m("after the profiles");
}

static int dma_check_after(void)
{
	return dma_check_map_1m("after the measures");
}

static void usage(void)
{
	printf("usage: riommu_vtd_bench [--smoke] [--rounds N] [--subs N] [--batch-ms MS]\n"
	       "                        [--only KEY,...] [--list] [--count N]\n"
	       "                        [--sweep=0|1] [--sweep-rounds N] [--sweep-subs N]\n"
	       "                        [--sweep-ms MS] [--profile above|all|KEY,...]\n"
	       "                        [--profile-ms MS]\n");
}

int main(int argc, char **argv)
{
	int ret = bench_start(argc, argv, "riommu_vtd_bench", "riommu_vtd", set_opt, flag_opts,
			      usage, measures, ARRAY_LEN(measures), true);
	bool ok;

	if (ret >= 0)
		return ret;
	ok = !setup();
	if (opt.smoke) {
		/* No count windows in the smoke ops: only count_mode()'s, below */
		smoke(measures, ARRAY_LEN(measures), ok, NULL, dma_check_after);
		if (count_iters) {
			int before = failures;

			if (ok)
				count_mode();
			printf("%s %zu count windows of %ld ops%s\n",
			       ok && failures == before ? "ok" : "not ok", ARRAY_LEN(measures) + 3,
			       count_iters, ok ? "" : " # SKIP no setup");
		}
		goto out;
	}
	if (!ok)
		goto out;
	if (count_iters) {
		if (!count_mode())
			dma_check_map_1m("after the counted ops");
		goto out;
	}
	if (run_rounds(measures, ARRAY_LEN(measures), 52))
		goto out;
	if (swopt.on && selected("sweep") && sweep_run())
		goto out;
	if (dma_check_after())
		goto out;
	print_table(measures, ARRAY_LEN(measures), backend_name(driver), "VT-d", 52,
		    sweep_print);
	if (popt.which && !profile_load())
		profile_all();
out:
	return bench_end();
}
