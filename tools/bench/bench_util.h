/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the benchmark programs of tools/bench share: errors, the clock,
 * physically scattered 4 KiB pages, batch sizing, statistics over rounds,
 * value formatting and option parsing (argv and the kernel command line).
 * riommu_bench.c (C mock against riommu_mock, one boot) includes it, and
 * so do riommu_vtd_bench.c and riommu_smmuv3_bench.c (one hardware driver
 * per boot), through edu_bench.h, the rest they share.
 *
 * Everything is static: each program is one translation unit.
 */
#ifndef RIOMMU_BENCH_UTIL_H
#define RIOMMU_BENCH_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define PAGE_4K 0x1000UL
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------ */
/* Errors and the clock                                                     */

static int failures;

static void __attribute__((format(printf, 1, 2), unused)) fail(const char *fmt, ...)
{
	va_list ap;

	failures++;
	printf("# ERROR: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static inline double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* ------------------------------------------------------------------------ */
/* Buffers                                                                  */

/* Number of physically contiguous runs of @npages pages at @p (0: unknown) */
static inline unsigned int phys_runs(void *p, size_t npages, size_t pgsz)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	uint64_t prev = 0, pfn, e;
	unsigned int runs = 0;
	size_t i;

	if (fd < 0)
		return 0;
	for (i = 0; i < npages; i++) {
		uintptr_t va = (uintptr_t)p + i * pgsz;

		if (pread(fd, &e, 8, (va / PAGE_4K) * 8) != 8 ||
		    !(e & (1ULL << 63)) || !(pfn = e & ((1ULL << 55) - 1))) {
			close(fd);
			return 0;
		}
		if (!i || pfn != prev + pgsz / PAGE_4K)
			runs++;
		prev = pfn;
	}
	close(fd);
	return runs;
}

/*
 * @npages 4K pages that are not physically contiguous, so that IOAS_MAP
 * really hands the driver one 4K page per iommu_map() (the page allocator
 * of a fresh guest would otherwise give long contiguous runs, which the
 * drivers map with large leaves): populate a pool twice the size, unmap
 * every other page of it (their buddies stay allocated, so the freed pages
 * cannot merge), then populate the buffer, which gets those isolated
 * pages.  The pool's other half stays allocated.  THP is off for the
 * process (the test kernel has no madvise(): CONFIG_ADVISE_SYSCALLS is
 * off).  Returns the buffer (and in *@runs its physically contiguous runs,
 * 0 if unknown), or NULL after fail().
 */
static inline void *scattered_pages(size_t npages, unsigned int *runs)
{
	size_t pool_pages = 2 * npages, i;
	char *pool, *buf;

	if (prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0))
		printf("# PR_SET_THP_DISABLE: %s\n", strerror(errno));
	pool = mmap(NULL, pool_pages * PAGE_4K, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	buf = mmap(NULL, npages * PAGE_4K, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pool == MAP_FAILED || buf == MAP_FAILED) {
		fail("mmap: %s", strerror(errno));
		return NULL;
	}
	for (i = 0; i < pool_pages; i++)
		pool[i * PAGE_4K] = 1;
	for (i = 0; i < pool_pages; i += 2)
		munmap(pool + i * PAGE_4K, PAGE_4K);
	for (i = 0; i < npages; i++)
		buf[i * PAGE_4K] = 1;
	*runs = phys_runs(buf, npages, PAGE_4K);
	return buf;
}

/* ------------------------------------------------------------------------ */
/* Timing and statistics                                                    */

/* Runs @iters iterations of a measure on @ctx; returns ns per op, or -1 */
typedef double (*timed_fn)(void *ctx, long iters);

/*
 * Warms the measure up (first-touch costs), then grows the batch until one
 * takes a tenth of @batch_ms; returns that batch's ns per op, or -1.
 */
static inline double probe_per_op(timed_fn timed, void *ctx, double ops_per_iter,
				  double batch_ms)
{
	long iters = 1;
	double t;

	if (timed(ctx, 2) < 0)
		return -1;
	for (;;) {
		t = timed(ctx, iters);
		if (t < 0)
			return -1;
		if (t * iters * ops_per_iter >= batch_ms * 1e5 || iters >= (1L << 24))
			return t;
		iters *= 4;
	}
}

/* Iterations of a batch of at least @batch_ms at @per_op ns per op */
static inline long batch_iters(double per_op, double ops_per_iter, double batch_ms)
{
	return (long)(batch_ms * 1e6 / (per_op * ops_per_iter)) + 1;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median, minimum and maximum of @n values (all 0 if none); @v is kept */
static inline void med_min_max(const double *v, int n, double *med, double *min, double *max)
{
	double *s;

	if (n <= 0 || !(s = malloc(n * sizeof(double)))) {
		*med = *min = *max = 0;
		return;
	}
	memcpy(s, v, n * sizeof(double));
	qsort(s, n, sizeof(double), cmp_double);
	*min = s[0];
	*max = s[n - 1];
	*med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
}

enum unit { U_NS, U_BYTES };

static const char *__attribute__((unused)) fmt_val(char *buf, size_t len, double v, enum unit u)
{
	if (u == U_BYTES) {
		if (v >= 10 * 1024 || v <= -10 * 1024)
			snprintf(buf, len, "%.1f KiB", v / 1024);
		else
			snprintf(buf, len, "%.0f B", v);
	} else if (v >= 1e6) {
		snprintf(buf, len, "%.2f ms", v / 1e6);
	} else if (v >= 1e3) {
		snprintf(buf, len, "%.2f us", v / 1e3);
	} else {
		snprintf(buf, len, "%.1f ns", v);
	}
	return buf;
}

/* ------------------------------------------------------------------------ */
/* Options                                                                  */

/* Whether @key is one of the comma-separated words of @list */
static inline bool in_list(const char *list, const char *key)
{
	size_t kl = strlen(key);
	const char *p = list;

	while (p && *p) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		if (l == kl && !strncmp(p, key, kl))
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

/* The options of every benchmark program */
struct bench_opts {
	bool smoke;		/* one quick pass, TAP */
	bool list;		/* list the measures and exit */
	int rounds;
	int subs;		/* batches per round (per backend or measure) */
	double batch_ms;	/* minimum length of a batch */
	const char *only;	/* comma-separated measure keys, NULL: all */
};

#define BENCH_OPTS_DEFAULT { .rounds = 11, .subs = 12, .batch_ms = 10 }

/* Sets option @k of @o (to @v, NULL for a flag); returns -1 if none */
static inline int bench_opt(struct bench_opts *o, const char *k, const char *v)
{
	if (!strcmp(k, "smoke"))
		o->smoke = true;
	else if (!strcmp(k, "list"))
		o->list = true;
	else if (!strcmp(k, "rounds") && v)
		o->rounds = atoi(v);
	else if (!strcmp(k, "subs") && v)
		o->subs = atoi(v) > 0 ? atoi(v) : 1;
	else if (!strcmp(k, "batch-ms") && v)
		o->batch_ms = atof(v);
	else if (!strcmp(k, "only") && v)
		o->only = strdup(v);
	else
		return -1;
	return 0;
}

/* Sets option @k (to @v, NULL for a flag); returns -1 if unknown */
typedef int (*set_opt_fn)(const char *k, const char *v);

/*
 * Options from the kernel command line: NAME=key:value,key,... ('+' for
 * ',' inside a value), since the guest runs programs without arguments.
 */
static inline void cmdline_opts(const char *name, set_opt_fn set_opt)
{
	char buf[4096], *p, *tok, *save;
	size_t nl = strlen(name);
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f)
		return;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return;
	}
	fclose(f);
	for (p = strtok_r(buf, " \n", &save); p; p = strtok_r(NULL, " \n", &save)) {
		char *s2, *q;

		if (strncmp(p, name, nl) || p[nl] != '=')
			continue;
		for (tok = strtok_r(p + nl + 1, ",", &s2); tok; tok = strtok_r(NULL, ",", &s2)) {
			char *v = strchr(tok, ':');

			if (v) {
				*v++ = 0;
				for (q = v; *q; q++)
					if (*q == '+')
						*q = ',';
			}
			if (set_opt(tok, v))
				printf("# %s=: unknown option %s\n", name, tok);
		}
	}
}

/*
 * Options from argv: --key value, --key=value, or --flag for the keys in
 * the NULL-terminated @flags (which take no value but with '=').  Without
 * arguments, from the kernel command line (cmdline_opts(@name)).
 * Returns 0, 1 for --help, 2 for a bad option.
 */
static inline int parse_opts(int argc, char **argv, const char *name, set_opt_fn set_opt,
			     const char *const *flags)
{
	int i;

	if (argc == 1)
		cmdline_opts(name, set_opt);
	for (i = 1; i < argc; i++) {
		char *k = argv[i], *v = NULL;
		bool flag = false;
		const char *const *f;

		if (strncmp(k, "--", 2))
			return 2;
		k += 2;
		for (f = flags; *f; f++)
			flag |= !strcmp(k, *f);
		if (strchr(k, '=')) {
			v = strchr(k, '=');
			*v++ = 0;
		} else if (!flag && i + 1 < argc) {
			v = argv[++i];
		}
		if (!strcmp(k, "help"))
			return 1;
		if (set_opt(k, v))
			return 2;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Sweeps (riommu_bench, riommu_vtd_bench): how cost grows with size        */

struct sweep_opts {
	bool on;		/* sweep:0|1 */
	int rounds;		/* sweep-rounds */
	int subs;		/* sweep-subs: batches per round (and backend) */
	double batch_ms;	/* sweep-ms: minimum length of one batch */
};

#define SWEEP_OPTS_DEFAULT {						\
	.on = true,							\
	.rounds = 5,	/* a growth curve, not a ratio to 1%: few rounds */ \
	.subs = 2,	/* the best of 2 drops most host preemption */	\
	.batch_ms = 5,	/* long enough for the clock (a few ms) */	\
}

/*
 * sweep, sweep-rounds (1 to @max_rounds - 1), sweep-subs, sweep-ms into @s;
 * -1 if @k is none of them.
 */
static inline int __attribute__((unused))
sweep_opt(struct sweep_opts *s, const char *k, const char *v, int max_rounds)
{
	if (!strcmp(k, "sweep"))
		s->on = !v || atoi(v);
	else if (!strcmp(k, "sweep-rounds") && v)
		s->rounds = atoi(v) < 1 ? 1 : atoi(v) >= max_rounds ? max_rounds - 1 : atoi(v);
	else if (!strcmp(k, "sweep-subs") && v)
		s->subs = atoi(v) > 0 ? atoi(v) : 1;
	else if (!strcmp(k, "sweep-ms") && v)
		s->batch_ms = atof(v);
	else
		return -1;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Hardware work counted by QEMU: marked windows                            */

/*
 * QEMU's trace events count the commands, descriptors and register
 * accesses a driver asks of the emulated IOMMU (tools/bench/qtrace.py).
 * The guest cannot write into QEMU's trace, but it can cause a trace event
 * that no driver causes: a one-byte read of the edu device's PCI
 * configuration space, through sysfs, inside the CardBus CIS pointer
 * (PCI_CARDBUS_CIS, 0x28, unused by an endpoint), at 0x29, marks a
 * window's start, and a one-byte read at 0x2d (inside the subsystem vendor
 * ID, 0x2c) its end.  QEMU traces both as pci_cfg_read of device "edu" at
 * offset 0x29 or 0x2d.  The offsets are unaligned on purpose: the kernel
 * does read the dwords at 0x28 and 0x2c after edu's probe (pci_save_state()
 * when vfio-pci enables or releases the device reads the whole header, one
 * dword at a time: seen in QEMU's trace in Dec 2026), but it never reads a
 * lone byte there.
 *
 * A program prints "QCOUNT KEY ITERS" (flushed) before the start marker
 * and runs the measure's op ITERS times in the window; qtrace.py pairs the
 * program's QCOUNT lines with the trace's windows, in order, and divides
 * each window's events by ITERS.
 */
#define QMARK_BEGIN 0x29	/* PCI_CARDBUS_CIS + 1 */
#define QMARK_END 0x2d		/* PCI_SUBSYSTEM_VENDOR_ID + 1 */

static int qmark_fd = -1;

/* Opens edu's configuration space (@bdf as in sysfs) for the markers. */
static inline int __attribute__((unused)) qmark_open(const char *bdf)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	qmark_fd = open(path, O_RDONLY | O_CLOEXEC);
	return qmark_fd < 0 ? -errno : 0;
}

/* One marker: a 1-byte configuration read at @off (QMARK_BEGIN or _END). */
static inline int qmark(unsigned int off)
{
	uint8_t v;

	if (qmark_fd < 0)
		return -EBADF;
	return pread(qmark_fd, &v, sizeof(v), off) == sizeof(v) ? 0 : -EIO;
}

/* Starts the window of measure @key, which will run its op @iters times. */
static inline int __attribute__((unused)) qcount_begin(const char *key, long iters)
{
	printf("QCOUNT %s %ld\n", key, iters);
	fflush(stdout);
	return qmark(QMARK_BEGIN);
}

static inline int __attribute__((unused)) qcount_end(void)
{
	return qmark(QMARK_END);
}

#endif /* RIOMMU_BENCH_UTIL_H */
