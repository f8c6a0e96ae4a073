// SPDX-License-Identifier: GPL-2.0
/*
 * riommu_bench: compare the C iommufd selftest mock (CONFIG_IOMMUFD_TEST,
 * driven with IOMMU_TEST_CMD) with riommu_mock.ko (driven through
 * /dev/riommu-mock) on the same iommufd work, in the same boot.
 *
 * Both backends get exactly the same /dev/iommu calls (same IOVAs, sizes,
 * flags, buffers); only the driver behind the mock device differs.  Times
 * come from clock_gettime(CLOCK_MONOTONIC) around batches of operations
 * long enough (--batch-ms) that the clock's resolution and cost do not
 * matter; round 0 is a warm-up that sizes the batches (the same for both
 * backends) and is not reported.  In each of --rounds rounds, every
 * measure runs --subs batches per backend, interleaved (C R R C C R ...,
 * mirrored in the next round); a backend's value for the round is its best
 * batch, which filters out the host preempting the vCPU thread without
 * favouring either side.  The table gives, per measure, the median over
 * the rounds of each backend, the spread (min-max) and the ratio Rust/C of
 * the medians.  Memory measures (slab, page-table pages, free memory per
 * domain) are taken once per round per backend.
 *
 *   riommu_bench [--rounds N] [--subs N] [--batch-ms MS] [--only KEY,...]
 *                [--profile above|all|KEY,...] [--profile-ms MS]
 *                [--verbose] [--list] [--sweep=0|1] [--sweep-rounds N]
 *                [--sweep-subs N] [--sweep-ms MS]
 *   riommu_bench --smoke        one round of tiny sizes, prints TAP (and
 *                               a two-point sweep, unless --sweep=0)
 *
 * Options may also come from the kernel command line, as
 * riommu_bench=rounds:7,batch-ms:10,profile:above ('+' for ',' inside a
 * value), which is what tools/bench.sh passes since the guest runs programs
 * without arguments.  A binary built with -DBENCH_DEFAULT_SMOKE
 * (riommu_bench_smoke, for make check) defaults to --smoke.
 *
 * Output: a human table, then a machine-readable block of lines
 *   RESULT key unit c_med c_min c_max rust_med rust_min rust_max ratio | label
 * (unit "ns" or "bytes") between "RESULTS begin" and "RESULTS end", which
 * tools/bench.sh turns into Documentation/performance.rst.  With
 * --profile, for each selected measure and each backend, a kernel profile
 * (perf_event_open cpu-clock samples with kernel callchains, symbolised
 * from /proc/kallsyms: self and inclusive time per function, and the
 * hottest instructions) between "PROFILE begin" and "PROFILE end" lines
 * (tools/bench/profile.h, shared with riommu_vtd_bench and
 * riommu_smmuv3_bench).
 *
 * Sweeps (--sweep, on by default; "sweep" for --only): how the cost grows
 * with the size, for tools/bench/plot.py.  After the measures, series
 * map_4k (x bytes mapped and unmapped in 4 KiB calls), map_1 (x bytes in
 * one IOAS_MAP and one IOAS_UNMAP), x = 4 KiB, 16 KiB, ... 64 MiB, and
 * inval (one HWPT_INVALIDATE of x entries on the nested HWPT), x = 1, 4,
 * ... 4096; see sweep_run().  Each point: a warm-up op per backend sizes
 * one batch of >= --sweep-ms (5), then --sweep-rounds (5) rounds; a
 * round's value per backend is its best of --sweep-subs (2) batches,
 * interleaved as the measures' (C R R C ...).  Within the RESULTS
 * block, one line per point and backend (values in ns per op):
 *   SWEEP backend series x median min max
 * backend is "C" or "Rust" (riommu_vtd_bench uses the same tags for
 * intel-iommu and riommu_vtd).  --smoke sweeps the first two points of
 * each series once and prints them in a RESULTS block of their own.
 *
 * Absolute times under QEMU TCG are meaningless across machines; only the
 * ratios of one boot can be compared.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/riommu_mock.h>
#include "iommufd_test.h" /* $(KSRC)/drivers/iommu/iommufd */
#include "bench_util.h"
#include "profile.h"

#define SZ_2M 0x200000UL
#define IOVA_BASE ((uint64_t)MOCK_APERTURE_START) /* 16 MiB, in both apertures */
#define MAX_ROUNDS 64

_Static_assert((long)MOCK_APERTURE_START == (long)RIOMMU_MOCK_APERTURE_START, "aperture");
_Static_assert((long)MOCK_APERTURE_LAST == (long)RIOMMU_MOCK_APERTURE_LAST, "aperture");

/* ------------------------------------------------------------------------ */
/* Options and sizes                                                        */

static struct bench_opts opt = BENCH_OPTS_DEFAULT;

/* This program's own options */
static struct {
	bool verbose;
} xopt;
static struct profile_opts popt = PROFILE_OPTS_DEFAULT;

/* Sizes; --smoke shrinks them */
static struct {
	unsigned int inv_n[3];		/* invalidation entries per call */
	unsigned int map_4k[3];		/* 4K pages per IOAS_MAP */
	unsigned int map_2m;		/* 2M huge pages per IOAS_MAP */
	unsigned int mem_pages;		/* 4K mappings of the memory measure */
	unsigned int mem_paging_k;	/* paging domains per memory sample */
	unsigned int mem_nested_k;	/* nested domains per memory sample */
} sz = {
	.inv_n = { 1, 64, 4096 },
	.map_4k = { 1, 256, 4096 },
	.map_2m = 8,
	.mem_pages = 4096,
	.mem_paging_k = 128,
	.mem_nested_k = 1024,
};

/* ------------------------------------------------------------------------ */
/* Backends                                                                 */

enum { BE_C, BE_RUST, NR_BE };

struct backend {
	const char *name;
	int kind;
	int iommufd;
	int ctlfd;		/* /dev/riommu-mock, or -1 */
	/* Nesting: IOAS, device attached to it, NEST_PARENT HWPT, nested HWPT */
	uint32_t ioas, dev, idev, parent, nested;
	/* Replace: a second device and two paging HWPTs on the IOAS */
	uint32_t rdev, ridev, h1, h2;
	/* Map: an IOAS with a device attached (its auto paging domain) */
	uint32_t mioas, mdev, midev, mhwpt;
	/* Memory: an IOAS holding mem_pages 4K mappings */
	uint32_t memioas;
	bool ok;
};

static struct backend be[NR_BE] = {
	[BE_C] = { .name = "C", .kind = BE_C, .iommufd = -1, .ctlfd = -1 },
	[BE_RUST] = { .name = "Rust", .kind = BE_RUST, .iommufd = -1, .ctlfd = -1 },
};

