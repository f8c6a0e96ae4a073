/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the hardware benchmarks, riommu_vtd_bench.c and
 * riommu_smmuv3_bench.c, share: QEMU's edu bound to vfio-pci and driven
 * through iommufd (riommu_vtd_edu.h), the map IOAS with its paging HWPT
 * and the replace IOAS with its two, the measures on them (map+unmap of
 * 1 MiB in one call and in 256 calls, replace), edu DMA checks through
 * them, and the life of every measure: batch sizing and rounds, the
 * RESULT/VALUES/NA lines, count windows for QEMU's trace, the smoke run
 * and profiles.
 *
 * A program defines its own measures (an array of struct measure) and
 * what only its IOMMU has (VT-d's nested invalidation and sweeps, the
 * SMMU's huge pages and vIOMMU), and passes the array to the functions
 * below.  Everything is static: each program is one translation unit.
 */
#ifndef RIOMMU_EDU_BENCH_H
#define RIOMMU_EDU_BENCH_H

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>

#include "bench_util.h"
#include "profile.h"
/* The iommufd/VFIO helpers for edu (edu_open, ioas_map, hwpt_alloc...) */
#include "riommu_vtd_edu.h" /* tools/testing/selftests/riommu_vtd */

#define MAP_PAGES	256
#define MAP_LEN		(MAP_PAGES * PAGE_4K)		/* 1 MiB */
/* 1 GiB: below x86's MSI window (0xfee00000), above virt's (0x08000000) */
#define IOVA_MAP	0x40000000ULL
#define MAX_ROUNDS	64
#define DMA_LEN		256	/* bytes each DMA check copies */
#define DMA_OFF		64	/* where in the target page the copy lands */

static struct bench_opts opt = BENCH_OPTS_DEFAULT;
static struct profile_opts popt = PROFILE_OPTS_DEFAULT;
static long count_iters;		/* --count N: ops per counted window */

/* ------------------------------------------------------------------------ */
/* State                                                                    */

static struct edu edu;
static char *buf;			/* MAP_PAGES scattered 4K pages */
static unsigned int buf_runs;
static uint32_t cur_pt;			/* what edu is attached to (0: nothing) */
/* Map measures: IOAS_MAP/UNMAP on an IOAS whose paging HWPT edu uses */
static uint32_t map_ioas, map_hwpt;
/* Replace: two paging HWPTs of one IOAS (which maps buf at IOVA_MAP) */
static uint32_t rep_ioas, rep_hwpt[2];

static const char *errno_name(int e)
{
	static char b[32];
	const char *n;

	if (e == EOPNOTSUPP) /* glibc names 95 ENOTSUP, Linux EOPNOTSUPP */
		return "EOPNOTSUPP";
	n = strerrorname_np(e);
	if (n)
		return n;
	snprintf(b, sizeof(b), "errno%d", e);
	return b;
}

/* Attaches (or replaces) edu to @pt unless it already is */
static int use_pt(uint32_t pt)
{
	if (cur_pt == pt)
		return 0;
	if (attach(edu.devfd, pt))
		return -1;
	cur_pt = pt;
	return 0;
}

/* The parameters of @module, as "INFO params name=value ..." */
static void print_params(const char *module)
{
	char dir[128], line[1024] = "", v[128], path[512];
	struct dirent *e;
	size_t n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/sys/module/%s/parameters", module);
	d = opendir(dir);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%.300s", dir, e->d_name);
		if (read_file(path, v, sizeof(v)))
			snprintf(v, sizeof(v), "?");
		v[strcspn(v, "\n")] = 0;
		n += snprintf(line + n, sizeof(line) - n, " %s=%s", e->d_name, v);
		if (n >= sizeof(line))
			break;
	}
	if (d)
		closedir(d);
	printf("INFO params %s\n", line[0] ? line + 1 : "none");
}

/* ------------------------------------------------------------------------ */
/* Measures                                                                 */

struct measure;
typedef int (*op_fn)(const struct measure *m, long iters);

struct measure {
	const char *key;
	const char *label;
	op_fn op;
	uint32_t *pt;		/* NULL, or edu is attached to *pt before the batches */
	const char *na;		/* non-empty: the measure is n/a, why */
	const int *na_errno;
	const char *note;	/* for the RESULT line; non-empty: timed unattached */
	unsigned int param;	/* the op's parameter (entries, for invalidations) */
	const char *entry_key;	/* also report time / param under this key... */
	const char *entry_label;	/* ...and this label */
	long iters;		/* calibrated batch size */
	int n;
	double v[MAX_ROUNDS];	/* each round's best batch, ns per op */
};

