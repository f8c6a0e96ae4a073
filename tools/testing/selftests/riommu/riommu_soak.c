// SPDX-License-Identifier: GPL-2.0
/*
 * riommu_soak: create/destroy cycles of every riommu_mock object kind, with
 * leak accounting.
 *
 *   riommu_soak [--cycles N] [--slab-tolerance KIB]
 *
 * For each kind (mock device, paging HWPT, nested HWPT, vIOMMU with and
 * without its mmap-able data, vDEVICE) runs N create/destroy cycles on
 * riommu_mock (default 10^4, ~35 s under TCG; tools/vm.sh runs programs
 * without arguments, so a kernel command line word riommu_test.soak_cycles=N
 * sets the default too: tools/check-debug.sh asks for 1000 on the ten times
 * slower debug kernel), then closes
 * everything and compares with the start:
 *
 *  - riommu_mock's own counters (RIOMMU_MOCK_STATS: devices, paging and
 *    nested domains, page-table bytes) and the module's reference count
 *    (one per device, domain, vIOMMU, vDEVICE, open control file) must be
 *    back to their starting values exactly;
 *  - the slab total (sum of active_objs * objsize over /proc/slabinfo, which
 *    needs CONFIG_SLUB_DEBUG; else /proc/meminfo's Slab) may differ by at
 *    most the tolerance (default 1024 KiB).  The slab total is noisy: per-CPU
 *    object caches (sheaves, partial slabs) keep freed objects counted as
 *    active, RCU-deferred frees land late, and unrelated kernel activity
 *    allocates too.  Before each measurement we drop the page cache and
 *    reclaimable slab (drop_caches=3) and wait for RCU (a short sleep,
 *    twice), which keeps the noise at tens of KiB, well below what a leak
 *    of one small object per cycle (10^4 cycles) would show.  The largest
 *    per-cache differences are printed either way.  With
 *    riommu_test.soak_slab=skip on the command line (the debug run: KASAN's
 *    quarantine keeps freed objects active) the test is reported skipped.
 *
 * TAP: one test per kind, one for the counters, one for the slab total.
 */
#include <getopt.h>
#include <time.h>

#pragma GCC diagnostic ignored "-Wunused-function"
#include "riommu_utils.h"

#define MAX_CACHES 512

/* riommu_test.soak_cycles=N from the kernel command line, else @def. */
static unsigned long cmdline_cycles(unsigned long def)
{
	static const char key[] = "riommu_test.soak_cycles=";
	char buf[4096], *p;
	FILE *f = fopen("/proc/cmdline", "r");
	size_t n;

	if (!f)
		return def;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strstr(buf, key);
	return p ? strtoul(p + sizeof(key) - 1, NULL, 10) : def;
}

/*
 * Whether the kernel command line has riommu_test.soak_slab=skip: under
 * KASAN's quarantine freed objects stay counted as active, so the slab
 * total measures the quarantine, not leaks (tools/check-debug.sh sets it;
 * kmemleak checks leaks there).
 */
static int cmdline_slab_skip(void)
{
	char buf[4096];
	FILE *f = fopen("/proc/cmdline", "r");
	size_t n;

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return strstr(buf, "riommu_test.soak_slab=skip") != NULL;
}

struct cache {
	char name[64];
	long long bytes;
};

struct slab {
	struct cache c[MAX_CACHES];
	int n;
	long long total;	/* bytes */
	bool slabinfo;		/* from /proc/slabinfo (else meminfo) */
};

static void settle(void)
{
	int fd;

	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "3", 1) != 1)
			;
		close(fd);
	}
	usleep(300 * 1000);	/* RCU-deferred frees */
}

static void read_slab(struct slab *s)
{
	char line[512];
	FILE *f;

	settle();
	settle();
	memset(s, 0, sizeof(*s));
	f = fopen("/proc/slabinfo", "r");
	if (f) {
		while (fgets(line, sizeof(line), f)) {
			char name[64];
			long long active, num, size;

			if (line[0] == '#' || !strncmp(line, "slabinfo", 8))
				continue;
			if (sscanf(line, "%63s %lld %lld %lld", name, &active,
				   &num, &size) != 4)
				continue;
			if (s->n < MAX_CACHES) {
				snprintf(s->c[s->n].name,
					 sizeof(s->c[s->n].name), "%s", name);
				s->c[s->n++].bytes = active * size;
			}
			s->total += active * size;
			s->slabinfo = true;
		}
		fclose(f);
	}
	if (s->slabinfo)
		return;
	f = fopen("/proc/meminfo", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		long long kb;

		if (sscanf(line, "Slab: %lld kB", &kb) == 1)
			s->total = kb * 1024;
	}
	fclose(f);
}