static int dev_add(struct backend *b, uint32_t pt_id, uint32_t *dev,
		   uint32_t *idev, uint32_t *hwpt)
{
	if (b->kind == BE_C) {
		struct iommu_test_cmd cmd = {
			.size = sizeof(cmd),
			.op = IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS,
			.id = pt_id,
		};

		if (ioctl(b->iommufd, IOMMU_TEST_CMD, &cmd))
			return -1;
		*dev = cmd.mock_domain_flags.out_stdev_id;
		*idev = cmd.mock_domain_flags.out_idev_id;
		if (hwpt)
			*hwpt = cmd.mock_domain_flags.out_hwpt_id;
	} else {
		struct riommu_mock_dev_add cmd = {
			.size = sizeof(cmd),
			.iommufd = b->iommufd,
			.pt_id = pt_id,
		};

		if (ioctl(b->ctlfd, RIOMMU_MOCK_DEV_ADD, &cmd))
			return -1;
		*dev = cmd.out_dev_id;
		*idev = cmd.out_idev_id;
		if (hwpt)
			*hwpt = cmd.pt_id;
	}
	return 0;
}

static int dev_replace(struct backend *b, uint32_t dev, uint32_t pt_id)
{
	if (b->kind == BE_C) {
		struct iommu_test_cmd cmd = {
			.size = sizeof(cmd),
			.op = IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
			.id = dev,
			.mock_domain_replace = { .pt_id = pt_id },
		};

		return ioctl(b->iommufd, IOMMU_TEST_CMD, &cmd);
	} else {
		struct riommu_mock_dev_attach cmd = {
			.size = sizeof(cmd),
			.dev_id = dev,
			.pt_id = pt_id,
		};

		return ioctl(b->ctlfd, RIOMMU_MOCK_DEV_REPLACE, &cmd);
	}
}

static int check_map(struct backend *b, uint32_t hwpt, uint64_t iova,
		     uint64_t len, const void *buf)
{
	if (b->kind == BE_C) {
		struct iommu_test_cmd cmd = {
			.size = sizeof(cmd),
			.op = IOMMU_TEST_OP_MD_CHECK_MAP,
			.id = hwpt,
			.check_map = { .iova = iova, .length = len,
				       .uptr = (uintptr_t)buf },
		};

		return ioctl(b->iommufd, IOMMU_TEST_CMD, &cmd);
	} else {
		struct riommu_mock_check_map cmd = {
			.size = sizeof(cmd),
			.iommufd = b->iommufd,
			.hwpt_id = hwpt,
			.iova = iova,
			.length = len,
			.uptr = (uintptr_t)buf,
		};

		return ioctl(b->ctlfd, RIOMMU_MOCK_CHECK_MAP, &cmd);
	}
}

/* Plain iommufd uAPI, identical for both backends */

static int ioas_alloc(struct backend *b, uint32_t *id)
{
	struct iommu_ioas_alloc cmd = { .size = sizeof(cmd) };

	if (ioctl(b->iommufd, IOMMU_IOAS_ALLOC, &cmd))
		return -1;
	*id = cmd.out_ioas_id;
	return 0;
}

static int destroy(struct backend *b, uint32_t id)
{
	struct iommu_destroy cmd = { .size = sizeof(cmd), .id = id };

	return ioctl(b->iommufd, IOMMU_DESTROY, &cmd);
}

static int hwpt_alloc(struct backend *b, uint32_t idev, uint32_t pt_id,
		      uint32_t flags, bool nested, uint32_t *out)
{
	struct iommu_hwpt_selftest data = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = flags,
		.dev_id = idev,
		.pt_id = pt_id,
	};

	if (nested) {
		cmd.data_type = IOMMU_HWPT_DATA_SELFTEST;
		cmd.data_len = sizeof(data);
		cmd.data_uptr = (uintptr_t)&data;
	}
	if (ioctl(b->iommufd, IOMMU_HWPT_ALLOC, &cmd))
		return -1;
	*out = cmd.out_hwpt_id;
	return 0;
}

static int ioas_map(struct backend *b, uint32_t ioas, void *buf, uint64_t len,
		    uint64_t iova)
{
	struct iommu_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas,
		.user_va = (uintptr_t)buf,
		.length = len,
		.iova = iova,
	};

	return ioctl(b->iommufd, IOMMU_IOAS_MAP, &cmd);
}

static int ioas_unmap(struct backend *b, uint32_t ioas, uint64_t iova,
		      uint64_t len)
{
	struct iommu_ioas_unmap cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas,
		.iova = iova,
		.length = len,
	};

	if (ioctl(b->iommufd, IOMMU_IOAS_UNMAP, &cmd))
		return -1;
	if (cmd.length != len) {
		errno = EIO;
		return -1;
	}
	return 0;
}

static struct iommu_hwpt_invalidate_selftest *inv_entries;

static int invalidate(struct backend *b, uint32_t hwpt, unsigned int n)
{
	struct iommu_hwpt_invalidate cmd = {
		.size = sizeof(cmd),
		.hwpt_id = hwpt,
		.data_uptr = (uintptr_t)inv_entries,
		.data_type = IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
		.entry_len = sizeof(*inv_entries),
		.entry_num = n,
	};

	if (ioctl(b->iommufd, IOMMU_HWPT_INVALIDATE, &cmd))
		return -1;
	if (cmd.entry_num != n) {
		errno = EIO;
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Buffers                                                                  */

static void *buf4k;		/* max(map_4k, mem_pages) scattered 4K pages */
static size_t buf4k_pages;
static void *buf2m;		/* map_2m huge pages, or NULL */
static unsigned int runs4k;	/* physically contiguous runs in buf4k */
static unsigned int runs2m;

/*
 * The 4K buffer: pages that are not physically contiguous (see
 * scattered_pages()); the 2M one: huge pages, if the guest has them.
 */
static int alloc_buffers(void)
{
	buf4k = scattered_pages(buf4k_pages, &runs4k);
	if (!buf4k)
		return -1;

	buf2m = mmap(NULL, sz.map_2m * SZ_2M, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE,
		     -1, 0);
	if (buf2m == MAP_FAILED) {
		buf2m = NULL;
		printf("# no %u huge pages (MAP_HUGETLB: %s): 2M measures skipped\n",
		       sz.map_2m, strerror(errno));
	} else {
		runs2m = phys_runs(buf2m, sz.map_2m, SZ_2M);
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Counters                                                                 */

struct counters {
	long long free;		/* bytes: MemFree + pages on the per-CPU lists */
	long long slab;		/* bytes of live slab objects (/proc/slabinfo) */
	long long iommu_pages;	/* bytes, /proc/vmstat nr_iommu_pages */
	long long rust_tables;	/* bytes, RIOMMU_MOCK_STATS out_table_bytes */
};

static long long file_value(const char *path, const char *key, long long mult)
{
	char line[256];
	size_t kl = strlen(key);
	long long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, kl) && (line[kl] == ' ' || line[kl] == ':')) {
			char *p = line + kl;

			while (*p == ' ' || *p == ':')
				p++;
			v = strtoll(p, NULL, 10) * mult;
			break;
		}
	}
	fclose(f);
	return v;
}

/* Pages on the per-CPU free lists (the "count:" of every pageset) */
static long long pcp_pages(void)
{
	FILE *f = fopen("/proc/zoneinfo", "r");
	char line[256];
	long long n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = line;

		while (*p == ' ')
			p++;
		if (!strncmp(p, "count:", 6))
			n += strtoll(p + 6, NULL, 10);
	}
	fclose(f);
	return n;
}

