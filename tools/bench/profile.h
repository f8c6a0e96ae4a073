/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest kernel profiler of the benchmark programs (riommu_bench,
 * riommu_vtd_bench, riommu_smmuv3_bench): while a measure's op runs in a
 * loop for --profile-ms (1500 ms), perf_event_open cpu-clock samples of
 * the calling thread at 10 kHz, kernel only, with kernel callchains,
 * symbolised from /proc/kallsyms (text symbols; "[module]" after a
 * module's).  Per measure and backend (or driver) it prints
 *
 *   PROFILE begin KEY BACKEND
 *   # LABEL, BACKEND backend: N kernel samples at 10 kHz (L lost, U
 *   #   unresolved), T ns per op while sampled
 *   #   self%  symbol (time in the function itself)     (25 lines at most)
 *   #   incl%  symbol (time in the function and what it calls)   (40)
 *   #   hot%   instruction (symbol+offset)                (20)
 *   PROFILE end KEY BACKEND
 *
 * with Rust symbols mangled (v0): tools/bench.sh demangles them with
 * c++filt into build/bench/profile.txt.  The options, in a program's
 * set_opt(): profile_opt() takes --profile above|all|KEY,... (no value:
 * "above") and --profile-ms MS; profile_wanted() says whether a measure
 * is profiled; profile_load() reads /proc/kallsyms once; profile_measure()
 * profiles one measure.  "above" means the measures whose ratio Rust/C is
 * above 1.0 where a program knows it (riommu_bench, both backends in one
 * boot); riommu_vtd_bench and riommu_smmuv3_bench run one driver per boot
 * and pass above = true: for them "above" is "all".
 *
 * Included after bench_util.h; everything is static.
 */
#ifndef RIOMMU_BENCH_PROFILE_H
#define RIOMMU_BENCH_PROFILE_H

#include <inttypes.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <linux/perf_event.h>

#include "bench_util.h"

/* ------------------------------------------------------------------------ */
/* Options                                                                  */

struct profile_opts {
	const char *which;	/* NULL, "above", "all" or keys */
	double ms;		/* sampling time per measure and backend */
};

#define PROFILE_OPTS_DEFAULT { .ms = 1500 }

/* profile (a flag or a value) and profile-ms into @p; -1 if @k is neither */
static inline int __attribute__((unused))
profile_opt(struct profile_opts *p, const char *k, const char *v)
{
	if (!strcmp(k, "profile-ms") && v)
		p->ms = atof(v);
	else if (!strcmp(k, "profile"))
		p->which = v ? strdup(v) : "above";
	else
		return -1;
	return 0;
}

/*
 * Whether to profile measure @key; @above: whether its ratio Rust/C is
 * above 1.0 (true where the program cannot know: "above" is "all" there).
 */
static inline bool __attribute__((unused))
profile_wanted(const struct profile_opts *p, const char *key, bool above)
{
	if (!p->which)
		return false;
	if (!strcmp(p->which, "all"))
		return true;
	if (!strcmp(p->which, "above"))
		return above;
	return in_list(p->which, key);
}

/* ------------------------------------------------------------------------ */
/* Kernel symbols and samples                                               */

struct ksym {
	uint64_t addr;
	char *name;
	unsigned long self, incl;
	unsigned int seen;	/* sample number that last counted incl */
};

static struct ksym *ksyms;
static size_t nksyms;

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static int load_kallsyms(void)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[512], name[400], mod[100];
	size_t cap = 0;
	unsigned long long a;
	char t;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		int n = sscanf(line, "%llx %c %399s %99s", &a, &t, name, mod);

		if (n < 3 || !a || (t != 't' && t != 'T'))
			continue;
		if (nksyms == cap) {
			cap = cap ? 2 * cap : 65536;
			ksyms = realloc(ksyms, cap * sizeof(*ksyms));
			if (!ksyms)
				abort();
		}
		if (n == 4) {
			char full[512];

			snprintf(full, sizeof(full), "%s %s", name, mod);
			ksyms[nksyms].name = strdup(full);
		} else {
			ksyms[nksyms].name = strdup(name);
		}
		ksyms[nksyms].addr = a;
		nksyms++;
	}
	fclose(f);
	qsort(ksyms, nksyms, sizeof(*ksyms), cmp_ksym);
	return nksyms ? 0 : -1;
}

static struct ksym *ksym_find(uint64_t ip)
{
	size_t lo = 0, hi = nksyms;

