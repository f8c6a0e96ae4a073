// SPDX-License-Identifier: GPL-2.0
/*
 * riommu_fuzz: a bounded, seeded, differential ioctl fuzzer.
 *
 *   riommu_fuzz [--seed S] [--seconds T] [--iters N] [--verbose]
 *               [--avoid pasid-nopasid-dev]
 *
 * Drives random sequences of the ioctls that reach a mock IOMMU driver
 * (devices, IOAS map/unmap, paging and nested HWPT allocation, attach and
 * replace, invalidation, dirty tracking, vIOMMU, vDEVICE, vEVENTQ, PASID,
 * destroy), with random but mostly plausible arguments, against the C mock
 * (CONFIG_IOMMUFD_TEST) and riommu_mock in lockstep: the same step runs on
 * both, each in its own iommufd context, with object ids mapped per backend
 * (a model keeps "slots" holding each object's id on either side).  Any
 * difference in the outcome (errno, and entry_num for invalidations) is a
 * failure; the seed, the step and the steps before it are printed, which is
 * all it takes to replay it (same seed, --iters up to that step).
 *
 * Defaults: a random seed (printed), 20 seconds (what `make check` runs);
 * stops at --iters steps or --seconds, whichever comes first.  Output is TAP
 * with one test, "ok 1 fuzz seed=S iters=N", and the rate.
 *
 * Known, documented differences are avoided, not tolerated blindly:
 *  - The C mock's paging base page is 2K, ours 4K: all IOVAs, lengths and
 *    buffer offsets are multiples of 4K.
 *  - RIOMMU_MOCK_DEV_ADD may leave a device unattached (pt_id 0), the C mock
 *    cannot: pt_id is never 0 here.  PASID 0 is the RID: the C mock's PASID
 *    ops would attach the RID, ours refuse (EINVAL): not used.
 *  - TRIGGER_VEVENT: the C mock reports for a device attached to a nested
 *    HWPT of the vIOMMU with a vDEVICE recorded at attach time;
 *    RIOMMU_MOCK_TRIGGER_VEVENT for a (vIOMMU, virt_id) with a vDEVICE.
 *    Triggered only where both must succeed (attached, vDEVICE created
 *    before the attach and alive, a vEVENTQ of the type).
 *    RIOMMU_MOCK_DEV_TRIGGER_VEVENT follows the C mock's rule: it is
 *    compared on any device ("dev_trigger_vevent").
 *  - Device cache slots (DEV_CHECK_CACHE) and IOMMU_GET_HW_INFO's type and
 *    test_reg are the same in both mocks and compared.
 *  - Devices are removed only after their PASIDs are detached: removing a
 *    C mock device with a PASID attached WARNs in iommufd_device_unbind()
 *    (the idev stays busy; a 7.3 selftest bug, not ours to exercise).
 *    riommu_mock copes, but the step must be the same on both sides.
 *  - Auto domains (the HWPT an IOAS attach creates) are not given slots:
 *    their ids die with their last device, and ids are reused, so using a
 *    stale one could hit different objects on the two sides.
 */
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <time.h>

/* riommu_utils.h brings the kselftest harness, unused here */
#pragma GCC diagnostic ignored "-Wunused-function"
#include "riommu_utils.h"

#define BAD_ID		0xfffff0u
#define NSLOTS		48
#define BUF_LEN		(1024 * 1024)
#define IOVA_SPAN	(16 * SZ_1M)	/* IOVAs in [APERTURE_START, +16M) */
#define LOG_STEPS	24		/* steps shown before a divergence */

enum okind { K_FREE, K_IOAS, K_DEV, K_PAGING, K_NESTED, K_VIOMMU, K_VDEV,
	     K_VEVENTQ };

static const char *const kname[] = {
	"free", "ioas", "dev", "paging", "nested", "viommu", "vdev", "veventq",
};

struct slot {
	enum okind kind;
	uint32_t id[2];		/* iommufd id per backend (dev: idev id) */
	uint32_t handle[2];	/* dev: backend device handle */
	int fd[2];		/* veventq: its file */
	uint32_t flags;		/* dev: dev flags; paging: alloc flags */
	int ref;		/* vdev: dev slot; nested: parent slot;
				   veventq: viommu slot; viommu: dev slot */
	int ref2;		/* vdev: viommu slot */
	uint64_t virt_id;	/* vdev */
	uint32_t iotlb[IOTLB_SLOTS];	/* nested: model of the IOTLB */
	/*
	 * dev: what the C mock records for TRIGGER_VEVENT (mock_dev's
	 * viommu and vdev_id, updated on an attach only when the vIOMMU
	 * changes), and the PASIDs attached
	 */
	int c_viommu;
	uint64_t c_virt;
	bool pasid[3];
};

struct fop {
	const char *name;
	bool (*fn)(void);
	unsigned int weight;
	unsigned long count;
	unsigned long ok;	/* calls that succeeded (on both) */
};

static struct fop fops[];
static unsigned int cur_op;

static const uint32_t pasids[3] = { 200, 201, RIOMMU_MOCK_PASID_FAKE_ERROR };