/*
 * On the map IOAS: @n IOAS_MAP calls of @size bytes each, from @va at
 * consecutive IOVAs from @iova, then @n IOAS_UNMAP calls of them; 0 or -1
 * (errno).  Every map measure and sweep point is one of these.
 */
static int map_unmap_each(char *va, uint64_t iova, uint64_t size, uint64_t n)
{
	uint64_t i;

	for (i = 0; i < n; i++)
		if (ioas_map(edu.iommufd, map_ioas, va + i * size, iova + i * size, size))
			return -1;
	for (i = 0; i < n; i++)
		if (ioas_unmap(edu.iommufd, map_ioas, iova + i * size, size))
			return -1;
	return 0;
}

static int op_map_1m(const struct measure *m, long iters)
{
	while (iters--)
		if (map_unmap_each(buf, IOVA_MAP, MAP_LEN, 1))
			return -1;
	return 0;
}

static int op_map_4k_x256(const struct measure *m, long iters)
{
	while (iters--)
		if (map_unmap_each(buf, IOVA_MAP, PAGE_4K, MAP_PAGES))
			return -1;
	return 0;
}

static int op_replace(const struct measure *m, long iters)
{
	while (iters--) {
		if (use_pt(rep_hwpt[cur_pt == rep_hwpt[0]]))
			return -1;
	}
	return 0;
}

static bool selected(const char *key)
{
	return !opt.only || in_list(opt.only, key);
}

static bool is_na(const struct measure *m)
{
	return m->na && m->na[0];
}

/* Sets up edu's attachment for @m (untimed) */
static int prepare(const struct measure *m)
{
	if (!m->pt || !*m->pt)
		return 0;
	if (use_pt(*m->pt)) {
		fail("%s: attach edu to HWPT %u: %s", m->key, *m->pt, strerror(errno));
		return -1;
	}
	return 0;
}

/* Runs @iters ops of @m; returns ns per op, or -1 */
static double timed(const struct measure *m, long iters)
{
	double t0 = now_ns();

	if (m->op(m, iters)) {
		fail("%s: %s", m->label, strerror(errno));
		return -1;
	}
	return (now_ns() - t0) / iters;
}

static double timed_probe(void *ctx, long iters)
{
	return timed(ctx, iters);
}

static int prof_op(void *ctx, long iters)
{
	const struct measure *m = ctx;

	return m->op(m, iters);
}

/*
 * Round 0 warms each selected measure up and sizes its batch to
 * opt.batch_ms; then opt.rounds rounds, in each opt.subs batches per
 * measure, the best kept (host preemption of the vCPU thread only ever
 * adds time).  @width: of the labels in the "ops per batch" lines.
 */
