// SPDX-License-Identifier: GPL-2.0
/*
 * Teardown of riommu_mock devices in every order (issue #15).
 *
 * A mock device can carry, besides its iommufd binding, an SVA bond
 * (RIOMMU_MOCK_SVA_BIND), a PASID attached to a paging HWPT
 * (RIOMMU_MOCK_PASID_ATTACH), a vDEVICE on a vIOMMU and a nested HWPT on
 * that vIOMMU (attached to its RID or not).  RIOMMU_MOCK_DEV_REMOVE may come
 * before, after or between the removal of any of them, and the rest must
 * then go with the errno iommufd (7.3) gives, without a crash, a WARN or a
 * leak:
 *
 * - DEV_REMOVE unbinds the device's SVA bonds first: SVA_UNBIND of such a
 *   bond id afterwards fails with ENOENT (on the code before the fix it was
 *   iommu_sva_unbind_device() on a device the iommu core had released);
 * - the vDEVICE goes with the device's iommufd binding: iommufd's
 *   iommufd_device_pre_destroy() destroys it and leaves a tombstone in the
 *   object table, so IOMMU_DESTROY of its id then fails with ENOENT
 *   (drivers/iommu/iommufd/device.c, main.c);
 * - a nested HWPT attached to the RID is busy (EBUSY) until the device is
 *   detached (DEV_REMOVE detaches it); a vIOMMU is busy while a vDEVICE or a
 *   nested HWPT holds it, its NEST_PARENT HWPT while the vIOMMU lives, the
 *   IOAS while a HWPT lives; a HWPT with a PASID attached is busy.
 *
 * After every scenario, the RIOMMU_MOCK_STATS counters and the module's
 * reference count are back at their values from before it.  The fixture
 * remove runs every order of the removal steps (DEV_REMOVE, SVA_UNBIND,
 * destroy of the vDEVICE, of the nested HWPT) for every set of holdings of
 * its variant, in a creation order and with an ending (destroy the rest in
 * a shuffled order, or close either file first) that change from one
 * scenario to the next; fixture sva_remove has the SVA cases on their own.
 *
 * Then races, each bounded by a count and a time (5 s, 3 s for the ones
 * that create devices):
 *
 * - IOMMU_VDEVICE_ALLOC + IOMMU_DESTROY of one vDEVICE (and DEV_ADD +
 *   vDEVICE + DEV_REMOVE, which destroys the vDEVICE through the unbind)
 *   against IOMMU_HWPT_INVALIDATE of the vIOMMU naming its virtual id:
 *   iommufd calls the driver's vDEVICE destroy before it removes the
 *   vDEVICE from the vIOMMU's table, and riommu_mock WARNs if an
 *   invalidation reaches a vDEVICE after its release (MockVdev::released);
 * - SVA_UNBIND against DEV_REMOVE of the bond's device.
 *
 * A WARN fails the test it happened in (TAINT_WARN appears; the first one
 * only, the taint stays) and the whole run (the runner reads the log).
 *
 * The C mock has no SVA and no device removal with attachments (iommufd
 * WARNs on that), so this runs on riommu_mock only.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "riommu_utils.h"

/* The PASID of RIOMMU_MOCK_PASID_ATTACH: far above the mm's (lowest first) */
#define TD_PASID	0x800
/* The vDEVICE's virtual id */
#define TD_VIRT_ID	0x42
/* TAINT_WARN in /proc/sys/kernel/tainted */
#define TAINT_WARN_BIT	(1UL << 9)

/* --- /dev/riommu-mock ------------------------------------------------- */

static int td_dev_add(int ctl, int fd, uint32_t dev_flags, uint32_t pt_id,
		      uint32_t *dev, uint32_t *idev)
{
	struct riommu_mock_dev_add cmd = {
		.size = sizeof(cmd),
		.iommufd = fd,
		.dev_flags = dev_flags,
		.pt_id = pt_id,
	};

	if (ioctl(ctl, RIOMMU_MOCK_DEV_ADD, &cmd))
		return -1;
	*dev = cmd.out_dev_id;
	if (idev)
		*idev = cmd.out_idev_id;
	return 0;
}

static int td_dev_remove(int ctl, uint32_t dev)
{
	struct riommu_mock_dev_remove cmd = { .size = sizeof(cmd), .dev_id = dev };

	return ioctl(ctl, RIOMMU_MOCK_DEV_REMOVE, &cmd);
}

/* RIOMMU_MOCK_DEV_ATTACH or _REPLACE of the RID to *pt */
static int td_dev_attach(int ctl, unsigned long op, uint32_t dev, uint32_t pt)
{
	struct riommu_mock_dev_attach cmd = {
		.size = sizeof(cmd),
		.dev_id = dev,
		.pt_id = pt,
	};

	return ioctl(ctl, op, &cmd);
}

static int td_pasid_attach(int ctl, uint32_t dev, uint32_t pasid, uint32_t pt)
{
	struct riommu_mock_pasid cmd = {
		.size = sizeof(cmd),
		.dev_id = dev,
		.pasid = pasid,
		.pt_id = pt,
	};

	return ioctl(ctl, RIOMMU_MOCK_PASID_ATTACH, &cmd);
}

static int td_bind(int ctl, uint32_t dev, uint32_t *bond, uint32_t *pasid)
{
	struct riommu_mock_sva_bind cmd = { .size = sizeof(cmd), .dev_id = dev };

	if (ioctl(ctl, RIOMMU_MOCK_SVA_BIND, &cmd))
		return -1;
	*bond = cmd.bond_id;
	if (pasid)
		*pasid = cmd.out_pasid;
	return 0;
}

static int td_unbind(int ctl, uint32_t bond)
{
	struct riommu_mock_sva_bind cmd = { .size = sizeof(cmd), .bond_id = bond };

	return ioctl(ctl, RIOMMU_MOCK_SVA_UNBIND, &cmd);
}

/* A device read of @len bytes at @addr through @pasid of @dev */
static int td_access(int ctl, uint32_t dev, uint32_t pasid, const void *addr,
		     void *out, size_t len)
{
	struct riommu_mock_sva_access cmd = {
		.size = sizeof(cmd),
		.dev_id = dev,
		.pasid = pasid,
		.addr = (uintptr_t)addr,
		.length = len,
		.uptr = (uintptr_t)out,
	};

	return ioctl(ctl, RIOMMU_MOCK_SVA_ACCESS, &cmd);
}

/* One IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST entry for virtual id @virt_id */
static int td_inv_one(int fd, uint32_t viommu, uint32_t virt_id)
{
	struct iommu_viommu_invalidate_selftest inv = { .vdev_id = virt_id };
	uint32_t num = 1;

	return viommu_inv_selftest(fd, viommu, &inv, &num);
}

/* --- counters ------------------------------------------------------------ */

struct td_counts {
	struct riommu_mock_stats st;
	long refcnt;
};

static int td_counts(struct td_counts *c)
{
	if (riommu_stats(&c->st))
		return -1;
	c->refcnt = riommu_module_refcnt();
	return 0;
}

static bool td_counts_equal(const struct td_counts *a, const struct td_counts *b)
{
	return a->st.out_devices == b->st.out_devices &&
	       a->st.out_paging_domains == b->st.out_paging_domains &&
	       a->st.out_nested_domains == b->st.out_nested_domains &&
	       a->st.out_table_bytes == b->st.out_table_bytes &&
	       a->st.out_viommus == b->st.out_viommus &&
	       a->st.out_sva_domains == b->st.out_sva_domains &&
	       a->refcnt == b->refcnt;
}

static void td_counts_str(const struct td_counts *c, char *buf, size_t len)
{
	snprintf(buf, len,
		 "devices %llu paging %llu nested %llu table_bytes %llu viommus %llu sva %llu refcnt %ld",
		 (unsigned long long)c->st.out_devices,
		 (unsigned long long)c->st.out_paging_domains,
		 (unsigned long long)c->st.out_nested_domains,
		 (unsigned long long)c->st.out_table_bytes,
		 (unsigned long long)c->st.out_viommus,
		 (unsigned long long)c->st.out_sva_domains, c->refcnt);
}