/*
 * Bytes of live slab objects: the sum over /proc/slabinfo of active_objs *
 * objsize, once every cache is shrunk (/sys/kernel/slab/NAME/shrink): SLUB
 * counts the objects of per-CPU slabs as active, so only after the flush
 * are the counts exact.  Object sizes are the caches' (kmalloc-256, ...),
 * i.e. what an allocation really costs.  Meminfo's Slab, in whole slab
 * pages, does not move for a few kilobytes of objects.
 */
/* With --verbose: each cache's bytes at the last two slab_bytes() calls */
#define MAX_CACHES 400
static struct { char name[128]; long long bytes[2]; } caches[MAX_CACHES];
static int ncaches, cache_gen;

static void cache_note(const char *name, long long bytes)
{
	int i;

	for (i = 0; i < ncaches; i++)
		if (!strcmp(caches[i].name, name))
			break;
	if (i == ncaches) {
		if (ncaches == MAX_CACHES)
			return;
		snprintf(caches[ncaches++].name, sizeof(caches[0].name), "%s", name);
	}
	caches[i].bytes[cache_gen] = bytes;
}

/* Prints the caches whose bytes changed between the last two calls */
static void cache_diff(const char *what)
{
	int i, prev = !cache_gen;

	for (i = 0; i < ncaches; i++) {
		long long d = caches[i].bytes[prev] - caches[i].bytes[!prev];

		if (d)
			printf("#   %s: %s %+lld bytes\n", what, caches[i].name, d);
	}
}

static long long slab_bytes(void)
{
	DIR *d = opendir("/sys/kernel/slab");
	struct dirent *e;
	char line[512], path[300];
	long long total = 0;
	FILE *f;

	while (d && (e = readdir(d))) {
		int fd;

		if (e->d_name[0] == '.' || e->d_type == DT_LNK)
			continue;
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", e->d_name);
		fd = open(path, O_WRONLY);
		if (fd >= 0) {
			if (write(fd, "1", 1) < 0) { /* best effort */ }
			close(fd);
		}
	}
	if (d)
		closedir(d);
	f = fopen("/proc/slabinfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char name[128];
		long long active, num, size;

		if (sscanf(line, "%127s %lld %lld %lld", name, &active, &num, &size) == 4) {
			total += active * size;
			if (xopt.verbose)
				cache_note(name, active * size);
		}
	}
	fclose(f);
	if (xopt.verbose)
		cache_gen = !cache_gen;
	return total;
}

static int rust_stats(struct riommu_mock_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return ioctl(be[BE_RUST].ctlfd, RIOMMU_MOCK_STATS, st);
}

/*
 * The global vmstat counters lag behind the per-CPU deltas (folded every
 * second or past a threshold): fold them first (vm.vmstat_refresh).
 * Freed pages may sit on the per-CPU lists, which MemFree does not count
 * (and which auto-tune up to megabytes): add them.
 */
static void read_counters(struct counters *c)
{
	struct riommu_mock_stats st;
	int fd;

	usleep(50000); /* let deferred (RCU) frees run */
	c->slab = slab_bytes(); /* before the free pages: it frees empty slabs */
	fd = open("/proc/sys/vm/vmstat_refresh", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1", 1) < 0) { /* best effort */ }
		close(fd);
	}
	c->free = file_value("/proc/meminfo", "MemFree", 1024) + pcp_pages() * PAGE_4K;
	c->iommu_pages = file_value("/proc/vmstat", "nr_iommu_pages", PAGE_4K);
	c->rust_tables = rust_stats(&st) ? -1 : (long long)st.out_table_bytes;
	if (xopt.verbose)
		printf("# counters: free %lld Slab %lld nr_iommu_pages*4K %lld rust tables %lld\n",
		       c->free, c->slab, c->iommu_pages, c->rust_tables);
}

/* ------------------------------------------------------------------------ */
/* Rows: what the table shows                                               */

struct row {
	const char *key;
	char label[96];
	enum unit unit;
	int n[NR_BE];
	double v[NR_BE][MAX_ROUNDS];
	const char *note;
};

#define MAX_ROWS 32
static struct row rows[MAX_ROWS];
static int nrows;

static struct row *row_get(const char *key, enum unit unit, const char *fmt, ...)
{
	struct row *r;
	va_list ap;
	int i;

	for (i = 0; i < nrows; i++)
		if (!strcmp(rows[i].key, key))
			return &rows[i];
	if (nrows == MAX_ROWS)
		abort();
	r = &rows[nrows++];
	r->key = strdup(key);
	r->unit = unit;
	va_start(ap, fmt);
	vsnprintf(r->label, sizeof(r->label), fmt, ap);
	va_end(ap);
	return r;
}

static void row_add(struct row *r, int b, double v)
{
	if (r->n[b] < MAX_ROUNDS)
		r->v[b][r->n[b]++] = v;
}

static void stats(const struct row *r, int b, double *med, double *min, double *max)
{
	med_min_max(r->v[b], r->n[b], med, min, max);
}

/* ------------------------------------------------------------------------ */
/* Measures                                                                 */

struct measure;
typedef int (*op_fn)(struct backend *b, const struct measure *m, long iters);

struct measure {
	const char *key;
	const char *label;	/* printf format, %u is param */
	op_fn op;
	unsigned int *param;	/* size parameter, or NULL */
	double ops_per_iter;	/* e.g. 2 for a replace there and back */
	const char *per_entry_key; /* also report time / param under this key */
	bool needs_2m;
	long iters;		/* calibrated batch size */
};