static void print_slab_diff(const struct slab *a, const struct slab *b)
{
	struct { const char *name; long long d; } top[5] = {};
	int i, j, k;

	for (i = 0; i != b->n; i++) {
		long long before = 0, d;

		for (j = 0; j != a->n; j++)
			if (!strcmp(a->c[j].name, b->c[i].name)) {
				before = a->c[j].bytes;
				break;
			}
		d = b->c[i].bytes - before;
		for (k = 0; k != 5; k++) {
			if (llabs(d) > llabs(top[k].d)) {
				memmove(&top[k + 1], &top[k],
					(4 - k) * sizeof(top[0]));
				top[k].name = b->c[i].name;
				top[k].d = d;
				break;
			}
		}
	}
	for (k = 0; k != 5 && top[k].name; k++)
		printf("#   %-24s %+lld bytes\n", top[k].name, top[k].d);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

enum kind { DEVICE, PAGING, NESTED, VIOMMU, VIOMMU_DATA, VDEVICE, NKINDS };

static const char *const kind_name[] = {
	"device", "paging_hwpt", "nested_hwpt", "viommu", "viommu_mmap",
	"vdevice",
};

struct ctx {
	int fd;
	struct backend be;
	uint32_t ioas, dev, idev, hwpt, parent, viommu;
	uint8_t *buf;
};

/* One create/destroy cycle; 0 or -1 with errno */
static int cycle(struct ctx *c, enum kind k, unsigned int i)
{
	struct iommu_viommu_selftest data = { .in_data = i };
	uint32_t d, idev, h, id;

	switch (k) {
	case DEVICE:
		if (be_dev_add(&c->be, c->ioas, i % 3 ? 0 : DEVF_PASID, &d,
			       &idev, &h))
			return -1;
		return be_dev_remove(&c->be, d);
	case PAGING:
		if (hwpt_alloc_paging(c->fd, c->idev, c->ioas,
				      i % 2 ? IOMMU_HWPT_ALLOC_NEST_PARENT :
				      IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &id))
			return -1;
		return iommufd_destroy(c->fd, id);
	case NESTED:
		if (hwpt_alloc_nested(c->fd, c->idev, i % 2 ? c->parent :
				      c->viommu, 0, i, &id))
			return -1;
		return iommufd_destroy(c->fd, id);
	case VIOMMU:
	case VIOMMU_DATA:
		if (viommu_alloc(c->fd, c->idev, c->parent,
				 IOMMU_VIOMMU_TYPE_SELFTEST,
				 k == VIOMMU_DATA ? &data : NULL,
				 k == VIOMMU_DATA ? sizeof(data) : 0, &id))
			return -1;
		return iommufd_destroy(c->fd, id);
	case VDEVICE:
		if (vdevice_alloc(c->fd, c->viommu, c->idev, 1 + i % 7, &id))
			return -1;
		return iommufd_destroy(c->fd, id);
	default:
		errno = EINVAL;
		return -1;
	}
}

static int ctx_open(struct ctx *c)
{
	memset(c, 0, sizeof(*c));
	c->fd = iommufd_open();
	if (c->fd < 0 || backend_open(&c->be, &rust_mock_ops, c->fd))
		return -1;
	c->buf = alloc_buf(SZ_1M);
	if (!c->buf)
		return -1;
	/* A mapped IOAS, so paging domains get page tables to free */
	if (ioas_alloc(c->fd, &c->ioas) ||
	    ioas_map_fixed(c->fd, c->ioas, c->buf, SZ_1M, APERTURE_START) ||
	    be_dev_add(&c->be, c->ioas, 0, &c->dev, &c->idev, &c->hwpt) ||
	    hwpt_alloc_paging(c->fd, c->idev, c->ioas,
			      IOMMU_HWPT_ALLOC_NEST_PARENT, &c->parent) ||
	    viommu_alloc(c->fd, c->idev, c->parent, IOMMU_VIOMMU_TYPE_SELFTEST,
			 NULL, 0, &c->viommu))
		return -1;
	return 0;
}

static void ctx_close(struct ctx *c)
{
	backend_close(&c->be);
	if (c->fd >= 0)
		close(c->fd);
	if (c->buf)
		munmap(c->buf, SZ_1M);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cycles", required_argument, NULL, 'c' },
		{ "slab-tolerance", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct riommu_mock_stats st0, st1;
	unsigned long cycles = 10000, tol_kib = 1024, i;
	struct slab *s0, *s1;
	long ref0, ref1;
	int opt, k, test = 0, failed = 0;
	struct ctx c;
	double t;

	cycles = cmdline_cycles(cycles);
	while ((opt = getopt_long(argc, argv, "c:s:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			cycles = strtoul(optarg, NULL, 0);
			break;
		case 's':
			tol_kib = strtoul(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [--cycles N] "
				"[--slab-tolerance KIB]\n", argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	printf("TAP version 13\n1..%d\n", NKINDS + 2);
	printf("# riommu_soak: %lu create/destroy cycles per object kind\n",
	       cycles);
	fflush(stdout);
	s0 = calloc(1, sizeof(*s0));
	s1 = calloc(1, sizeof(*s1));
	if (!s0 || !s1)
		return 1;

	if (riommu_stats(&st0)) {
		printf("Bail out! RIOMMU_MOCK_STATS: %s (is riommu_mock.ko "
		       "loaded?)\n", ename(errno));
		return 1;
	}
	ref0 = riommu_module_refcnt();
	read_slab(s0);
	printf("# before: devices %llu paging %llu nested %llu table_bytes "
	       "%llu, module refcnt %ld, slab %lld KiB (%s)\n",
	       (unsigned long long)st0.out_devices,
	       (unsigned long long)st0.out_paging_domains,
	       (unsigned long long)st0.out_nested_domains,
	       (unsigned long long)st0.out_table_bytes, ref0,
	       s0->total / 1024, s0->slabinfo ? "/proc/slabinfo" :
	       "/proc/meminfo Slab");

	if (ctx_open(&c)) {
		printf("Bail out! set-up: %s\n", ename(errno));
		return 1;
	}
	for (k = 0; k != NKINDS; k++) {
		int rc = 0, e = 0;

		t = now();
		for (i = 0; i != cycles; i++) {
			rc = cycle(&c, k, i);
			if (rc) {
				e = errno;
				break;
			}
		}
		t = now() - t;
		test++;
		if (rc) {
			failed++;
			printf("not ok %d %s # cycle %lu: %s\n", test,
			       kind_name[k], i, ename(e));
		} else {
			printf("ok %d %s # %lu cycles in %.2f s (%.0f/s)\n",
			       test, kind_name[k], cycles, t,
			       t > 0 ? cycles / t : 0.0);
		}
		fflush(stdout);
	}
	ctx_close(&c);

	/* Our own counters: exact */
	test++;
	if (riommu_stats(&st1)) {
		failed++;
		printf("not ok %d counters # RIOMMU_MOCK_STATS: %s\n", test,
		       ename(errno));
	} else {
		ref1 = riommu_module_refcnt();
		printf("# after:  devices %llu paging %llu nested %llu "
		       "table_bytes %llu, module refcnt %ld\n",
		       (unsigned long long)st1.out_devices,
		       (unsigned long long)st1.out_paging_domains,
		       (unsigned long long)st1.out_nested_domains,
		       (unsigned long long)st1.out_table_bytes, ref1);
		if (st1.out_devices != st0.out_devices ||
		    st1.out_paging_domains != st0.out_paging_domains ||
		    st1.out_nested_domains != st0.out_nested_domains ||
		    st1.out_table_bytes != st0.out_table_bytes ||
		    ref1 != ref0) {
			failed++;
			printf("not ok %d counters # not back to the start\n",
			       test);
		} else {
			printf("ok %d counters # back to the start\n", test);
		}
	}

	/* The slab total: within the tolerance */
	read_slab(s1);
	test++;
	printf("# slab: before %lld KiB, after %lld KiB, difference %+lld KiB "
	       "(tolerance %lu KiB); largest per-cache differences:\n",
	       s0->total / 1024, s1->total / 1024,
	       (s1->total - s0->total) / 1024, tol_kib);
	if (s0->slabinfo && s1->slabinfo)
		print_slab_diff(s0, s1);
	if (cmdline_slab_skip()) {
		printf("ok %d slab_total # SKIP under KASAN's quarantine the slab total "
		       "does not reflect frees (riommu_test.soak_slab=skip; kmemleak "
		       "checks leaks)\n", test);
	} else if (s1->total - s0->total > (long long)tol_kib * 1024) {
		failed++;
		printf("not ok %d slab_total # grew by %lld KiB\n", test,
		       (s1->total - s0->total) / 1024);
	} else {
		printf("ok %d slab_total # %+lld KiB\n", test,
		       (s1->total - s0->total) / 1024);
	}
	free(s0);
	free(s1);
	return failed ? 1 : 0;
}