	if (!nksyms || ip < ksyms[0].addr)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;

		if (ksyms[mid].addr <= ip)
			lo = mid;
		else
			hi = mid;
	}
	return &ksyms[lo];
}

#define RING_PAGES 256	/* 1 MiB data */

#define MAX_IPS 200000

struct profiler {
	int fd;
	struct perf_event_mmap_page *mp;
	unsigned long samples, lost, user;
	unsigned int seq;
	uint64_t *ips;		/* every sampled kernel IP, for hot spots */
	size_t nips;
};

static int prof_open(struct profiler *p)
{
	struct perf_event_attr a = {
		.size = sizeof(a),
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK,
		.sample_period = 100000, /* ns: 10 kHz */
		.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_CALLCHAIN,
		.disabled = 1,
		.exclude_user = 1,
		.exclude_hv = 1,
		.exclude_callchain_user = 1,
	};

	memset(p, 0, sizeof(*p));
	p->fd = syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
	if (p->fd < 0)
		return -1;
	p->mp = mmap(NULL, (RING_PAGES + 1) * PAGE_4K, PROT_READ | PROT_WRITE,
		     MAP_SHARED, p->fd, 0);
	if (p->mp == MAP_FAILED) {
		close(p->fd);
		return -1;
	}
	return 0;
}