static int op_nested(struct backend *b, const struct measure *m, long iters)
{
	uint32_t id;

	while (iters--) {
		if (hwpt_alloc(b, b->idev, b->parent, 0, true, &id))
			return -1;
		if (destroy(b, id))
			return -1;
	}
	return 0;
}

static int op_inval(struct backend *b, const struct measure *m, long iters)
{
	while (iters--)
		if (invalidate(b, b->nested, *m->param))
			return -1;
	return 0;
}

static int op_map4k(struct backend *b, const struct measure *m, long iters)
{
	uint64_t len = *m->param * PAGE_4K;

	while (iters--) {
		if (ioas_map(b, b->mioas, buf4k, len, IOVA_BASE))
			return -1;
		if (ioas_unmap(b, b->mioas, IOVA_BASE, len))
			return -1;
	}
	return 0;
}

static int op_map2m(struct backend *b, const struct measure *m, long iters)
{
	uint64_t len = *m->param * SZ_2M;

	while (iters--) {
		if (ioas_map(b, b->mioas, buf2m, len, IOVA_BASE))
			return -1;
		if (ioas_unmap(b, b->mioas, IOVA_BASE, len))
			return -1;
	}
	return 0;
}

static int op_replace(struct backend *b, const struct measure *m, long iters)
{
	while (iters--) {
		if (dev_replace(b, b->rdev, b->h1))
			return -1;
		if (dev_replace(b, b->rdev, b->h2))
			return -1;
	}
	return 0;
}

static struct measure measures[] = {
	{ "nested_alloc", "nested HWPT alloc + destroy", op_nested, NULL, 1 },
	{ "inval_1", "HWPT_INVALIDATE, %u entry (per call)", op_inval,
	  &sz.inv_n[0], 1 },
	{ "inval_64", "HWPT_INVALIDATE, %u entries (per call)", op_inval,
	  &sz.inv_n[1], 1, "inval_64_entry" },
	{ "inval_4096", "HWPT_INVALIDATE, %u entries (per call)", op_inval,
	  &sz.inv_n[2], 1, "inval_4096_entry" },
	{ "map_4k_1", "IOAS_MAP + UNMAP, 4K x %u", op_map4k, &sz.map_4k[0], 1 },
	{ "map_4k_256", "IOAS_MAP + UNMAP, 4K x %u", op_map4k, &sz.map_4k[1], 1 },
	{ "map_4k_4096", "IOAS_MAP + UNMAP, 4K x %u", op_map4k, &sz.map_4k[2], 1 },
	{ "map_2m", "IOAS_MAP + UNMAP, 2M x %u (hugetlb)", op_map2m, &sz.map_2m, 1,
	  NULL, true },
	{ "replace", "replace device between two HWPTs", op_replace, NULL, 2 },
};

static bool selected(const char *key)
{
	return !opt.only || in_list(opt.only, key);
}

static const char *mlabel(const struct measure *m, char *buf, size_t len)
{
	snprintf(buf, len, m->label, m->param ? *m->param : 0);
	return buf;
}

/* Runs @iters iterations; returns ns per op, or -1 */
static double timed(struct backend *b, const struct measure *m, long iters)
{
	double t0, t1;
	char l[96];

	t0 = now_ns();
	if (m->op(b, m, iters)) {
		fail("%s: %s: %s", b->name, mlabel(m, l, sizeof(l)), strerror(errno));
		b->ok = false;
		return -1;
	}
	t1 = now_ns();
	return (t1 - t0) / (iters * m->ops_per_iter);
}

struct timed_ctx {
	struct backend *b;
	const struct measure *m;
};

static double timed_probe(void *ctx, long iters)
{
	struct timed_ctx *c = ctx;

	return timed(c->b, c->m, iters);
}

/* Round 0: warm up both backends and size the batch (same for both) */
static int calibrate(struct measure *m)
{
	double per_op = 0, t;
	int b;

	for (b = 0; b < NR_BE; b++) {
		struct timed_ctx c = { &be[b], m };

		t = probe_per_op(timed_probe, &c, m->ops_per_iter, opt.batch_ms);
		if (t < 0)
			return -1;
		per_op += t / NR_BE;
	}
	m->iters = batch_iters(per_op, m->ops_per_iter, opt.batch_ms);
	return 0;
}

/*
 * Memory: bytes per paging domain holding mem_pages 4K mappings, and per
 * nested domain.  K domains are allocated on top of a baseline and the
 * counters' deltas divided by K:
 *   slab    live slab object bytes (see slab_bytes()): the driver's and
 *           iommufd's own objects
 *   tables  page-table pages: nr_iommu_pages for the C mock (generic_pt
 *           allocates them with iommu_alloc_pages_node_sz(), counted
 *           there, not in Slab); RIOMMU_MOCK_STATS out_table_bytes for
 *           riommu_mock (get_zeroed_page(), counted nowhere else)
 *   total   drop of free memory, MemFree plus the per-CPU free lists
 *           (everything: cross-check of the two above)
 */
static void destroy_all(struct backend *b, const uint32_t *ids, unsigned int n)
{
	while (n--)
		destroy(b, ids[n]);
}

static int mem_round(struct backend *b, bool record)
{
	unsigned int k = sz.mem_paging_k, kn = sz.mem_nested_k, i;
	static uint32_t ids[1024];
	struct counters c0, c1;
	long long tables;
	uint32_t first;

	if (k > ARRAY_LEN(ids) || kn > ARRAY_LEN(ids)) {
		fail("memory measure: at most %zu domains", ARRAY_LEN(ids));
		return -1;
	}
	/* Paging: the IOAS already holds the mappings; the first HWPT pins */
	if (hwpt_alloc(b, b->idev, b->memioas, 0, false, &first))
		goto err;
	read_counters(&c0);
	for (i = 0; i < k; i++) {
		if (hwpt_alloc(b, b->idev, b->memioas, 0, false, &ids[i])) {
			destroy_all(b, ids, i);
			destroy(b, first);
			goto err;
		}
	}
	read_counters(&c1);
	tables = b->kind == BE_C ? c1.iommu_pages - c0.iommu_pages :
				   c1.rust_tables - c0.rust_tables;
	if (xopt.verbose)
		printf("# %s paging x%u: slab %+lld, tables %+lld, free %+lld bytes\n",
		       b->name, k, c1.slab - c0.slab, tables, c0.free - c1.free);
	if (xopt.verbose)
		cache_diff(b->name);
	if (record) {
		row_add(row_get("mem_paging_slab", U_BYTES,
				"slab per paging domain (%u x 4K mapped)", sz.mem_pages),
			b->kind, (double)(c1.slab - c0.slab) / k);
		row_add(row_get("mem_paging_tables", U_BYTES,
				"page-table pages per paging domain (%u x 4K)", sz.mem_pages),
			b->kind, (double)tables / k);
		row_add(row_get("mem_paging_total", U_BYTES,
				"free memory drop per paging domain (%u x 4K)", sz.mem_pages),
			b->kind, (double)(c0.free - c1.free) / k);
	}
	destroy_all(b, ids, k);
	if (destroy(b, first))
		goto err;

	/* Nested domains on the NEST_PARENT HWPT */
	read_counters(&c0);
	for (i = 0; i < kn; i++) {
		if (hwpt_alloc(b, b->idev, b->parent, 0, true, &ids[i])) {
			destroy_all(b, ids, i);
			goto err;
		}
	}
	read_counters(&c1);
	if (record) {
		row_add(row_get("mem_nested_slab", U_BYTES, "slab per nested domain"),
			b->kind, (double)(c1.slab - c0.slab) / kn);
		row_add(row_get("mem_nested_total", U_BYTES,
				"free memory drop per nested domain"),
			b->kind, (double)(c0.free - c1.free) / kn);
	}
	destroy_all(b, ids, kn);
	return 0;
err:
	fail("%s: memory measure: %s", b->name, strerror(errno));
	b->ok = false;
	return -1;
}