static int run_rounds(struct measure *ms, size_t nr, int width)
{
	size_t mi;
	int round;

	for (mi = 0; mi < nr; mi++) {
		struct measure *m = &ms[mi];
		double t;

		if (!selected(m->key) || is_na(m))
			continue;
		if (prepare(m))
			return -1;
		t = probe_per_op(timed_probe, m, 1, opt.batch_ms);
		if (t < 0)
			return -1;
		m->iters = batch_iters(t, 1, opt.batch_ms);
		printf("# %-*s %ld ops per batch\n", width, m->label, m->iters);
	}
	for (round = 0; round < opt.rounds; round++) {
		double t0 = now_ns();

		for (mi = 0; mi < nr; mi++) {
			struct measure *m = &ms[mi];
			double best = -1;
			int s;

			if (!selected(m->key) || is_na(m))
				continue;
			if (prepare(m))
				return -1;
			for (s = 0; s < opt.subs; s++) {
				double t = timed(m, m->iters);

				if (t < 0)
					return -1;
				if (best < 0 || t < best)
					best = t;
			}
			m->v[m->n++] = best;
		}
		printf("# round %d done in %.1f s\n", round + 1, (now_ns() - t0) / 1e9);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Setup and edu DMA                                                        */

/*
 * edu DMA through what edu is attached to: DMA_LEN bytes read from IOVA
 * @src (where @src_p points, filled here), written back to IOVA @dst +
 * DMA_OFF; they must land at @dst_p + DMA_OFF and nowhere else of that page.
 * Each check copies other bytes than the one before, so that a read DMA
 * that silently did nothing cannot pass on the last check's data.
 */
static int dma_copy_check(const char *when, char *src_p, uint64_t src, char *dst_p, uint64_t dst)
{
	static unsigned int seq;
	unsigned int i;

	seq++;
	for (i = 0; i < DMA_LEN; i++)
		src_p[i] = (char)(i * 7 + 13 + seq);
	memset(dst_p, 0xee, PAGE_4K);
	if (edu_dma(edu.bar, src, 0, DMA_LEN, 0) ||
	    edu_dma(edu.bar, dst + DMA_OFF, 0, DMA_LEN, 1)) {
		fail("edu DMA %s: %s", when, strerror(errno));
		return -1;
	}
	for (i = 0; i < PAGE_4K; i++) {
		char want = i >= DMA_OFF && i < DMA_OFF + DMA_LEN ? src_p[i - DMA_OFF] : (char)0xee;

		if (dst_p[i] != want) {
			fail("edu DMA %s: byte %u is %#x, not %#x", when, i, dst_p[i] & 0xff,
			     want & 0xff);
			return -1;
		}
	}
	printf("# edu DMA %s: ok\n", when);
	return 0;
}

/* Through an HWPT whose IOAS maps buf at IOVA_MAP: page 0 to page @page */
static int dma_check(const char *when, unsigned int page)
{
	return dma_copy_check(when, buf, IOVA_MAP, buf + page * PAGE_4K,
			      IOVA_MAP + page * PAGE_4K);
}

/* The map HWPT, buf mapped on it for a moment: DMA through it, then unmap */
static int dma_check_map_1m(const char *when)
{
	int ret;

	if (use_pt(map_hwpt) || ioas_map(edu.iommufd, map_ioas, buf, IOVA_MAP, MAP_LEN)) {
		fail("edu DMA %s: attach and map: %s", when, strerror(errno));
		return -1;
	}
	ret = dma_check(when, 7);
	if (ioas_unmap(edu.iommufd, map_ioas, IOVA_MAP, MAP_LEN)) {
		fail("edu DMA %s: unmap: %s", when, strerror(errno));
		return -1;
	}
	return ret;
}

/*
 * buf, the map IOAS and its paging HWPT, the replace IOAS (mapping buf)
 * and its two paging HWPTs.  No DMA yet: see dma_check_replace().
 */
static int setup_map_replace(void)
{
	const char *what;

	buf = scattered_pages(MAP_PAGES, &buf_runs);
	if (!buf)
		return -1;
	printf("# buffer: %u pages in %u physically contiguous runs\n", MAP_PAGES, buf_runs);

	what = "map IOAS and its paging HWPT";
	if (ioas_alloc(edu.iommufd, &map_ioas) ||
	    hwpt_alloc(edu.iommufd, edu.devid, map_ioas, 0, IOMMU_HWPT_DATA_NONE, NULL, 0,
		       &map_hwpt))
		goto err;
	what = "replace IOAS (maps the buffer) and its two paging HWPTs";
	if (ioas_alloc(edu.iommufd, &rep_ioas) ||
	    ioas_map(edu.iommufd, rep_ioas, buf, IOVA_MAP, MAP_LEN) ||
	    hwpt_alloc(edu.iommufd, edu.devid, rep_ioas, 0, IOMMU_HWPT_DATA_NONE, NULL, 0,
		       &rep_hwpt[0]) ||
	    hwpt_alloc(edu.iommufd, edu.devid, rep_ioas, 0, IOMMU_HWPT_DATA_NONE, NULL, 0,
		       &rep_hwpt[1]))
		goto err;
	return 0;
err:
	fail("%s: %s", what, strerror(errno));
	return -1;
}

/* edu replaced to the second replace HWPT, and DMA through it */
static int dma_check_replace(void)
{
	if (use_pt(rep_hwpt[1])) {
		fail("replace edu to a replace HWPT: %s", strerror(errno));
		return -1;
	}
	return dma_check("through a replace HWPT", 9);
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */

/* @m's RESULT and VALUES lines under @key and @label, each value / @div */
static void result(const struct measure *m, const char *key, const char *label, double div)
{
	double v[MAX_ROUNDS], med, min, max;
	int i;

	if (is_na(m)) {
		printf("NA %s %s | %s | %s\n", key, errno_name(*m->na_errno), label, m->na);
		return;
	}
	for (i = 0; i < m->n; i++)
		v[i] = m->v[i] / div;
	med_min_max(v, m->n, &med, &min, &max);
	printf("RESULT %s ns %.1f %.1f %.1f | %s | %s\n", key, med, min, max, label,
	       m->note ? m->note : "");
	printf("VALUES %s", key);
	for (i = 0; i < m->n; i++)
		printf(" %.1f", v[i]);
	printf("\n");
}

/*
 * The human table (@drv the driver, @hw the IOMMU, labels @width wide),
 * then the RESULT, VALUES and NA lines between "RESULTS begin" and
 * "RESULTS end"; @more, if any, prints more lines before the end.
 */
static void print_table(const struct measure *ms, size_t nr, const char *drv, const char *hw,
			int width, void (*more)(void))
{
	char a[32], b[32], c[32];
	const char *na = NULL;
	size_t i;

	printf("\n%-*s | %s (%s)\n", width, "measure (median per op, min-max over rounds)", drv,
	       hw);
	printf("%.*s-+-%.36s\n", width,
	       "------------------------------------------------------------",
	       "------------------------------------------------------------");
	for (i = 0; i < nr; i++) {
		const struct measure *m = &ms[i];
		double med, min, max;

		if (!selected(m->key))
			continue;
		if (is_na(m)) {
			printf("%-*s | n/a (%s)\n", width, m->label, errno_name(*m->na_errno));
			continue;
		}
		med_min_max(m->v, m->n, &med, &min, &max);
		printf("%-*s | %s (%s-%s)%s\n", width, m->label, fmt_val(a, sizeof(a), med, U_NS),
		       fmt_val(b, sizeof(b), min, U_NS), fmt_val(c, sizeof(c), max, U_NS),
		       m->note && m->note[0] ? " unattached" : "");
	}
	for (i = 0; i < nr; i++)
		if (is_na(&ms[i]) && ms[i].na != na) {
			na = ms[i].na;
			printf("\nn/a: %s\n", na);
		}
	printf("\nQEMU TCG: absolute times are meaningless across machines; compare\n"
	       "only the two drivers' boots of one tools/bench.sh run.\n\n");

	printf("RESULTS begin\n");
	for (i = 0; i < nr; i++) {
		const struct measure *m = &ms[i];

		if (!selected(m->key))
			continue;
		result(m, m->key, m->label, 1);
		if (m->entry_key)
			result(m, m->entry_key, m->entry_label, m->param);
	}
	if (more)
		more();
	printf("RESULTS end\n");
}

/* ------------------------------------------------------------------------ */
/* Count windows, the smoke run, profiles                                   */

/*
 * A window of @iters ops of @m marked for QEMU's trace ("QCOUNT key iters",
 * tools/bench/qtrace.py); failures are counted in `failures`.
 */
static void count_window(const struct measure *m, long iters)
{
	if (qcount_begin(m->key, iters)) {
		fail("%s: begin marker: %s", m->key, strerror(errno));
		return;
	}
	if (m->op(m, iters))
		fail("%s: %s", m->label, strerror(errno));
	if (qcount_end())
		fail("%s: end marker: %s", m->key, strerror(errno));
}

/*
 * Count mode: for each selected measure that is not n/a, edu attached as
 * the measure needs, one op to warm up (first-touch allocations, caches),
 * then a window of count_iters ops.  NA lines for the n/a measures.
 * Returns the windows, or -1.
 */
static int count_measures(const struct measure *ms, size_t nr)
{
	int windows = 0, before = failures;
	size_t i;

	if (qmark_fd < 0 && qmark_open(edu.bdf)) {
		fail("open edu's PCI config space (%s) for the markers: %s", edu.bdf,
		     strerror(errno));
		return -1;
	}
	for (i = 0; i < nr; i++) {
		const struct measure *m = &ms[i];

		if (!selected(m->key))
			continue;
		if (is_na(m)) {
			result(m, m->key, m->label, 1);
			continue;
		}
		if (prepare(m) || timed(m, 1) < 0)
			return -1;
		count_window(m, count_iters);
		if (failures != before)
			return -1;
		windows++;
	}
	return windows;
}

/*
 * --smoke: each measure once, as TAP tests 2.., test 1 the setup and its
 * DMA checks (named after @who, if any), the last @dma_after()'s checks;
 * when the count markers are open (qmark_fd), each op once more in a
 * window of one op.
 */
static void smoke(const struct measure *ms, size_t nr, bool setup_ok, const char *who,
		  int (*dma_after)(void))
{
	size_t i;
	int t = 1;

	printf("%s %d setup and edu DMA%s%s%s%s\n", setup_ok ? "ok" : "not ok", t++,
	       who ? " (" : "", who ? who : "", who ? ")" : "",
	       setup_ok ? "" : " # see the ERROR lines");
	for (i = 0; i < nr; i++) {
		const struct measure *m = &ms[i];
		int before = failures;

		if (!setup_ok) {
			printf("not ok %d %s # SKIP no setup\n", t++, m->key);
		} else if (is_na(m)) {
			printf("ok %d %s # SKIP n/a: %s\n", t++, m->key, m->na);
		} else {
			if (!prepare(m) && timed(m, 1) >= 0 && qmark_fd >= 0)
				count_window(m, 1);
			printf("%s %d %s\n", failures == before ? "ok" : "not ok", t++, m->key);
		}
	}
	if (setup_ok) {
		int before = failures;

		dma_after();
		printf("%s %d edu DMA after the measures\n", failures == before ? "ok" : "not ok",
		       t);
	} else {
		printf("not ok %d edu DMA after the measures # SKIP no setup\n", t);
	}
}

/*
 * --profile: after the table, each measure profile_wanted() (profile.h;
 * "above" is "all": one driver per boot, no ratio here), edu attached as
 * for its batches, between PROFILE lines naming @backend.  0, or -1 when
 * edu could not be attached for a measure.
 */
static int profile_measures(struct measure *ms, size_t nr, const char *backend)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		struct measure *m = &ms[i];

		if (!selected(m->key) || is_na(m) || !profile_wanted(&popt, m->key, true))
			continue;
		if (prepare(m))
			return -1;
		profile_measure(&popt, m->key, m->label, backend, prof_op, m, m->iters, 1);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The start and the end of main()                                          */

/*
 * Options (argv, then the kernel command line as @name=key:value,...),
 * --list, the header: the TAP plan in --smoke (a test per measure, the
 * setup's, the DMA check after, and one for the count windows if
 * @smoke_counts and --count), "INFO kernel" and @module's parameters.
 * Returns -1 to go on, or main()'s exit status.
 */
static int bench_start(int argc, char **argv, const char *name, const char *module,
		       set_opt_fn set_opt, const char *const *flags, void (*usage)(void),
		       const struct measure *ms, size_t nr, bool smoke_counts)
{
	struct utsname u;
	size_t i;
	int ret;

#ifdef BENCH_DEFAULT_SMOKE
	opt.smoke = true;
#endif
	setvbuf(stdout, NULL, _IOLBF, 0);
	ret = parse_opts(argc, argv, name, set_opt, flags);
	if (ret) {
		usage();
		return ret == 1 ? 0 : 2;
	}
	if (opt.list) {
		for (i = 0; i < nr; i++)
			printf("%-20s %s\n", ms[i].key, ms[i].label);
		return 0;
	}
	if (opt.rounds < 1 || opt.rounds >= MAX_ROUNDS)
		opt.rounds = opt.rounds < 1 ? 1 : MAX_ROUNDS - 1;

	uname(&u);
	if (opt.smoke) {
		printf("1..%zu\n", nr + 2 + (smoke_counts && count_iters));
		printf("# %s: kernel %s, %ld CPU(s), smoke: every op once\n", name, u.release,
		       sysconf(_SC_NPROCESSORS_ONLN));
	} else if (count_iters) {
		printf("# %s: kernel %s, %ld CPU(s), count mode: %ld ops per window\n", name,
		       u.release, sysconf(_SC_NPROCESSORS_ONLN), count_iters);
	} else {
		printf("# %s: kernel %s, %ld CPU(s), %d rounds, best of %d batches"
		       " of >= %.0f ms per measure and round\n",
		       name, u.release, sysconf(_SC_NPROCESSORS_ONLN), opt.rounds, opt.subs,
		       opt.batch_ms);
	}
	printf("INFO kernel %s\n", u.release);
	print_params(module);
	return -1;
}

/* Closes edu; main()'s exit status */
static int bench_end(void)
{
	edu_close(&edu);
	if (failures)
		printf("# %d failure(s)\n", failures);
	return failures ? 1 : 0;
}

#endif /* RIOMMU_EDU_BENCH_H */