/*
 * The counters must be back at @base.  Everything a close tears down goes
 * before close() returns (iommufd's release and ours run from the closing
 * task's task_work), so no wait is needed; a short retry only makes the
 * message say whether it was late or leaked.
 */
#define ASSERT_COUNTS(base, what)                                            \
	do {                                                                 \
		struct td_counts __now;                                      \
		char __a[200], __b[200];                                     \
		int __try;                                                   \
		for (__try = 0; __try < 20; __try++) {                       \
			ASSERT_OK(td_counts(&__now));                        \
			if (td_counts_equal(&__now, (base)))                 \
				break;                                       \
			usleep(10 * 1000);                                   \
		}                                                            \
		if (__try) {                                                 \
			td_counts_str((base), __a, sizeof(__a));             \
			td_counts_str(&__now, __b, sizeof(__b));             \
			TH_LOG("%s: counters %s after %d tries: before: %s; now: %s", \
			       (what), __try < 20 ? "late" : "leaked", __try, \
			       __a, __b);                                    \
		}                                                            \
		ASSERT_TRUE(td_counts_equal(&__now, (base)));                \
	} while (0)

static unsigned long td_taint(void)
{
	char buf[32] = "";
	int fd = open("/proc/sys/kernel/tainted", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtoul(buf, NULL, 10) : 0;
}

/*
 * Fails the test (from its teardown) if the kernel WARNed while it ran:
 * TAINT_WARN appeared.  The runner fails the whole run on any WARN anyway;
 * this names the test.  Once set, the taint stays: a second WARN in the
 * same boot goes unnoticed here.
 */
static void td_no_new_warn(struct __test_metadata *_metadata,
			   unsigned long taint0)
{
	unsigned long now = td_taint();

	if (!(taint0 & TAINT_WARN_BIT) && (now & TAINT_WARN_BIT)) {
		TH_LOG("the kernel WARNed during this test (TAINT_WARN): see the kernel log");
		EXPECT_EQ(0, now & TAINT_WARN_BIT);
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* ---------------------------------------------------------------------- */
/* Scenarios                                                              */

/* What the device holds */
enum {
	H_BOND = 1 << 0,	/* an SVA bond */
	H_PASID = 1 << 1,	/* TD_PASID attached to a paging HWPT */
	H_VDEV = 1 << 2,	/* a vDEVICE on a vIOMMU */
	H_NESTED = 1 << 3,	/* a nested HWPT on the vIOMMU */
	H_ATTACH = 1 << 4,	/* ... attached to the RID (needs H_VDEV) */
};

/* Removal steps, in the order a permutation gives */
enum { S_DEV, S_BOND, S_VDEV, S_NESTED, S_NUM };
static const char *const step_name[S_NUM] = {
	[S_DEV] = "DEV_REMOVE", [S_BOND] = "SVA_UNBIND",
	[S_VDEV] = "destroy(vdev)", [S_NESTED] = "destroy(nested)",
};

/* Creation steps; prerequisites in create_needs[] */
enum { C_BOND, C_PASID, C_VIOMMU, C_VDEV, C_NESTED, C_ATTACH, C_NUM };
static const char *const create_name[C_NUM] = {
	[C_BOND] = "bind", [C_PASID] = "pasid", [C_VIOMMU] = "viommu",
	[C_VDEV] = "vdev", [C_NESTED] = "nested", [C_ATTACH] = "attach",
};
static const unsigned int create_needs[C_NUM] = {
	[C_VDEV] = 1 << C_VIOMMU,
	[C_NESTED] = 1 << C_VIOMMU,
	[C_ATTACH] = 1 << C_VDEV | 1 << C_NESTED,
};

/* How the scenario ends after its removal steps */
enum {
	F_DESTROY,		/* destroy what is left (any order), close */
	F_CLOSE_CTL_FIRST,	/* close /dev/riommu-mock, then /dev/iommu */
	F_CLOSE_FD_FIRST,	/* close /dev/iommu, then /dev/riommu-mock */
	F_NUM,
};
static const char *const finish_name[F_NUM] = {
	"destroy-all", "close-ctl-first", "close-iommufd-first",
};

struct scen {
	unsigned int hold;
	int nsteps;
	int steps[S_NUM];
	int finish;
	unsigned int seed;
};

/* Objects and what is alive, the model the expected errnos come from */
struct td {
	int fd, ctl;
	uint32_t ioas, dev, idev, parent, phwpt, viommu, vdev, nested;
	uint32_t bond, pasid;
	bool dev_alive, bond_alive, vdev_alive, nested_alive, nested_attached;
	bool pasid_attached, viommu_alive, phwpt_alive, parent_alive;
	bool ioas_alive;
	unsigned int created;	/* 1 << C_* */
	char desc[256];
};

static unsigned int td_rand(unsigned int *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 16) & 0x7fff;
}

/* Next lexicographic permutation of a[0..n); false after the last one */
static bool next_perm(int *a, int n)
{
	int i = n - 2, j, t;

	while (i >= 0 && a[i] >= a[i + 1])
		i--;
	if (i < 0)
		return false;
	for (j = n - 1; a[j] <= a[i]; j--)
		;
	t = a[i], a[i] = a[j], a[j] = t;
	for (i++, j = n - 1; i < j; i++, j--)
		t = a[i], a[i] = a[j], a[j] = t;
	return true;
}

static const char td_data[] = "read by the device through its PASID";

/*
 * @want: 0 for success or the errno @expr (0 / -1 + errno) must fail with.
 * Logs the scenario on a mismatch.
 */
#define TD_CHECK(t, want, expr)                                              \
	do {                                                                 \
		long __rc;                                                   \
		int __e, __w = (want);                                       \
		errno = 0;                                                   \
		__rc = (long)(expr);                                         \
		__e = __rc ? errno : 0;                                      \
		if (__w ? (__rc != -1 || __e != __w) : __rc != 0) {          \
			TH_LOG("[%s] %s: expected %s, got %s", (t)->desc,    \
			       #expr, __w ? ename(__w) : "success",          \
			       __rc ? ename(__e) : "success");               \
			ASSERT_TRUE(0);                                      \
		}                                                            \
	} while (0)

static void td_create(struct __test_metadata *_metadata, struct td *t, int c)
{
	switch (c) {
	case C_BOND:
		TD_CHECK(t, 0, td_bind(t->ctl, t->dev, &t->bond, &t->pasid));
		ASSERT_NE(0, t->pasid);
		ASSERT_NE(TD_PASID, t->pasid);
		t->bond_alive = true;
		break;
	case C_PASID:
		TD_CHECK(t, 0, hwpt_alloc_paging(t->fd, t->idev, t->ioas,
						 IOMMU_HWPT_ALLOC_PASID,
						 &t->phwpt));
		t->phwpt_alive = true;
		TD_CHECK(t, 0, td_pasid_attach(t->ctl, t->dev, TD_PASID,
					       t->phwpt));
		t->pasid_attached = true;
		break;
	case C_VIOMMU:
		TD_CHECK(t, 0, viommu_alloc(t->fd, t->idev, t->parent,
					    IOMMU_VIOMMU_TYPE_SELFTEST, NULL, 0,
					    &t->viommu));
		t->viommu_alive = true;
		break;
	case C_VDEV:
		TD_CHECK(t, 0, vdevice_alloc(t->fd, t->viommu, t->idev,
					     TD_VIRT_ID, &t->vdev));
		t->vdev_alive = true;
		break;
	case C_NESTED:
		/* PASID-compatible: the RID may carry it with a PASID attached */
		TD_CHECK(t, 0, hwpt_alloc_nested(t->fd, t->idev, t->viommu,
						 IOMMU_HWPT_ALLOC_PASID, 0x77,
						 &t->nested));
		t->nested_alive = true;
		break;
	case C_ATTACH:
		TD_CHECK(t, 0, td_dev_attach(t->ctl, RIOMMU_MOCK_DEV_REPLACE,
					     t->dev, t->nested));
		t->nested_attached = true;
		break;
	}
	t->created |= 1u << c;
}

/* What every step may be followed by: cheap probes of the model */
static void td_probe(struct __test_metadata *_metadata, struct td *t)
{
	char out[sizeof(td_data)];

	/* The iommufd device: busy while bound, then gone */
	TD_CHECK(t, t->dev_alive ? EBUSY : ENOENT, iommufd_destroy(t->fd, t->idev));
	/* An invalidation reaches the vDEVICE exactly while it lives */
	if (t->viommu_alive)
		TD_CHECK(t, t->vdev_alive ? 0 : EINVAL,
			 td_inv_one(t->fd, t->viommu, TD_VIRT_ID));
	/* The bond works while it lives; the removed device is unknown */
	if (t->created & (1u << C_BOND)) {
		memset(out, 0, sizeof(out));
		TD_CHECK(t, t->bond_alive ? 0 : ENOENT,
			 td_access(t->ctl, t->dev, t->pasid, td_data, out,
				   sizeof(out)));
		if (t->bond_alive)
			ASSERT_STREQ(td_data, out);
	}
}

static void td_step(struct __test_metadata *_metadata, struct td *t, int s)
{
	switch (s) {
	case S_DEV:
		TD_CHECK(t, 0, td_dev_remove(t->ctl, t->dev));
		t->dev_alive = false;
		t->bond_alive = false;		/* unbound by the removal */
		t->vdev_alive = false;		/* destroyed, id tombstoned */
		t->pasid_attached = false;
		t->nested_attached = false;
		/* Once only */
		TD_CHECK(t, ENOENT, td_dev_remove(t->ctl, t->dev));
		break;
	case S_BOND:
		TD_CHECK(t, t->bond_alive ? 0 : ENOENT, td_unbind(t->ctl, t->bond));
		t->bond_alive = false;
		TD_CHECK(t, ENOENT, td_unbind(t->ctl, t->bond));
		break;
	case S_VDEV:
		TD_CHECK(t, t->vdev_alive ? 0 : ENOENT,
			 iommufd_destroy(t->fd, t->vdev));
		t->vdev_alive = false;
		break;
	case S_NESTED:
		if (t->nested_attached) {
			/* Busy while the RID is on it: the end destroys it */
			TD_CHECK(t, EBUSY, iommufd_destroy(t->fd, t->nested));
		} else {
			TD_CHECK(t, 0, iommufd_destroy(t->fd, t->nested));
			t->nested_alive = false;
		}
		break;
	}
	td_probe(_metadata, t);
}

/*
 * Destroys what is left, in the order @seed shuffles, each attempt with
 * iommufd's answer for what still holds the object (EBUSY), until all is
 * gone.  Only after DEV_REMOVE (nothing is attached any more).
 */
static void td_destroy_rest(struct __test_metadata *_metadata, struct td *t,
			    unsigned int *seed)
{
	enum { O_NESTED, O_VIOMMU, O_PARENT, O_PHWPT, O_IOAS, O_NUM };
	int order[O_NUM] = { O_NESTED, O_VIOMMU, O_PARENT, O_PHWPT, O_IOAS };
	int i, pass, left;

	for (i = O_NUM - 1; i > 0; i--) {
		int j = td_rand(seed) % (i + 1), x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
	for (pass = 0; pass < O_NUM + 1; pass++) {
		left = 0;
		for (i = 0; i < O_NUM; i++) {
			switch (order[i]) {
			case O_NESTED:
				if (!t->nested_alive)
					break;
				TD_CHECK(t, 0, iommufd_destroy(t->fd, t->nested));
				t->nested_alive = false;
				break;
			case O_VIOMMU:
				if (!t->viommu_alive)
					break;
				if (t->nested_alive || t->vdev_alive) {
					TD_CHECK(t, EBUSY,
						 iommufd_destroy(t->fd, t->viommu));
					left++;
					break;
				}
				TD_CHECK(t, 0, iommufd_destroy(t->fd, t->viommu));
				t->viommu_alive = false;
				break;
			case O_PARENT:
				if (!t->parent_alive)
					break;
				if (t->viommu_alive) {
					TD_CHECK(t, EBUSY,
						 iommufd_destroy(t->fd, t->parent));
					left++;
					break;
				}
				TD_CHECK(t, 0, iommufd_destroy(t->fd, t->parent));
				t->parent_alive = false;
				break;
			case O_PHWPT:
				if (!t->phwpt_alive)
					break;
				TD_CHECK(t, 0, iommufd_destroy(t->fd, t->phwpt));
				t->phwpt_alive = false;
				break;
			case O_IOAS:
				if (!t->ioas_alive)
					break;
				if (t->parent_alive || t->phwpt_alive) {
					TD_CHECK(t, EBUSY,
						 iommufd_destroy(t->fd, t->ioas));
					left++;
					break;
				}
				TD_CHECK(t, 0, iommufd_destroy(t->fd, t->ioas));
				t->ioas_alive = false;
				break;
			}
		}
		if (!left)
			break;
	}
	ASSERT_EQ(0, left);
	/* Every id is gone now, the vDEVICE's included (a tombstone or not) */
	if (t->created & (1u << C_VDEV))
		TD_CHECK(t, ENOENT, iommufd_destroy(t->fd, t->vdev));
	if (t->created & (1u << C_NESTED))
		TD_CHECK(t, ENOENT, iommufd_destroy(t->fd, t->nested));
	TD_CHECK(t, ENOENT, iommufd_destroy(t->fd, t->parent));
}

static void td_describe(const struct scen *sc, const int *corder, int ncreate,
			char *buf, size_t len)
{
	size_t n = 0;
	int i;

	n += snprintf(buf + n, len - n, "create:");
	for (i = 0; i < ncreate && n < len; i++)
		n += snprintf(buf + n, len - n, " %s", create_name[corder[i]]);
	n += snprintf(buf + n, len - n, "; remove:");
	for (i = 0; i < sc->nsteps && n < len; i++)
		n += snprintf(buf + n, len - n, " %s", step_name[sc->steps[i]]);
	if (n < len)
		snprintf(buf + n, len - n, "; then %s", finish_name[sc->finish]);
}

static void td_run(struct __test_metadata *_metadata, const struct scen *sc)
{
	struct td t = { 0 };
	struct td_counts base;
	unsigned int want = 0, seed = sc->seed;
	int corder[C_NUM], ncreate = 0, i;

	ASSERT_OK(td_counts(&base));

	/* Creation order: a random topological order of what is held */
	if (sc->hold & H_BOND)
		want |= 1u << C_BOND;
	if (sc->hold & H_PASID)
		want |= 1u << C_PASID;
	if (sc->hold & (H_VDEV | H_NESTED))
		want |= 1u << C_VIOMMU;
	if (sc->hold & H_VDEV)
		want |= 1u << C_VDEV;
	if (sc->hold & H_NESTED)
		want |= 1u << C_NESTED;
	if (sc->hold & H_ATTACH)
		want |= 1u << C_ATTACH;
	while (ncreate < __builtin_popcount(want)) {
		int avail[C_NUM], navail = 0, done = 0;

		for (i = 0; i < ncreate; i++)
			done |= 1 << corder[i];
		for (i = 0; i < C_NUM; i++) {
			if ((want & (1u << i)) && !(done & (1 << i)) &&
			    (create_needs[i] & ~done) == 0)
				avail[navail++] = i;
		}
		ASSERT_LT(0, navail);
		corder[ncreate++] = avail[td_rand(&seed) % navail];
	}
	td_describe(sc, corder, ncreate, t.desc, sizeof(t.desc));

	t.fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, t.fd);
	t.ctl = open(RIOMMU_MOCK_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, t.ctl);
	TD_CHECK(&t, 0, ioas_alloc(t.fd, &t.ioas));
	t.ioas_alive = true;
	TD_CHECK(&t, 0, td_dev_add(t.ctl, t.fd, RIOMMU_MOCK_DEV_PASID, 0,
				   &t.dev, &t.idev));
	t.dev_alive = true;
	/* The RID on a PASID-compatible NEST_PARENT (the vIOMMU's parent) */
	TD_CHECK(&t, 0, hwpt_alloc_paging(t.fd, t.idev, t.ioas,
					  IOMMU_HWPT_ALLOC_NEST_PARENT |
						  IOMMU_HWPT_ALLOC_PASID,
					  &t.parent));
	t.parent_alive = true;
	TD_CHECK(&t, 0, td_dev_attach(t.ctl, RIOMMU_MOCK_DEV_ATTACH, t.dev,
				      t.parent));
	for (i = 0; i < ncreate; i++)
		td_create(_metadata, &t, corder[i]);
	td_probe(_metadata, &t);

	for (i = 0; i < sc->nsteps; i++)
		td_step(_metadata, &t, sc->steps[i]);

	switch (sc->finish) {
	case F_DESTROY:
		td_destroy_rest(_metadata, &t, &seed);
		if (td_rand(&seed) & 1) {
			close(t.ctl);
			close(t.fd);
		} else {
			close(t.fd);
			close(t.ctl);
		}
		break;
	case F_CLOSE_CTL_FIRST:
		close(t.ctl);
		close(t.fd);
		break;
	case F_CLOSE_FD_FIRST:
		close(t.fd);
		close(t.ctl);
		break;
	}
	ASSERT_COUNTS(&base, t.desc);
}

/*
 * Every subset of variant->may that includes variant->must is one set of
 * holdings; for each, every order of the removal steps, with and without
 * DEV_REMOVE among them (without it, the close removes the device).
 */
FIXTURE(remove) {
	unsigned long taint0;
};

FIXTURE_VARIANT(remove) {
	unsigned int must, may;
};

/* A bare device, or with a PASID attached */
FIXTURE_VARIANT_ADD(remove, plain) {
	.must = 0,
	.may = H_PASID,
};

FIXTURE_VARIANT_ADD(remove, sva) {
	.must = H_BOND,
	.may = H_BOND | H_PASID,
};

/* A nested HWPT on a vIOMMU the device has no vDEVICE on */
FIXTURE_VARIANT_ADD(remove, nested) {
	.must = H_NESTED,
	.may = H_NESTED | H_PASID,
};

FIXTURE_VARIANT_ADD(remove, sva_nested) {
	.must = H_BOND | H_NESTED,
	.may = H_BOND | H_NESTED | H_PASID,
};

FIXTURE_VARIANT_ADD(remove, vdevice) {
	.must = H_VDEV,
	.may = H_VDEV | H_NESTED | H_ATTACH | H_PASID,
};

FIXTURE_VARIANT_ADD(remove, sva_vdevice) {
	.must = H_BOND | H_VDEV,
	.may = H_BOND | H_VDEV | H_NESTED | H_ATTACH | H_PASID,
};

FIXTURE_SETUP(remove)
{
	int fd = open(RIOMMU_MOCK_DEV, O_RDWR | O_CLOEXEC);

	ASSERT_LE(0, fd)
		TH_LOG("open %s: %s (is riommu_mock loaded?)", RIOMMU_MOCK_DEV,
		       strerror(errno));
	close(fd);
	self->taint0 = td_taint();
}

FIXTURE_TEARDOWN(remove)
{
	td_no_new_warn(_metadata, self->taint0);
}

TEST_F(remove, every_order)
{
	unsigned int h, n = 0, combos = 0;
	uint64_t t0 = now_ns();

	for (h = 0; h < 32; h++) {
		int with_dev;

		if ((h & variant->must) != variant->must || (h & ~variant->may))
			continue;
		if ((h & H_ATTACH) && !((h & H_VDEV) && (h & H_NESTED)))
			continue;
		combos++;
		for (with_dev = 1; with_dev >= 0; with_dev--) {
			struct scen sc = { .hold = h };
			unsigned int k = 0;

			if (with_dev)
				sc.steps[sc.nsteps++] = S_DEV;
			if (h & H_BOND)
				sc.steps[sc.nsteps++] = S_BOND;
			if (h & H_VDEV)
				sc.steps[sc.nsteps++] = S_VDEV;
			if (h & H_NESTED)
				sc.steps[sc.nsteps++] = S_NESTED;
			do {
				sc.seed = h * 7919u + n * 104729u + 1;
				/* Every finish in turn; without DEV_REMOVE, a close */
				sc.finish = with_dev ? (n + h) % F_NUM :
						       F_CLOSE_CTL_FIRST + (k + h) % 2;
				td_run(_metadata, &sc);
				n++, k++;
			} while (next_perm(sc.steps, sc.nsteps));
		}
	}
	ksft_print_msg("%s: %u holdings, %u scenarios in %llu ms\n",
		       _metadata->name, combos, n,
		       (unsigned long long)((now_ns() - t0) / 1000000));
}

/* ---------------------------------------------------------------------- */
/* The SVA cases on their own                                             */

FIXTURE(sva_remove) {
	int fd, ctl;
	uint32_t ioas, dev;
	struct td_counts base;
	unsigned long taint0;
};

FIXTURE_SETUP(sva_remove)
{
	self->taint0 = td_taint();
	ASSERT_EQ(0, td_counts(&self->base))
		TH_LOG("%s: %s (is riommu_mock loaded?)", RIOMMU_MOCK_DEV,
		       strerror(errno));
	self->fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	self->ctl = open(RIOMMU_MOCK_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->ctl);
	ASSERT_OK(ioas_alloc(self->fd, &self->ioas));
	ASSERT_OK(td_dev_add(self->ctl, self->fd, RIOMMU_MOCK_DEV_PASID,
			     self->ioas, &self->dev, NULL));
}

FIXTURE_TEARDOWN(sva_remove)
{
	td_no_new_warn(_metadata, self->taint0);
	if (self->ctl >= 0)
		close(self->ctl);
	if (self->fd >= 0)
		close(self->fd);
}

/* DEV_REMOVE with the bond held, then close without SVA_UNBIND */
TEST_F(sva_remove, remove_then_close)
{
	uint32_t bond, pasid;
	char out[sizeof(td_data)];

	ASSERT_OK(td_bind(self->ctl, self->dev, &bond, &pasid));
	ASSERT_OK(td_access(self->ctl, self->dev, pasid, td_data, out,
			    sizeof(out)));
	ASSERT_OK(td_dev_remove(self->ctl, self->dev));
	ASSERT_ERRNO(ENOENT, td_access(self->ctl, self->dev, pasid, td_data,
				       out, sizeof(out)));
	close(self->ctl);
	self->ctl = -1;
	close(self->fd);
	self->fd = -1;
	ASSERT_COUNTS(&self->base, "remove_then_close");
}

/* As above, closing /dev/iommu first (the control file holds its context) */
TEST_F(sva_remove, remove_then_close_iommufd_first)
{
	uint32_t bond, pasid;

	ASSERT_OK(td_bind(self->ctl, self->dev, &bond, &pasid));
	ASSERT_OK(td_dev_remove(self->ctl, self->dev));
	close(self->fd);
	self->fd = -1;
	ASSERT_ERRNO(ENOENT, td_unbind(self->ctl, bond));
	close(self->ctl);
	self->ctl = -1;
	ASSERT_COUNTS(&self->base, "remove_then_close_iommufd_first");
}

/* No DEV_REMOVE, no SVA_UNBIND: the close does both */
TEST_F(sva_remove, close_with_bond)
{
	uint32_t bond, pasid;

	ASSERT_OK(td_bind(self->ctl, self->dev, &bond, &pasid));
	close(self->ctl);
	self->ctl = -1;
	close(self->fd);
	self->fd = -1;
	ASSERT_COUNTS(&self->base, "close_with_bond");
}

/*
 * SVA_BIND twice on one device: the core shares one bond per mm and PASID
 * (same PASID, one more reference); our two bond ids each drop one.  Then
 * DEV_REMOVE with both references held.
 */
TEST_F(sva_remove, bind_twice_then_remove)
{
	uint32_t b1, b2, b3, p1, p2, p3;
	struct riommu_mock_stats st;
	char out[sizeof(td_data)];

	ASSERT_OK(td_bind(self->ctl, self->dev, &b1, &p1));
	ASSERT_OK(td_bind(self->ctl, self->dev, &b2, &p2));
	ASSERT_NE(b1, b2);
	ASSERT_EQ(p1, p2);
	ASSERT_OK(riommu_stats(&st));
	ASSERT_EQ(self->base.st.out_sva_domains + 1, st.out_sva_domains);
	/* Dropping one reference leaves the other working */
	ASSERT_OK(td_unbind(self->ctl, b1));
	ASSERT_OK(td_access(self->ctl, self->dev, p2, td_data, out, sizeof(out)));
	ASSERT_STREQ(td_data, out);
	ASSERT_OK(td_bind(self->ctl, self->dev, &b3, &p3));
	ASSERT_EQ(p1, p3);
	/* Removal with two references held */
	ASSERT_OK(td_dev_remove(self->ctl, self->dev));
	ASSERT_OK(riommu_stats(&st));
	ASSERT_EQ(self->base.st.out_sva_domains, st.out_sva_domains);
	ASSERT_EQ(self->base.st.out_devices, st.out_devices);
	ASSERT_ERRNO(ENOENT, td_unbind(self->ctl, b2));
	ASSERT_ERRNO(ENOENT, td_unbind(self->ctl, b3));
	ASSERT_ERRNO(ENOENT, td_unbind(self->ctl, b1));
	close(self->ctl);
	self->ctl = -1;
	close(self->fd);
	self->fd = -1;
	ASSERT_COUNTS(&self->base, "bind_twice_then_remove");
}

/* Removing one of two devices bound to the mm leaves the other's bond */
TEST_F(sva_remove, remove_one_of_two)
{
	uint32_t dev2, b1, b2, p1, p2, b3, p3;
	char out[sizeof(td_data)];

	ASSERT_OK(td_dev_add(self->ctl, self->fd, RIOMMU_MOCK_DEV_PASID,
			     self->ioas, &dev2, NULL));
	ASSERT_OK(td_bind(self->ctl, self->dev, &b1, &p1));
	ASSERT_OK(td_bind(self->ctl, dev2, &b2, &p2));
	ASSERT_EQ(p1, p2);
	ASSERT_OK(td_dev_remove(self->ctl, self->dev));
	ASSERT_ERRNO(ENOENT, td_unbind(self->ctl, b1));
	memset(out, 0, sizeof(out));
	ASSERT_OK(td_access(self->ctl, dev2, p2, td_data, out, sizeof(out)));
	ASSERT_STREQ(td_data, out);
	/* A second reference on dev2's bond (the id may be b1's, now free) */
	ASSERT_OK(td_bind(self->ctl, dev2, &b3, &p3));
	ASSERT_EQ(p2, p3);
	ASSERT_OK(td_unbind(self->ctl, b2));
	ASSERT_OK(td_access(self->ctl, dev2, p2, td_data, out, sizeof(out)));
	ASSERT_OK(td_unbind(self->ctl, b3));
	ASSERT_ERRNO(ENOENT, td_access(self->ctl, dev2, p2, td_data, out,
				       sizeof(out)));
	ASSERT_OK(td_dev_remove(self->ctl, dev2));
	close(self->ctl);
	self->ctl = -1;
	close(self->fd);
	self->fd = -1;
	ASSERT_COUNTS(&self->base, "remove_one_of_two");
}

/* ---------------------------------------------------------------------- */
/* Races                                                                  */

#define RACE_MAX_ITERS	20000
#define RACE_MAX_NS	(5ull * 1000000000ull)
/* The races that add and remove devices (slower: ~20 ms a device) */
#define RACE_DEV_MAX_ITERS	2000
#define RACE_DEV_MAX_NS	(3ull * 1000000000ull)
/* Entries per invalidation: each one looks the vDEVICE up again */
#define RACE_ENTRIES	64

struct race {
	int fd, ctl;
	uint32_t viommu, idev, dev;
	uint64_t deadline;
	unsigned long max_iters;
	atomic_int stop;
	/* The destroying side */
	unsigned long iters;
	int bad_errno;
	const char *bad_op;
	/* The invalidating side */
	unsigned long inv_calls, inv_ok, inv_partial, inv_absent;
	int inv_bad_errno;
	/* TAINT_WARN before, and the iteration it appeared at (or 0) */
	unsigned long taint0;
	unsigned long warn_iter;
};

static void *race_invalidate(void *arg)
{
	struct race *r = arg;
	struct iommu_viommu_invalidate_selftest inv[RACE_ENTRIES];
	uint32_t num;
	int i;

	for (i = 0; i < RACE_ENTRIES; i++)
		inv[i] = (struct iommu_viommu_invalidate_selftest){
			.vdev_id = TD_VIRT_ID,
			.cache_id = i % RIOMMU_MOCK_DEV_CACHE_NUM,
		};
	while (!atomic_load(&r->stop)) {
		num = RACE_ENTRIES;
		r->inv_calls++;
		if (!viommu_inv_selftest(r->fd, r->viommu, inv, &num)) {
			r->inv_ok++;
			continue;
		}
		/* No vDEVICE with that virtual id: EINVAL, as the C mock */
		if (errno == EINVAL) {
			if (num)
				r->inv_partial++;
			else
				r->inv_absent++;
			continue;
		}
		r->inv_bad_errno = errno;
		break;
	}
	return NULL;
}

/* Whether the destroying side should stop; checks for a new WARN too */
static bool race_done(struct race *r)
{
	if (r->iters >= r->max_iters || now_ns() > r->deadline)
		return true;
	if (!(r->iters % 16) && !(r->taint0 & TAINT_WARN_BIT) &&
	    (td_taint() & TAINT_WARN_BIT)) {
		r->warn_iter = r->iters;
		return true;
	}
	return false;
}

static void *race_vdevice(void *arg)
{
	struct race *r = arg;
	uint32_t vdev;

	while (!race_done(r)) {
		if (vdevice_alloc(r->fd, r->viommu, r->idev, TD_VIRT_ID, &vdev)) {
			r->bad_errno = errno, r->bad_op = "IOMMU_VDEVICE_ALLOC";
			break;
		}
		if (iommufd_destroy(r->fd, vdev)) {
			r->bad_errno = errno, r->bad_op = "IOMMU_DESTROY(vdev)";
			break;
		}
		r->iters++;
	}
	atomic_store(&r->stop, 1);
	return NULL;
}

/* The vDEVICE goes with the device's unbind (iommufd's tombstone path) */
static void *race_device(void *arg)
{
	struct race *r = arg;
	uint32_t dev, idev, vdev;

	while (!race_done(r)) {
		if (td_dev_add(r->ctl, r->fd, 0, 0, &dev, &idev)) {
			r->bad_errno = errno, r->bad_op = "DEV_ADD";
			break;
		}
		if (vdevice_alloc(r->fd, r->viommu, idev, TD_VIRT_ID, &vdev)) {
			r->bad_errno = errno, r->bad_op = "IOMMU_VDEVICE_ALLOC";
			break;
		}
		if (td_dev_remove(r->ctl, dev)) {
			r->bad_errno = errno, r->bad_op = "DEV_REMOVE";
			break;
		}
		r->iters++;
	}
	atomic_store(&r->stop, 1);
	return NULL;
}

FIXTURE(race) {
	int fd, ctl;
	uint32_t ioas, dev, idev, parent, viommu;
	struct td_counts base;
	unsigned long taint0;
};

FIXTURE_SETUP(race)
{
	uint32_t pt;

	self->taint0 = td_taint();
	ASSERT_EQ(0, td_counts(&self->base))
		TH_LOG("%s: %s (is riommu_mock loaded?)", RIOMMU_MOCK_DEV,
		       strerror(errno));
	self->fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->fd);
	self->ctl = open(RIOMMU_MOCK_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->ctl);
	ASSERT_OK(ioas_alloc(self->fd, &self->ioas));
	ASSERT_OK(td_dev_add(self->ctl, self->fd, 0, 0, &self->dev, &self->idev));
	ASSERT_OK(hwpt_alloc_paging(self->fd, self->idev, self->ioas,
				    IOMMU_HWPT_ALLOC_NEST_PARENT, &self->parent));
	pt = self->parent;
	ASSERT_OK(td_dev_attach(self->ctl, RIOMMU_MOCK_DEV_ATTACH, self->dev, pt));
	ASSERT_OK(viommu_alloc(self->fd, self->idev, self->parent,
			       IOMMU_VIOMMU_TYPE_SELFTEST, NULL, 0,
			       &self->viommu));
}

FIXTURE_TEARDOWN(race)
{
	td_no_new_warn(_metadata, self->taint0);
	if (self->ctl >= 0)
		close(self->ctl);
	if (self->fd >= 0)
		close(self->fd);
}

static void race_run(struct __test_metadata *_metadata,
		     FIXTURE_DATA(race) *self, void *(*destroyer)(void *),
		     const char *what, unsigned long max_iters,
		     uint64_t max_ns)
{
	struct race r = {
		.fd = self->fd,
		.ctl = self->ctl,
		.viommu = self->viommu,
		.idev = self->idev,
		.dev = self->dev,
	};
	uint64_t t0;
	pthread_t th[2];

	r.taint0 = td_taint();
	t0 = now_ns();
	r.deadline = t0 + max_ns;
	r.max_iters = max_iters;
	ASSERT_EQ(0, pthread_create(&th[0], NULL, race_invalidate, &r));
	ASSERT_EQ(0, pthread_create(&th[1], NULL, destroyer, &r));
	ASSERT_EQ(0, pthread_join(th[1], NULL));
	ASSERT_EQ(0, pthread_join(th[0], NULL));
	ksft_print_msg("%s: %lu %s cycles, %lu invalidations (%lu complete, %lu partial, %lu without vDEVICE) in %llu ms\n",
		       _metadata->name, r.iters, what, r.inv_calls, r.inv_ok,
		       r.inv_partial, r.inv_absent,
		       (unsigned long long)((now_ns() - t0) / 1000000));
	if (r.warn_iter)
		TH_LOG("kernel WARN (taint) seen by iteration %lu, after %llu ms: see the kernel log",
		       r.warn_iter,
		       (unsigned long long)((now_ns() - t0) / 1000000));
	EXPECT_EQ(0, r.warn_iter);
	if (r.bad_op)
		TH_LOG("%s: %s", r.bad_op, ename(r.bad_errno));
	ASSERT_EQ(NULL, r.bad_op);
	if (r.inv_bad_errno)
		TH_LOG("IOMMU_HWPT_INVALIDATE: unexpected %s",
		       ename(r.inv_bad_errno));
	ASSERT_EQ(0, r.inv_bad_errno);
	ASSERT_LT(0, r.iters);
	ASSERT_LT(0, r.inv_calls);
	/* Both loops ran, and the vIOMMU is still whole */
	ASSERT_ERRNO(EINVAL, td_inv_one(self->fd, self->viommu, TD_VIRT_ID));
	ASSERT_OK(iommufd_destroy(self->fd, self->viommu));
	close(self->ctl);
	self->ctl = -1;
	close(self->fd);
	self->fd = -1;
	ASSERT_COUNTS(&self->base, what);
}

/* IOMMU_VDEVICE_ALLOC + IOMMU_DESTROY against invalidations of its id */
TEST_F_TIMEOUT(race, vdevice_destroy_vs_invalidate, 60)
{
	race_run(_metadata, self, race_vdevice, "vDEVICE alloc+destroy",
		 RACE_MAX_ITERS, RACE_MAX_NS);
}

/* DEV_ADD + IOMMU_VDEVICE_ALLOC + DEV_REMOVE against invalidations */
TEST_F_TIMEOUT(race, device_remove_vs_invalidate, 60)
{
	race_run(_metadata, self, race_device, "DEV_ADD+vDEVICE+DEV_REMOVE",
		 RACE_DEV_MAX_ITERS, RACE_DEV_MAX_NS);
}

/*
 * Hardware queues: IOMMU_DESTROY of queue 0 against IOMMU_HW_QUEUE_ALLOC of
 * queue 1, which depends on it.  iommufd drops queue 0's users to 0 before
 * it calls its destroy, which takes the vIOMMU's queue table lock; an
 * allocation of queue 1 that finds queue 0 in the table meanwhile must not
 * take a reference on it (it gets EIO, as without queue 0), or queue 1 would
 * later drop a reference on freed memory.  Queue 0's destroy may meet queue
 * 1 (EBUSY): it tries again.
 */
struct hwq_race {
	int fd;
	uint32_t viommu;
	uint64_t iova;
	atomic_int stop;
	unsigned long q0_cycles, q0_busy, q1_made, q1_eio;
	int bad_errno;
	const char *bad_op;
};

static void *hwq_race_q1(void *arg)
{
	struct hwq_race *r = arg;
	uint32_t q1;

	while (!atomic_load(&r->stop)) {
		if (hw_queue_alloc(r->fd, r->viommu,
				   IOMMU_HW_QUEUE_TYPE_SELFTEST, 1, r->iova,
				   PAGE_4K, &q1)) {
			if (errno != EIO) {
				r->bad_errno = errno;
				r->bad_op = "IOMMU_HW_QUEUE_ALLOC(1)";
				break;
			}
			r->q1_eio++;
			continue;
		}
		r->q1_made++;
		if (iommufd_destroy(r->fd, q1)) {
			r->bad_errno = errno, r->bad_op = "IOMMU_DESTROY(1)";
			break;
		}
	}
	atomic_store(&r->stop, 1);
	return NULL;
}

TEST_F_TIMEOUT(race, hw_queue_destroy_vs_depend, 60)
{
	struct hwq_race r = {
		.fd = self->fd,
		.viommu = self->viommu,
		.iova = APERTURE_START,
	};
	uint64_t t0 = now_ns();
	unsigned long warn_iter = 0;
	uint8_t *buf = alloc_buf(PAGE_4K);
	uint32_t q0;
	pthread_t th;

	ASSERT_NE(NULL, buf);
	ASSERT_OK(ioas_map_fixed(self->fd, self->ioas, buf, PAGE_4K, r.iova));
	ASSERT_EQ(0, pthread_create(&th, NULL, hwq_race_q1, &r));
	while (r.q0_cycles < RACE_MAX_ITERS && now_ns() - t0 < RACE_MAX_NS &&
	       !atomic_load(&r.stop)) {
		if (!(r.q0_cycles % 16) && !(self->taint0 & TAINT_WARN_BIT) &&
		    (td_taint() & TAINT_WARN_BIT)) {
			warn_iter = r.q0_cycles;
			break;
		}
		if (hw_queue_alloc(self->fd, self->viommu,
				   IOMMU_HW_QUEUE_TYPE_SELFTEST, 0, r.iova,
				   PAGE_4K, &q0)) {
			r.bad_errno = errno, r.bad_op = "IOMMU_HW_QUEUE_ALLOC(0)";
			break;
		}
		while (iommufd_destroy(self->fd, q0)) {
			if (errno != EBUSY) {
				r.bad_errno = errno, r.bad_op = "IOMMU_DESTROY(0)";
				break;
			}
			r.q0_busy++;
			sched_yield();
		}
		if (r.bad_op)
			break;
		r.q0_cycles++;
	}
	atomic_store(&r.stop, 1);
	ASSERT_EQ(0, pthread_join(th, NULL));
	ksft_print_msg("%s: %lu queue 0 cycles (%lu busy), queue 1 made %lu times, %lu EIO, in %llu ms\n",
		       _metadata->name, r.q0_cycles, r.q0_busy, r.q1_made,
		       r.q1_eio,
		       (unsigned long long)((now_ns() - t0) / 1000000));
	EXPECT_EQ(0, warn_iter);
	if (r.bad_op)
		TH_LOG("%s: %s", r.bad_op, ename(r.bad_errno));
	ASSERT_EQ(NULL, r.bad_op);
	ASSERT_LT(0, r.q0_cycles);
	ASSERT_OK(iommufd_destroy(self->fd, self->viommu));
	close(self->ctl);
	self->ctl = -1;
	close(self->fd);
	self->fd = -1;
	munmap(buf, PAGE_4K);
	ASSERT_COUNTS(&self->base, "hw_queue_destroy_vs_depend");
}

/*
 * SVA_UNBIND against DEV_REMOVE of the bond's device, started together,
 * again and again.  DEV_REMOVE unbinds the bonds it finds; an SVA_UNBIND
 * that took the bond first must have finished with it (the PASID detached)
 * before the device's iommufd binding goes, or the iommu core WARNs
 * (__iommu_release_dma_ownership() with a PASID still attached, then
 * __iommu_group_free_device() with a DMA owner).  A third thread binds and
 * unbinds another device (of another control file) all along: it keeps
 * the core's global iommu_sva_lock busy, which an SVA_UNBIND waits for, so
 * that window is wide.
 */
struct unbind_race {
	int fd, ctl, hog_ctl;
	uint32_t hog_dev;
	atomic_uint dev;	/* the device to bind, 0: none */
	atomic_uint bound;	/* the bond, once bound */
	atomic_int go, stop;
	unsigned long unbinds, unbind_gone, hog_cycles;
	int bad_errno;
	const char *bad_op;
};

static void *unbind_race_thread(void *arg)
{
	struct unbind_race *r = arg;
	uint32_t dev, bond, pasid;

	while (!atomic_load(&r->stop)) {
		dev = atomic_load(&r->dev);
		if (!dev || atomic_load(&r->bound)) {
			sched_yield();
			continue;
		}
		if (td_bind(r->ctl, dev, &bond, &pasid)) {
			r->bad_errno = errno, r->bad_op = "SVA_BIND";
			break;
		}
		atomic_store(&r->bound, bond);
		while (!atomic_load(&r->go) && !atomic_load(&r->stop))
			;
		if (td_unbind(r->ctl, bond)) {
			/* DEV_REMOVE took the bond first */
			if (errno != ENOENT) {
				r->bad_errno = errno, r->bad_op = "SVA_UNBIND";
				break;
			}
			r->unbind_gone++;
		} else {
			r->unbinds++;
		}
		atomic_store(&r->dev, 0);
	}
	atomic_store(&r->stop, 1);
	return NULL;
}

static void *unbind_race_hog(void *arg)
{
	struct unbind_race *r = arg;
	uint32_t bond, pasid;

	while (!atomic_load(&r->stop)) {
		if (td_bind(r->hog_ctl, r->hog_dev, &bond, &pasid)) {
			r->bad_errno = errno, r->bad_op = "SVA_BIND (other device)";
			break;
		}
		if (td_unbind(r->hog_ctl, bond)) {
			r->bad_errno = errno, r->bad_op = "SVA_UNBIND (other device)";
			break;
		}
		r->hog_cycles++;
	}
	atomic_store(&r->stop, 1);
	return NULL;
}

TEST_F_TIMEOUT(race, sva_unbind_vs_remove, 60)
{
	struct unbind_race r = { .fd = self->fd, .ctl = self->ctl };
	unsigned long iters = 0, warn_iter = 0;
	uint64_t t0 = now_ns(), t1;
	uint32_t dev;
	pthread_t th[2];
	int fails = 0;

	r.hog_ctl = open(RIOMMU_MOCK_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, r.hog_ctl);
	ASSERT_OK(td_dev_add(r.hog_ctl, self->fd, RIOMMU_MOCK_DEV_PASID, 0,
			     &r.hog_dev, NULL));
	ASSERT_EQ(0, pthread_create(&th[0], NULL, unbind_race_thread, &r));
	ASSERT_EQ(0, pthread_create(&th[1], NULL, unbind_race_hog, &r));
	while (iters < RACE_DEV_MAX_ITERS && now_ns() - t0 < RACE_MAX_NS &&
	       !atomic_load(&r.stop)) {
		if (!(self->taint0 & TAINT_WARN_BIT) &&
		    (td_taint() & TAINT_WARN_BIT)) {
			warn_iter = iters;
			break;
		}
		if (td_dev_add(self->ctl, self->fd, RIOMMU_MOCK_DEV_PASID, 0,
			       &dev, NULL)) {
			fails = errno;
			break;
		}
		atomic_store(&r.go, 0);
		atomic_store(&r.bound, 0);
		atomic_store(&r.dev, dev);
		while (!atomic_load(&r.bound) && !atomic_load(&r.stop))
			sched_yield();
		/*
		 * Both at once: the other thread unbinds, we remove, after a
		 * delay of 0 to 300 us that changes from one iteration to the
		 * next, so that either may come first.
		 */
		atomic_store(&r.go, 1);
		t1 = now_ns() + (iters % 16) * 20000;
		while (now_ns() < t1)
			;
		if (td_dev_remove(self->ctl, dev)) {
			fails = errno;
			break;
		}
		while (atomic_load(&r.dev) && !atomic_load(&r.stop))
			sched_yield();
		iters++;
	}
	atomic_store(&r.stop, 1);
	ASSERT_EQ(0, pthread_join(th[0], NULL));
	ASSERT_EQ(0, pthread_join(th[1], NULL));
	ksft_print_msg("%s: %lu DEV_REMOVE/SVA_UNBIND races (%lu unbound first, %lu removed first), %lu binds of the other device in %llu ms\n",
		       _metadata->name, iters, r.unbinds, r.unbind_gone,
		       r.hog_cycles,
		       (unsigned long long)((now_ns() - t0) / 1000000));
	if (warn_iter)
		TH_LOG("kernel WARN (taint) seen at iteration %lu, after %llu ms: see the kernel log",
		       warn_iter,
		       (unsigned long long)((now_ns() - t0) / 1000000));
	EXPECT_EQ(0, warn_iter);
	if (fails)
		TH_LOG("DEV_ADD/DEV_REMOVE: %s", ename(fails));
	ASSERT_EQ(0, fails);
	if (r.bad_op)
		TH_LOG("%s: %s", r.bad_op, ename(r.bad_errno));
	ASSERT_EQ(NULL, r.bad_op);
	ASSERT_LT(0, iters);
	ASSERT_OK(td_dev_remove(r.hog_ctl, r.hog_dev));
	close(r.hog_ctl);
	ASSERT_OK(iommufd_destroy(self->fd, self->viommu));
	close(self->ctl);
	self->ctl = -1;
	close(self->fd);
	self->fd = -1;
	ASSERT_COUNTS(&self->base, "sva_unbind_vs_remove");
}

/*
 * Page requests against attachment changes (issue #18): one thread reports
 * page requests (RIOMMU_MOCK_TRIGGER_IOPF) on the RID, a PASID and an SVA
 * bond's PASID of a device, another reads the fault queue and answers,
 * while the main thread replaces the RID between a fault-capable HWPT and
 * one without a fault queue, attaches and detaches the PASID to the
 * fault-capable one, and binds and unbinds the SVA bond.  The core finds a
 * request's attach handle and calls its domain's handler without a
 * reference on either, and iommufd frees a handle right after its detach:
 * riommu's AttachLock keeps the two apart (the C mock's iopf_rwsem).  The
 * SVA domain's handler runs on the IOPF queue's workqueue, which riommu
 * flushes before the domain leaves.  Under KASAN a use after free shows.
 */
struct iopf_race {
	int fd, ctl, ffd;
	uint32_t dev;
	atomic_uint sva_pasid;	/* the bond's PASID while bound, else 0 */
	atomic_int stop;
	unsigned long triggers, faults, answers;
	int bad_errno;
	const char *bad_op;
};

static char iopf_page[4096] __attribute__((aligned(4096)));

static void *iopf_race_trigger(void *arg)
{
	struct iopf_race *r = arg;
	struct riommu_mock_trigger_iopf cmd = {
		.size = sizeof(cmd),
		.perm = IOMMU_PGFAULT_PERM_READ | IOMMU_PGFAULT_PERM_WRITE,
	};
	unsigned int i = 0;

	while (!atomic_load(&r->stop)) {
		cmd.dev_id = r->dev;
		cmd.grpid = i;
		switch (i++ % 3) {
		case 0:
			cmd.pasid = 0;
			cmd.addr = APERTURE_START;
			break;
		case 1:
			cmd.pasid = TD_PASID;
			cmd.addr = APERTURE_START;
			break;
		default:
			cmd.pasid = atomic_load(&r->sva_pasid);
			cmd.addr = (uintptr_t)iopf_page;
			break;
		}
		if (ioctl(r->ctl, RIOMMU_MOCK_TRIGGER_IOPF, &cmd)) {
			r->bad_errno = errno, r->bad_op = "TRIGGER_IOPF";
			break;
		}
		r->triggers++;
	}
	atomic_store(&r->stop, 1);
	return NULL;
}

static void *iopf_race_answer(void *arg)
{
	struct iopf_race *r = arg;
	struct iommu_hwpt_pgfault f[8];
	struct iommu_hwpt_page_response rsp;
	ssize_t n;
	int i;

	while (!atomic_load(&r->stop)) {
		n = read(r->ffd, f, sizeof(f));
		if (n < 0) {
			r->bad_errno = errno, r->bad_op = "read(fault fd)";
			break;
		}
		for (i = 0; i < n / (ssize_t)sizeof(f[0]); i++) {
			r->faults++;
			rsp = (struct iommu_hwpt_page_response){
				.cookie = f[i].cookie,
				.code = IOMMUFD_PAGE_RESP_SUCCESS,
			};
			/* EINVAL: iommufd answered it at a detach already */
			if (write(r->ffd, &rsp, sizeof(rsp)) == sizeof(rsp))
				r->answers++;
			else if (errno != EINVAL) {
				r->bad_errno = errno,
				r->bad_op = "write(fault fd)";
				atomic_store(&r->stop, 1);
				return NULL;
			}
		}
		if (!n)
			sched_yield();
	}
	atomic_store(&r->stop, 1);
	return NULL;
}

static int td_pasid_detach(int ctl, uint32_t dev, uint32_t pasid)
{
	struct riommu_mock_pasid cmd = {
		.size = sizeof(cmd), .dev_id = dev, .pasid = pasid,
	};

	return ioctl(ctl, RIOMMU_MOCK_PASID_DETACH, &cmd);
}

TEST_F_TIMEOUT(race, iopf_vs_attach, 60)
{
	struct iommu_fault_alloc fa = { .size = sizeof(fa) };
	struct iommu_hwpt_alloc ha = {
		.size = sizeof(ha),
		.flags = IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID,
	};
	struct iopf_race r = { .fd = self->fd, .ctl = self->ctl };
	uint32_t idev, plain, fhwpt, bond, pasid;
	unsigned long iters = 0, warn_iter = 0;
	uint64_t t0 = now_ns();
	const char *op = NULL;
	pthread_t th[2];

	memset(iopf_page, 1, sizeof(iopf_page));
	ASSERT_OK(ioctl(self->fd, IOMMU_FAULT_QUEUE_ALLOC, &fa));
	r.ffd = fa.out_fault_fd;
	ASSERT_OK(td_dev_add(self->ctl, self->fd, RIOMMU_MOCK_DEV_PASID, 0,
			     &r.dev, &idev));
	ASSERT_OK(hwpt_alloc_paging(self->fd, idev, self->ioas,
				    IOMMU_HWPT_ALLOC_PASID, &plain));
	ha.dev_id = idev;
	ha.pt_id = self->ioas;
	ha.fault_id = fa.out_fault_id;
	ASSERT_OK(ioctl(self->fd, IOMMU_HWPT_ALLOC, &ha));
	fhwpt = ha.out_hwpt_id;
	ASSERT_OK(td_dev_attach(self->ctl, RIOMMU_MOCK_DEV_ATTACH, r.dev,
				plain));
	ASSERT_EQ(0, pthread_create(&th[0], NULL, iopf_race_trigger, &r));
	ASSERT_EQ(0, pthread_create(&th[1], NULL, iopf_race_answer, &r));
	while (iters < RACE_DEV_MAX_ITERS && now_ns() - t0 < RACE_DEV_MAX_NS &&
	       !atomic_load(&r.stop)) {
		if (!(iters % 16) && !(self->taint0 & TAINT_WARN_BIT) &&
		    (td_taint() & TAINT_WARN_BIT)) {
			warn_iter = iters;
			break;
		}
		if (td_dev_attach(self->ctl, RIOMMU_MOCK_DEV_REPLACE, r.dev,
				  iters & 1 ? plain : fhwpt)) {
			op = "DEV_REPLACE";
			break;
		}
		if (td_pasid_attach(self->ctl, r.dev, TD_PASID, fhwpt)) {
			op = "PASID_ATTACH";
			break;
		}
		if (td_bind(self->ctl, r.dev, &bond, &pasid)) {
			op = "SVA_BIND";
			break;
		}
		atomic_store(&r.sva_pasid, pasid);
		sched_yield();
		atomic_store(&r.sva_pasid, 0);
		if (td_unbind(self->ctl, bond)) {
			op = "SVA_UNBIND";
			break;
		}
		if (td_pasid_detach(self->ctl, r.dev, TD_PASID)) {
			op = "PASID_DETACH";
			break;
		}
		iters++;
	}
	if (op)
		TH_LOG("%s: %s", op, ename(errno));
	atomic_store(&r.stop, 1);
	ASSERT_EQ(0, pthread_join(th[0], NULL));
	ASSERT_EQ(0, pthread_join(th[1], NULL));
	ksft_print_msg("%s: %lu attach cycles, %lu page requests, %lu queued, %lu answered in %llu ms\n",
		       _metadata->name, iters, r.triggers, r.faults, r.answers,
		       (unsigned long long)((now_ns() - t0) / 1000000));
	if (warn_iter)
		TH_LOG("kernel WARN (taint) seen at iteration %lu: see the kernel log",
		       warn_iter);
	EXPECT_EQ(0, warn_iter);
	ASSERT_EQ(NULL, op);
	if (r.bad_op)
		TH_LOG("%s: %s", r.bad_op, ename(r.bad_errno));
	ASSERT_EQ(NULL, r.bad_op);
	ASSERT_LT(0, iters);
	ASSERT_LT(0, r.faults);
	/* The device goes with a request still pending on the RID */
	ASSERT_OK(td_dev_attach(self->ctl, RIOMMU_MOCK_DEV_REPLACE, r.dev,
				fhwpt));
	{
		struct riommu_mock_trigger_iopf cmd = {
			.size = sizeof(cmd), .dev_id = r.dev,
		};

		ASSERT_OK(ioctl(self->ctl, RIOMMU_MOCK_TRIGGER_IOPF, &cmd));
	}
	ASSERT_OK(td_dev_remove(self->ctl, r.dev));
	close(r.ffd);
	ASSERT_OK(iommufd_destroy(self->fd, self->viommu));
	close(self->ctl);
	self->ctl = -1;
	close(self->fd);
	self->fd = -1;
	ASSERT_COUNTS(&self->base, "iopf_vs_attach");
}

TEST_HARNESS_MAIN