/* ------------------------------------------------------------------------ */
/* Setup and teardown                                                       */

static int setup_backend(struct backend *b)
{
	const char *what;

	b->ok = false;
	what = "open /dev/iommu";
	b->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (b->iommufd < 0)
		goto err;
	if (b->kind == BE_RUST) {
		what = "open /dev/riommu-mock (is riommu_mock.ko loaded?)";
		b->ctlfd = open("/dev/riommu-mock", O_RDWR | O_CLOEXEC);
		if (b->ctlfd < 0)
			goto err;
	}
	what = b->kind == BE_C ?
		"nesting setup (IOAS, IOMMU_TEST_CMD mock device: is CONFIG_IOMMUFD_TEST set?, HWPTs)" :
		"nesting setup (IOAS, mock device, NEST_PARENT and nested HWPTs)";
	if (ioas_alloc(b, &b->ioas) ||
	    dev_add(b, b->ioas, &b->dev, &b->idev, NULL) ||
	    hwpt_alloc(b, b->idev, b->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, false,
		       &b->parent) ||
	    hwpt_alloc(b, b->idev, b->parent, 0, true, &b->nested))
		goto err;
	what = "replace setup (device, two paging HWPTs)";
	if (dev_add(b, b->ioas, &b->rdev, &b->ridev, NULL) ||
	    hwpt_alloc(b, b->ridev, b->ioas, 0, false, &b->h1) ||
	    hwpt_alloc(b, b->ridev, b->ioas, 0, false, &b->h2))
		goto err;
	what = "map setup (IOAS, device on its paging domain)";
	if (ioas_alloc(b, &b->mioas) ||
	    dev_add(b, b->mioas, &b->mdev, &b->midev, &b->mhwpt))
		goto err;
	what = "memory setup (IOAS with the 4K mappings)";
	if (ioas_alloc(b, &b->memioas) ||
	    ioas_map(b, b->memioas, buf4k, sz.mem_pages * PAGE_4K, IOVA_BASE))
		goto err;

	/* The driver really maps: read the mapping back through the mock */
	what = "IOAS_MAP then the mock's CHECK_MAP";
	if (ioas_map(b, b->mioas, buf4k, sz.map_4k[1] * PAGE_4K, IOVA_BASE) ||
	    check_map(b, b->mhwpt, IOVA_BASE, sz.map_4k[1] * PAGE_4K, buf4k) ||
	    ioas_unmap(b, b->mioas, IOVA_BASE, sz.map_4k[1] * PAGE_4K))
		goto err;
	if (buf2m) {
		what = "IOAS_MAP of huge pages then CHECK_MAP";
		if (ioas_map(b, b->mioas, buf2m, SZ_2M, IOVA_BASE) ||
		    check_map(b, b->mhwpt, IOVA_BASE, SZ_2M, buf2m) ||
		    ioas_unmap(b, b->mioas, IOVA_BASE, SZ_2M))
			goto err;
	}
	b->ok = true;
	return 0;
err:
	fail("%s backend: %s: %s", b->name, what, strerror(errno));
	return -1;
}

static void teardown_backend(struct backend *b)
{
	/* Closing the files destroys every object (and the Rust devices) */
	if (b->ctlfd >= 0)
		close(b->ctlfd);
	if (b->iommufd >= 0)
		close(b->iommufd);
	b->ctlfd = b->iommufd = -1;
}

/* ------------------------------------------------------------------------ */
/* Profiling (profile.h)                                                    */

struct prof_ctx {
	struct backend *b;
	struct measure *m;
};

static int prof_op(void *ctx, long iters)
{
	struct prof_ctx *c = ctx;

	return c->m->op(c->b, c->m, iters);
}

static void profile_one(struct backend *b, struct measure *m)
{
	struct prof_ctx c = { b, m };
	char l[96];

	profile_measure(&popt, m->key, mlabel(m, l, sizeof(l)), b->name, prof_op, &c, m->iters,
			m->ops_per_iter);
}

/* ------------------------------------------------------------------------ */
/* Sweeps: how the cost grows with the size (issue #20, part 4)             */

/*
 * Series, each point measured on both backends (values: ns per op):
 *   map_4k  x bytes mapped with x / 4 KiB IOAS_MAP calls of 4 KiB
 *           (consecutive IOVAs from IOVA_BASE), then unmapped with as many
 *           IOAS_UNMAP calls of 4 KiB; one op is all of those calls
 *   map_1   x bytes in one IOAS_MAP call, then one IOAS_UNMAP
 *   inval   one HWPT_INVALIDATE call with x entries on the nested HWPT
 * The map series use the IOAS of the map measures (the device's paging
 * domain) and a buffer of physically scattered 4 KiB pages, as the
 * map_4k_* measures do; x grows by SWEEP_FACTOR from SWEEP_MAP_MIN to
 * SWEEP_MAP_MAX and from SWEEP_INV_MIN to SWEEP_INV_MAX.
 */
#define SWEEP_FACTOR 4			/* issue #20: powers of 4 */
#define SWEEP_MAP_MIN PAGE_4K		/* issue #20: 4 KiB ... */
#define SWEEP_MAP_MAX (64UL << 20)	/* ... to 64 MiB */
#define SWEEP_INV_MIN 1			/* issue #20: 1 ... */
/*
 * ... to 4096 entries per call.  Neither mock caps the entries of a call
 * (the C mock's mock_domain_cache_invalidate_user() and riommu_mock's
 * cache_invalidate_user() walk them all); iommufd does, at
 * IOMMU_HWPT_INVALIDATE_ENTRY_NUM_MAX (1 << 19, hw_pagetable.c), far above.
 */