static struct slot slots[NSLOTS];
static struct backend be[2];
static int fds[2];
static uint8_t *buffer;
static uint64_t rng_state;
static bool verbose;
/*
 * --avoid pasid-nopasid-dev: no PASID ops on devices created without
 * DEVF_PASID.  Only to look past a known, reported riommu_mock divergence
 * (such a device accepts PASID attaches; the C mock's refuses: EINVAL)
 * while it is open; never the default.
 */
static bool avoid_pasid_nopasid;

/* splitmix64: small, seedable, the same everywhere */
static uint64_t rnd64(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t rnd(uint32_t n)
{
	return n ? rnd64() % n : 0;
}

static bool chance(unsigned int pct)
{
	return rnd(100) < pct;
}

/* ---- the step log -------------------------------------------------------- */

static char steplog[LOG_STEPS][200];
static unsigned long step;

static void logstep(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(steplog[step % LOG_STEPS], sizeof(steplog[0]), fmt, ap);
	va_end(ap);
	if (verbose)
		printf("# step %lu: %s\n", step, steplog[step % LOG_STEPS]);
}

/* ---- slots --------------------------------------------------------------- */

static int pick(enum okind k)
{
	int cand[NSLOTS], n = 0, i;

	for (i = 0; i != NSLOTS; i++)
		if (slots[i].kind == k)
			cand[n++] = i;
	return n ? cand[rnd(n)] : -1;
}

/* A live slot of any kind but @not (for wrong-type ids), or -1 */
static int pick_other(enum okind not)
{
	int cand[NSLOTS], n = 0, i;

	for (i = 0; i != NSLOTS; i++)
		if (slots[i].kind != K_FREE && slots[i].kind != not &&
		    slots[i].kind != K_DEV)
			cand[n++] = i;
	return n ? cand[rnd(n)] : -1;
}

static int free_slot(void)
{
	int i;

	for (i = 0; i != NSLOTS; i++)
		if (slots[i].kind == K_FREE)
			return i;
	return -1;
}

/* Per-backend id of slot @s (BAD_ID for -1) */
static uint32_t sid(int s, int b)
{
	return s < 0 ? BAD_ID : slots[s].id[b];
}

static void kill_slot(int s)
{
	int b;

	if (slots[s].kind == K_VEVENTQ)
		for (b = 0; b != 2; b++)
			close(slots[s].fd[b]);
	memset(&slots[s], 0, sizeof(slots[s]));
	slots[s].kind = K_FREE;
}

/* ---- outcome comparison -------------------------------------------------- */

struct res {
	int err;	/* 0 or errno */
	long aux;	/* a second value to compare (entry_num...), or 0 */
};

static unsigned long divergences;

static bool same(const char *what, struct res r[2])
{
	unsigned long i, first;

	if (r[0].err == r[1].err && r[0].aux == r[1].aux) {
		if (!r[0].err)
			fops[cur_op].ok++;
		return true;
	}
	divergences++;
	printf("# DIVERGENCE at step %lu: %s: c_mock %s (%ld), rust_mock %s "
	       "(%ld)\n", step, what, ename(r[0].err), r[0].aux,
	       ename(r[1].err), r[1].aux);
	first = step >= LOG_STEPS - 1 ? step - (LOG_STEPS - 1) : 0;
	printf("# the steps up to it:\n");
	for (i = first; i <= step; i++)
		printf("#   %lu: %s\n", i, steplog[i % LOG_STEPS]);
	return false;
}

#define BOTH(res, expr)                                                      \
	do {                                                                 \
		int b;                                                       \
		for (b = 0; b != 2; b++) {                                   \
			errno = 0;                                           \
			res[b].aux = 0;                                      \
			res[b].err = (expr) ? errno : 0;                     \
		}                                                            \
	} while (0)

/* ---- the operations ------------------------------------------------------ */

static uint64_t rnd_iova(void)
{
	return APERTURE_START + (uint64_t)rnd(IOVA_SPAN / PAGE_4K) * PAGE_4K;
}

static uint64_t rnd_len(void)
{
	return (1 + rnd(chance(80) ? 16 : 128)) * PAGE_4K;
}

static uint8_t *rnd_buf(uint64_t len)
{
	return buffer + rnd((BUF_LEN - len) / PAGE_4K + 1) * PAGE_4K;
}

static bool op_ioas_alloc(void)
{
	struct res r[2];
	int s = free_slot();

	if (s < 0)
		return true;
	logstep("ioas_alloc -> slot %d", s);
	BOTH(r, ioas_alloc(fds[b], &slots[s].id[b]));
	if (!same("IOMMU_IOAS_ALLOC", r))
		return false;
	if (!r[0].err)
		slots[s].kind = K_IOAS;
	return true;
}

static bool op_map(void)
{
	int s = chance(90) ? pick(K_IOAS) : pick_other(K_IOAS);
	uint64_t len = rnd_len(), iova = rnd_iova();
	uint8_t *p = rnd_buf(len);
	struct res r[2];

	if (chance(5))
		iova = APERTURE_LAST + 1 - PAGE_4K * rnd(4);	/* edge */
	logstep("ioas_map slot %d iova 0x%llx len 0x%llx buf+0x%lx", s,
		(unsigned long long)iova, (unsigned long long)len,
		(unsigned long)(p - buffer));
	BOTH(r, ioas_map_fixed(fds[b], sid(s, b), p, len, iova));
	return same("IOMMU_IOAS_MAP", r);
}

static bool op_unmap(void)
{
	int s = chance(90) ? pick(K_IOAS) : pick_other(K_IOAS);
	uint64_t iova = rnd_iova(), len = rnd_len();
	struct res r[2];

	if (chance(20)) {
		iova = 0;
		len = UINT64_MAX;
	}
	logstep("ioas_unmap slot %d iova 0x%llx len 0x%llx", s,
		(unsigned long long)iova, (unsigned long long)len);
	BOTH(r, ioas_unmap(fds[b], sid(s, b), iova, len));
	return same("IOMMU_IOAS_UNMAP", r);
}

static int vdev_of(int d, int v);

/* Device slot @d is now attached to slot @t: mirror the C mock's record */
static void attached(int d, int t)
{
	int v = t >= 0 && slots[t].kind == K_NESTED ? slots[t].ref2 : -1;
	int vd;

	if (v == slots[d].c_viommu)
		return;
	slots[d].c_viommu = v;
	vd = v >= 0 ? vdev_of(d, v) : -1;
	slots[d].c_virt = vd >= 0 ? slots[vd].virt_id : 0;
}

static bool op_dev_add(void)
{
	static const uint32_t fl[] = { 0, 0, DEVF_NO_DIRTY, DEVF_PASID,
				       DEVF_PASID | DEVF_NO_DIRTY, 1u << 1 };
	int s = free_slot(), pt = -1;
	uint32_t flags = fl[rnd(ARRAY_LEN(fl))], hwpt[2];
	struct res r[2];

	if (s < 0)
		return true;
	switch (rnd(10)) {
	case 0:
		pt = pick(K_PAGING);
		break;
	case 1:
		pt = pick(K_NESTED);
		break;
	case 2:
		pt = pick_other(K_IOAS);
		break;
	default:
		pt = pick(K_IOAS);
		break;
	}
	logstep("dev_add flags 0x%x pt slot %d -> slot %d", flags, pt, s);
	BOTH(r, be_dev_add(&be[b], sid(pt, b), flags, &slots[s].handle[b],
			   &slots[s].id[b], &hwpt[b]));
	if (!same("DEV_ADD", r))
		return false;
	if (!r[0].err) {
		slots[s].kind = K_DEV;
		slots[s].flags = flags;
		slots[s].c_viommu = -1;
		attached(s, pt);
	}
	return true;
}

/* The vDEVICE of device slot @d on vIOMMU slot @v, or -1 */
static int vdev_of(int d, int v)
{
	int i;

	for (i = 0; i != NSLOTS; i++)
		if (slots[i].kind == K_VDEV && slots[i].ref == d &&
		    (v < 0 || slots[i].ref2 == v))
			return i;
	return -1;
}

static bool pasid_detach_all(int d)
{
	unsigned int i;
	struct res r[2];

	for (i = 0; i != ARRAY_LEN(pasids); i++) {
		if (!slots[d].pasid[i])
			continue;
		logstep("pasid_detach dev %d pasid %u (before removal)", d,
			pasids[i]);
		BOTH(r, be_pasid(&be[b], BE_PASID_DETACH, slots[d].handle[b],
				 pasids[i], NULL));
		if (!same("PASID_DETACH", r))
			return false;
		slots[d].pasid[i] = false;
	}
	return true;
}

static bool op_dev_remove(void)
{
	int d = pick(K_DEV), i;
	struct res r[2];

	if (d < 0)
		return true;
	if (!pasid_detach_all(d))
		return false;
	logstep("dev_remove slot %d", d);
	BOTH(r, be_dev_remove(&be[b], slots[d].handle[b]));
	if (!same("DEV_REMOVE", r))
		return false;
	if (r[0].err)
		return true;
	/* Its vDEVICEs go with it (tombstoned ids), and its vIOMMUs' owner */
	for (i = 0; i != NSLOTS; i++)
		if (slots[i].kind == K_VDEV && slots[i].ref == d)
			kill_slot(i);
	kill_slot(d);
	return true;
}

static bool op_replace(void)
{
	int d = pick(K_DEV), t;
	uint32_t pt[2];
	struct res r[2];

	if (d < 0)
		return true;
	switch (rnd(8)) {
	case 0: case 1:
		t = pick(K_PAGING);
		break;
	case 2: case 3:
		t = pick(K_NESTED);
		break;
	case 4:
		t = pick_other(K_IOAS);
		break;
	default:
		t = pick(K_IOAS);
		break;
	}
	logstep("replace dev %d -> slot %d", d, t);
	for (int b = 0; b != 2; b++)
		pt[b] = sid(t, b);
	BOTH(r, be_replace(&be[b], slots[d].handle[b], &pt[b]));
	if (!same("REPLACE", r))
		return false;
	if (!r[0].err)
		attached(d, t);
	return true;
}

static bool op_paging_alloc(void)
{
	static const uint32_t fl[] = {
		0, IOMMU_HWPT_ALLOC_NEST_PARENT, IOMMU_HWPT_ALLOC_NEST_PARENT,
		IOMMU_HWPT_ALLOC_DIRTY_TRACKING, IOMMU_HWPT_ALLOC_PASID,
		IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_DIRTY_TRACKING,
		IOMMU_HWPT_ALLOC_NEST_PARENT | IOMMU_HWPT_ALLOC_PASID,
		1u << 9,
	};
	struct iommu_hwpt_selftest data = { .pagetable_type = 0 };
	int s = free_slot(), d = pick(K_DEV), pt;
	uint32_t flags = fl[rnd(ARRAY_LEN(fl))], type = IOMMU_HWPT_DATA_NONE;
	uint32_t len = 0;
	struct res r[2];

	if (s < 0)
		return true;
	pt = chance(90) ? pick(K_IOAS) : pick_other(K_IOAS);
	if (chance(15)) {
		type = IOMMU_HWPT_DATA_SELFTEST;
		len = sizeof(data);
		data.pagetable_type = chance(80) ? 0 : 99;
	}
	logstep("paging_alloc dev %d pt %d flags 0x%x type 0x%x pt_type %u "
		"-> slot %d", d, pt, flags, type, data.pagetable_type, s);
	BOTH(r, hwpt_alloc_raw(fds[b], sid(d, b), sid(pt, b), flags, type,
			       len ? &data : NULL, len, &slots[s].id[b]));
	if (!same("HWPT_ALLOC paging", r))
		return false;
	if (!r[0].err) {
		/* A paging HWPT on a HWPT would be nested: pt is an IOAS */
		slots[s].kind = K_PAGING;
		slots[s].flags = flags;
		slots[s].ref = pt;
	}
	return true;
}

static bool op_nested_alloc(void)
{
	struct iommu_hwpt_selftest data = { .iotlb = rnd(4) ? rnd(0x100) :
					    IOMMU_TEST_IOTLB_DEFAULT };
	int s = free_slot(), d = pick(K_DEV), p;
	uint32_t flags = chance(85) ? 0 : chance(50) ? IOMMU_HWPT_ALLOC_PASID :
			 IOMMU_HWPT_ALLOC_NEST_PARENT;
	uint32_t len = chance(90) ? sizeof(data) : rnd(12);
	bool on_viommu = chance(30);
	struct res r[2];
	unsigned int i;

	if (s < 0)
		return true;
	p = on_viommu ? pick(K_VIOMMU) : chance(90) ? pick(K_PAGING) :
	    pick_other(K_PAGING);
	logstep("nested_alloc dev %d parent %d (%s) flags 0x%x iotlb 0x%x "
		"len %u -> slot %d", d, p, p >= 0 ? kname[slots[p].kind] : "-",
		flags, data.iotlb, len, s);
	/* On a vIOMMU the core ignores dev_id's driver but needs a device */
	BOTH(r, hwpt_alloc_raw(fds[b], sid(d, b), sid(p, b), flags,
			       IOMMU_HWPT_DATA_SELFTEST, &data, len,
			       &slots[s].id[b]));
	if (!same("HWPT_ALLOC nested", r))
		return false;
	if (!r[0].err) {
		slots[s].kind = K_NESTED;
		slots[s].ref = p;
		slots[s].ref2 = slots[p].kind == K_VIOMMU ? p : -1;
		for (i = 0; i != IOTLB_SLOTS; i++)
			slots[s].iotlb[i] = data.iotlb;
	}
	return true;
}

static bool op_invalidate(void)
{
	struct iommu_hwpt_invalidate_selftest inv[4];
	uint32_t num[2], n = rnd(5), i, len = sizeof(inv[0]);
	int s = chance(90) ? pick(K_NESTED) : pick_other(K_NESTED);
	struct res r[2];

	for (i = 0; i != ARRAY_LEN(inv); i++) {
		inv[i].iotlb_id = rnd(10) ? rnd(IOTLB_SLOTS) : IOTLB_SLOTS;
		inv[i].flags = rnd(10) ? 0 : rnd(3) ?
			       IOMMU_TEST_INVALIDATE_FLAG_ALL : 1u << 5;
	}
	if (chance(5))
		len = rnd(16);
	logstep("invalidate slot %d num %u len %u [%x/%u %x/%u %x/%u %x/%u]",
		s, n, len, inv[0].flags, inv[0].iotlb_id, inv[1].flags,
		inv[1].iotlb_id, inv[2].flags, inv[2].iotlb_id, inv[3].flags,
		inv[3].iotlb_id);
	BOTH(r, (num[b] = n, hwpt_invalidate(fds[b], sid(s, b),
					     IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
					     inv, len, &num[b])));
	r[0].aux = num[0];
	r[1].aux = num[1];
	if (!same("HWPT_INVALIDATE", r))
		return false;
	/* Model: the first num entries were applied */
	if (s >= 0 && slots[s].kind == K_NESTED && len == sizeof(inv[0]))
		for (i = 0; i != num[0] && i < n; i++) {
			if (inv[i].flags & IOMMU_TEST_INVALIDATE_FLAG_ALL)
				memset(slots[s].iotlb, 0,
				       sizeof(slots[s].iotlb));
			else
				slots[s].iotlb[inv[i].iotlb_id] = 0;
		}
	return true;
}

static bool op_check_iotlb(void)
{
	int s = pick(K_NESTED);
	uint32_t id = rnd(IOTLB_SLOTS + 1), val;
	struct res r[2];

	if (s < 0)
		return true;
	val = id < IOTLB_SLOTS ? slots[s].iotlb[id] : 0;
	logstep("check_iotlb slot %d id %u value 0x%x", s, id, val);
	BOTH(r, be_check_iotlb(&be[b], slots[s].id[b], id, val));
	return same("CHECK_IOTLB", r);
}

static bool op_check_map(void)
{
	int s = pick(K_PAGING);
	uint64_t iova = rnd_iova(), len = rnd_len();
	struct res r[2];

	if (s < 0)
		return true;
	/* Mostly where op_map_id maps the buffer at its own offset */
	if (chance(70))
		iova = APERTURE_START +
		       rnd((BUF_LEN / 2 - len) / PAGE_4K) * PAGE_4K;
	logstep("check_map slot %d iova 0x%llx len 0x%llx", s,
		(unsigned long long)iova, (unsigned long long)len);
	BOTH(r, be_check_map(&be[b], slots[s].id[b], iova, len,
			     buffer + (iova - APERTURE_START) % (BUF_LEN / 2)));
	return same("CHECK_MAP", r);
}

/* A mapping at iova = APERTURE_START + buffer offset, for check_map hits */
static bool op_map_id(void)
{
	int s = pick(K_IOAS);
	uint64_t off = rnd(BUF_LEN / 2 / PAGE_4K) * PAGE_4K, len = rnd_len();
	struct res r[2];

	if (s < 0 || off + len > BUF_LEN / 2)
		return true;
	logstep("ioas_map (identity) slot %d off 0x%llx len 0x%llx", s,
		(unsigned long long)off, (unsigned long long)len);
	BOTH(r, ioas_map_fixed(fds[b], slots[s].id[b], buffer + off, len,
			       APERTURE_START + off));
	return same("IOMMU_IOAS_MAP", r);
}

static bool op_destroy(void)
{
	int s = rnd(NSLOTS), i;
	struct res r[2];

	if (slots[s].kind == K_FREE || slots[s].kind == K_DEV)
		return true;
	logstep("destroy slot %d (%s)", s, kname[slots[s].kind]);
	BOTH(r, iommufd_destroy(fds[b], slots[s].id[b]));
	if (!same("IOMMU_DESTROY", r))
		return false;
	if (r[0].err)
		return true;
	/* Twice in a row: ENOENT on both (no id was allocated meanwhile) */
	BOTH(r, iommufd_destroy(fds[b], slots[s].id[b]));
	if (!same("IOMMU_DESTROY again", r))
		return false;
	kill_slot(s);
	(void)i;
	return true;
}

static bool op_viommu_alloc(void)
{
	struct iommu_viommu_selftest data[2] = { { .in_data = rnd(1000) },
						 { .in_data = 0 } };
	int s = free_slot(), d = pick(K_DEV), p;
	bool with_data = chance(40);
	uint32_t type = chance(95) ? IOMMU_VIOMMU_TYPE_SELFTEST : 0xbeef;
	struct res r[2];

	if (s < 0)
		return true;
	data[1].in_data = data[0].in_data;
	p = chance(85) ? pick(K_PAGING) : pick_other(K_PAGING);
	logstep("viommu_alloc dev %d hwpt %d data %d -> slot %d", d, p,
		with_data, s);
	BOTH(r, viommu_alloc(fds[b], sid(d, b), sid(p, b), type,
			     with_data ? &data[b] : NULL,
			     with_data ? sizeof(data[b]) : 0,
			     &slots[s].id[b]));
	if (!same("VIOMMU_ALLOC", r))
		return false;
	if (!r[0].err) {
		slots[s].kind = K_VIOMMU;
		slots[s].ref = d;
		if (with_data && data[0].out_data != data[1].out_data) {
			r[0].aux = data[0].out_data;
			r[1].aux = data[1].out_data;
			return same("VIOMMU_ALLOC out_data", r);
		}
	}
	return true;
}

static bool op_vdevice_alloc(void)
{
	int s = free_slot(), v = chance(90) ? pick(K_VIOMMU) :
		pick_other(K_VIOMMU), d = pick(K_DEV);
	uint64_t virt = rnd(8);
	struct res r[2];

	if (s < 0)
		return true;
	logstep("vdevice_alloc viommu %d dev %d virt %llu -> slot %d", v, d,
		(unsigned long long)virt, s);
	BOTH(r, vdevice_alloc(fds[b], sid(v, b), sid(d, b), virt,
			      &slots[s].id[b]));
	if (!same("VDEVICE_ALLOC", r))
		return false;
	if (!r[0].err) {
		slots[s].kind = K_VDEV;
		slots[s].ref = d;
		slots[s].ref2 = v;
		slots[s].virt_id = virt;
	}
	return true;
}

static bool op_viommu_invalidate(void)
{
	struct iommu_viommu_invalidate_selftest inv[3];
	int s = chance(90) ? pick(K_VIOMMU) : pick_other(K_VIOMMU);
	uint32_t n = rnd(4), num[2], i;
	struct res r[2];

	for (i = 0; i != ARRAY_LEN(inv); i++) {
		inv[i].vdev_id = rnd(9);
		inv[i].cache_id = rnd(10) ? rnd(4) : 4;
		inv[i].flags = rnd(10) ? 0 : rnd(3) ?
			       IOMMU_TEST_INVALIDATE_FLAG_ALL : 1u << 4;
	}
	logstep("viommu_invalidate slot %d num %u [%u/%u/%x %u/%u/%x %u/%u/%x]",
		s, n, inv[0].vdev_id, inv[0].cache_id, inv[0].flags,
		inv[1].vdev_id, inv[1].cache_id, inv[1].flags, inv[2].vdev_id,
		inv[2].cache_id, inv[2].flags);
	BOTH(r, (num[b] = n, viommu_inv_selftest(fds[b], sid(s, b), inv,
						 &num[b])));
	r[0].aux = num[0];
	r[1].aux = num[1];
	return same("VIOMMU invalidate", r);
}

static bool op_veventq(void)
{
	int s = free_slot(), v = pick(K_VIOMMU), i;
	uint32_t depth = 1 + rnd(4);
	struct res r[2];

	if (s < 0)
		return true;
	for (i = 0; i != NSLOTS; i++)	/* one per vIOMMU and type */
		if (slots[i].kind == K_VEVENTQ && slots[i].ref == v && chance(50))
			return true;
	logstep("veventq_alloc viommu %d depth %u -> slot %d", v, depth, s);
	BOTH(r, veventq_alloc(fds[b], sid(v, b), IOMMU_VEVENTQ_TYPE_SELFTEST,
			      depth, &slots[s].id[b], &slots[s].fd[b]));
	if (!same("VEVENTQ_ALLOC", r))
		return false;
	if (!r[0].err) {
		slots[s].kind = K_VEVENTQ;
		slots[s].ref = v;
	}
	return true;
}

/* Read vEVENTQ slot @q empty on both sides */
static void drain(int q)
{
	char ev[256];
	int b;

	for (b = 0; b != 2; b++) {
		struct pollfd p = { .fd = slots[q].fd[b], .events = POLLIN };

		while (poll(&p, 1, 0) == 1 &&
		       read(slots[q].fd[b], ev, sizeof(ev)) > 0)
			;
	}
}

static bool op_trigger(void)
{
	int d = pick(K_DEV), v, vd, q = -1, i;
	struct res r[2];

	/*
	 * Only where both must succeed: the C mock's record (vIOMMU and a
	 * non-zero vdev_id: 0 means "none" to it) names a live vDEVICE of
	 * this device, and the vIOMMU has a vEVENTQ.
	 */
	if (d < 0 || slots[d].c_viommu < 0 || !slots[d].c_virt)
		return true;
	v = slots[d].c_viommu;
	vd = vdev_of(d, v);
	if (vd < 0 || slots[vd].virt_id != slots[d].c_virt)
		return true;
	for (i = 0; i != NSLOTS; i++)
		if (slots[i].kind == K_VEVENTQ && slots[i].ref == v)
			q = i;
	if (q < 0)
		return true;
	logstep("trigger_vevent dev %d viommu %d virt %llu", d, v,
		(unsigned long long)slots[vd].virt_id);
	BOTH(r, be_trigger_vevent(&be[b], slots[d].id[b], slots[v].id[b],
				  slots[vd].virt_id));
	if (!same("TRIGGER_VEVENT", r))
		return false;
	if (chance(50))
		drain(q);
	return true;
}

/* The by-device vEVENT: the same record rule in both mocks */
static bool op_dev_trigger(void)
{
	int d = chance(95) ? pick(K_DEV) : -1, i;
	struct res r[2];

	logstep("dev_trigger_vevent dev %d", d);
	BOTH(r, be_dev_trigger_vevent(&be[b], d < 0 ? BAD_ID : slots[d].handle[b],
				      sid(d, b)));
	if (!same("DEV_TRIGGER_VEVENT", r))
		return false;
	for (i = 0; i != NSLOTS; i++)	/* drain some queues */
		if (slots[i].kind == K_VEVENTQ && chance(50))
			drain(i);
	return true;
}

/* A cache slot of a device, against the default or 0 (a bad slot: 4) */
static bool op_dev_cache(void)
{
	int d = chance(95) ? pick(K_DEV) : -1;
	uint32_t slot = rnd(10) ? rnd(MOCK_DEV_CACHE_NUM) : MOCK_DEV_CACHE_NUM;
	uint32_t val = chance(50) ? IOMMU_TEST_DEV_CACHE_DEFAULT : 0;
	struct res r[2];

	logstep("dev_check_cache dev %d slot %u 0x%x", d, slot, val);
	BOTH(r, be_dev_check_cache(&be[b], d < 0 ? BAD_ID : slots[d].handle[b],
				   sid(d, b), slot, val));
	return same("DEV_CHECK_CACHE", r);
}

static bool op_pasid(void)
{
	int d = pick(K_DEV), t, pi = rnd(ARRAY_LEN(pasids));
	enum be_pasid_op op = rnd(4);
	uint32_t pt[2];
	struct res r[2];

	if (d < 0)
		return true;
	t = chance(60) ? pick(K_PAGING) : chance(50) ? pick(K_NESTED) :
	    pick_other(K_PAGING);
	if (avoid_pasid_nopasid && !(slots[d].flags & DEVF_PASID))
		return true;
	if (op == BE_PASID_CHECK && chance(40))
		t = -2;	/* "nothing attached" */
	logstep("pasid op %d dev %d pasid %u pt slot %d", op, d, pasids[pi], t);
	BOTH(r, (pt[b] = t == -2 ? 0 : sid(t, b),
		 be_pasid(&be[b], op, slots[d].handle[b], pasids[pi],
			  &pt[b])));
	if (!same("PASID op", r))
		return false;
	if (!r[0].err && (op == BE_PASID_ATTACH || op == BE_PASID_REPLACE))
		slots[d].pasid[pi] = true;
	if (!r[0].err && op == BE_PASID_DETACH)
		slots[d].pasid[pi] = false;
	return true;
}

static bool op_dirty(void)
{
	int s = pick(K_PAGING);
	uint64_t iova = rnd_iova() & ~(64 * PAGE_4K - 1), bitmap[2];
	uint32_t en = chance(80) ? IOMMU_HWPT_DIRTY_TRACKING_ENABLE : 0;
	struct res r[2];

	if (s < 0)
		return true;
	switch (rnd(3)) {
	case 0:
		logstep("set_dirty_tracking slot %d enable %u", s, en);
		BOTH(r, hwpt_set_dirty_tracking(fds[b], slots[s].id[b], en));
		return same("SET_DIRTY_TRACKING", r);
	case 1:
		logstep("set_dirty (mock) slot %d iova 0x%llx", s,
			(unsigned long long)iova);
		BOTH(r, (bitmap[b] = 0x0f0f0f0f0f0f0f0full,
			 be_set_dirty(&be[b], slots[s].id[b], iova,
				      64 * PAGE_4K, PAGE_4K, &bitmap[b],
				      NULL)));
		return same("SET_DIRTY", r);
	default:
		logstep("get_dirty_bitmap slot %d iova 0x%llx", s,
			(unsigned long long)iova);
		BOTH(r, (bitmap[b] = 0,
			 hwpt_get_dirty_bitmap(fds[b], slots[s].id[b], iova,
					       64 * PAGE_4K, PAGE_4K,
					       &bitmap[b], 0)));
		return same("GET_DIRTY_BITMAP", r);
	}
}

static bool op_hw_info(void)
{
	int d = chance(90) ? pick(K_DEV) : pick_other(K_DEV);
	struct iommu_test_hw_info info[2];
	struct iommu_hw_info hw[2] = {};
	struct res r[2];
	int b;

	logstep("hw_info dev %d", d);
	BOTH(r, get_hw_info(fds[b], sid(d, b), &info[b], sizeof(info[b]),
			    &hw[b]));
	for (b = 0; b != 2; b++)
		if (!r[b].err)
			r[b].aux = (long)info[b].test_reg << 32 ^
				   hw[b].out_data_type ^ info[b].flags;
	return same("GET_HW_INFO", r);
}


static struct fop fops[] = {
	{ "ioas_alloc", op_ioas_alloc, 4 },
	{ "ioas_map", op_map, 6 },
	{ "ioas_map_identity", op_map_id, 6 },
	{ "ioas_unmap", op_unmap, 5 },
	{ "dev_add", op_dev_add, 6 },
	{ "dev_remove", op_dev_remove, 2 },
	{ "replace", op_replace, 8 },
	{ "paging_alloc", op_paging_alloc, 8 },
	{ "nested_alloc", op_nested_alloc, 8 },
	{ "invalidate", op_invalidate, 8 },
	{ "check_iotlb", op_check_iotlb, 6 },
	{ "check_map", op_check_map, 5 },
	{ "destroy", op_destroy, 10 },
	{ "viommu_alloc", op_viommu_alloc, 5 },
	{ "vdevice_alloc", op_vdevice_alloc, 5 },
	{ "viommu_invalidate", op_viommu_invalidate, 5 },
	{ "veventq_alloc", op_veventq, 2 },
	{ "trigger_vevent", op_trigger, 4 },
	{ "dev_trigger_vevent", op_dev_trigger, 4 },
	{ "dev_check_cache", op_dev_cache, 4 },
	{ "pasid", op_pasid, 6 },
	{ "dirty", op_dirty, 5 },
	{ "hw_info", op_hw_info, 2 },
};

/* ---- main ---------------------------------------------------------------- */

static int setup(void)
{
	int b;

	for (b = 0; b != 2; b++) {
		fds[b] = iommufd_open();
		if (fds[b] < 0)
			return -1;
		if (backend_open(&be[b], b ? &rust_mock_ops : &c_mock_ops,
				 fds[b]))
			return -1;
	}
	return 0;
}

/* Close everything; devices first lose their PASIDs (see above) */
static bool teardown(void)
{
	bool ok = true;
	int i, b;

	for (i = 0; i != NSLOTS; i++)
		if (slots[i].kind == K_DEV && !pasid_detach_all(i))
			ok = false;
	for (i = 0; i != NSLOTS; i++)
		if (slots[i].kind != K_FREE)
			kill_slot(i);
	for (b = 0; b != 2; b++) {
		backend_close(&be[b]);
		close(fds[b]);
	}
	return ok;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--seed S] [--seconds T] [--iters N] "
		"[--verbose] [--avoid pasid-nopasid-dev]\n", argv0);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "iters", required_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "avoid", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	unsigned long long seed = 0, iters = 0;
	struct riommu_mock_stats st0, st1;
	double seconds = 20, t0, el;
	bool seeded = false, ok = true, stats = false;
	unsigned int total = 0, i;
	unsigned long resets = 0;
	long ref0 = -1, ref1;
	int c;

	while ((c = getopt_long(argc, argv, "s:t:n:va:h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			seed = strtoull(optarg, NULL, 0);
			seeded = true;
			break;
		case 't':
			seconds = strtod(optarg, NULL);
			break;
		case 'n':
			iters = strtoull(optarg, NULL, 0);
			break;
		case 'v':
			verbose = true;
			break;
		case 'a':
			if (strcmp(optarg, "pasid-nopasid-dev")) {
				usage(argv[0]);
				return 2;
			}
			avoid_pasid_nopasid = true;
			break;
		default:
			usage(argv[0]);
			return c == 'h' ? 0 : 2;
		}
	}
	if (!seeded) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		seed = (unsigned long long)ts.tv_sec * 1000003ull ^ ts.tv_nsec ^
		       getpid();
	}
	rng_state = seed;
	printf("TAP version 13\n1..1\n");
	printf("# riommu_fuzz --seed %llu --seconds %g%s%s\n", seed, seconds,
	       iters ? "" : " (no --iters limit)",
	       avoid_pasid_nopasid ? " --avoid pasid-nopasid-dev" : "");
	fflush(stdout);

	buffer = alloc_buf(BUF_LEN);
	if (!buffer || setup()) {
		printf("not ok 1 fuzz seed=%llu # set-up failed: %s (is "
		       "riommu_mock.ko loaded?)\n", seed, ename(errno));
		return 1;
	}
	for (i = 0; i != BUF_LEN; i += PAGE_4K)
		buffer[i] = i / PAGE_4K;
	stats = !rmock_stats(be[1].ctlfd, &st0);
	/* Our baseline: this process's own open control fd is one ref */
	ref0 = riommu_module_refcnt();
	for (i = 0; i != ARRAY_LEN(fops); i++)
		total += fops[i].weight;

	t0 = now();
	for (step = 0; !iters || step < iters; step++) {
		unsigned int w = rnd(total);

		if (!(step & 63) && now() - t0 >= seconds)
			break;
		/* Every so often, start from an empty context */
		if (step && !(step % 2000)) {
			logstep("reset: close both contexts");
			if (!teardown() || setup()) {
				ok = false;
				break;
			}
			resets++;
		}
		for (i = 0; w >= fops[i].weight; i++)
			w -= fops[i].weight;
		fops[i].count++;
		cur_op = i;
		if (!fops[i].fn()) {
			ok = false;
			break;
		}
	}
	el = now() - t0;
	if (!teardown())
		ok = false;

	/* After closing everything our counters are back where they were */
	if (stats) {
		int ctl = open(RIOMMU_MOCK_DEV, O_RDWR);

		if (ctl >= 0 && !rmock_stats(ctl, &st1)) {
			ref1 = riommu_module_refcnt();
			printf("# riommu_mock after: devices %llu paging %llu "
			       "nested %llu table_bytes %llu, module refcnt "
			       "%ld (before %ld)\n",
			       (unsigned long long)st1.out_devices,
			       (unsigned long long)st1.out_paging_domains,
			       (unsigned long long)st1.out_nested_domains,
			       (unsigned long long)st1.out_table_bytes, ref1,
			       ref0);
			if (st1.out_devices != st0.out_devices ||
			    st1.out_paging_domains != st0.out_paging_domains ||
			    st1.out_nested_domains != st0.out_nested_domains ||
			    st1.out_table_bytes != st0.out_table_bytes ||
			    ref1 != ref0) {
				printf("# riommu_mock objects left behind\n");
				ok = false;
			}
		}
		if (ctl >= 0)
			close(ctl);
	}
	printf("# ops (succeeded/run):");
	for (i = 0; i != ARRAY_LEN(fops); i++)
		printf(" %s=%lu/%lu", fops[i].name, fops[i].ok, fops[i].count);
	printf("\n# %lu iterations in %.1f s (%.0f/s), %lu context resets\n",
	       step, el, el > 0 ? step / el : 0.0, resets);
	if (ok)
		printf("ok 1 fuzz seed=%llu iters=%lu\n", seed, step);
	else
		printf("not ok 1 fuzz seed=%llu iters=%lu # replay: "
		       "riommu_fuzz --seed %llu --iters %lu\n", seed, step,
		       seed, step + 1);
	return ok ? 0 : 1;
}