static void prof_drain(struct profiler *p)
{
	char *data = (char *)p->mp + PAGE_4K;
	uint64_t size = RING_PAGES * PAGE_4K;
	uint64_t head = __atomic_load_n(&p->mp->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = p->mp->data_tail;

	while (tail < head) {
		struct perf_event_header h;
		uint64_t rec[1024];
		size_t i, off = tail % size, len;

		/* copy the header and the record, which may wrap */
		for (i = 0; i < sizeof(h); i++)
			((char *)&h)[i] = data[(off + i) % size];
		len = h.size;
		if (len < sizeof(h) || len > sizeof(rec))
			break;
		for (i = 0; i < len; i++)
			((char *)rec)[i] = data[(off + i) % size];
		tail += len;
		if (h.type == PERF_RECORD_LOST) {
			p->lost += rec[2];
			continue;
		}
		if (h.type != PERF_RECORD_SAMPLE)
			continue;
		{
			uint64_t ip = rec[1], nr = rec[2];
			struct ksym *s = ksym_find(ip);

			p->samples++;
			p->seq++;
			if (h.misc & PERF_RECORD_MISC_USER || !s) {
				p->user++;
				continue;
			}
			s->self++;
			if (p->ips && p->nips < MAX_IPS)
				p->ips[p->nips++] = ip;
			for (i = 0; i < nr && 3 + i < len / 8; i++) {
				uint64_t cip = rec[3 + i];
				struct ksym *cs;

				if (cip >= (uint64_t)-4096) /* PERF_CONTEXT_* */
					continue;
				cs = ksym_find(cip);
				if (cs && cs->seen != p->seq) {
					cs->seen = p->seq;
					cs->incl++;
				}
			}
			if (s->seen != p->seq) {
				s->seen = p->seq;
				s->incl++;
			}
		}
	}
	__atomic_store_n(&p->mp->data_tail, tail, __ATOMIC_RELEASE);
}

static int cmp_self(const void *a, const void *b)
{
	const struct ksym *x = *(struct ksym *const *)a, *y = *(struct ksym *const *)b;

	return (y->self > x->self) - (y->self < x->self);
}

static int cmp_incl(const void *a, const void *b)
{
	const struct ksym *x = *(struct ksym *const *)a, *y = *(struct ksym *const *)b;

	return (y->incl > x->incl) - (y->incl < x->incl);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The hottest exact IPs, as symbol+offset (to read against objdump -d) */
static void print_hot_ips(struct profiler *p)
{
	struct { uint64_t ip; size_t n; } hot[20] = { { 0 } };
	size_t i, j, k, run;

	if (!p->ips || !p->nips)
		return;
	qsort(p->ips, p->nips, sizeof(*p->ips), cmp_u64);
	for (i = 0; i < p->nips; i = j) {
		for (j = i; j < p->nips && p->ips[j] == p->ips[i]; j++)
			;
		run = j - i;
		for (k = 0; k < ARRAY_LEN(hot) && hot[k].n >= run; k++)
			;
		if (k == ARRAY_LEN(hot))
			continue;
		memmove(&hot[k + 1], &hot[k], (ARRAY_LEN(hot) - k - 1) * sizeof(hot[0]));
		hot[k].ip = p->ips[i];
		hot[k].n = run;
	}
	printf("#   hot%%   instruction (symbol+offset)\n");
	for (k = 0; k < ARRAY_LEN(hot) && hot[k].n; k++) {
		struct ksym *s = ksym_find(hot[k].ip);
		char name[200];

		snprintf(name, sizeof(name), "%s", s ? s->name : "?");
		if (strchr(name, ' '))
			*strchr(name, ' ') = 0;
		printf("  %6.2f  %s+0x%" PRIx64 "%s\n", 100.0 * hot[k].n / p->nips, name,
		       s ? hot[k].ip - s->addr : hot[k].ip,
		       s && strchr(s->name, ' ') ? strchr(s->name, ' ') : "");
	}
}

/* Reads /proc/kallsyms (once); -1 after a "# profile:" line if it cannot */
static int __attribute__((unused)) profile_load(void)
{
	if (nksyms)
		return 0;
	if (load_kallsyms()) {
		printf("# profile: cannot read /proc/kallsyms\n");
		return -1;
	}
	return 0;
}

/* Runs @iters iterations of the op profiled on @ctx; 0, or -1 (errno) */
typedef int (*profile_op_fn)(void *ctx, long iters);

/*
 * Profiles measure @key (@label) of backend or driver @backend: runs @op
 * on @ctx in chunks of a quarter of @iters (the calibrated batch) + 1 for
 * @p->ms, sampling, then prints the PROFILE block.  @ops_per_iter: ops
 * per iteration, for the time per op.  A failing op is fail()ed.
 */
static void __attribute__((unused))
profile_measure(const struct profile_opts *po, const char *key, const char *label,
		const char *backend, profile_op_fn op, void *ctx, long iters,
		double ops_per_iter)
{
	struct ksym **top;
	struct profiler p;
	double t0, per_op = 0;
	long done = 0, chunk;
	size_t i, n = 0;

	for (i = 0; i < nksyms; i++)
		ksyms[i].self = ksyms[i].incl = ksyms[i].seen = 0;
	if (prof_open(&p)) {
		printf("# profile: perf_event_open: %s\n", strerror(errno));
		return;
	}
	p.ips = malloc(MAX_IPS * sizeof(*p.ips));
	chunk = iters / 4 + 1;
	ioctl(p.fd, PERF_EVENT_IOC_ENABLE, 0);
	t0 = now_ns();
	while (now_ns() - t0 < po->ms * 1e6) {
		if (op(ctx, chunk)) {
			fail("%s: profile of %s: %s", backend, key, strerror(errno));
			break;
		}
		done += chunk;
		prof_drain(&p);
	}
	ioctl(p.fd, PERF_EVENT_IOC_DISABLE, 0);
	if (done)
		per_op = (now_ns() - t0) / (done * ops_per_iter);
	prof_drain(&p);

	printf("PROFILE begin %s %s\n", key, backend);
	printf("# %s, %s backend: %lu kernel samples at 10 kHz (%lu lost, %lu unresolved),"
	       " %.0f ns per op while sampled\n", label, backend,
	       p.samples - p.user, p.lost, p.user, per_op);
	top = calloc(nksyms, sizeof(*top));
	for (i = 0; i < nksyms; i++)
		if (ksyms[i].incl)
			top[n++] = &ksyms[i];
	qsort(top, n, sizeof(*top), cmp_self);
	printf("#   self%%  symbol (time in the function itself)\n");
	for (i = 0; i < n && i < 25 && top[i]->self; i++)
		printf("  %6.2f  %s\n", 100.0 * top[i]->self / (p.samples - p.user),
		       top[i]->name);
	qsort(top, n, sizeof(*top), cmp_incl);
	printf("#   incl%%  symbol (time in the function and what it calls)\n");
	for (i = 0; i < n && i < 40; i++)
		printf("  %6.2f  %s\n", 100.0 * top[i]->incl / (p.samples - p.user),
		       top[i]->name);
	print_hot_ips(&p);
	printf("PROFILE end %s %s\n", key, backend);
	free(p.ips);
	free(top);
	munmap(p.mp, (RING_PAGES + 1) * PAGE_4K);
	close(p.fd);
}

#endif /* RIOMMU_BENCH_PROFILE_H */
