// SPDX-License-Identifier: GPL-2.0
/*
 * riommu_fail_nth: fault-injection sweeps over every ioctl path that reaches
 * a mock IOMMU driver's code, on the C mock (CONFIG_IOMMUFD_TEST) and on
 * riommu_mock.ko.
 *
 * Like the kernel's iommufd_fail_nth, these are kernel-integrity tests: a
 * path is a sequence of ioctls that succeeds; the sweep runs it again and
 * again with the n-th fault-injection point of the calling task failing
 * (n = 1, 2, ...: /proc/thread-self/fail-nth), until a run no longer reaches
 * the n-th point.  Each run must end in success or in an errno (never a
 * crash; the runner also fails on any WARN/BUG/kmemleak report in the
 * console), and after each run everything is destroyed and closed, and
 * riommu_mock's own counters (RIOMMU_MOCK_STATS: devices, paging and nested
 * domains, page-table bytes; and the module reference count, which every
 * device, domain, vIOMMU, vDEVICE and open control file holds) must be back
 * to where they were.
 *
 * Fault injection set-up (needs CONFIG_FAULT_INJECTION,
 * CONFIG_FAULT_INJECTION_DEBUG_FS, CONFIG_FAILSLAB; CONFIG_FAIL_PAGE_ALLOC
 * is used when present): as upstream, failslab/ignore-gfp-wait=N (so that
 * GFP_KERNEL allocations can fail, not just atomic ones) and every fail*
 * attribute's verbose=0 (no stack dump per injected fault: the console would
 * be flooded, and under TCG the dumps dominate the run time).  fail-nth
 * itself ignores probability, interval, times and task-filter
 * (should_fail_ex() checks current->fail_nth first), so we leave
 * probability at 0: nothing fails anywhere but in the sweeping task.  The
 * C mock's fail_iommufd attribute (iommufd_should_fail(), used by
 * io_pagetable/pages.c) takes part in the same fail-nth count.
 *
 * Output: one TAP test per path per backend (paths that only exist for
 * riommu_mock, the control device's own ioctls, run on it alone), and for
 * each a line
 *   # path NAME (BACKEND): N injection points (ok X, ENOMEM Y, ...)
 * where the parenthesis counts how the runs with a fault injected ended.
 *
 * A path that needs more than its limit of injection points fails (the
 * limit is then too low for the kernel at hand, or something loops).
 */
#include <sys/stat.h>
#include <dirent.h>
#include <poll.h>

#include "riommu_utils.h"

#define BAD_ID		0xfffff0u
#define PASID		200
#define BUF_SIZE	(1024 * 1024)
#define MAX_POINTS	3000	/* per path; ~10x what any path needs today */
#define MAX_FAILS	8	/* distinct errnos reported per path */

static uint8_t *buffer;
static bool have_fault_injection;
static char fi_missing[256];

static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