#define SWEEP_INV_MAX 4096
#define SWEEP_MAX_POINTS 16		/* 4K << 2k up to 64M: 8 points */
#define SWEEP_SMOKE_POINTS 2		/* --smoke: the first two of each */

_Static_assert(SWEEP_MAP_MAX / PAGE_4K <= 1UL << (2 * (SWEEP_MAX_POINTS - 1)), "points");

static struct sweep_opts swopt = SWEEP_OPTS_DEFAULT;

enum { SW_MAP_4K, SW_MAP_1, SW_INVAL, NR_SW };
static const char *const sweep_series[NR_SW] = { "map_4k", "map_1", "inval" };

struct sweep_point {
	uint64_t x;
	int n[NR_BE];
	double v[NR_BE][MAX_ROUNDS];
};

static struct sweep_point sweep_pts[NR_SW][SWEEP_MAX_POINTS];
static int sweep_npts[NR_SW];
static char *sweep_buf;			/* SWEEP_MAP_MAX of scattered 4K pages */
static double sweep_secs[NR_SW];	/* wall time of each series */

/* @iters times the op of series @s at @x on @b; 0 or -1 (errno) */
static int sweep_op(struct backend *b, int s, uint64_t x, long iters)
{
	uint64_t off;

	while (iters--) {
		switch (s) {
		case SW_MAP_4K:
			for (off = 0; off < x; off += PAGE_4K)
				if (ioas_map(b, b->mioas, sweep_buf + off, PAGE_4K,
					     IOVA_BASE + off))
					return -1;
			for (off = 0; off < x; off += PAGE_4K)
				if (ioas_unmap(b, b->mioas, IOVA_BASE + off, PAGE_4K))
					return -1;
			break;
		case SW_MAP_1:
			if (ioas_map(b, b->mioas, sweep_buf, x, IOVA_BASE) ||
			    ioas_unmap(b, b->mioas, IOVA_BASE, x))
				return -1;
			break;
		default:
			if (invalidate(b, b->nested, x))
				return -1;
		}
	}
	return 0;
}

/* ns per op of a batch of @iters, or -1 after fail() */
static double sweep_timed(struct backend *b, int s, uint64_t x, long iters)
{
	double t0 = now_ns();

	if (sweep_op(b, s, x, iters)) {
		fail("%s: sweep %s at %" PRIu64 ": %s", b->name, sweep_series[s], x,
		     strerror(errno));
		b->ok = false;
		return -1;
	}
	return (now_ns() - t0) / iters;
}

/*
 * One point: a warm-up op per backend sizes the batch (the same for both)
 * to swopt.batch_ms; then in each round swopt.subs batches per backend,
 * interleaved as the measures' (C R R C ..., mirrored in the next round),
 * of which each backend keeps its best.  --smoke: one op per backend.
 */
static int sweep_point(int s, struct sweep_point *p)
{
	double t, per_op = 0;
	long iters = 1;
	int b, r, i, k, rounds = opt.smoke ? 1 : swopt.rounds;
	int subs = opt.smoke ? 1 : swopt.subs;

	for (b = 0; b < NR_BE; b++) {
		t = sweep_timed(&be[b], s, p->x, 1);
		if (t < 0)
			return -1;
		per_op += t / NR_BE;
	}
	if (!opt.smoke)
		iters = batch_iters(per_op, 1, swopt.batch_ms);
	for (r = 0; r < rounds; r++) {
		double best[NR_BE] = { -1, -1 };

		for (k = 0; k < subs; k++) {
			for (i = 0; i < NR_BE; i++) {
				b = (r + k + i) % 2 ? BE_RUST : BE_C;
				t = sweep_timed(&be[b], s, p->x, iters);
				if (t < 0)
					return -1;
				if (best[b] < 0 || t < best[b])
					best[b] = t;
			}
		}
		for (b = 0; b < NR_BE; b++)
			if (p->n[b] < MAX_ROUNDS)
				p->v[b][p->n[b]++] = best[b];
	}
	return 0;
}

/* Every series; SWEEP lines come out with the RESULT lines (sweep_print) */
static int sweep_run(void)
{
	uint64_t lo[NR_SW] = { SWEEP_MAP_MIN, SWEEP_MAP_MIN, SWEEP_INV_MIN };
	uint64_t hi[NR_SW] = { SWEEP_MAP_MAX, SWEEP_MAP_MAX, SWEEP_INV_MAX };
	size_t buf_pages;
	unsigned int runs, i;
	double t0 = now_ns();
	int s, b;

	if (opt.smoke)
		for (s = 0; s < NR_SW; s++)
			for (hi[s] = lo[s], i = 1; i < SWEEP_SMOKE_POINTS; i++)
				hi[s] *= SWEEP_FACTOR;
	buf_pages = hi[SW_MAP_1] / PAGE_4K;
	sweep_buf = scattered_pages(buf_pages, &runs);
	if (!sweep_buf)
		return -1;
	/* The entries of every call: iotlb_id cycling, as inv_entries */
	inv_entries = realloc(inv_entries, hi[SW_INVAL] * sizeof(*inv_entries));
	if (!inv_entries) {
		fail("sweep: %s", strerror(errno));
		return -1;
	}
	memset(inv_entries, 0, hi[SW_INVAL] * sizeof(*inv_entries));
	for (i = 0; i < hi[SW_INVAL]; i++)
		inv_entries[i].iotlb_id = i % MOCK_NESTED_DOMAIN_IOTLB_NUM;
	/* The driver really maps the whole buffer: read it back */
	for (b = 0; b < NR_BE; b++) {
		if (ioas_map(&be[b], be[b].mioas, sweep_buf, buf_pages * PAGE_4K, IOVA_BASE) ||
		    check_map(&be[b], be[b].mhwpt, IOVA_BASE, buf_pages * PAGE_4K, sweep_buf) ||
		    ioas_unmap(&be[b], be[b].mioas, IOVA_BASE, buf_pages * PAGE_4K)) {
			fail("%s: sweep: IOAS_MAP of %zu pages then CHECK_MAP: %s",
			     be[b].name, buf_pages, strerror(errno));
			return -1;
		}
	}
	printf("# sweeps: buffer of %zu 4K pages in %u physically contiguous runs,"
	       " %d round(s), best of %d batches of >= %.0f ms\n", buf_pages, runs,
	       opt.smoke ? 1 : swopt.rounds, opt.smoke ? 1 : swopt.subs,
	       opt.smoke ? 0 : swopt.batch_ms);
	for (s = 0; s < NR_SW; s++) {
		double ts = now_ns();
		uint64_t x;

		for (x = lo[s]; x <= hi[s] && sweep_npts[s] < SWEEP_MAX_POINTS; x *= SWEEP_FACTOR) {
			struct sweep_point *p = &sweep_pts[s][sweep_npts[s]++];

			p->x = x;
			if (sweep_point(s, p))
				return -1;
		}
		sweep_secs[s] = (now_ns() - ts) / 1e9;
		printf("# sweep %s: %d points in %.1f s\n", sweep_series[s], sweep_npts[s],
		       sweep_secs[s]);
	}
	printf("# sweeps done in %.1f s\n", (now_ns() - t0) / 1e9);
	return 0;
}