static __attribute__((constructor)) void setup_buffer(void)
{
	buffer = mmap(NULL, BUF_SIZE, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (buffer == MAP_FAILED)
		buffer = NULL;
	else
		memset(buffer, 0xa5, BUF_SIZE);
}

static __attribute__((constructor)) void setup_fault_injection(void)
{
	const char *dbg = "/sys/kernel/debug";
	struct dirent *de;
	char fn[512];
	DIR *d;

	if (access("/proc/thread-self/fail-nth", R_OK | W_OK)) {
		snprintf(fi_missing, sizeof(fi_missing),
			 "/proc/thread-self/fail-nth: %s (CONFIG_FAULT_INJECTION)",
			 ename(errno));
		return;
	}
	if (write_str("/sys/kernel/debug/failslab/ignore-gfp-wait", "N")) {
		snprintf(fi_missing, sizeof(fi_missing),
			 "failslab/ignore-gfp-wait: %s (debugfs mounted? "
			 "CONFIG_FAILSLAB, CONFIG_FAULT_INJECTION_DEBUG_FS)",
			 ename(errno));
		return;
	}
	/* Only the task with fail-nth set fails; no random failures */
	write_str("/sys/kernel/debug/failslab/probability", "0");
	/* Present only with CONFIG_FAIL_PAGE_ALLOC */
	write_str("/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N");
	write_str("/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem", "N");
	write_str("/sys/kernel/debug/fail_page_alloc/min-order", "0");
	write_str("/sys/kernel/debug/fail_page_alloc/probability", "0");

	d = opendir(dbg);
	if (d) {
		while ((de = readdir(d))) {
			if (strncmp(de->d_name, "fail", 4))
				continue;
			snprintf(fn, sizeof(fn), "%s/%s/verbose", dbg,
				 de->d_name);
			write_str(fn, "0");
		}
		closedir(d);
	}
	have_fault_injection = true;
}

/* ---------------------------------------------------------------------- */
/* One run of a path                                                       */

enum obj_kind {
	OBJ_ID,		/* an iommufd object: IOMMU_DESTROY */
	OBJ_DEV,	/* a backend device: be_dev_remove (after PASID detach) */
};

struct obj {
	enum obj_kind kind;
	uint32_t id;
	bool pasid;	/* OBJ_DEV: a PASID-capable device */
};

struct ctx {
	const struct backend_ops *ops;
	int fd;			/* /dev/iommu */
	struct backend be;
	bool be_open;
	int nth_fd;		/* /proc/thread-self/fail-nth */
	unsigned int nth;	/* 0: no injection in this run */
	bool armed;
	/* What the run created, destroyed in reverse order afterwards */
	struct obj objs[64];
	unsigned int nobjs;
	int fds[8];
	unsigned int nfds;
	void *map;
	size_t map_len;
	/* Scratch ids for the paths */
	uint32_t ioas, ioas2, dev, idev, hwpt, parent, nested, viommu, vdev;
};

/* Arm fail-nth: from here on the n-th injection point fails */
static int nth_enable(struct ctx *c)
{
	char buf[32];
	int len;

	if (!c->nth)
		return 0;
	len = snprintf(buf, sizeof(buf), "%u", c->nth);
	if (pwrite(c->nth_fd, buf, len, 0) != len)
		return -1;
	c->armed = true;
	return 0;
}

/*
 * Disarm; returns 1 when the fault was injected, 0 when the run never got
 * to the n-th point, -1 on error.  As upstream: reading fail-nth may itself
 * be the n-th point (it then fails with EFAULT): not injected by the path.
 */
static int nth_disable(struct ctx *c)
{
	char buf[32] = "";
	ssize_t r, w;

	if (!c->armed)
		return 0;
	c->armed = false;
	r = pread(c->nth_fd, buf, sizeof(buf) - 1, 0);
	if (r < 0 && errno == EFAULT) {
		strcpy(buf, "1\n");
		r = 2;
	}
	w = pwrite(c->nth_fd, "0", 1, 0);
	if (w < 0 && errno == EFAULT)
		w = pwrite(c->nth_fd, "0", 1, 0);
	if (r <= 0 || w != 1)
		return -1;
	return atoi(buf) == 0 ? 1 : 0;
}

#define NTH_ENABLE()                                                         \
	do {                                                                 \
		if (nth_enable(c))                                           \
			return -2;                                           \
	} while (0)

static void track(struct ctx *c, enum obj_kind kind, uint32_t id, bool pasid)
{
	if (c->nobjs < ARRAY_LEN(c->objs))
		c->objs[c->nobjs++] = (struct obj){ kind, id, pasid };
}

#define TRACK(id) track(c, OBJ_ID, (id), false)
#define TRACK_C(cp, id) track((cp), OBJ_ID, (id), false)

/* @id of @kind was destroyed by the path itself */
static void untrack(struct ctx *c, enum obj_kind kind, uint32_t id)
{
	unsigned int i;

	for (i = 0; i != c->nobjs; i++)
		if (c->objs[i].kind == kind && c->objs[i].id == id)
			c->objs[i].id = 0;
}

static void track_fd(struct ctx *c, int fd)
{
	if (c->nfds < ARRAY_LEN(c->fds))
		c->fds[c->nfds++] = fd;
}

/*
 * Each step returns -1 (errno set) from the path on failure and records
 * which step it was, for the report.
 */
static const char *fail_step;

#define STEP(expr)                                                           \
	do {                                                                 \
		if ((expr)) {                                                \
			fail_step = #expr;                                   \
			return -1;                                           \
		}                                                            \
	} while (0)

static int open_iommufd(struct ctx *c)
{
	c->fd = iommufd_open();
	return c->fd < 0 ? -1 : 0;
}

static int open_backend(struct ctx *c)
{
	if (backend_open(&c->be, c->ops, c->fd))
		return -1;
	c->be_open = true;
	return 0;
}

/* iommufd, backend, an IOAS with the first 256K of the buffer mapped */
static int base_setup(struct ctx *c)
{
	STEP(open_iommufd(c));
	STEP(open_backend(c));
	STEP(ioas_alloc(c->fd, &c->ioas));
	TRACK(c->ioas);
	STEP(ioas_map_fixed(c->fd, c->ioas, buffer, 256 * 1024,
			    APERTURE_START));
	return 0;
}

static int add_dev(struct ctx *c, uint32_t pt, uint32_t flags, uint32_t *dev,
		   uint32_t *idev, uint32_t *hwpt)
{
	STEP(be_dev_add(&c->be, pt, flags, dev, idev, hwpt));
	track(c, OBJ_DEV, *dev, flags & DEVF_PASID);
	return 0;
}

/* base_setup plus a device attached to the IOAS */
static int dev_setup(struct ctx *c, uint32_t flags)
{
	STEP(base_setup(c));
	return add_dev(c, c->ioas, flags, &c->dev, &c->idev, &c->hwpt);
}

static int alloc_paging(struct ctx *c, uint32_t pt, uint32_t flags,
			uint32_t *out)
{
	STEP(hwpt_alloc_paging(c->fd, c->idev, pt, flags, out));
	TRACK(*out);
	return 0;
}

static int alloc_nested(struct ctx *c, uint32_t parent, uint32_t flags,
			uint32_t iotlb, uint32_t *out)
{
	STEP(hwpt_alloc_nested(c->fd, c->idev, parent, flags, iotlb, out));
	TRACK(*out);
	return 0;
}

static int destroy(struct ctx *c, uint32_t id)
{
	STEP(iommufd_destroy(c->fd, id));
	untrack(c, OBJ_ID, id);
	return 0;
}

/* vIOMMU (no data) with a vDEVICE for c->idev on a NEST_PARENT */
static int viommu_setup(struct ctx *c)
{
	STEP(dev_setup(c, 0));
	STEP(alloc_paging(c, c->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
			  &c->parent));
	STEP(viommu_alloc(c->fd, c->idev, c->parent,
			  IOMMU_VIOMMU_TYPE_SELFTEST, NULL, 0, &c->viommu));
	TRACK(c->viommu);
	STEP(vdevice_alloc(c->fd, c->viommu, c->idev, 0x42, &c->vdev));
	TRACK(c->vdev);
	return 0;
}

/* Destroy and close everything the run created; never fails */
static void ctx_teardown(struct ctx *c)
{
	unsigned int i, pass;

	if (c->map)
		munmap(c->map, c->map_len);
	c->map = NULL;
	/* Two passes: the first may meet EBUSY (a HWPT still attached) */
	for (pass = 0; pass != 2 && c->fd >= 0; pass++) {
		for (i = c->nobjs; i-- > 0;) {
			struct obj *o = &c->objs[i];

			if (!o->id)
				continue;
			if (o->kind == OBJ_DEV) {
				/*
				 * Removing a C mock device with a PASID
				 * attached WARNs (iommufd_device_unbind():
				 * the idev is still busy), a 7.3 selftest
				 * bug: detach first, as upstream does.
				 * (riommu_mock copes; we treat both alike.)
				 */
				if (o->pasid && c->be_open) {
					be_pasid(&c->be, BE_PASID_DETACH,
						 o->id, PASID, NULL);
					be_pasid(&c->be, BE_PASID_DETACH,
						 o->id, PASID + 1, NULL);
				}
				if (c->be_open && !be_dev_remove(&c->be, o->id))
					o->id = 0;
			} else if (!iommufd_destroy(c->fd, o->id) ||
				   errno == ENOENT) {
				o->id = 0;
			}
		}
	}
	for (i = 0; i != c->nfds; i++)
		close(c->fds[i]);
	if (c->be_open)
		backend_close(&c->be);
	if (c->fd >= 0)
		close(c->fd);
}

/* ---------------------------------------------------------------------- */
/* The paths                                                               */

/* Paging HWPTs: plain, NEST_PARENT, DIRTY_TRACKING, both, selftest data */
static int path_paging_alloc(struct ctx *c)
{
	struct iommu_hwpt_selftest data = { .iotlb = 0, .pagetable_type = 0 };
	uint32_t h[5];

	STEP(dev_setup(c, 0));
	NTH_ENABLE();
	STEP(alloc_paging(c, c->ioas, 0, &h[0]));
	STEP(alloc_paging(c, c->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, &h[1]));
	STEP(alloc_paging(c, c->ioas, IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &h[2]));
	STEP(alloc_paging(c, c->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT |
			  IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &h[3]));
	STEP(hwpt_alloc_raw(c->fd, c->idev, c->ioas, 0,
			    IOMMU_HWPT_DATA_SELFTEST, &data, sizeof(data),
			    &h[4]));
	TRACK(h[4]);
	STEP(hwpt_set_dirty_tracking(c->fd, h[2],
				     IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	STEP(destroy(c, h[4]));
	STEP(destroy(c, h[0]));
	return 0;
}

/* Nested HWPTs on a NEST_PARENT */
static int path_nested_alloc(struct ctx *c)
{
	uint32_t n1, n2;
	unsigned int i;

	STEP(dev_setup(c, 0));
	STEP(alloc_paging(c, c->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
			  &c->parent));
	NTH_ENABLE();
	STEP(alloc_nested(c, c->parent, 0, IOMMU_TEST_IOTLB_DEFAULT, &n1));
	STEP(alloc_nested(c, c->parent, IOMMU_HWPT_ALLOC_PASID, 0x1234, &n2));
	STEP(destroy(c, n1));
	/* Past the growth points of riommu_mock's domain set (see above) */
	for (i = 0; i != 8; i++)
		STEP(alloc_nested(c, c->parent, 0, i, &n1));
	return 0;
}

/* IOMMU_HWPT_INVALIDATE of a nested HWPT */
static int path_hwpt_invalidate(struct ctx *c)
{
	struct iommu_hwpt_invalidate_selftest inv[4] = {
		{ .iotlb_id = 0 }, { .iotlb_id = 1 }, { .iotlb_id = 2 },
		{ .iotlb_id = 3 },
	};
	struct iommu_hwpt_invalidate_selftest all = {
		.flags = IOMMU_TEST_INVALIDATE_FLAG_ALL,
	};
	uint32_t num;

	STEP(dev_setup(c, 0));
	STEP(alloc_paging(c, c->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
			  &c->parent));
	STEP(alloc_nested(c, c->parent, 0, IOMMU_TEST_IOTLB_DEFAULT,
			  &c->nested));
	NTH_ENABLE();
	num = 1;
	STEP(hwpt_inv_selftest(c->fd, c->nested, inv, &num));
	num = 4;
	STEP(hwpt_inv_selftest(c->fd, c->nested, inv, &num));
	num = 1;
	STEP(hwpt_inv_selftest(c->fd, c->nested, &all, &num));
	num = 0;
	STEP(hwpt_inv_selftest(c->fd, c->nested, inv, &num));
	return 0;
}

/* Attach (DEV_ADD with a pt_id) and replace between IOAS, paging, nested */
static int path_attach_replace(struct ctx *c)
{
	uint32_t pt;

	STEP(base_setup(c));
	STEP(ioas_alloc(c->fd, &c->ioas2));
	TRACK(c->ioas2);
	STEP(ioas_map_fixed(c->fd, c->ioas2, buffer, 64 * 1024,
			    APERTURE_START + SZ_1M));
	NTH_ENABLE();
	STEP(add_dev(c, c->ioas, 0, &c->dev, &c->idev, &c->hwpt));
	STEP(alloc_paging(c, c->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
			  &c->parent));
	STEP(alloc_nested(c, c->parent, 0, IOMMU_TEST_IOTLB_DEFAULT,
			  &c->nested));
	pt = c->ioas2;	/* a new automatic domain, filled from ioas2 */
	STEP(be_replace(&c->be, c->dev, &pt));
	pt = c->parent;
	STEP(be_replace(&c->be, c->dev, &pt));
	pt = c->nested;
	STEP(be_replace(&c->be, c->dev, &pt));
	pt = c->ioas;
	STEP(be_replace(&c->be, c->dev, &pt));
	return 0;
}

/* IOAS map/unmap with two domains (auto + NEST_PARENT) attached */
static int path_map_unmap(struct ctx *c)
{
	STEP(open_iommufd(c));
	STEP(open_backend(c));
	STEP(ioas_alloc(c->fd, &c->ioas));
	TRACK(c->ioas);
	STEP(add_dev(c, c->ioas, 0, &c->dev, &c->idev, &c->hwpt));
	STEP(alloc_paging(c, c->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
			  &c->parent));
	NTH_ENABLE();
	STEP(ioas_map_fixed(c->fd, c->ioas, buffer, 256 * 1024,
			    APERTURE_START));
	STEP(ioas_map_fixed(c->fd, c->ioas, buffer + 512 * 1024, 64 * 1024,
			    APERTURE_START + SZ_2M + PAGE_4K));
	STEP(ioas_unmap(c->fd, c->ioas, APERTURE_START + SZ_2M + PAGE_4K,
			64 * 1024));
	STEP(ioas_unmap(c->fd, c->ioas, 0, UINT64_MAX));
	STEP(ioas_map_fixed(c->fd, c->ioas, buffer, 128 * 1024,
			    APERTURE_START + 3 * SZ_2M));
	return 0;
}

/* vIOMMU alloc without and with the selftest data (and its mmap) */
static int path_viommu_alloc(struct ctx *c)
{
	struct iommu_viommu_selftest data = { .in_data = 0xcafe };
	uint32_t v1, v2;
	unsigned int i;
	void *p;

	STEP(dev_setup(c, 0));
	STEP(alloc_paging(c, c->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
			  &c->parent));
	NTH_ENABLE();
	STEP(viommu_alloc(c->fd, c->idev, c->parent,
			  IOMMU_VIOMMU_TYPE_SELFTEST, NULL, 0, &v1));
	TRACK(v1);
	STEP(viommu_alloc(c->fd, c->idev, c->parent,
			  IOMMU_VIOMMU_TYPE_SELFTEST, &data, sizeof(data),
			  &v2));
	TRACK(v2);
	if (data.out_data != data.in_data || !data.out_mmap_length) {
		errno = EPROTO;
		return -1;
	}
	p = mmap(NULL, data.out_mmap_length, PROT_READ | PROT_WRITE,
		 MAP_SHARED, c->fd, data.out_mmap_offset);
	if (p == MAP_FAILED)
		return -1;
	c->map = p;
	c->map_len = data.out_mmap_length;
	if (*(uint32_t *)p != data.in_data) {
		errno = EPROTO;
		return -1;
	}
	STEP(destroy(c, v1));
	/*
	 * More of them: riommu_mock keeps vIOMMUs in a growing vector; the
	 * allocations of its growth (at 1, 2, 4, 8 live entries) are
	 * injection points only while the vector is full.
	 */
	for (i = 0; i != 8; i++) {
		STEP(viommu_alloc(c->fd, c->idev, c->parent,
				  IOMMU_VIOMMU_TYPE_SELFTEST, &data,
				  sizeof(data), &v1));
		TRACK(v1);
	}
	return 0;
}

/* vDEVICE alloc, destroy, alloc again */
static int path_vdevice_alloc(struct ctx *c)
{
	uint32_t vd;

	STEP(dev_setup(c, 0));
	STEP(alloc_paging(c, c->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
			  &c->parent));
	STEP(viommu_alloc(c->fd, c->idev, c->parent,
			  IOMMU_VIOMMU_TYPE_SELFTEST, NULL, 0, &c->viommu));
	TRACK(c->viommu);
	NTH_ENABLE();
	STEP(vdevice_alloc(c->fd, c->viommu, c->idev, 0x42, &vd));
	TRACK(vd);
	STEP(destroy(c, vd));
	STEP(vdevice_alloc(c->fd, c->viommu, c->idev, 0x43, &vd));
	TRACK(vd);
	return 0;
}

/* Hardware queues 0 and 1 (1 depends on 0), destroyed, 0 made again */
static int path_hw_queue(struct ctx *c)
{
	const uint32_t ty = IOMMU_HW_QUEUE_TYPE_SELFTEST;
	uint32_t q0, q1;

	STEP(viommu_setup(c));
	NTH_ENABLE();
	STEP(hw_queue_alloc(c->fd, c->viommu, ty, 0, APERTURE_START, PAGE_4K,
			    &q0));
	TRACK(q0);
	STEP(hw_queue_alloc(c->fd, c->viommu, ty, 1,
			    APERTURE_START + PAGE_4K / 2, PAGE_4K / 2, &q1));
	TRACK(q1);
	STEP(destroy(c, q1));
	STEP(destroy(c, q0));
	STEP(hw_queue_alloc(c->fd, c->viommu, ty, 0, APERTURE_START, PAGE_4K,
			    &q0));
	TRACK(q0);
	return 0;
}

/* Nested HWPT allocated on the vIOMMU, attached and detached */
static int path_viommu_nested(struct ctx *c)
{
	uint32_t pt;

	STEP(viommu_setup(c));
	NTH_ENABLE();
	STEP(alloc_nested(c, c->viommu, 0, IOMMU_TEST_IOTLB_DEFAULT,
			  &c->nested));
	pt = c->nested;
	STEP(be_replace(&c->be, c->dev, &pt));
	pt = c->ioas;
	STEP(be_replace(&c->be, c->dev, &pt));
	return 0;
}

/* IOMMU_HWPT_INVALIDATE on the vIOMMU */
static int path_viommu_invalidate(struct ctx *c)
{
	struct iommu_viommu_invalidate_selftest inv[3] = {
		{ .vdev_id = 0x42, .cache_id = 0 },
		{ .vdev_id = 0x42, .cache_id = 3 },
		{ .flags = IOMMU_TEST_INVALIDATE_FLAG_ALL, .vdev_id = 0x42 },
	};
	uint32_t num;

	STEP(viommu_setup(c));
	NTH_ENABLE();
	num = 1;
	STEP(viommu_inv_selftest(c->fd, c->viommu, inv, &num));
	num = 3;
	STEP(viommu_inv_selftest(c->fd, c->viommu, inv, &num));
	num = 0;
	STEP(viommu_inv_selftest(c->fd, c->viommu, inv, &num));
	return 0;
}

/* vEVENTQ alloc, trigger an event, read it */
static int path_veventq(struct ctx *c)
{
	struct {
		struct iommufd_vevent_header hdr;
		struct iommu_viommu_event_selftest ev;
	} rd;
	struct pollfd pfd;
	uint32_t pt, qid;
	int qfd;

	STEP(viommu_setup(c));
	STEP(alloc_nested(c, c->viommu, 0, IOMMU_TEST_IOTLB_DEFAULT,
			  &c->nested));
	/* The C mock reports for a device attached to the vIOMMU's HWPT */
	pt = c->nested;
	STEP(be_replace(&c->be, c->dev, &pt));
	NTH_ENABLE();
	STEP(veventq_alloc(c->fd, c->viommu, IOMMU_VEVENTQ_TYPE_SELFTEST, 4,
			   &qid, &qfd));
	track_fd(c, qfd);
	TRACK(qid);
	STEP(be_trigger_vevent(&c->be, c->idev, c->viommu, 0x42));
	pfd = (struct pollfd){ .fd = qfd, .events = POLLIN };
	if (poll(&pfd, 1, 1000) != 1)
		return -1;
	if (read(qfd, &rd, sizeof(rd)) != sizeof(rd))
		return -1;
	if (rd.ev.virt_id != 0x42) {
		errno = EPROTO;
		return -1;
	}
	STEP(be_trigger_vevent(&c->be, c->idev, c->viommu, 0x42));
	return 0;
}

/* PASID attach, replace, check, detach */
static int path_pasid(struct ctx *c)
{
	uint32_t h1, h2, pt;

	STEP(dev_setup(c, DEVF_PASID));
	STEP(alloc_paging(c, c->ioas, IOMMU_HWPT_ALLOC_PASID, &h1));
	STEP(alloc_paging(c, c->ioas, IOMMU_HWPT_ALLOC_PASID |
			  IOMMU_HWPT_ALLOC_NEST_PARENT, &h2));
	/* PASIDs need the RID on a PASID-compatible HWPT too */
	pt = h1;
	STEP(be_replace(&c->be, c->dev, &pt));
	NTH_ENABLE();
	pt = h1;
	STEP(be_pasid(&c->be, BE_PASID_ATTACH, c->dev, PASID, &pt));
	pt = h2;
	STEP(be_pasid(&c->be, BE_PASID_REPLACE, c->dev, PASID, &pt));
	pt = h2;
	STEP(be_pasid(&c->be, BE_PASID_CHECK, c->dev, PASID, &pt));
	STEP(be_pasid(&c->be, BE_PASID_DETACH, c->dev, PASID, NULL));
	/* A second PASID on the same HWPT */
	pt = h1;
	STEP(be_pasid(&c->be, BE_PASID_ATTACH, c->dev, PASID + 1, &pt));
	STEP(be_pasid(&c->be, BE_PASID_DETACH, c->dev, PASID + 1, NULL));
	return 0;
}

/* The fault record of a page request from @ffd; ENODATA if none queued */
static int read_fault(int ffd, struct iommu_hwpt_pgfault *f)
{
	ssize_t n = read(ffd, f, sizeof(*f));

	if (n == sizeof(*f))
		return 0;
	if (n >= 0)
		errno = ENODATA;
	return -1;
}

static int answer_fault(int ffd, const struct iommu_hwpt_pgfault *f)
{
	struct iommu_hwpt_page_response r = {
		.cookie = f->cookie, .code = IOMMUFD_PAGE_RESP_SUCCESS,
	};

	return write(ffd, &r, sizeof(r)) == sizeof(r) ? 0 : -1;
}

/*
 * I/O page faults: a fault queue, a fault-capable HWPT on the RID and on a
 * PASID (each attach adds the device to the mock's IOPF queue), a page
 * request on each read and answered (a failed group allocation makes the
 * core answer it itself: ENODATA), one left pending for the teardown.
 */
static int path_iopf(struct ctx *c)
{
	struct iommu_fault_alloc fa = { .size = sizeof(fa) };
	struct iommu_hwpt_alloc ha = {
		.size = sizeof(ha),
		.flags = IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_PASID,
	};
	struct iommu_hwpt_pgfault f;
	uint32_t pt;

	STEP(dev_setup(c, DEVF_PASID));
	NTH_ENABLE();
	STEP(ioctl(c->fd, IOMMU_FAULT_QUEUE_ALLOC, &fa));
	track_fd(c, fa.out_fault_fd);
	TRACK(fa.out_fault_id);
	ha.dev_id = c->idev;
	ha.pt_id = c->ioas;
	ha.fault_id = fa.out_fault_id;
	STEP(ioctl(c->fd, IOMMU_HWPT_ALLOC, &ha));
	TRACK(ha.out_hwpt_id);
	pt = ha.out_hwpt_id;
	STEP(be_replace(&c->be, c->dev, &pt));
	STEP(be_trigger_iopf(&c->be, c->dev, c->idev, 0, 1,
			     IOMMU_PGFAULT_PERM_READ, APERTURE_START));
	STEP(read_fault(fa.out_fault_fd, &f));
	STEP(answer_fault(fa.out_fault_fd, &f));
	pt = ha.out_hwpt_id;
	STEP(be_pasid(&c->be, BE_PASID_ATTACH, c->dev, PASID, &pt));
	STEP(be_trigger_iopf(&c->be, c->dev, c->idev, PASID, 2,
			     IOMMU_PGFAULT_PERM_WRITE, APERTURE_START));
	STEP(read_fault(fa.out_fault_fd, &f));
	STEP(answer_fault(fa.out_fault_fd, &f));
	STEP(be_trigger_iopf(&c->be, c->dev, c->idev, PASID, 3,
			     IOMMU_PGFAULT_PERM_WRITE, APERTURE_START));
	STEP(be_pasid(&c->be, BE_PASID_DETACH, c->dev, PASID, NULL));
	STEP(be_trigger_iopf(&c->be, c->dev, c->idev, 0, 4,
			     IOMMU_PGFAULT_PERM_READ, APERTURE_START));
	return 0;
}

/* The device's own life: DEV_ADD, replace, remove, add again */
static int path_device(struct ctx *c)
{
	uint32_t d2, i2, h2, pt;

	STEP(base_setup(c));
	NTH_ENABLE();
	STEP(add_dev(c, c->ioas, 0, &c->dev, &c->idev, &c->hwpt));
	STEP(add_dev(c, c->ioas, DEVF_NO_DIRTY | DEVF_PASID, &d2, &i2, &h2));
	STEP(alloc_paging(c, c->ioas, 0, &c->parent));
	pt = c->parent;
	STEP(be_replace(&c->be, d2, &pt));
	STEP(be_dev_remove(&c->be, d2));
	untrack(c, OBJ_DEV, d2);
	STEP(add_dev(c, c->parent, 0, &d2, &i2, &h2));
	return 0;
}

/* ---- rust_mock only: /dev/riommu-mock's own ioctls ------------------- */

static int ctl(struct ctx *c, unsigned long cmd, void *arg)
{
	return ioctl(c->be.ctlfd, cmd, arg);
}

static int path_ctl_ops(struct ctx *c)
{
	struct riommu_mock_dev_add add = { .size = sizeof(add) };
	struct riommu_mock_dev_attach at = { .size = sizeof(at) };
	struct riommu_mock_dev_detach dt = { .size = sizeof(dt) };
	struct riommu_mock_check_map cm = { .size = sizeof(cm) };
	struct riommu_mock_check_iotlb ci = { .size = sizeof(ci) };
	struct riommu_mock_set_dirty sd = { .size = sizeof(sd) };
	struct riommu_mock_check_vdev_cache cc = { .size = sizeof(cc) };
	struct riommu_mock_trigger_vevent tv = { .size = sizeof(tv) };
	struct riommu_mock_pasid pa = { .size = sizeof(pa) };
	struct riommu_mock_stats st;
	uint32_t parent, nested, dirty, pasid_hwpt, viommu, vdev, qid;
	uint64_t bitmap = 0x5;
	int qfd;

	STEP(open_iommufd(c));
	STEP(ioas_alloc(c->fd, &c->ioas));
	TRACK(c->ioas);
	STEP(ioas_map_fixed(c->fd, c->ioas, buffer, 64 * 1024,
			    APERTURE_START));
	NTH_ENABLE();
	/* open() of the control device is part of the path */
	STEP(open_backend(c));

	/* DEV_ADD unattached, ATTACH, REPLACE, DETACH */
	add.iommufd = c->fd;
	STEP(ctl(c, RIOMMU_MOCK_DEV_ADD, &add));
	track(c, OBJ_DEV, add.out_dev_id, false);
	c->idev = add.out_idev_id;
	at.dev_id = dt.dev_id = add.out_dev_id;
	at.pt_id = c->ioas;
	STEP(ctl(c, RIOMMU_MOCK_DEV_ATTACH, &at));
	STEP(alloc_paging(c, c->ioas, IOMMU_HWPT_ALLOC_NEST_PARENT, &parent));
	at.pt_id = parent;
	STEP(ctl(c, RIOMMU_MOCK_DEV_REPLACE, &at));

	/* CHECK_MAP, CHECK_IOTLB */
	cm = (struct riommu_mock_check_map){ .size = sizeof(cm),
		.iommufd = c->fd, .hwpt_id = parent, .iova = APERTURE_START,
		.length = 64 * 1024, .uptr = (uintptr_t)buffer };
	STEP(ctl(c, RIOMMU_MOCK_CHECK_MAP, &cm));
	STEP(alloc_nested(c, parent, 0, 7, &nested));
	ci = (struct riommu_mock_check_iotlb){ .size = sizeof(ci),
		.iommufd = c->fd, .hwpt_id = nested, .iotlb_id = 3,
		.iotlb = 7 };
	STEP(ctl(c, RIOMMU_MOCK_CHECK_IOTLB, &ci));

	/* SET_DIRTY on a dirty-tracking HWPT the device is attached to */
	STEP(alloc_paging(c, c->ioas, IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &dirty));
	at.pt_id = dirty;
	STEP(ctl(c, RIOMMU_MOCK_DEV_REPLACE, &at));
	STEP(hwpt_set_dirty_tracking(c->fd, dirty,
				     IOMMU_HWPT_DIRTY_TRACKING_ENABLE));
	sd = (struct riommu_mock_set_dirty){ .size = sizeof(sd),
		.iommufd = c->fd, .hwpt_id = dirty, .iova = APERTURE_START,
		.length = 4 * PAGE_4K, .page_size = PAGE_4K,
		.uptr = (uintptr_t)&bitmap };
	STEP(ctl(c, RIOMMU_MOCK_SET_DIRTY, &sd));
	STEP(ctl(c, RIOMMU_MOCK_DEV_DETACH, &dt));
	STEP(rmock_stats(c->be.ctlfd, &st));

	/* vIOMMU, vDEVICE, CHECK_VDEV_CACHE, vEVENTQ, TRIGGER_VEVENT */
	STEP(viommu_alloc(c->fd, c->idev, parent, IOMMU_VIOMMU_TYPE_SELFTEST,
			  NULL, 0, &viommu));
	TRACK(viommu);
	STEP(vdevice_alloc(c->fd, viommu, c->idev, 9, &vdev));
	TRACK(vdev);
	cc = (struct riommu_mock_check_vdev_cache){ .size = sizeof(cc),
		.iommufd = c->fd, .viommu_id = viommu, .cache_id = 1,
		.virt_id = 9, .cache = RIOMMU_MOCK_DEV_CACHE_DEFAULT };
	STEP(ctl(c, RIOMMU_MOCK_CHECK_VDEV_CACHE, &cc));
	STEP(veventq_alloc(c->fd, viommu, IOMMU_VEVENTQ_TYPE_SELFTEST, 2,
			   &qid, &qfd));
	track_fd(c, qfd);
	TRACK(qid);
	tv = (struct riommu_mock_trigger_vevent){ .size = sizeof(tv),
		.iommufd = c->fd, .viommu_id = viommu, .virt_id = 9 };
	STEP(ctl(c, RIOMMU_MOCK_TRIGGER_VEVENT, &tv));

	/*
	 * A PASID device, its RID unattached (an attached RID would need a
	 * PASID-compatible HWPT): PASID_ATTACH, CHECK, DETACH; DEV_REMOVE
	 */
	add = (struct riommu_mock_dev_add){ .size = sizeof(add),
		.iommufd = c->fd, .dev_flags = RIOMMU_MOCK_DEV_PASID };
	STEP(ctl(c, RIOMMU_MOCK_DEV_ADD, &add));
	track(c, OBJ_DEV, add.out_dev_id, true);
	STEP(hwpt_alloc_paging(c->fd, add.out_idev_id, c->ioas,
			       IOMMU_HWPT_ALLOC_PASID, &pasid_hwpt));
	TRACK(pasid_hwpt);
	pa = (struct riommu_mock_pasid){ .size = sizeof(pa),
		.dev_id = add.out_dev_id, .pasid = PASID, .pt_id = pasid_hwpt };
	STEP(ctl(c, RIOMMU_MOCK_PASID_ATTACH, &pa));
	pa.pt_id = pasid_hwpt;
	STEP(ctl(c, RIOMMU_MOCK_PASID_CHECK, &pa));
	STEP(ctl(c, RIOMMU_MOCK_PASID_DETACH, &pa));
	STEP(be_dev_remove(&c->be, add.out_dev_id));
	untrack(c, OBJ_DEV, add.out_dev_id);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* The sweep                                                               */

struct path {
	const char *name;
	int (*fn)(struct ctx *c);
};

struct errcount {
	int err;	/* 0: the run succeeded */
	unsigned int n;
};

static bool stats_equal(const struct riommu_mock_stats *a,
			const struct riommu_mock_stats *b)
{
	return a->out_devices == b->out_devices &&
	       a->out_paging_domains == b->out_paging_domains &&
	       a->out_nested_domains == b->out_nested_domains &&
	       a->out_table_bytes == b->out_table_bytes;
}

static void print_stats(const char *what, const struct riommu_mock_stats *s)
{
	printf("#   %s: devices %llu paging %llu nested %llu table_bytes %llu\n",
	       what, (unsigned long long)s->out_devices,
	       (unsigned long long)s->out_paging_domains,
	       (unsigned long long)s->out_nested_domains,
	       (unsigned long long)s->out_table_bytes);
}

static void run_sweep(struct __test_metadata *_metadata,
		      const struct backend_ops *ops, const struct path *p)
{
	struct riommu_mock_stats base, now;
	struct errcount counts[MAX_FAILS] = {};
	unsigned int n, points = 0, i, nerr = 0, other = 0;
	long refcnt0, refcnt;
	char summary[256];
	int nth_fd, rc, e, inj;
	size_t off;

	if (!have_fault_injection)
		SKIP(return, "fault injection unavailable: %s", fi_missing);
	ASSERT_NE(NULL, buffer);
	/* Our counters: the module must be loaded, for either backend */
	if (riommu_stats(&base)) {
		TH_LOG("RIOMMU_MOCK_STATS: %s (is riommu_mock.ko loaded?)",
		       ename(errno));
		ASSERT_TRUE(0);
	}
	refcnt0 = riommu_module_refcnt();
	ASSERT_LE(0, refcnt0);	/* /sys/module/riommu_mock/refcnt */
	nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, nth_fd);

	for (n = 0;; n++) {
		struct ctx c = {
			.ops = ops, .fd = -1, .nth_fd = nth_fd, .nth = n,
		};

		errno = 0;
		fail_step = "?";
		rc = p->fn(&c);
		e = errno;
		inj = nth_disable(&c);
		ctx_teardown(&c);
		if (rc == -2 || inj < 0) {
			TH_LOG("%s: cannot drive fail-nth at n=%u: %s", p->name,
			       n, ename(e));
			ASSERT_TRUE(0);
		}
		/* Leak check after every run: our counters are exact */
		ASSERT_EQ(0, riommu_stats(&now));
		refcnt = riommu_module_refcnt();
		if (!stats_equal(&base, &now) || refcnt != refcnt0) {
			TH_LOG("%s (%s): n=%u (%s) left objects behind: "
			       "module refcnt %ld -> %ld", p->name, ops->name,
			       n, rc ? ename(e) : "run succeeded", refcnt0,
			       refcnt);
			print_stats("before", &base);
			print_stats("after ", &now);
			ASSERT_TRUE(0);
		}
		if (!inj) {
			/* Nothing injected: the path must have succeeded */
			if (rc) {
				TH_LOG("%s (%s): failed with %s at n=%u without "
				       "an injected fault, in %s", p->name,
				       ops->name, ename(e), n, fail_step);
				ASSERT_EQ(0, rc);
			}
			if (n) {
				points = n - 1;
				break;
			}
			continue;
		}
		/* Injected: success or an errno, counted */
		e = rc ? e : 0;
		for (i = 0; i != nerr && counts[i].err != e; i++)
			;
		if (i == nerr && nerr < MAX_FAILS)
			counts[nerr++].err = e;
		if (i < nerr)
			counts[i].n++;
		else
			other++;
		if (n >= MAX_POINTS) {
			TH_LOG("%s (%s): still injecting at n=%u: did not "
			       "converge (raise MAX_POINTS?)", p->name,
			       ops->name, n);
			ASSERT_TRUE(0);
		}
	}
	close(nth_fd);

	off = 0;
	summary[0] = 0;
	for (i = 0; i != nerr; i++)
		off += snprintf(summary + off, sizeof(summary) - off, "%s%s %u",
				i ? ", " : "", counts[i].err ?
				ename(counts[i].err) : "ok", counts[i].n);
	if (other)
		snprintf(summary + off, sizeof(summary) - off, ", other %u",
			 other);
	printf("# path %s (%s): %u injection points (%s)\n", p->name,
	       ops->name, points, summary);
	fflush(stdout);
}

/*
 * Step-wise sweeps: riommu_mock keeps its domains and vIOMMUs in vectors
 * that grow (at 1, 2, 4, ... live entries) and never shrink, so after the
 * first run of a whole-path sweep their growth is no longer an injection
 * point.  Here each allocation of a long series is swept on its own
 * (n = 1, 2, ... until it succeeds, the kernel having undone each failed
 * attempt), so every growth of the vector up to STEPWISE_COUNT live
 * objects meets an injected failure.  After each failed attempt the module
 * reference count (one per domain, vIOMMU, vDEVICE) and the stats must be
 * unchanged.
 */
#define STEPWISE_COUNT 40

enum stepwise_kind { STEP_VIOMMU, STEP_NESTED, STEP_PAGING, STEP_VDEVICE };

static int stepwise_one(struct ctx *c, enum stepwise_kind k, unsigned int i,
			uint32_t *out)
{
	struct iommu_viommu_selftest data = { .in_data = i };

	switch (k) {
	case STEP_VIOMMU:
		return viommu_alloc(c->fd, c->idev, c->parent,
				    IOMMU_VIOMMU_TYPE_SELFTEST, &data,
				    sizeof(data), out);
	case STEP_NESTED:
		return hwpt_alloc_nested(c->fd, c->idev, c->parent, 0, i, out);
	case STEP_PAGING:
		return hwpt_alloc_paging(c->fd, c->idev, c->ioas, 0, out);
	case STEP_VDEVICE:
		return vdevice_alloc(c->fd, c->viommu, c->idev, i, out);
	}
	return -1;
}

static void run_stepwise(struct __test_metadata *_metadata,
			 const struct backend_ops *ops, const char *name,
			 enum stepwise_kind kind)
{
	struct riommu_mock_stats base, now;
	unsigned int i, n, points = 0, fails = 0;
	struct ctx c = { .ops = ops, .fd = -1 };
	unsigned int per[STEPWISE_COUNT] = {}, growth = 0;
	char hist[256];
	size_t off;
	long ref, ref2;
	uint32_t id = 0;
	int rc, e, inj;

	if (!have_fault_injection)
		SKIP(return, "fault injection unavailable: %s", fi_missing);
	ASSERT_EQ(0, riommu_stats(&base));
	c.nth_fd = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, c.nth_fd);
	if (kind == STEP_VDEVICE) {
		/* One vIOMMU, vDEVICEs of as many devices */
		ASSERT_EQ(0, dev_setup(&c, 0));
		ASSERT_EQ(0, alloc_paging(&c, c.ioas,
					  IOMMU_HWPT_ALLOC_NEST_PARENT,
					  &c.parent));
		ASSERT_EQ(0, viommu_alloc(c.fd, c.idev, c.parent,
					  IOMMU_VIOMMU_TYPE_SELFTEST, NULL, 0,
					  &c.viommu));
		TRACK_C(&c, c.viommu);
	} else {
		ASSERT_EQ(0, dev_setup(&c, 0));
		ASSERT_EQ(0, alloc_paging(&c, c.ioas,
					  IOMMU_HWPT_ALLOC_NEST_PARENT,
					  &c.parent));
	}

	for (i = 0; i != STEPWISE_COUNT; i++) {
		if (kind == STEP_VDEVICE) {
			uint32_t d, h;

			/* A vDEVICE per device: add one (not swept) */
			ASSERT_EQ(0, add_dev(&c, c.ioas, 0, &d, &c.idev, &h));
		}
		/*
		 * Growth probe: an object that grows a vector needs more
		 * injection points than the one before it, and the growth
		 * comes last.  Any successful attempt grows the vector for
		 * good, and the upward sweep below succeeds early (at a point
		 * whose failure the kernel absorbs), so try the points just
		 * past the previous object's count first.
		 */
		for (n = i ? per[i - 1] + 1 : 0; i && n <= per[i - 1] + 3; n++) {
			ASSERT_EQ(0, riommu_stats(&base));
			ref = riommu_module_refcnt();
			c.nth = n;
			ASSERT_EQ(0, nth_enable(&c));
			errno = 0;
			rc = stepwise_one(&c, kind, i, &id);
			e = errno;
			inj = nth_disable(&c);
			ASSERT_LE(0, inj);
			if (!rc) {
				/* Not a growth point: start over below */
				ASSERT_EQ(0, iommufd_destroy(c.fd, id));
				if (!inj)
					break;
				continue;
			}
			ASSERT_NE(0, inj);
			growth++;
			fails++;
			ASSERT_EQ(0, riommu_stats(&now));
			ref2 = riommu_module_refcnt();
			if (!stats_equal(&base, &now) || ref != ref2) {
				TH_LOG("%s (%s): object %u, growth probe n=%u "
				       "(%s) left something behind: module "
				       "refcnt %ld -> %ld", name, ops->name, i,
				       n, ename(e), ref, ref2);
				print_stats("before", &base);
				print_stats("after ", &now);
				ASSERT_TRUE(0);
			}
		}
		for (n = 1;; n++) {
			ASSERT_EQ(0, riommu_stats(&base));
			ref = riommu_module_refcnt();
			c.nth = n;
			ASSERT_EQ(0, nth_enable(&c));
			errno = 0;
			rc = stepwise_one(&c, kind, i, &id);
			e = errno;
			inj = nth_disable(&c);
			ASSERT_LE(0, inj);
			if (!rc && inj) {
				/* A fault was absorbed: undo, sweep on */
				ASSERT_EQ(0, iommufd_destroy(c.fd, id));
				continue;
			}
			if (!rc) {
				TRACK_C(&c, id);
				points += n - 1;
				per[i] = n - 1;
				break;
			}
			if (!inj) {
				TH_LOG("%s (%s): object %u failed with %s "
				       "without an injected fault", name,
				       ops->name, i, ename(e));
				ASSERT_TRUE(0);
			}
			fails++;
			ASSERT_EQ(0, riommu_stats(&now));
			ref2 = riommu_module_refcnt();
			if (!stats_equal(&base, &now) || ref != ref2) {
				TH_LOG("%s (%s): object %u, n=%u (%s) left "
				       "something behind: module refcnt %ld "
				       "-> %ld", name, ops->name, i, n,
				       ename(e), ref, ref2);
				print_stats("before", &base);
				print_stats("after ", &now);
				ASSERT_TRUE(0);
			}
			ASSERT_GT(MAX_POINTS, n);
		}
	}
	close(c.nth_fd);
	ctx_teardown(&c);
	/* Which objects needed more points than the first (growth) */
	off = 0;
	hist[0] = 0;
	for (i = 1; i != STEPWISE_COUNT; i++)
		if (per[i] != per[0] && off < sizeof(hist) - 16)
			off += snprintf(hist + off, sizeof(hist) - off,
					" #%u:%u", i + 1, per[i]);
	printf("# path %s (%s): %u objects, %u injection points (%u for the "
	       "first; others:%s), %u failed allocations undone, %u of them "
	       "past the previous object's count (growth)\n", name,
	       ops->name, STEPWISE_COUNT, points, per[0],
	       off ? hist : " same", fails, growth);
	fflush(stdout);
}

/* ---------------------------------------------------------------------- */

FIXTURE(fail_nth) {
	int unused;
};

FIXTURE_VARIANT(fail_nth) {
	const struct backend_ops *backend;
};

FIXTURE_VARIANT_ADD(fail_nth, c_mock) {
	.backend = &c_mock_ops,
};

FIXTURE_VARIANT_ADD(fail_nth, rust_mock) {
	.backend = &rust_mock_ops,
};

FIXTURE_SETUP(fail_nth)
{
}

FIXTURE_TEARDOWN(fail_nth)
{
}

#define SWEEP(fixture, name)                                                 \
	TEST_F_TIMEOUT(fixture, name, 300)                                   \
	{                                                                    \
		static const struct path p = { #name, path_##name };         \
		run_sweep(_metadata, variant->backend, &p);                  \
	}

SWEEP(fail_nth, paging_alloc)
SWEEP(fail_nth, nested_alloc)
SWEEP(fail_nth, hwpt_invalidate)
SWEEP(fail_nth, attach_replace)
SWEEP(fail_nth, map_unmap)
SWEEP(fail_nth, viommu_alloc)
SWEEP(fail_nth, vdevice_alloc)
SWEEP(fail_nth, viommu_nested)
SWEEP(fail_nth, viommu_invalidate)
SWEEP(fail_nth, veventq)
SWEEP(fail_nth, hw_queue)
SWEEP(fail_nth, pasid)
SWEEP(fail_nth, iopf)
SWEEP(fail_nth, device)

#define STEPWISE(name, kind)                                                 \
	TEST_F_TIMEOUT(fail_nth, name, 300)                                  \
	{                                                                    \
		run_stepwise(_metadata, variant->backend, #name, kind);      \
	}

STEPWISE(grow_viommu, STEP_VIOMMU)
STEPWISE(grow_nested, STEP_NESTED)
STEPWISE(grow_paging, STEP_PAGING)
STEPWISE(grow_vdevice, STEP_VDEVICE)

/* Paths that exist only for riommu_mock: its control device */
FIXTURE(fail_nth_ctl) {
	int unused;
};

FIXTURE_VARIANT(fail_nth_ctl) {
	const struct backend_ops *backend;
};

FIXTURE_VARIANT_ADD(fail_nth_ctl, rust_mock) {
	.backend = &rust_mock_ops,
};

FIXTURE_SETUP(fail_nth_ctl)
{
}

FIXTURE_TEARDOWN(fail_nth_ctl)
{
}

SWEEP(fail_nth_ctl, ctl_ops)

/*
 * A targeted, deterministic probe of one error path that the sweeps reach
 * only by chance: riommu_mock's vIOMMU init after its data's mmap region is
 * registered, when adding the vIOMMU to the driver's set fails (that set is
 * a vector that grows, at 1, 2, 4, ... live vIOMMUs, and never shrinks).
 * kmemleak's own allocations and the core's absorbed ones shift a sweep's
 * n, and any successful attempt grows the vector for good.  So here fail-nth
 * is not used; failslab itself fails the next allocation from one kmalloc
 * cache only, in this task only: cache-filter=Y with
 * /sys/kernel/slab/kmalloc-2k/failslab=1 (the size class of the vector
 * going from 64 to 128 entries of 16 bytes), task-filter=Y with
 * /proc/self/make-it-fail=1, probability=100, times=1.  vIOMMUs with data
 * are added until one fails; the failed one's mmap region must be gone:
 * the next region is then at the lowest free offset, PAGE_SIZE + live *
 * length.  SKIPs where that cache cannot be flagged (merged caches refuse)
 * or nothing fails (the vector is already larger, or its layout changed).
 */
#define FS "/sys/kernel/debug/failslab/"
#define FILTER_CACHE "/sys/kernel/slab/kmalloc-2k/failslab"

static void viommu_probe_restore(void)
{
	write_str(FS "probability", "0");
	write_str(FS "times", "1");
	write_str(FS "task-filter", "N");
	write_str(FS "cache-filter", "N");
	write_str(FILTER_CACHE, "0");
	write_str("/proc/self/make-it-fail", "0");
}

/* failslab's "times" read back: 0 once the armed failure happened */
static int read_times(void)
{
	char buf[32] = "";
	int fd = open(FS "times", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoi(buf) : -1;
}

TEST_F_TIMEOUT(fail_nth_ctl, viommu_init_error_path, 300)
{
	struct ctx c = { .ops = &rust_mock_ops, .fd = -1, .nth_fd = -1 };
	unsigned int live = 0, i, failed = 0;
	uint64_t region = 0;
	uint32_t v;
	int rc, e = 0;

	if (!have_fault_injection)
		SKIP(return, "fault injection unavailable: %s", fi_missing);
	ASSERT_EQ(0, dev_setup(&c, 0));
	ASSERT_EQ(0, alloc_paging(&c, c.ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
				  &c.parent));
	if (write_str(FILTER_CACHE, "1") || write_str(FS "cache-filter", "Y") ||
	    write_str(FS "task-filter", "Y") ||
	    write_str("/proc/self/make-it-fail", "1")) {
		e = errno;
		viommu_probe_restore();
		ctx_teardown(&c);
		SKIP(return, "cannot set failslab up for kmalloc-2k: %s",
		     ename(e));
	}
	for (i = 0; i != 300 && !failed; i++) {
		struct iommu_viommu_selftest d = { .in_data = i };

		write_str(FS "times", "1");
		write_str(FS "probability", "100");
		rc = viommu_alloc(c.fd, c.idev, c.parent,
				  IOMMU_VIOMMU_TYPE_SELFTEST, &d, sizeof(d), &v);
		e = errno;
		write_str(FS "probability", "0");
		if (!rc) {
			TRACK_C(&c, v);
			if (!region)
				region = d.out_mmap_length;
			if (d.out_mmap_offset != PAGE_4K + live * region) {
				viommu_probe_restore();
				TH_LOG("vIOMMU #%u: mmap offset 0x%llx, want "
				       "0x%llx", live,
				       (unsigned long long)d.out_mmap_offset,
				       (unsigned long long)(PAGE_4K +
							    live * region));
				ASSERT_TRUE(0);
			}
			live++;
			continue;
		}
		if (read_times() != 0) {
			viommu_probe_restore();
			TH_LOG("vIOMMU #%u failed with %s, nothing injected",
			       live, ename(e));
			ASSERT_TRUE(0);
		}
		failed = live + 1;
	}
	viommu_probe_restore();
	if (!failed) {
		ctx_teardown(&c);
		SKIP(return, "no kmalloc-2k allocation failed in %u vIOMMU "
		     "allocations", i);
	}
	/* The failed one's region must not be left registered */
	{
		struct iommu_viommu_selftest d = { .in_data = 1 };
		uint64_t want = PAGE_4K + live * region;

		ASSERT_EQ(0, viommu_alloc(c.fd, c.idev, c.parent,
					  IOMMU_VIOMMU_TYPE_SELFTEST, &d,
					  sizeof(d), &v));
		TRACK_C(&c, v);
		printf("# viommu_init_error_path: vIOMMU #%u failed (%s) with "
		       "%u live, the next region is at 0x%llx (want 0x%llx)\n",
		       failed, ename(e), live,
		       (unsigned long long)d.out_mmap_offset,
		       (unsigned long long)want);
		if (d.out_mmap_offset != want)
			TH_LOG("the failed vIOMMU's mmap region (0x%llx) is "
			       "still registered: viommu_init's error path "
			       "did not undo alloc_mmap (the region then "
			       "points at freed pages and a freed owner)",
			       (unsigned long long)want);
		EXPECT_EQ(want, d.out_mmap_offset);
	}
	ctx_teardown(&c);
}

TEST_HARNESS_MAIN