/* SWEEP backend series x median min max (ns per op), per backend and point */
static void sweep_print(void)
{
	double med, min, max;
	int s, i, b;

	for (s = 0; s < NR_SW; s++)
		for (i = 0; i < sweep_npts[s]; i++)
			for (b = 0; b < NR_BE; b++) {
				const struct sweep_point *p = &sweep_pts[s][i];

				if (!p->n[b])
					continue;
				med_min_max(p->v[b], p->n[b], &med, &min, &max);
				printf("SWEEP %s %s %" PRIu64 " %.1f %.1f %.1f\n", be[b].name,
				       sweep_series[s], p->x, med, min, max);
			}
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */

static const char *fmt_cell(char *buf, size_t len, const struct row *r, int b)
{
	double med, min, max;
	char a[32], c[32], d[32];

	if (!r->n[b]) {
		snprintf(buf, len, "-");
		return buf;
	}
	stats(r, b, &med, &min, &max);
	snprintf(buf, len, "%s (%s-%s)", fmt_val(a, sizeof(a), med, r->unit),
		 fmt_val(c, sizeof(c), min, r->unit), fmt_val(d, sizeof(d), max, r->unit));
	return buf;
}

static double row_ratio(const struct row *r)
{
	double cm, rm, x, y;

	if (!r->n[BE_C] || !r->n[BE_RUST])
		return 0;
	stats(r, BE_C, &cm, &x, &y);
	stats(r, BE_RUST, &rm, &x, &y);
	return cm > 0 ? rm / cm : 0;
}

static void print_table(void)
{
	char c[64], r[64];
	int i;

	printf("\n%-44s | %-30s | %-30s | %s\n", "measure (median per op, min-max over rounds)",
	       "C mock", "Rust mock (riommu_mock)", "Rust/C");
	printf("%.44s-+-%.30s-+-%.30s-+-------\n",
	       "------------------------------------------------------------",
	       "------------------------------------------------------------",
	       "------------------------------------------------------------");
	for (i = 0; i < nrows; i++) {
		double ratio = row_ratio(&rows[i]);

		printf("%-44s | %-30s | %-30s | %5.2f%s\n", rows[i].label,
		       fmt_cell(c, sizeof(c), &rows[i], BE_C),
		       fmt_cell(r, sizeof(r), &rows[i], BE_RUST), ratio,
		       ratio > 1.0 ? " *" : "");
	}
	printf("\n* Rust/C above 1.0.  QEMU TCG: absolute times are meaningless across "
	       "machines;\n  compare only the Rust/C ratios of one boot.\n\n");

	printf("RESULTS begin\n");
	for (i = 0; i < nrows; i++) {
		double cm, cmin, cmax, rm, rmin, rmax;

		stats(&rows[i], BE_C, &cm, &cmin, &cmax);
		stats(&rows[i], BE_RUST, &rm, &rmin, &rmax);
		printf("RESULT %s %s %.1f %.1f %.1f %.1f %.1f %.1f %.3f | %s\n",
		       rows[i].key, rows[i].unit == U_NS ? "ns" : "bytes", cm, cmin,
		       cmax, rm, rmin, rmax, row_ratio(&rows[i]), rows[i].label);
	}
	sweep_print();
	printf("RESULTS end\n");
}

/* ------------------------------------------------------------------------ */
/* Main                                                                     */

static void usage(void)
{
	printf("usage: riommu_bench [--smoke] [--rounds N] [--subs N] [--batch-ms MS]\n"
	       "                    [--only KEY,...] [--profile above|all|KEY,...]\n"
	       "                    [--profile-ms MS] [--verbose] [--list]\n"
	       "                    [--sweep=0|1] [--sweep-rounds N] [--sweep-subs N]\n"
	       "                    [--sweep-ms MS]\n");
}

/* Options that take no value (but with '=') */
static const char *const flag_opts[] = { "smoke", "list", "profile", "verbose", "sweep",
					 NULL };

static int set_opt(const char *k, const char *v)
{
	if (!bench_opt(&opt, k, v))
		return 0;
	if (!profile_opt(&popt, k, v))
		return 0;
	if (!strcmp(k, "verbose"))
		xopt.verbose = true;
	else
		return sweep_opt(&swopt, k, v, MAX_ROUNDS);
	return 0;
}

static void smoke_sizes(void)
{
	sz.inv_n[0] = 1;
	sz.inv_n[1] = 2;
	sz.inv_n[2] = 4;
	sz.map_4k[0] = 1;
	sz.map_4k[1] = 4;
	sz.map_4k[2] = 16;
	sz.map_2m = 1;
	sz.mem_pages = 16;
	sz.mem_paging_k = 1;
	sz.mem_nested_k = 2;
	opt.rounds = 1;
}

/* One pass over every measure, each op run once per backend, for --smoke */
static int smoke(void)
{
	size_t i;
	int b;

	for (i = 0; i < ARRAY_LEN(measures); i++) {
		struct measure *m = &measures[i];

		if (m->needs_2m && !buf2m) {
			printf("# %s skipped: no huge pages\n", m->key);
			continue;
		}
		for (b = 0; b < NR_BE; b++)
			if (timed(&be[b], m, 1) < 0)
				return -1;
	}
	for (b = 0; b < NR_BE; b++)
		if (mem_round(&be[b], false))
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct utsname u;
	int i, b, bb, round;
	size_t mi;
	char l[96];

#ifdef BENCH_DEFAULT_SMOKE
	opt.smoke = true;
#endif
	setvbuf(stdout, NULL, _IOLBF, 0);
	i = parse_opts(argc, argv, "riommu_bench", set_opt, flag_opts);
	if (i) {
		usage();
		return i == 1 ? 0 : 2;
	}
	if (opt.list) {
		for (mi = 0; mi < ARRAY_LEN(measures); mi++)
			printf("%-14s %s\n", measures[mi].key,
			       mlabel(&measures[mi], l, sizeof(l)));
		printf("%-14s %s\n", "memory", "slab/table/MemFree per domain");
		printf("%-14s %s\n", "sweep", "SWEEP series map_4k, map_1, inval");
		return 0;
	}
	if (opt.smoke)
		smoke_sizes();
	if (opt.rounds < 1 || opt.rounds >= MAX_ROUNDS)
		opt.rounds = opt.rounds < 1 ? 1 : MAX_ROUNDS - 1;

	uname(&u);
	if (opt.smoke)
		printf("1..1\n");
	if (opt.smoke)
		printf("# riommu_bench: kernel %s, %ld CPU(s), smoke: every op once, tiny sizes\n",
		       u.release, sysconf(_SC_NPROCESSORS_ONLN));
	else
		printf("# riommu_bench: kernel %s, %ld CPU(s), %d rounds, best of %d batches"
		       " of >= %.0f ms per backend and round\n",
		       u.release, sysconf(_SC_NPROCESSORS_ONLN), opt.rounds, opt.subs,
		       opt.batch_ms);
	printf("INFO kernel %s\n", u.release);

	buf4k_pages = sz.map_4k[2] > sz.mem_pages ? sz.map_4k[2] : sz.mem_pages;
	inv_entries = calloc(sz.inv_n[2], sizeof(*inv_entries));
	for (i = 0; i < (int)sz.inv_n[2]; i++)
		inv_entries[i].iotlb_id = i % MOCK_NESTED_DOMAIN_IOTLB_NUM;
	if (alloc_buffers())
		goto out;
	printf("# 4K buffer: %zu pages in %u physically contiguous runs; "
	       "2M buffer: %u huge pages in %u runs\n", buf4k_pages, runs4k,
	       buf2m ? sz.map_2m : 0, runs2m);

	for (b = 0; b < NR_BE; b++)
		setup_backend(&be[b]);
	if (!be[BE_C].ok || !be[BE_RUST].ok)
		goto out;

	if (opt.smoke) {
		/* and a SWEEP_SMOKE_POINTS-point sweep of each series */
		if (!smoke() && swopt.on && !sweep_run()) {
			printf("RESULTS begin\n");
			sweep_print();
			printf("RESULTS end\n");
		}
		goto out;
	}

	/* Round 0: warm-up and batch sizing */
	for (mi = 0; mi < ARRAY_LEN(measures); mi++) {
		struct measure *m = &measures[mi];

		if (!selected(m->key) || (m->needs_2m && !buf2m))
			continue;
		if (calibrate(m))
			goto out;
		printf("# %-40s %ld ops per batch\n", mlabel(m, l, sizeof(l)),
		       (long)(m->iters * m->ops_per_iter));
	}

	/* The very first memory sample of a boot is off (first-use effects) */
	if (selected("memory"))
		for (b = 0; b < NR_BE; b++)
			if (mem_round(&be[b], false))
				goto out;

	for (round = 0; round < opt.rounds; round++) {
		double t0 = now_ns();

		for (mi = 0; mi < ARRAY_LEN(measures); mi++) {
			struct measure *m = &measures[mi];
			struct row *r, *re = NULL;

			if (!selected(m->key) || (m->needs_2m && !buf2m))
				continue;
			r = row_get(m->key, U_NS, "%s", mlabel(m, l, sizeof(l)));
			if (m->per_entry_key) {
				snprintf(l, sizeof(l), "HWPT_INVALIDATE, %u entries (per entry)",
					 *m->param);
				re = row_get(m->per_entry_key, U_NS, "%s", l);
			}
			/*
			 * subs batches per backend, interleaved (C R R C C R
			 * ... or the mirror, alternating from round to round);
			 * the round's sample is each backend's best batch, which
			 * filters out host preemption (TCG vCPUs are host
			 * threads) without favouring either backend.
			 */
			double best[NR_BE] = { -1, -1 };
			int s;

			for (s = 0; s < opt.subs; s++) {
				for (i = 0; i < NR_BE; i++) {
					int bb = (round + s + i) % 2 ? BE_RUST : BE_C;
					double t = timed(&be[bb], m, m->iters);

					if (t < 0)
						goto out;
					if (best[bb] < 0 || t < best[bb])
						best[bb] = t;
				}
			}
			for (bb = 0; bb < NR_BE; bb++) {
				row_add(r, bb, best[bb]);
				if (re)
					row_add(re, bb, best[bb] / *m->param);
			}
		}
		if (selected("memory")) {
			for (i = 0; i < NR_BE; i++) {
				int bb = (round + i) % 2 ? BE_RUST : BE_C;

				if (mem_round(&be[bb], true))
					goto out;
			}
		}
		printf("# round %d done in %.1f s\n", round + 1, (now_ns() - t0) / 1e9);
	}
	if (swopt.on && selected("sweep") && sweep_run())
		goto out;
	print_table();

	if (popt.which) {
		if (profile_load())
			goto out;
		for (mi = 0; mi < ARRAY_LEN(measures); mi++) {
			struct measure *m = &measures[mi];
			struct row *r;

			if (!selected(m->key) || (m->needs_2m && !buf2m))
				continue;
			r = row_get(m->key, U_NS, "%s", mlabel(m, l, sizeof(l)));
			if (!profile_wanted(&popt, m->key, row_ratio(r) > 1.0))
				continue;
			for (b = 0; b < NR_BE; b++)
				profile_one(&be[b], m);
		}
	}
out:
	for (b = 0; b < NR_BE; b++)
		teardown_backend(&be[b]);
	/* Page-table pages are no slab objects: kmemleak cannot see a leak */
	be[BE_RUST].ctlfd = open("/dev/riommu-mock", O_RDWR | O_CLOEXEC);
	if (be[BE_RUST].ctlfd >= 0) {
		struct riommu_mock_stats st;

		if (!rust_stats(&st))
			printf("# after teardown: riommu_mock has %llu paging domains, %llu bytes"
			       " of page tables\n", (unsigned long long)st.out_paging_domains,
			       (unsigned long long)st.out_table_bytes);
		teardown_backend(&be[BE_RUST]);
	}
	if (opt.smoke) {
		if (failures)
			printf("not ok 1 bench smoke # %d failure(s)\n", failures);
		else
			printf("ok 1 bench smoke\n");
	} else if (failures) {
		printf("# %d failure(s)\n", failures);
	}
	return failures ? 1 : 0;
}
