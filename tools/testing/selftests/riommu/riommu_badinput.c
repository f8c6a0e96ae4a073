// SPDX-License-Identifier: GPL-2.0
/*
 * riommu_badinput: a table of bad inputs for every ioctl that reaches a
 * mock IOMMU driver (IOMMU_HWPT_ALLOC paging and nested, IOMMU_HWPT_INVALIDATE
 * on a nested HWPT and on a vIOMMU, IOMMU_VIOMMU_ALLOC, IOMMU_VDEVICE_ALLOC,
 * IOMMU_DESTROY, and /dev/riommu-mock's own ioctls), one TAP test per row.
 *
 * A row is one call with one thing wrong: a size too small, too large with a
 * non-zero tail, too large with a zero tail (accepted); unknown flags or a
 * non-zero reserved field; a wrong data type; a NULL, faulting or read-only
 * (where the kernel writes back) user pointer; entry_len 0, 1, PAGE_SIZE+1;
 * entry_num 0 and 1 << 20; ids that do not exist or name an object of the
 * wrong type; a double destroy.
 *
 * Rows of kind BOTH run on the C mock (CONFIG_IOMMUFD_TEST, the oracle) and
 * on riommu_mock, each in a fresh iommufd context, and pass when both give
 * the row's expected errno (0: success), which is the 7.3 C mock's.  Rows
 * of kind RUST exist only for riommu_mock (its control device has no C
 * counterpart, or the C mock addresses the object differently) and expect
 * the value documented in include/uapi/linux/riommu_mock.h and
 * Documentation/riommu-mock.rst.  Some rows also check the state after the
 * call (e.g. that a failed call changed nothing).
 *
 * The summary line at the end, "# bad-input table: N rows run, N rows
 * passed", counts rows (not backends).
 *
 * FIXTURE(access) drops privileges (setuid 65534) and checks that
 * /dev/riommu-mock (mode 0600, root) cannot be opened; a descriptor opened
 * before dropping them keeps working (access is checked at open(), as for
 * any device node): that is by design, documented here.
 */
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "riommu_utils.h"

#define BAD_ID		0xfffff0u
#define VIRT_ID		0x42
#define PASID		200
#define MAPPED_LEN	(64 * 1024)

enum row_kind {
	BOTH,	/* C mock and riommu_mock, same errno */
	RUST,	/* riommu_mock only, documented errno */
};

/* The objects every row can use, created afresh for each row and backend */
struct bctx {
	int fd;
	struct backend be;
	bool be_open;
	uint8_t *buf;		/* MAPPED_LEN bytes mapped at APERTURE_START */
	uint32_t ioas;
	uint32_t dev, idev, hwpt;	/* attached to ioas */
	uint32_t dev2, idev2, hwpt2;	/* attached to ioas, no vDEVICE */
	uint32_t pdev, pidev, phwpt;	/* PASID device on a PASID HWPT */
	uint32_t parent;	/* NEST_PARENT paging HWPT */
	uint32_t paging;	/* plain paging HWPT */
	uint32_t dirty;		/* dirty tracking on, dev2 attached */
	uint32_t nested;	/* on parent */
	uint32_t viommu;	/* on parent */
	uint32_t vdev;		/* dev's, virt id VIRT_ID */
	uint32_t out;		/* an object a row created, destroyed after */
};

/* ---------------------------------------------------------------------- */
/* Memory helpers                                                          */

static void *fault_ptr(void)
{
	static void *p;

	if (!p)
		p = fault_addr();
	return p;
}

/* ---------------------------------------------------------------------- */
/* Context                                                                 */

static int bctx_setup(struct bctx *c, const struct backend_ops *ops)
{
	uint32_t pt;

	memset(c, 0, sizeof(*c));
	c->fd = iommufd_open();
	if (c->fd < 0)
		return -1;
	if (backend_open(&c->be, ops, c->fd))
		return -1;
	c->be_open = true;
	c->buf = alloc_buf(MAPPED_LEN);
	if (!c->buf)
		return -1;
	if (ioas_alloc(c->fd, &c->ioas) ||
	    ioas_map_fixed(c->fd, c->ioas, c->buf, MAPPED_LEN, APERTURE_START) ||
	    be_dev_add(&c->be, c->ioas, 0, &c->dev, &c->idev, &c->hwpt) ||
	    be_dev_add(&c->be, c->ioas, 0, &c->dev2, &c->idev2, &c->hwpt2) ||
	    be_dev_add(&c->be, c->ioas, DEVF_PASID, &c->pdev, &c->pidev,
		       &c->phwpt) ||
	    hwpt_alloc_paging(c->fd, c->pidev, c->ioas, IOMMU_HWPT_ALLOC_PASID,
			      &c->phwpt))
		return -1;
	/* PASIDs need the RID on a PASID-compatible HWPT */
	pt = c->phwpt;
	if (be_replace(&c->be, c->pdev, &pt) ||
	    hwpt_alloc_paging(c->fd, c->idev, c->ioas,
			      IOMMU_HWPT_ALLOC_NEST_PARENT, &c->parent) ||
	    hwpt_alloc_paging(c->fd, c->idev, c->ioas, 0, &c->paging) ||
	    hwpt_alloc_paging(c->fd, c->idev, c->ioas,
			      IOMMU_HWPT_ALLOC_DIRTY_TRACKING, &c->dirty))
		return -1;
	pt = c->dirty;
	if (be_replace(&c->be, c->dev2, &pt) ||
	    hwpt_set_dirty_tracking(c->fd, c->dirty,
				    IOMMU_HWPT_DIRTY_TRACKING_ENABLE) ||
	    hwpt_alloc_nested(c->fd, c->idev, c->parent, 0,
			      IOMMU_TEST_IOTLB_DEFAULT, &c->nested) ||
	    viommu_alloc(c->fd, c->idev, c->parent, IOMMU_VIOMMU_TYPE_SELFTEST,
			 NULL, 0, &c->viommu) ||
	    vdevice_alloc(c->fd, c->viommu, c->idev, VIRT_ID, &c->vdev))
		return -1;
	return 0;
}

static void bctx_teardown(struct bctx *c)
{
	if (c->be_open && c->pdev) {
		/* The C mock WARNs on removing a device with a PASID on */
		be_pasid(&c->be, BE_PASID_DETACH, c->pdev, PASID, NULL);
		be_pasid(&c->be, BE_PASID_DETACH, c->pdev, PASID + 1, NULL);
		be_pasid(&c->be, BE_PASID_DETACH, c->dev, PASID, NULL);
	}
	if (c->be_open)
		backend_close(&c->be);
	if (c->fd >= 0)
		close(c->fd);
	if (c->buf)
		munmap(c->buf, MAPPED_LEN);
}

/* Destroy what a successful row created (its out id) */
static void drop_out(struct bctx *c, int rc)
{
	if (!rc && c->out)
		iommufd_destroy(c->fd, c->out);
	c->out = 0;
}

/* ---------------------------------------------------------------------- */
/* Generic struct mutations                                                */

enum mut {
	M_NONE,
	M_SIZE_SMALL,		/* size below the first version */
	M_SIZE_BIG_NONZERO,	/* size + 8, a non-zero tail byte */
	M_SIZE_BIG_ZERO,	/* size + 8, zero tail: accepted */
	M_FLAGS,		/* an unknown flag */
	M_RESERVED,		/* a non-zero reserved field */
	M_ARG_NULL,		/* the argument pointer is NULL */
	M_ARG_FAULT,		/* the argument pointer faults */
	M_ARG_RO,		/* read-only argument (the kernel writes back) */
};

#define NO_FIELD ((size_t)-1)

union big {
	uint8_t bytes[256];
	struct iommu_hwpt_alloc hwpt_alloc;
	struct iommu_hwpt_invalidate inv;
	struct iommu_viommu_alloc viommu_alloc;
	struct iommu_vdevice_alloc vdevice_alloc;
	struct riommu_mock_dev_add dev_add;
	struct riommu_mock_dev_remove dev_remove;
	struct riommu_mock_dev_attach dev_attach;
	struct riommu_mock_check_map check_map;
	struct riommu_mock_check_iotlb check_iotlb;
	struct riommu_mock_set_dirty set_dirty;
	struct riommu_mock_stats stats;
	struct riommu_mock_trigger_vevent trigger;
	struct riommu_mock_check_vdev_cache vdev_cache;
	struct riommu_mock_trigger_iopf trigger_iopf;
	struct riommu_mock_pasid pasid;
	struct riommu_mock_check_dev_cache dev_cache;
	struct riommu_mock_dev_trigger_vevent dev_trigger;
};

/* An ioctl whose argument struct can be built valid, then mutated */
struct op {
	unsigned long cmd;
	bool ctl;		/* on /dev/riommu-mock, else /dev/iommu */
	size_t size;		/* the struct's size */
	size_t min_size;	/* smallest size the kernel accepts */
	size_t flags_off;	/* NO_FIELD if none */
	size_t rsv_off;		/* NO_FIELD if none */
	void (*build)(struct bctx *c, union big *b);
	/* After a successful call: note what it created (c->out) */
	void (*done)(struct bctx *c, union big *b);
};

static void b_nested(struct bctx *c, union big *b)
{
	static struct iommu_hwpt_selftest data = {
		.iotlb = IOMMU_TEST_IOTLB_DEFAULT,
	};

	b->hwpt_alloc = (struct iommu_hwpt_alloc){
		.size = sizeof(b->hwpt_alloc), .dev_id = c->idev,
		.pt_id = c->parent, .data_type = IOMMU_HWPT_DATA_SELFTEST,
		.data_len = sizeof(data), .data_uptr = (uintptr_t)&data,
	};
}

static void b_paging(struct bctx *c, union big *b)
{
	b->hwpt_alloc = (struct iommu_hwpt_alloc){
		.size = sizeof(b->hwpt_alloc), .dev_id = c->idev,
		.pt_id = c->ioas, .data_type = IOMMU_HWPT_DATA_NONE,
	};
}

static void d_hwpt(struct bctx *c, union big *b)
{
	c->out = b->hwpt_alloc.out_hwpt_id;
}

static struct iommu_hwpt_invalidate_selftest inv_ents[2] = {
	{ .iotlb_id = 1 }, { .iotlb_id = 2 },
};

static void b_inv(struct bctx *c, union big *b)
{
	b->inv = (struct iommu_hwpt_invalidate){
		.size = sizeof(b->inv), .hwpt_id = c->nested,
		.data_uptr = (uintptr_t)inv_ents,
		.data_type = IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
		.entry_len = sizeof(inv_ents[0]), .entry_num = 2,
	};
}

static struct iommu_viommu_invalidate_selftest vinv_ents[2] = {
	{ .vdev_id = VIRT_ID, .cache_id = 0 },
	{ .vdev_id = VIRT_ID, .cache_id = 3 },
};

static void b_vinv(struct bctx *c, union big *b)
{
	b->inv = (struct iommu_hwpt_invalidate){
		.size = sizeof(b->inv), .hwpt_id = c->viommu,
		.data_uptr = (uintptr_t)vinv_ents,
		.data_type = IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
		.entry_len = sizeof(vinv_ents[0]), .entry_num = 2,
	};
}

static void b_viommu(struct bctx *c, union big *b)
{
	b->viommu_alloc = (struct iommu_viommu_alloc){
		.size = sizeof(b->viommu_alloc), .type = IOMMU_VIOMMU_TYPE_SELFTEST,
		.dev_id = c->idev, .hwpt_id = c->parent,
	};
}

static void d_viommu(struct bctx *c, union big *b)
{
	c->out = b->viommu_alloc.out_viommu_id;
}

static void b_vdevice(struct bctx *c, union big *b)
{
	b->vdevice_alloc = (struct iommu_vdevice_alloc){
		.size = sizeof(b->vdevice_alloc), .viommu_id = c->viommu,
		.dev_id = c->idev2, .virt_id = VIRT_ID + 1,
	};
}

static void d_vdevice(struct bctx *c, union big *b)
{
	c->out = b->vdevice_alloc.out_vdevice_id;
}

static const struct op op_nested = {
	IOMMU_HWPT_ALLOC, false, sizeof(struct iommu_hwpt_alloc),
	offsetofend(struct iommu_hwpt_alloc, __reserved),
	offsetof(struct iommu_hwpt_alloc, flags),
	offsetof(struct iommu_hwpt_alloc, __reserved), b_nested, d_hwpt,
};
static const struct op op_paging = {
	IOMMU_HWPT_ALLOC, false, sizeof(struct iommu_hwpt_alloc),
	offsetofend(struct iommu_hwpt_alloc, __reserved),
	offsetof(struct iommu_hwpt_alloc, flags),
	offsetof(struct iommu_hwpt_alloc, __reserved), b_paging, d_hwpt,
};
static const struct op op_inv = {
	IOMMU_HWPT_INVALIDATE, false, sizeof(struct iommu_hwpt_invalidate),
	offsetofend(struct iommu_hwpt_invalidate, __reserved), NO_FIELD,
	offsetof(struct iommu_hwpt_invalidate, __reserved), b_inv, NULL,
};
static const struct op op_vinv = {
	IOMMU_HWPT_INVALIDATE, false, sizeof(struct iommu_hwpt_invalidate),
	offsetofend(struct iommu_hwpt_invalidate, __reserved), NO_FIELD,
	offsetof(struct iommu_hwpt_invalidate, __reserved), b_vinv, NULL,
};
static const struct op op_viommu = {
	IOMMU_VIOMMU_ALLOC, false, sizeof(struct iommu_viommu_alloc),
	offsetofend(struct iommu_viommu_alloc, out_viommu_id),
	offsetof(struct iommu_viommu_alloc, flags),
	offsetof(struct iommu_viommu_alloc, __reserved), b_viommu, d_viommu,
};
static const struct op op_vdevice = {
	IOMMU_VDEVICE_ALLOC, false, sizeof(struct iommu_vdevice_alloc),
	offsetofend(struct iommu_vdevice_alloc, virt_id), NO_FIELD, NO_FIELD,
	b_vdevice, d_vdevice,
};

/* --- /dev/riommu-mock ---------------------------------------------------- */

static void b_dev_add(struct bctx *c, union big *b)
{
	b->dev_add = (struct riommu_mock_dev_add){
		.size = sizeof(b->dev_add), .iommufd = c->fd, .pt_id = c->ioas,
	};
}

static void d_dev_add(struct bctx *c, union big *b)
{
	/* Removed when the control fd closes */
}

static void b_dev_remove(struct bctx *c, union big *b)
{
	b->dev_remove = (struct riommu_mock_dev_remove){
		.size = sizeof(b->dev_remove), .dev_id = c->dev2,
	};
}

static void b_dev_replace(struct bctx *c, union big *b)
{
	b->dev_attach = (struct riommu_mock_dev_attach){
		.size = sizeof(b->dev_attach), .dev_id = c->dev,
		.pt_id = c->paging,
	};
}

static void b_check_map(struct bctx *c, union big *b)
{
	b->check_map = (struct riommu_mock_check_map){
		.size = sizeof(b->check_map), .iommufd = c->fd,
		.hwpt_id = c->parent, .iova = APERTURE_START,
		.length = MAPPED_LEN, .uptr = (uintptr_t)c->buf,
	};
}

static void b_check_iotlb(struct bctx *c, union big *b)
{
	b->check_iotlb = (struct riommu_mock_check_iotlb){
		.size = sizeof(b->check_iotlb), .iommufd = c->fd,
		.hwpt_id = c->nested, .iotlb_id = 2,
		.iotlb = IOMMU_TEST_IOTLB_DEFAULT,
	};
}

static uint64_t dirty_bits = 0x3;

static void b_set_dirty(struct bctx *c, union big *b)
{
	b->set_dirty = (struct riommu_mock_set_dirty){
		.size = sizeof(b->set_dirty), .iommufd = c->fd,
		.hwpt_id = c->dirty, .iova = APERTURE_START,
		.length = 4 * PAGE_4K, .page_size = PAGE_4K,
		.uptr = (uintptr_t)&dirty_bits,
	};
}

static void b_stats(struct bctx *c, union big *b)
{
	b->stats = (struct riommu_mock_stats){ .size = sizeof(b->stats) };
}

static void b_trigger(struct bctx *c, union big *b)
{
	/* No vEVENTQ: a valid call answers EOPNOTSUPP */
	b->trigger = (struct riommu_mock_trigger_vevent){
		.size = sizeof(b->trigger), .iommufd = c->fd,
		.viommu_id = c->viommu, .virt_id = VIRT_ID,
	};
}

static void b_vdev_cache(struct bctx *c, union big *b)
{
	b->vdev_cache = (struct riommu_mock_check_vdev_cache){
		.size = sizeof(b->vdev_cache), .iommufd = c->fd,
		.viommu_id = c->viommu, .cache_id = 1, .virt_id = VIRT_ID,
		.cache = RIOMMU_MOCK_DEV_CACHE_DEFAULT,
	};
}

static void b_dev_cache(struct bctx *c, union big *b)
{
	b->dev_cache = (struct riommu_mock_check_dev_cache){
		.size = sizeof(b->dev_cache), .dev_id = c->dev, .cache_id = 1,
		.cache = RIOMMU_MOCK_DEV_CACHE_DEFAULT,
	};
}

static void b_dev_trigger(struct bctx *c, union big *b)
{
	/* dev's RID is not on a nested HWPT: a valid call answers ENOENT */
	b->dev_trigger = (struct riommu_mock_dev_trigger_vevent){
		.size = sizeof(b->dev_trigger), .dev_id = c->dev,
	};
}

static void b_trigger_iopf(struct bctx *c, union big *b)
{
	/* No fault queue listens: the call succeeds all the same */
	b->trigger_iopf = (struct riommu_mock_trigger_iopf){
		.size = sizeof(b->trigger_iopf), .dev_id = c->pdev,
		.pasid = PASID, .grpid = 2, .perm = IOMMU_PGFAULT_PERM_READ,
		.addr = APERTURE_START,
	};
}

static void b_pasid(struct bctx *c, union big *b)
{
	b->pasid = (struct riommu_mock_pasid){
		.size = sizeof(b->pasid), .dev_id = c->pdev, .pasid = PASID,
		.pt_id = c->phwpt,
	};
}

#define CTL_OP(name, c, T, f, r, bld, dn)                                    \
	static const struct op name = {                                      \
		c, true, sizeof(struct T), sizeof(struct T), f, r, bld, dn,  \
	}

CTL_OP(op_dev_add, RIOMMU_MOCK_DEV_ADD, riommu_mock_dev_add,
       offsetof(struct riommu_mock_dev_add, flags),
       offsetof(struct riommu_mock_dev_add, __reserved), b_dev_add,
       d_dev_add);
CTL_OP(op_dev_remove, RIOMMU_MOCK_DEV_REMOVE, riommu_mock_dev_remove,
       NO_FIELD, NO_FIELD, b_dev_remove, NULL);
CTL_OP(op_dev_replace, RIOMMU_MOCK_DEV_REPLACE, riommu_mock_dev_attach,
       NO_FIELD, offsetof(struct riommu_mock_dev_attach, __reserved),
       b_dev_replace, NULL);
CTL_OP(op_dev_attach, RIOMMU_MOCK_DEV_ATTACH, riommu_mock_dev_attach,
       NO_FIELD, offsetof(struct riommu_mock_dev_attach, __reserved),
       b_dev_replace, NULL);
CTL_OP(op_dev_detach, RIOMMU_MOCK_DEV_DETACH, riommu_mock_dev_detach,
       NO_FIELD, NO_FIELD, b_dev_remove, NULL);
CTL_OP(op_check_map, RIOMMU_MOCK_CHECK_MAP, riommu_mock_check_map, NO_FIELD,
       offsetof(struct riommu_mock_check_map, __reserved), b_check_map,
       NULL);
CTL_OP(op_check_iotlb, RIOMMU_MOCK_CHECK_IOTLB, riommu_mock_check_iotlb,
       NO_FIELD, NO_FIELD, b_check_iotlb, NULL);
CTL_OP(op_set_dirty, RIOMMU_MOCK_SET_DIRTY, riommu_mock_set_dirty,
       offsetof(struct riommu_mock_set_dirty, flags), NO_FIELD, b_set_dirty,
       NULL);
/* STATS grew: its first version ends at out_table_bytes */
static const struct op op_stats = {
	RIOMMU_MOCK_STATS, true, sizeof(struct riommu_mock_stats),
	offsetofend(struct riommu_mock_stats, out_table_bytes), NO_FIELD,
	offsetof(struct riommu_mock_stats, __reserved), b_stats, NULL,
};
CTL_OP(op_trigger, RIOMMU_MOCK_TRIGGER_VEVENT, riommu_mock_trigger_vevent,
       NO_FIELD, offsetof(struct riommu_mock_trigger_vevent, __reserved),
       b_trigger, NULL);
CTL_OP(op_vdev_cache, RIOMMU_MOCK_CHECK_VDEV_CACHE,
       riommu_mock_check_vdev_cache, NO_FIELD, NO_FIELD, b_vdev_cache, NULL);
CTL_OP(op_dev_cache, RIOMMU_MOCK_CHECK_DEV_CACHE, riommu_mock_check_dev_cache,
       NO_FIELD, offsetof(struct riommu_mock_check_dev_cache, __reserved),
       b_dev_cache, NULL);
CTL_OP(op_dev_trigger, RIOMMU_MOCK_DEV_TRIGGER_VEVENT,
       riommu_mock_dev_trigger_vevent, NO_FIELD, NO_FIELD, b_dev_trigger,
       NULL);
CTL_OP(op_trigger_iopf, RIOMMU_MOCK_TRIGGER_IOPF, riommu_mock_trigger_iopf,
       NO_FIELD, offsetof(struct riommu_mock_trigger_iopf, __reserved),
       b_trigger_iopf, NULL);
CTL_OP(op_pasid_attach, RIOMMU_MOCK_PASID_ATTACH, riommu_mock_pasid,
       NO_FIELD, NO_FIELD, b_pasid, NULL);
CTL_OP(op_pasid_replace, RIOMMU_MOCK_PASID_REPLACE, riommu_mock_pasid,
       NO_FIELD, NO_FIELD, b_pasid, NULL);
CTL_OP(op_pasid_detach, RIOMMU_MOCK_PASID_DETACH, riommu_mock_pasid,
       NO_FIELD, NO_FIELD, b_pasid, NULL);
CTL_OP(op_pasid_check, RIOMMU_MOCK_PASID_CHECK, riommu_mock_pasid, NO_FIELD,
       NO_FIELD, b_pasid, NULL);

/* Build @op's argument, apply @m, call; 0 or -1 with errno */
static int run_mut(struct bctx *c, const struct op *op, enum mut m)
{
	union big b;
	int fd = op->ctl ? c->be.ctlfd : c->fd;
	uint32_t *size = (uint32_t *)b.bytes;
	int rc, e;

	memset(&b, 0, sizeof(b));
	op->build(c, &b);
	switch (m) {
	case M_NONE:
		break;
	case M_SIZE_SMALL:
		*size = op->min_size - 4;
		break;
	case M_SIZE_BIG_NONZERO:
		*size = op->size + 8;
		b.bytes[op->size + 5] = 0xa5;
		break;
	case M_SIZE_BIG_ZERO:
		*size = op->size + 8;
		break;
	case M_FLAGS:
		*(uint32_t *)(b.bytes + op->flags_off) |= 1u << 30;
		break;
	case M_RESERVED:
		*(uint32_t *)(b.bytes + op->rsv_off) = 1;
		break;
	case M_ARG_NULL:
		return ioctl(fd, op->cmd, NULL);
	case M_ARG_FAULT:
		return ioctl(fd, op->cmd, fault_ptr());
	case M_ARG_RO:
		return ioctl_ro(fd, op->cmd, &b, sizeof(b));
	}
	rc = ioctl(fd, op->cmd, &b);
	e = errno;
	if (!rc && op->done)
		op->done(c, &b);
	errno = e;
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Rows                                                                    */

struct row {
	const char *name;
	enum row_kind kind;
	int want;			/* expected errno, 0: success */
	const struct op *op;		/* generic: op + mutation ... */
	enum mut mut;
	int (*fn)(struct bctx *c);	/* ... or a function of its own */
	/* Optional check of the state after the call; 0 when fine */
	int (*post)(struct bctx *c, char *why, size_t len);
};

/* --- custom calls (plain iommufd uAPI: the same for both backends) ----- */

static int hwpt_raw(struct bctx *c, uint32_t dev, uint32_t pt, uint32_t flags,
		    uint32_t type, const void *data, uint32_t len)
{
	int rc = hwpt_alloc_raw(c->fd, dev, pt, flags, type, data, len,
				&c->out);

	drop_out(c, rc);
	return rc;
}

static struct iommu_hwpt_selftest sel = { .iotlb = IOMMU_TEST_IOTLB_DEFAULT };

static int nested_type_wrong(struct bctx *c)
{
	return hwpt_raw(c, c->idev, c->parent, 0, 0xbeef, &sel, sizeof(sel));
}

static int nested_type_none(struct bctx *c)
{
	return hwpt_raw(c, c->idev, c->parent, 0, IOMMU_HWPT_DATA_NONE, NULL,
			0);
}

static int nested_len_short(struct bctx *c)
{
	return hwpt_raw(c, c->idev, c->parent, 0, IOMMU_HWPT_DATA_SELFTEST,
			&sel, 2);
}

static int nested_len_zero(struct bctx *c)
{
	return hwpt_raw(c, c->idev, c->parent, 0, IOMMU_HWPT_DATA_SELFTEST,
			&sel, 0);
}

static int nested_len_long_zero(struct bctx *c)
{
	uint8_t d[16] = {};

	memcpy(d, &sel, sizeof(sel));
	return hwpt_raw(c, c->idev, c->parent, 0, IOMMU_HWPT_DATA_SELFTEST,
			d, sizeof(d));
}

static int nested_len_long_nonzero(struct bctx *c)
{
	uint8_t d[16] = {};

	memcpy(d, &sel, sizeof(sel));
	d[12] = 1;
	return hwpt_raw(c, c->idev, c->parent, 0, IOMMU_HWPT_DATA_SELFTEST,
			d, sizeof(d));
}

static int nested_len_huge(struct bctx *c)
{
	return hwpt_raw(c, c->idev, c->parent, 0, IOMMU_HWPT_DATA_SELFTEST,
			&sel, 0xffffffffu);
}

static int nested_data_null(struct bctx *c)
{
	return hwpt_raw(c, c->idev, c->parent, 0, IOMMU_HWPT_DATA_SELFTEST,
			NULL, sizeof(sel));
}

static int nested_data_fault(struct bctx *c)
{
	return hwpt_raw(c, c->idev, c->parent, 0, IOMMU_HWPT_DATA_SELFTEST,
			fault_ptr(), sizeof(sel));
}

static int nested_flags_nest_parent(struct bctx *c)
{
	return hwpt_raw(c, c->idev, c->parent, IOMMU_HWPT_ALLOC_NEST_PARENT,
			IOMMU_HWPT_DATA_SELFTEST, &sel, sizeof(sel));
}

#define NESTED_ID_FN(fname, dev, pt)                                         \
	static int fname(struct bctx *c)                                     \
	{                                                                    \
		return hwpt_raw(c, (dev), (pt), 0, IOMMU_HWPT_DATA_SELFTEST, \
				&sel, sizeof(sel));                          \
	}

NESTED_ID_FN(nested_dev_missing, BAD_ID, c->parent)
NESTED_ID_FN(nested_dev_is_ioas, c->ioas, c->parent)
NESTED_ID_FN(nested_pt_missing, c->idev, BAD_ID)
NESTED_ID_FN(nested_pt_is_device, c->idev, c->idev)
NESTED_ID_FN(nested_pt_is_nested, c->idev, c->nested)
NESTED_ID_FN(nested_pt_not_parent, c->idev, c->paging)
NESTED_ID_FN(nested_pt_is_vdevice, c->idev, c->vdev)

static int paging_type_wrong(struct bctx *c)
{
	return hwpt_raw(c, c->idev, c->ioas, 0, 0xbeef, &sel, sizeof(sel));
}

static int paging_none_with_len(struct bctx *c)
{
	return hwpt_raw(c, c->idev, c->ioas, 0, IOMMU_HWPT_DATA_NONE, &sel,
			sizeof(sel));
}

static int paging_pagetable_bad(struct bctx *c)
{
	struct iommu_hwpt_selftest d = { .pagetable_type = 99 };

	return hwpt_raw(c, c->idev, c->ioas, 0, IOMMU_HWPT_DATA_SELFTEST, &d,
			sizeof(d));
}

static int paging_fault_id_missing(struct bctx *c)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd), .flags = IOMMU_HWPT_FAULT_ID_VALID,
		.dev_id = c->idev, .pt_id = c->ioas, .fault_id = BAD_ID,
	};
	int rc = ioctl(c->fd, IOMMU_HWPT_ALLOC, &cmd);

	c->out = cmd.out_hwpt_id;
	drop_out(c, rc);
	return rc;
}

static int paging_reserved2(struct bctx *c)
{
	struct iommu_hwpt_alloc cmd = {
		.size = sizeof(cmd), .dev_id = c->idev, .pt_id = c->ioas,
		.__reserved2 = 1,
	};
	int rc = ioctl(c->fd, IOMMU_HWPT_ALLOC, &cmd);

	c->out = cmd.out_hwpt_id;
	drop_out(c, rc);
	return rc;
}

#define PAGING_ID_FN(fname, dev, pt)                                         \
	static int fname(struct bctx *c)                                     \
	{                                                                    \
		return hwpt_raw(c, (dev), (pt), 0, IOMMU_HWPT_DATA_NONE,     \
				NULL, 0);                                    \
	}

PAGING_ID_FN(paging_dev_missing, BAD_ID, c->ioas)
PAGING_ID_FN(paging_dev_is_hwpt, c->paging, c->ioas)
PAGING_ID_FN(paging_pt_missing, c->idev, BAD_ID)
PAGING_ID_FN(paging_pt_is_device, c->idev, c->idev)
PAGING_ID_FN(paging_pt_is_viommu_plain, c->idev, c->viommu)

/* Invalidation of a nested HWPT (or the vIOMMU) with custom arguments */
static int inv(struct bctx *c, uint32_t id, uint32_t type, const void *data,
	       uint32_t len, uint32_t num)
{
	return hwpt_invalidate(c->fd, id, type, data, len, &num);
}

static int inv_type_wrong(struct bctx *c)
{
	return inv(c, c->nested, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST_INVALID,
		   inv_ents, sizeof(inv_ents[0]), 1);
}

static int inv_len0(struct bctx *c)
{
	return inv(c, c->nested, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, inv_ents,
		   0, 1);
}

static int inv_len1(struct bctx *c)
{
	return inv(c, c->nested, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, inv_ents,
		   1, 1);
}

static int inv_len_page1(struct bctx *c)
{
	return inv(c, c->nested, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, c->buf,
		   PAGE_4K + 1, 1);
}

static int inv_num0(struct bctx *c)
{
	return inv(c, c->nested, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, inv_ents,
		   sizeof(inv_ents[0]), 0);
}

static int inv_num_huge(struct bctx *c)
{
	return inv(c, c->nested, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, inv_ents,
		   sizeof(inv_ents[0]), 1u << 20);
}

static int inv_uptr_null(struct bctx *c)
{
	return inv(c, c->nested, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, NULL,
		   sizeof(inv_ents[0]), 1);
}

static int inv_uptr_fault(struct bctx *c)
{
	return inv(c, c->nested, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
		   fault_ptr(), sizeof(inv_ents[0]), 1);
}

static int inv_id_missing(struct bctx *c)
{
	return inv(c, BAD_ID, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, inv_ents,
		   sizeof(inv_ents[0]), 1);
}

static int inv_id_ioas(struct bctx *c)
{
	return inv(c, c->ioas, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, inv_ents,
		   sizeof(inv_ents[0]), 1);
}

static int inv_id_paging(struct bctx *c)
{
	return inv(c, c->parent, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, inv_ents,
		   sizeof(inv_ents[0]), 1);
}

static int inv_entry_flags(struct bctx *c)
{
	struct iommu_hwpt_invalidate_selftest e = { .flags = 1u << 7 };

	return inv(c, c->nested, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, &e,
		   sizeof(e), 1);
}

static int inv_entry_iotlb_bad(struct bctx *c)
{
	struct iommu_hwpt_invalidate_selftest e = { .iotlb_id = 4 };

	return inv(c, c->nested, IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, &e,
		   sizeof(e), 1);
}

/* The failed calls changed nothing: every slot holds the default */
static int post_iotlb_default(struct bctx *c, char *why, size_t len)
{
	unsigned int s;

	for (s = 0; s != IOTLB_SLOTS; s++)
		if (be_check_iotlb(&c->be, c->nested, s,
				   IOMMU_TEST_IOTLB_DEFAULT)) {
			snprintf(why, len, "IOTLB slot %u changed (%s)", s,
				 ename(errno));
			return -1;
		}
	return 0;
}

static int vinv_type_wrong(struct bctx *c)
{
	return inv(c, c->viommu, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST_INVALID,
		   vinv_ents, sizeof(vinv_ents[0]), 1);
}

static int vinv_len_short(struct bctx *c)
{
	return inv(c, c->viommu, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
		   vinv_ents, 8, 1);
}

static int vinv_len0(struct bctx *c)
{
	return inv(c, c->viommu, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
		   vinv_ents, 0, 1);
}

static int vinv_num0(struct bctx *c)
{
	return inv(c, c->viommu, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
		   vinv_ents, sizeof(vinv_ents[0]), 0);
}

static int vinv_num_huge(struct bctx *c)
{
	return inv(c, c->viommu, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
		   vinv_ents, sizeof(vinv_ents[0]), 1u << 20);
}

static int vinv_vdev_missing(struct bctx *c)
{
	struct iommu_viommu_invalidate_selftest e = { .vdev_id = 0x999 };

	return inv(c, c->viommu, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, &e,
		   sizeof(e), 1);
}

static int vinv_cache_id_bad(struct bctx *c)
{
	struct iommu_viommu_invalidate_selftest e = { .vdev_id = VIRT_ID,
						      .cache_id = 4 };

	return inv(c, c->viommu, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, &e,
		   sizeof(e), 1);
}

static int vinv_flags(struct bctx *c)
{
	struct iommu_viommu_invalidate_selftest e = { .flags = 1u << 3,
						      .vdev_id = VIRT_ID };

	return inv(c, c->viommu, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST, &e,
		   sizeof(e), 1);
}

static int vinv_uptr_fault(struct bctx *c)
{
	return inv(c, c->viommu, IOMMU_VIOMMU_INVALIDATE_DATA_SELFTEST,
		   fault_ptr(), sizeof(vinv_ents[0]), 1);
}

static int viommu_raw(struct bctx *c, uint32_t dev, uint32_t hwpt,
		      uint32_t type, void *data, uint32_t len)
{
	int rc = viommu_alloc(c->fd, dev, hwpt, type, data, len, &c->out);

	drop_out(c, rc);
	return rc;
}

static int viommu_type_default(struct bctx *c)
{
	return viommu_raw(c, c->idev, c->parent, 0, NULL, 0);
}

static int viommu_type_wrong(struct bctx *c)
{
	return viommu_raw(c, c->idev, c->parent, 0xbeef, NULL, 0);
}

static int viommu_hwpt_not_parent(struct bctx *c)
{
	return viommu_raw(c, c->idev, c->paging, IOMMU_VIOMMU_TYPE_SELFTEST,
			  NULL, 0);
}

static int viommu_hwpt_missing(struct bctx *c)
{
	return viommu_raw(c, c->idev, BAD_ID, IOMMU_VIOMMU_TYPE_SELFTEST,
			  NULL, 0);
}

static int viommu_hwpt_nested(struct bctx *c)
{
	return viommu_raw(c, c->idev, c->nested, IOMMU_VIOMMU_TYPE_SELFTEST,
			  NULL, 0);
}

static int viommu_dev_missing(struct bctx *c)
{
	return viommu_raw(c, BAD_ID, c->parent, IOMMU_VIOMMU_TYPE_SELFTEST,
			  NULL, 0);
}

static int viommu_data_short(struct bctx *c)
{
	struct iommu_viommu_selftest d = { .in_data = 1 };

	return viommu_raw(c, c->idev, c->parent, IOMMU_VIOMMU_TYPE_SELFTEST,
			  &d, 4);
}

static int viommu_data_fault(struct bctx *c)
{
	return viommu_raw(c, c->idev, c->parent, IOMMU_VIOMMU_TYPE_SELFTEST,
			  fault_ptr(), sizeof(struct iommu_viommu_selftest));
}

static int viommu_data_ro(struct bctx *c)
{
	struct iommu_viommu_selftest d = { .in_data = 0x77 };
	void *p = ro_copy(&d, sizeof(d));
	int rc, e;

	if (!p)
		return -1;
	rc = viommu_raw(c, c->idev, c->parent, IOMMU_VIOMMU_TYPE_SELFTEST, p,
			sizeof(d));
	e = errno;
	munmap(p, PAGE_4K);
	errno = e;
	return rc;
}

static int viommu_data_long_nonzero(struct bctx *c)
{
	uint8_t d[40] = { 1 };

	d[36] = 1;
	return viommu_raw(c, c->idev, c->parent, IOMMU_VIOMMU_TYPE_SELFTEST,
			  d, sizeof(d));
}

static int viommu_data_long_zero(struct bctx *c)
{
	uint8_t d[40] = { 1 };

	return viommu_raw(c, c->idev, c->parent, IOMMU_VIOMMU_TYPE_SELFTEST,
			  d, sizeof(d));
}

/* The failed vIOMMU allocations left no mmap region behind */
static int post_no_mmap(struct bctx *c, char *why, size_t len)
{
	struct iommu_viommu_selftest d = { .in_data = 5 };
	uint32_t v;

	/* The next region must be the first one (offset PAGE_SIZE) */
	if (viommu_alloc(c->fd, c->idev, c->parent, IOMMU_VIOMMU_TYPE_SELFTEST,
			 &d, sizeof(d), &v)) {
		snprintf(why, len, "vIOMMU with data: %s", ename(errno));
		return -1;
	}
	iommufd_destroy(c->fd, v);
	if (d.out_mmap_offset != PAGE_4K) {
		snprintf(why, len, "a failed allocation left an mmap region: "
			 "the next one is at 0x%llx, not 0x%lx",
			 (unsigned long long)d.out_mmap_offset, PAGE_4K);
		return -1;
	}
	return 0;
}

static int vdev_raw(struct bctx *c, uint32_t viommu, uint32_t dev,
		    uint64_t virt)
{
	int rc = vdevice_alloc(c->fd, viommu, dev, virt, &c->out);

	drop_out(c, rc);
	return rc;
}

static int vdev_viommu_missing(struct bctx *c)
{
	return vdev_raw(c, BAD_ID, c->idev2, 7);
}

static int vdev_viommu_is_hwpt(struct bctx *c)
{
	return vdev_raw(c, c->parent, c->idev2, 7);
}

static int vdev_dev_missing(struct bctx *c)
{
	return vdev_raw(c, c->viommu, BAD_ID, 7);
}

static int vdev_virt_dup(struct bctx *c)
{
	return vdev_raw(c, c->viommu, c->idev2, VIRT_ID);
}

static int vdev_dev_twice(struct bctx *c)
{
	return vdev_raw(c, c->viommu, c->idev, 7);
}

static int destroy_twice_nested(struct bctx *c)
{
	if (iommufd_destroy(c->fd, c->nested))
		return -2;
	return iommufd_destroy(c->fd, c->nested);
}

static int destroy_twice_viommu(struct bctx *c)
{
	if (iommufd_destroy(c->fd, c->vdev) ||
	    iommufd_destroy(c->fd, c->viommu))
		return -2;
	return iommufd_destroy(c->fd, c->viommu);
}

static int destroy_twice_vdevice(struct bctx *c)
{
	if (iommufd_destroy(c->fd, c->vdev))
		return -2;
	return iommufd_destroy(c->fd, c->vdev);
}

static int destroy_missing(struct bctx *c)
{
	return iommufd_destroy(c->fd, BAD_ID);
}

static int destroy_parent_busy(struct bctx *c)
{
	return iommufd_destroy(c->fd, c->parent);
}

static int destroy_viommu_busy(struct bctx *c)
{
	return iommufd_destroy(c->fd, c->viommu);
}

/* --- backend ops (each through its own mock's side channel) ----------- */

static int dev_remove_twice(struct bctx *c)
{
	if (be_dev_remove(&c->be, c->dev2))
		return -2;
	return be_dev_remove(&c->be, c->dev2);
}

static int dev_add_bad_flags(struct bctx *c)
{
	return be_dev_add(&c->be, c->ioas, 1u << 1, NULL, NULL, NULL);
}

static int dev_add_pt_missing(struct bctx *c)
{
	return be_dev_add(&c->be, BAD_ID, 0, NULL, NULL, NULL);
}

static int dev_add_pt_is_device(struct bctx *c)
{
	return be_dev_add(&c->be, c->idev, 0, NULL, NULL, NULL);
}

static int replace_pt_missing(struct bctx *c)
{
	uint32_t pt = BAD_ID;

	return be_replace(&c->be, c->dev, &pt);
}

static int replace_pt_is_device(struct bctx *c)
{
	uint32_t pt = c->idev;

	return be_replace(&c->be, c->dev, &pt);
}

static int replace_dev_missing(struct bctx *c)
{
	uint32_t pt = c->ioas;

	return be_replace(&c->be, BAD_ID, &pt);
}

static int replace_viommu_nested_no_vdev(struct bctx *c)
{
	uint32_t n, pt;
	int rc, e;

	if (hwpt_alloc_nested(c->fd, c->idev, c->viommu, 0, 1, &n))
		return -2;
	pt = n;
	rc = be_replace(&c->be, c->dev2, &pt);	/* dev2 has no vDEVICE */
	e = errno;
	iommufd_destroy(c->fd, n);
	errno = e;
	return rc;
}

/* --- the device's cache slots and vEVENTs by device -------------------- */

static int dev_cache_ok(struct bctx *c)
{
	return be_dev_check_cache(&c->be, c->dev, c->idev, 3,
				  IOMMU_TEST_DEV_CACHE_DEFAULT);
}

static int dev_cache_mismatch(struct bctx *c)
{
	return be_dev_check_cache(&c->be, c->dev, c->idev, 3, 0);
}

static int dev_cache_id_bad(struct bctx *c)
{
	return be_dev_check_cache(&c->be, c->dev, c->idev,
				  MOCK_DEV_CACHE_ID_MAX + 1,
				  IOMMU_TEST_DEV_CACHE_DEFAULT);
}

static int dev_cache_dev_missing(struct bctx *c)
{
	return be_dev_check_cache(&c->be, BAD_ID, BAD_ID, 0,
				  IOMMU_TEST_DEV_CACHE_DEFAULT);
}

/* After vinv_ents (slots 0 and 3 of dev's vDEVICE): dev's slots show it */
static int post_dev_cache_vinv(struct bctx *c, char *why, size_t len)
{
	static const uint32_t want[MOCK_DEV_CACHE_NUM] = {
		0, IOMMU_TEST_DEV_CACHE_DEFAULT, IOMMU_TEST_DEV_CACHE_DEFAULT, 0,
	};
	unsigned int s;

	for (s = 0; s != MOCK_DEV_CACHE_NUM; s++)
		if (be_dev_check_cache(&c->be, c->dev, c->idev, s, want[s])) {
			snprintf(why, len, "dev cache slot %u: not 0x%x (%s)",
				 s, want[s], ename(errno));
			return -1;
		}
	/* dev2 has no vDEVICE: untouched */
	for (s = 0; s != MOCK_DEV_CACHE_NUM; s++)
		if (be_dev_check_cache(&c->be, c->dev2, c->idev2, s,
				       IOMMU_TEST_DEV_CACHE_DEFAULT)) {
			snprintf(why, len, "dev2 cache slot %u changed (%s)",
				 s, ename(errno));
			return -1;
		}
	return 0;
}

static int dev_trigger_not_nested(struct bctx *c)
{
	/* dev has a vDEVICE, but its RID is on a paging HWPT */
	return be_dev_trigger_vevent(&c->be, c->dev, c->idev);
}

static int dev_trigger_no_vdevice(struct bctx *c)
{
	return be_dev_trigger_vevent(&c->be, c->dev2, c->idev2);
}

static int dev_trigger_dev_missing(struct bctx *c)
{
	return be_dev_trigger_vevent(&c->be, BAD_ID, BAD_ID);
}

static int dev_trigger_no_veventq(struct bctx *c)
{
	uint32_t n, pt;

	if (hwpt_alloc_nested(c->fd, c->idev, c->viommu, 0, 1, &n))
		return -2;
	pt = n;
	if (be_replace(&c->be, c->dev, &pt))
		return -2;
	/* Left attached: the context's teardown undoes it */
	return be_dev_trigger_vevent(&c->be, c->dev, c->idev);
}

static int check_map_misaligned(struct bctx *c)
{
	return be_check_map(&c->be, c->parent, APERTURE_START + 512, PAGE_4K,
			    c->buf);
}

static int check_map_unmapped(struct bctx *c)
{
	return be_check_map(&c->be, c->parent, APERTURE_START + SZ_1M, PAGE_4K,
			    c->buf);
}

static int check_map_is_nested(struct bctx *c)
{
	return be_check_map(&c->be, c->nested, APERTURE_START, PAGE_4K,
			    c->buf);
}

static int check_map_missing(struct bctx *c)
{
	return be_check_map(&c->be, BAD_ID, APERTURE_START, PAGE_4K, c->buf);
}

static int check_iotlb_id_bad(struct bctx *c)
{
	return be_check_iotlb(&c->be, c->nested, IOTLB_ID_MAX + 1,
			      IOMMU_TEST_IOTLB_DEFAULT);
}

static int check_iotlb_is_paging(struct bctx *c)
{
	return be_check_iotlb(&c->be, c->parent, 0, IOMMU_TEST_IOTLB_DEFAULT);
}

static int check_iotlb_missing(struct bctx *c)
{
	return be_check_iotlb(&c->be, BAD_ID, 0, IOMMU_TEST_IOTLB_DEFAULT);
}

static int set_dirty_len0(struct bctx *c)
{
	return be_set_dirty(&c->be, c->dirty, APERTURE_START, 0, PAGE_4K,
			    &dirty_bits, NULL);
}

static int set_dirty_psize0(struct bctx *c)
{
	return be_set_dirty(&c->be, c->dirty, APERTURE_START, PAGE_4K, 0,
			    &dirty_bits, NULL);
}

static int set_dirty_null(struct bctx *c)
{
	return be_set_dirty(&c->be, c->dirty, APERTURE_START, PAGE_4K,
			    PAGE_4K, NULL, NULL);
}

static int set_dirty_not_tracking(struct bctx *c)
{
	return be_set_dirty(&c->be, c->paging, APERTURE_START, PAGE_4K,
			    PAGE_4K, &dirty_bits, NULL);
}

static int set_dirty_overflow(struct bctx *c)
{
	/* 2^28 bits of 4K pages */
	return be_set_dirty(&c->be, c->dirty, 0, (1ull << 28) * PAGE_4K,
			    PAGE_4K, c->buf, NULL);
}

static int pasid_attach_no_pasid_dev(struct bctx *c)
{
	uint32_t pt = c->phwpt;

	return be_pasid(&c->be, BE_PASID_ATTACH, c->dev, PASID, &pt);
}

/*
 * The same with the device's RID on a PASID-compatible HWPT, so that the
 * core's compatibility check passes and only the device's own PASID
 * support (max_pasids) can refuse
 */
static int pasid_attach_no_pasid_dev_rid_compat(struct bctx *c)
{
	uint32_t h, pt;

	if (hwpt_alloc_paging(c->fd, c->idev, c->ioas, IOMMU_HWPT_ALLOC_PASID,
			      &h))
		return -2;
	pt = h;
	if (be_replace(&c->be, c->dev, &pt))
		return -2;
	pt = h;
	return be_pasid(&c->be, BE_PASID_ATTACH, c->dev, PASID, &pt);
}

static int pasid_attach_too_wide(struct bctx *c)
{
	uint32_t pt = c->phwpt;

	return be_pasid(&c->be, BE_PASID_ATTACH, c->pdev,
			1u << RIOMMU_MOCK_PASID_WIDTH, &pt);
}

static int pasid_attach_not_compat(struct bctx *c)
{
	uint32_t pt = c->paging;	/* no IOMMU_HWPT_ALLOC_PASID */

	return be_pasid(&c->be, BE_PASID_ATTACH, c->pdev, PASID, &pt);
}

static int pasid_attach_pt_missing(struct bctx *c)
{
	uint32_t pt = BAD_ID;

	return be_pasid(&c->be, BE_PASID_ATTACH, c->pdev, PASID, &pt);
}

static int pasid_attach_twice(struct bctx *c)
{
	uint32_t pt = c->phwpt;

	if (be_pasid(&c->be, BE_PASID_ATTACH, c->pdev, PASID, &pt))
		return -2;
	pt = c->phwpt;
	return be_pasid(&c->be, BE_PASID_ATTACH, c->pdev, PASID, &pt);
}

static int pasid_replace_unattached(struct bctx *c)
{
	uint32_t pt = c->phwpt;

	return be_pasid(&c->be, BE_PASID_REPLACE, c->pdev, PASID, &pt);
}

static int pasid_check_mismatch(struct bctx *c)
{
	uint32_t pt = c->phwpt;	/* nothing is attached */

	return be_pasid(&c->be, BE_PASID_CHECK, c->pdev, PASID, &pt);
}

static int pasid_dev_missing(struct bctx *c)
{
	uint32_t pt = c->phwpt;

	return be_pasid(&c->be, BE_PASID_ATTACH, BAD_ID, PASID, &pt);
}

/* Nothing attached to PASID after the call */
static int post_pasid_none(struct bctx *c, char *why, size_t len)
{
	uint32_t pt = 0;

	if (be_pasid(&c->be, BE_PASID_CHECK, c->pdev, PASID, &pt)) {
		snprintf(why, len, "PASID %u is still attached after the "
			 "failed call (PASID_CHECK 0: %s)", PASID,
			 ename(errno));
		return -1;
	}
	return 0;
}

/*
 * Read-only argument where the kernel writes back: each mock's own
 * command for attach-type operations.  The C mock undoes the operation
 * when it cannot write the result back (iommufd_test_pasid_attach,
 * iommufd_test_mock_domain: "out_detach"); the uAPI header says output
 * fields are written back only on success.
 */
static int pasid_attach_ro(struct bctx *c)
{
	if (c->be.ops->kind == BACKEND_C_MOCK) {
		struct iommu_test_cmd cmd = {
			.size = sizeof(cmd), .op = IOMMU_TEST_OP_PASID_ATTACH,
			.id = c->pdev,
			.pasid_attach = { .pasid = PASID, .pt_id = c->phwpt },
		};

		return ioctl_ro(c->fd, IOMMU_TEST_CMD, &cmd, sizeof(cmd));
	} else {
		struct riommu_mock_pasid cmd = {
			.size = sizeof(cmd), .dev_id = c->pdev, .pasid = PASID,
			.pt_id = c->phwpt,
		};

		return ioctl_ro(c->be.ctlfd, RIOMMU_MOCK_PASID_ATTACH, &cmd,
				sizeof(cmd));
	}
}

static int dev_add_ro(struct bctx *c)
{
	if (c->be.ops->kind == BACKEND_C_MOCK) {
		struct iommu_test_cmd cmd = {
			.size = sizeof(cmd),
			.op = IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS, .id = c->ioas,
		};

		return ioctl_ro(c->fd, IOMMU_TEST_CMD, &cmd, sizeof(cmd));
	} else {
		struct riommu_mock_dev_add cmd = {
			.size = sizeof(cmd), .iommufd = c->fd,
			.pt_id = c->ioas,
		};

		return ioctl_ro(c->be.ctlfd, RIOMMU_MOCK_DEV_ADD, &cmd,
				sizeof(cmd));
	}
}

/* No device was left behind by the failed DEV_ADD */
static int post_devices_unchanged(struct bctx *c, char *why, size_t len)
{
	struct riommu_mock_stats st;

	/* Only riommu_mock counts; fixture: 3 devices in this context */
	if (c->be.ops->kind != BACKEND_RUST_MOCK)
		return 0;
	if (rmock_stats(c->be.ctlfd, &st))
		return 0;
	if (st.out_devices != 3) {
		snprintf(why, len, "%llu mock devices live, want 3",
			 (unsigned long long)st.out_devices);
		return -1;
	}
	return 0;
}

/* --- rust_mock only -------------------------------------------------- */

static int ctl_unknown_cmd(struct bctx *c)
{
	union big b = { .stats = { .size = sizeof(b.stats) } };

	return ioctl(c->be.ctlfd, _IO(RIOMMU_MOCK_TYPE, 0x7f), &b);
}

static int ctl_iommufd_bad(struct bctx *c)
{
	union big b;

	b_check_iotlb(c, &b);
	b.check_iotlb.iommufd = -1;
	return ioctl(c->be.ctlfd, RIOMMU_MOCK_CHECK_IOTLB, &b);
}

static int ctl_iommufd_not_iommu(struct bctx *c)
{
	union big b;
	int nullfd = open("/dev/null", O_RDWR), rc, e;

	b_check_iotlb(c, &b);
	b.check_iotlb.iommufd = nullfd;
	rc = ioctl(c->be.ctlfd, RIOMMU_MOCK_CHECK_IOTLB, &b);
	e = errno;
	close(nullfd);
	errno = e;
	return rc;
}

static int ctl_dev_add_other_ctx(struct bctx *c)
{
	/* pt_id of this context, iommufd of another: no such object there */
	union big b;
	int fd2 = iommufd_open(), rc, e;

	b_dev_add(c, &b);
	b.dev_add.iommufd = fd2;
	b.dev_add.pt_id = c->parent;
	rc = ioctl(c->be.ctlfd, RIOMMU_MOCK_DEV_ADD, &b);
	e = errno;
	close(fd2);
	errno = e;
	return rc;
}

static int ctl_check_map_other_ctx(struct bctx *c)
{
	union big b;
	int fd2 = iommufd_open(), rc, e;

	b_check_map(c, &b);
	b.check_map.iommufd = fd2;
	rc = ioctl(c->be.ctlfd, RIOMMU_MOCK_CHECK_MAP, &b);
	e = errno;
	close(fd2);
	errno = e;
	return rc;
}

static int ctl_detach_unattached(struct bctx *c)
{
	union big b = { .dev_remove = { sizeof(b.dev_remove), 0 } };

	b.dev_remove.dev_id = c->dev;
	if (ioctl(c->be.ctlfd, RIOMMU_MOCK_DEV_DETACH, &b))
		return -2;
	return ioctl(c->be.ctlfd, RIOMMU_MOCK_DEV_DETACH, &b);
}

static int ctl_attach_attached(struct bctx *c)
{
	union big b;

	b_dev_replace(c, &b);
	return ioctl(c->be.ctlfd, RIOMMU_MOCK_DEV_ATTACH, &b);
}

static int ctl_handle_other_ctl(struct bctx *c)
{
	union big b;
	int ctl2 = open(RIOMMU_MOCK_DEV, O_RDWR | O_CLOEXEC), rc, e;

	b_dev_remove(c, &b);
	rc = ioctl(ctl2, RIOMMU_MOCK_DEV_REMOVE, &b);
	e = errno;
	close(ctl2);
	errno = e;
	return rc;
}

static int ctl_dev_remove_twice(struct bctx *c)
{
	return dev_remove_twice(c);
}

static int ctl_pasid0(struct bctx *c)
{
	union big b;

	b_pasid(c, &b);
	b.pasid.pasid = 0;
	return ioctl(c->be.ctlfd, RIOMMU_MOCK_PASID_ATTACH, &b);
}

static int ctl_trigger_missing_vdev(struct bctx *c)
{
	union big b;

	b_trigger(c, &b);
	b.trigger.virt_id = 0x999;
	return ioctl(c->be.ctlfd, RIOMMU_MOCK_TRIGGER_VEVENT, &b);
}

static int ctl_trigger_virt_huge(struct bctx *c)
{
	union big b;

	b_trigger(c, &b);
	b.trigger.virt_id = 1ull << 40;
	return ioctl(c->be.ctlfd, RIOMMU_MOCK_TRIGGER_VEVENT, &b);
}

static int ctl_trigger_viommu_missing(struct bctx *c)
{
	union big b;

	b_trigger(c, &b);
	b.trigger.viommu_id = BAD_ID;
	return ioctl(c->be.ctlfd, RIOMMU_MOCK_TRIGGER_VEVENT, &b);
}

/* TRIGGER_IOPF of a device that does not exist: ENOENT on both mocks */
static int trigger_iopf_dev_missing(struct bctx *c)
{
	return be_trigger_iopf(&c->be, BAD_ID, BAD_ID, 0, 2,
			       IOMMU_PGFAULT_PERM_READ, APERTURE_START);
}

static int ctl_vdev_cache_id_bad(struct bctx *c)
{
	union big b;

	b_vdev_cache(c, &b);
	b.vdev_cache.cache_id = RIOMMU_MOCK_DEV_CACHE_ID_MAX + 1;
	return ioctl(c->be.ctlfd, RIOMMU_MOCK_CHECK_VDEV_CACHE, &b);
}

static int ctl_vdev_cache_missing(struct bctx *c)
{
	union big b;

	b_vdev_cache(c, &b);
	b.vdev_cache.virt_id = 0x999;
	return ioctl(c->be.ctlfd, RIOMMU_MOCK_CHECK_VDEV_CACHE, &b);
}

static int ctl_vdev_cache_viommu_is_hwpt(struct bctx *c)
{
	union big b;

	b_vdev_cache(c, &b);
	b.vdev_cache.viommu_id = c->parent;
	return ioctl(c->be.ctlfd, RIOMMU_MOCK_CHECK_VDEV_CACHE, &b);
}

static int ctl_set_dirty_nested(struct bctx *c)
{
	union big b;

	b_set_dirty(c, &b);
	b.set_dirty.hwpt_id = c->nested;
	return ioctl(c->be.ctlfd, RIOMMU_MOCK_SET_DIRTY, &b);
}

/* ---------------------------------------------------------------------- */
/* The table                                                               */

#define G(n, k, w, o, m) { #n, k, w, &o, m, NULL, NULL }
#define GP(n, k, w, o, m, p) { #n, k, w, &o, m, NULL, p }
#define F(n, k, w, f) { #n, k, w, NULL, M_NONE, f, NULL }
#define FP(n, k, w, f, p) { #n, k, w, NULL, M_NONE, f, p }

static const struct row rows[] = {
	/* IOMMU_HWPT_ALLOC, nested (selftest data on a NEST_PARENT) */
	G(nested_ok, BOTH, 0, op_nested, M_NONE),
	G(nested_size_small, BOTH, EINVAL, op_nested, M_SIZE_SMALL),
	G(nested_size_big_nonzero_tail, BOTH, E2BIG, op_nested, M_SIZE_BIG_NONZERO),
	G(nested_size_big_zero_tail, BOTH, 0, op_nested, M_SIZE_BIG_ZERO),
	G(nested_flags_unknown, BOTH, EOPNOTSUPP, op_nested, M_FLAGS),
	G(nested_reserved, BOTH, EOPNOTSUPP, op_nested, M_RESERVED),
	G(nested_arg_null, BOTH, EFAULT, op_nested, M_ARG_NULL),
	G(nested_arg_fault, BOTH, EFAULT, op_nested, M_ARG_FAULT),
	G(nested_arg_readonly, BOTH, EFAULT, op_nested, M_ARG_RO),
	F(nested_flags_nest_parent, BOTH, EOPNOTSUPP, nested_flags_nest_parent),
	F(nested_data_type_wrong, BOTH, EOPNOTSUPP, nested_type_wrong),
	F(nested_data_type_none, BOTH, EOPNOTSUPP, nested_type_none),
	F(nested_data_len_0, BOTH, EINVAL, nested_len_zero),
	F(nested_data_len_short, BOTH, EINVAL, nested_len_short),
	F(nested_data_len_long_zero_tail, BOTH, EINVAL, nested_len_long_zero),
	F(nested_data_len_long_nonzero_tail, BOTH, EINVAL, nested_len_long_nonzero),
	F(nested_data_len_huge, BOTH, EINVAL, nested_len_huge),
	F(nested_data_null, BOTH, EFAULT, nested_data_null),
	F(nested_data_fault, BOTH, EFAULT, nested_data_fault),
	F(nested_dev_missing, BOTH, ENOENT, nested_dev_missing),
	F(nested_dev_wrong_type, BOTH, ENOENT, nested_dev_is_ioas),
	F(nested_pt_missing, BOTH, EINVAL, nested_pt_missing),
	F(nested_pt_wrong_type_device, BOTH, EINVAL, nested_pt_is_device),
	F(nested_pt_wrong_type_vdevice, BOTH, EINVAL, nested_pt_is_vdevice),
	F(nested_pt_nested, BOTH, EINVAL, nested_pt_is_nested),
	F(nested_pt_not_nest_parent, BOTH, EINVAL, nested_pt_not_parent),

	/* IOMMU_HWPT_ALLOC, paging (on an IOAS) */
	G(paging_ok, BOTH, 0, op_paging, M_NONE),
	G(paging_size_small, BOTH, EINVAL, op_paging, M_SIZE_SMALL),
	G(paging_size_big_nonzero_tail, BOTH, E2BIG, op_paging, M_SIZE_BIG_NONZERO),
	G(paging_size_big_zero_tail, BOTH, 0, op_paging, M_SIZE_BIG_ZERO),
	G(paging_flags_unknown, BOTH, EOPNOTSUPP, op_paging, M_FLAGS),
	G(paging_reserved, BOTH, EOPNOTSUPP, op_paging, M_RESERVED),
	/* 7.3 does not check __reserved2 */
	F(paging_reserved2, BOTH, 0, paging_reserved2),
	G(paging_arg_readonly, BOTH, EFAULT, op_paging, M_ARG_RO),
	F(paging_data_type_wrong, BOTH, EOPNOTSUPP, paging_type_wrong),
	F(paging_data_none_with_len, BOTH, EINVAL, paging_none_with_len),
	F(paging_pagetable_type_bad, BOTH, EOPNOTSUPP, paging_pagetable_bad),
	F(paging_fault_id_missing, BOTH, ENOENT, paging_fault_id_missing),
	F(paging_dev_missing, BOTH, ENOENT, paging_dev_missing),
	F(paging_dev_wrong_type, BOTH, ENOENT, paging_dev_is_hwpt),
	F(paging_pt_missing, BOTH, EINVAL, paging_pt_missing),
	F(paging_pt_wrong_type, BOTH, EINVAL, paging_pt_is_device),
	F(paging_pt_viommu_no_data, BOTH, EOPNOTSUPP, paging_pt_is_viommu_plain),

	/* IOMMU_HWPT_INVALIDATE of a nested HWPT */
	G(inv_ok, BOTH, 0, op_inv, M_NONE),
	GP(inv_size_small, BOTH, EINVAL, op_inv, M_SIZE_SMALL, post_iotlb_default),
	GP(inv_size_big_nonzero_tail, BOTH, E2BIG, op_inv, M_SIZE_BIG_NONZERO, post_iotlb_default),
	G(inv_size_big_zero_tail, BOTH, 0, op_inv, M_SIZE_BIG_ZERO),
	GP(inv_reserved, BOTH, EOPNOTSUPP, op_inv, M_RESERVED, post_iotlb_default),
	G(inv_arg_null, BOTH, EFAULT, op_inv, M_ARG_NULL),
	G(inv_arg_readonly, BOTH, EFAULT, op_inv, M_ARG_RO),
	FP(inv_data_type_wrong, BOTH, EINVAL, inv_type_wrong, post_iotlb_default),
	FP(inv_entry_len_0, BOTH, EINVAL, inv_len0, post_iotlb_default),
	FP(inv_entry_len_1, BOTH, EINVAL, inv_len1, post_iotlb_default),
	FP(inv_entry_len_page_plus_1, BOTH, EINVAL, inv_len_page1, post_iotlb_default),
	FP(inv_entry_num_0, BOTH, 0, inv_num0, post_iotlb_default),
	FP(inv_entry_num_1M, BOTH, EINVAL, inv_num_huge, post_iotlb_default),
	FP(inv_uptr_null, BOTH, EINVAL, inv_uptr_null, post_iotlb_default),
	FP(inv_uptr_fault, BOTH, EFAULT, inv_uptr_fault, post_iotlb_default),
	F(inv_id_missing, BOTH, ENOENT, inv_id_missing),
	F(inv_id_wrong_type_ioas, BOTH, EINVAL, inv_id_ioas),
	F(inv_id_paging, BOTH, EINVAL, inv_id_paging),
	FP(inv_entry_flags_unknown, BOTH, EOPNOTSUPP, inv_entry_flags, post_iotlb_default),
	FP(inv_entry_iotlb_id_bad, BOTH, EINVAL, inv_entry_iotlb_bad, post_iotlb_default),

	/* IOMMU_HWPT_INVALIDATE of a vIOMMU */
	G(vinv_ok, BOTH, 0, op_vinv, M_NONE),
	G(vinv_size_small, BOTH, EINVAL, op_vinv, M_SIZE_SMALL),
	G(vinv_reserved, BOTH, EOPNOTSUPP, op_vinv, M_RESERVED),
	G(vinv_arg_readonly, BOTH, EFAULT, op_vinv, M_ARG_RO),
	F(vinv_data_type_wrong, BOTH, EINVAL, vinv_type_wrong),
	F(vinv_entry_len_0, BOTH, EINVAL, vinv_len0),
	/* A shorter entry is zero-extended (copy_struct_from_user) */
	F(vinv_entry_len_short, BOTH, 0, vinv_len_short),
	F(vinv_entry_num_0, BOTH, 0, vinv_num0),
	F(vinv_entry_num_1M, BOTH, EINVAL, vinv_num_huge),
	F(vinv_uptr_fault, BOTH, EFAULT, vinv_uptr_fault),
	F(vinv_vdev_missing, BOTH, EINVAL, vinv_vdev_missing),
	F(vinv_cache_id_bad, BOTH, EINVAL, vinv_cache_id_bad),
	F(vinv_entry_flags_unknown, BOTH, EOPNOTSUPP, vinv_flags),

	/* IOMMU_VIOMMU_ALLOC */
	G(viommu_ok, BOTH, 0, op_viommu, M_NONE),
	G(viommu_size_small, BOTH, EINVAL, op_viommu, M_SIZE_SMALL),
	G(viommu_size_big_nonzero_tail, BOTH, E2BIG, op_viommu, M_SIZE_BIG_NONZERO),
	G(viommu_size_big_zero_tail, BOTH, 0, op_viommu, M_SIZE_BIG_ZERO),
	G(viommu_flags_unknown, BOTH, EOPNOTSUPP, op_viommu, M_FLAGS),
	G(viommu_reserved, BOTH, 0, op_viommu, M_RESERVED),
	G(viommu_arg_readonly, BOTH, EFAULT, op_viommu, M_ARG_RO),
	F(viommu_type_default, BOTH, EOPNOTSUPP, viommu_type_default),
	F(viommu_type_wrong, BOTH, EOPNOTSUPP, viommu_type_wrong),
	F(viommu_hwpt_not_nest_parent, BOTH, EINVAL, viommu_hwpt_not_parent),
	F(viommu_hwpt_missing, BOTH, ENOENT, viommu_hwpt_missing),
	F(viommu_hwpt_wrong_type, BOTH, ENOENT, viommu_hwpt_nested),
	F(viommu_dev_missing, BOTH, ENOENT, viommu_dev_missing),
	FP(viommu_data_short, BOTH, EINVAL, viommu_data_short, post_no_mmap),
	FP(viommu_data_fault, BOTH, EFAULT, viommu_data_fault, post_no_mmap),
	FP(viommu_data_readonly, BOTH, EFAULT, viommu_data_ro, post_no_mmap),
	/* 7.3: data longer than struct iommu_viommu_selftest is EINVAL */
	FP(viommu_data_long_nonzero_tail, BOTH, EINVAL, viommu_data_long_nonzero, post_no_mmap),
	FP(viommu_data_long_zero_tail, BOTH, EINVAL, viommu_data_long_zero, post_no_mmap),

	/* IOMMU_VDEVICE_ALLOC */
	G(vdevice_ok, BOTH, 0, op_vdevice, M_NONE),
	G(vdevice_size_small, BOTH, EINVAL, op_vdevice, M_SIZE_SMALL),
	G(vdevice_size_big_nonzero_tail, BOTH, E2BIG, op_vdevice, M_SIZE_BIG_NONZERO),
	G(vdevice_size_big_zero_tail, BOTH, 0, op_vdevice, M_SIZE_BIG_ZERO),
	G(vdevice_arg_readonly, BOTH, EFAULT, op_vdevice, M_ARG_RO),
	F(vdevice_viommu_missing, BOTH, ENOENT, vdev_viommu_missing),
	F(vdevice_viommu_wrong_type, BOTH, ENOENT, vdev_viommu_is_hwpt),
	F(vdevice_dev_missing, BOTH, ENOENT, vdev_dev_missing),
	F(vdevice_virt_id_taken, BOTH, EEXIST, vdev_virt_dup),
	F(vdevice_dev_has_one, BOTH, EEXIST, vdev_dev_twice),

	/* IOMMU_DESTROY */
	F(destroy_nested_twice, BOTH, ENOENT, destroy_twice_nested),
	F(destroy_viommu_twice, BOTH, ENOENT, destroy_twice_viommu),
	F(destroy_vdevice_twice, BOTH, ENOENT, destroy_twice_vdevice),
	F(destroy_missing, BOTH, ENOENT, destroy_missing),
	F(destroy_parent_busy, BOTH, EBUSY, destroy_parent_busy),
	F(destroy_viommu_busy, BOTH, EBUSY, destroy_viommu_busy),

	/* The mocks' own commands, each through its side channel */
	F(dev_remove_twice, BOTH, ENOENT, dev_remove_twice),
	F(dev_add_flags_unknown, BOTH, EINVAL, dev_add_bad_flags),
	F(dev_add_pt_missing, BOTH, ENOENT, dev_add_pt_missing),
	F(dev_add_pt_wrong_type, BOTH, EINVAL, dev_add_pt_is_device),
	FP(dev_add_arg_readonly, BOTH, EFAULT, dev_add_ro, post_devices_unchanged),
	F(replace_pt_missing, BOTH, ENOENT, replace_pt_missing),
	F(replace_pt_wrong_type, BOTH, EINVAL, replace_pt_is_device),
	F(replace_dev_missing, BOTH, ENOENT, replace_dev_missing),
	F(replace_viommu_nested_without_vdevice, BOTH, ENOENT, replace_viommu_nested_no_vdev),
	F(dev_cache_ok, BOTH, 0, dev_cache_ok),
	F(dev_cache_mismatch, BOTH, EINVAL, dev_cache_mismatch),
	F(dev_cache_id_bad, BOTH, EINVAL, dev_cache_id_bad),
	F(dev_cache_dev_missing, BOTH, ENOENT, dev_cache_dev_missing),
	GP(dev_cache_after_vinv, BOTH, 0, op_vinv, M_NONE, post_dev_cache_vinv),
	F(dev_trigger_vevent_not_nested, BOTH, ENOENT, dev_trigger_not_nested),
	F(dev_trigger_vevent_no_vdevice, BOTH, ENOENT, dev_trigger_no_vdevice),
	F(dev_trigger_vevent_dev_missing, BOTH, ENOENT, dev_trigger_dev_missing),
	F(dev_trigger_vevent_no_veventq, BOTH, EOPNOTSUPP, dev_trigger_no_veventq),
	F(check_map_misaligned, BOTH, EINVAL, check_map_misaligned),
	F(check_map_unmapped, BOTH, EINVAL, check_map_unmapped),
	F(check_map_wrong_type, BOTH, ENOENT, check_map_is_nested),
	F(check_map_missing, BOTH, ENOENT, check_map_missing),
	F(check_iotlb_id_bad, BOTH, EINVAL, check_iotlb_id_bad),
	F(check_iotlb_wrong_type, BOTH, ENOENT, check_iotlb_is_paging),
	F(check_iotlb_missing, BOTH, ENOENT, check_iotlb_missing),
	F(set_dirty_length_0, BOTH, EINVAL, set_dirty_len0),
	F(set_dirty_page_size_0, BOTH, EINVAL, set_dirty_psize0),
	F(set_dirty_bitmap_null, BOTH, EINVAL, set_dirty_null),
	F(set_dirty_not_tracking, BOTH, EINVAL, set_dirty_not_tracking),
	F(set_dirty_too_many_bits, BOTH, EOVERFLOW, set_dirty_overflow),
	F(pasid_attach_no_pasid_device, BOTH, EINVAL, pasid_attach_no_pasid_dev),
	F(pasid_attach_no_pasid_device_rid_compat, BOTH, EINVAL, pasid_attach_no_pasid_dev_rid_compat),
	F(pasid_attach_beyond_width, BOTH, EINVAL, pasid_attach_too_wide),
	F(pasid_attach_hwpt_not_pasid, BOTH, EINVAL, pasid_attach_not_compat),
	F(pasid_attach_pt_missing, BOTH, ENOENT, pasid_attach_pt_missing),
	F(pasid_attach_twice, BOTH, EBUSY, pasid_attach_twice),
	F(pasid_replace_unattached, BOTH, EINVAL, pasid_replace_unattached),
	F(pasid_check_mismatch, BOTH, EINVAL, pasid_check_mismatch),
	F(pasid_dev_missing, BOTH, ENOENT, pasid_dev_missing),
	FP(pasid_attach_arg_readonly, BOTH, EFAULT, pasid_attach_ro, post_pasid_none),

	/* /dev/riommu-mock only: documented values */
	F(ctl_unknown_command, RUST, ENOTTY, ctl_unknown_cmd),
	F(ctl_iommufd_not_open, RUST, EBADF, ctl_iommufd_bad),
	F(ctl_iommufd_not_iommufd, RUST, EBADFD, ctl_iommufd_not_iommu),
	F(ctl_dev_add_pt_of_other_ctx, RUST, ENOENT, ctl_dev_add_other_ctx),
	F(ctl_check_map_other_ctx, RUST, ENOENT, ctl_check_map_other_ctx),
	F(ctl_detach_unattached, RUST, ENOENT, ctl_detach_unattached),
	F(ctl_attach_attached, RUST, EBUSY, ctl_attach_attached),
	F(ctl_handle_of_other_ctl, RUST, ENOENT, ctl_handle_other_ctl),
	F(ctl_dev_remove_twice, RUST, ENOENT, ctl_dev_remove_twice),
	F(ctl_pasid_0, RUST, EINVAL, ctl_pasid0),
	F(ctl_trigger_no_veventq, RUST, EOPNOTSUPP, NULL),
	F(ctl_trigger_vdev_missing, RUST, ENOENT, ctl_trigger_missing_vdev),
	F(ctl_trigger_virt_id_huge, RUST, ENOENT, ctl_trigger_virt_huge),
	F(ctl_trigger_viommu_missing, RUST, ENOENT, ctl_trigger_viommu_missing),
	F(ctl_vdev_cache_id_bad, RUST, EINVAL, ctl_vdev_cache_id_bad),
	F(ctl_vdev_cache_vdev_missing, RUST, ENOENT, ctl_vdev_cache_missing),
	F(ctl_vdev_cache_viommu_wrong_type, RUST, ENOENT, ctl_vdev_cache_viommu_is_hwpt),
	F(ctl_set_dirty_wrong_type, RUST, ENOENT, ctl_set_dirty_nested),
#define CTL_ROWS(op, nm, ok, ro)                                              \
	G(ctl_##nm##_ok, RUST, ok, op, M_NONE),                               \
	G(ctl_##nm##_size_small, RUST, EINVAL, op, M_SIZE_SMALL),             \
	G(ctl_##nm##_size_big_nonzero_tail, RUST, E2BIG, op,                  \
	  M_SIZE_BIG_NONZERO),                                                \
	G(ctl_##nm##_size_big_zero_tail, RUST, ok, op, M_SIZE_BIG_ZERO),      \
	G(ctl_##nm##_arg_null, RUST, EFAULT, op, M_ARG_NULL),                 \
	G(ctl_##nm##_arg_fault, RUST, EFAULT, op, M_ARG_FAULT),               \
	G(ctl_##nm##_arg_readonly, RUST, ro, op, M_ARG_RO)
	CTL_ROWS(op_dev_add, dev_add, 0, EFAULT),
	G(ctl_dev_add_flags_unknown, RUST, EOPNOTSUPP, op_dev_add, M_FLAGS),
	G(ctl_dev_add_reserved, RUST, EOPNOTSUPP, op_dev_add, M_RESERVED),
	CTL_ROWS(op_dev_remove, dev_remove, 0, 0),
	CTL_ROWS(op_dev_replace, dev_replace, 0, EFAULT),
	G(ctl_dev_replace_reserved, RUST, EOPNOTSUPP, op_dev_replace, M_RESERVED),
	G(ctl_dev_attach_reserved, RUST, EOPNOTSUPP, op_dev_attach, M_RESERVED),
	CTL_ROWS(op_dev_detach, dev_detach, 0, 0),
	CTL_ROWS(op_check_map, check_map, 0, 0),
	G(ctl_check_map_reserved, RUST, EOPNOTSUPP, op_check_map, M_RESERVED),
	CTL_ROWS(op_check_iotlb, check_iotlb, 0, EFAULT),
	CTL_ROWS(op_set_dirty, set_dirty, 0, EFAULT),
	G(ctl_set_dirty_flags_unknown, RUST, EOPNOTSUPP, op_set_dirty, M_FLAGS),
	CTL_ROWS(op_stats, stats, 0, EFAULT),
	G(ctl_stats_reserved, RUST, EOPNOTSUPP, op_stats, M_RESERVED),
	CTL_ROWS(op_trigger, trigger_vevent, EOPNOTSUPP, EOPNOTSUPP),
	G(ctl_trigger_vevent_reserved, RUST, EOPNOTSUPP, op_trigger, M_RESERVED),
	CTL_ROWS(op_vdev_cache, check_vdev_cache, 0, EFAULT),
	CTL_ROWS(op_dev_cache, check_dev_cache, 0, EFAULT),
	G(ctl_check_dev_cache_reserved, RUST, EOPNOTSUPP, op_dev_cache, M_RESERVED),
	CTL_ROWS(op_dev_trigger, dev_trigger_vevent, ENOENT, ENOENT),
	CTL_ROWS(op_trigger_iopf, trigger_iopf, 0, 0),
	G(ctl_trigger_iopf_reserved, RUST, EOPNOTSUPP, op_trigger_iopf, M_RESERVED),
	F(trigger_iopf_dev_missing, BOTH, ENOENT, trigger_iopf_dev_missing),
	CTL_ROWS(op_pasid_attach, pasid_attach, 0, EFAULT),
	CTL_ROWS(op_pasid_check, pasid_check, EINVAL, EINVAL),
	CTL_ROWS(op_pasid_detach, pasid_detach, 0, 0),
	CTL_ROWS(op_pasid_replace, pasid_replace, EINVAL, EINVAL),
};

#define NR_ROWS ARRAY_LEN(rows)

/* Rows run and passed, across the harness's forked children */
static unsigned int *counts;	/* [0] run, [1] passed */
static pid_t main_pid;

static __attribute__((constructor)) void setup_counts(void)
{
	counts = mmap(NULL, PAGE_4K, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (counts == MAP_FAILED)
		counts = NULL;
	main_pid = getpid();
}

static __attribute__((destructor)) void print_summary(void)
{
	if (!counts || getpid() != main_pid || !counts[0])
		return;
	printf("# bad-input table: %u rows run, %u rows passed (%zu in the "
	       "table)\n", counts[0], counts[1], NR_ROWS);
	fflush(stdout);
}

/* One backend: 0 or the errno, -1000 on a setup failure; @why on post */
static int run_one(const struct row *r, const struct backend_ops *ops,
		   char *why, size_t len, int *post_failed)
{
	struct bctx c;
	int rc, e;

	*post_failed = 0;
	if (bctx_setup(&c, ops)) {
		snprintf(why, len, "%s: fixture set-up failed: %s", ops->name,
			 ename(errno));
		bctx_teardown(&c);
		return -1000;
	}
	errno = 0;
	if (r->op)
		rc = run_mut(&c, r->op, r->mut);
	else if (r->fn)
		rc = r->fn(&c);
	else {
		union big b;	/* ctl_trigger_no_veventq */

		b_trigger(&c, &b);
		rc = ioctl(c.be.ctlfd, RIOMMU_MOCK_TRIGGER_VEVENT, &b);
	}
	e = rc ? errno : 0;
	if (rc == -2) {
		snprintf(why, len, "%s: the row's preparation failed: %s",
			 ops->name, ename(e));
		bctx_teardown(&c);
		return -1000;
	}
	if (r->post && r->post(&c, why, len))
		*post_failed = 1;
	bctx_teardown(&c);
	return e;
}

static void run_row(struct __test_metadata *_metadata, const struct row *r)
{
	char why_c[256] = "", why_r[256] = "";
	int got_c = 0, got_r, post_c = 0, post_r = 0;
	bool ok = true;

	if (counts)
		__atomic_add_fetch(&counts[0], 1, __ATOMIC_RELAXED);
	if (r->kind == BOTH) {
		got_c = run_one(r, &c_mock_ops, why_c, sizeof(why_c), &post_c);
		if (got_c == -1000) {
			TH_LOG("%s", why_c);
			ASSERT_TRUE(0);
		}
	}
	got_r = run_one(r, &rust_mock_ops, why_r, sizeof(why_r), &post_r);
	if (got_r == -1000) {
		TH_LOG("%s (is riommu_mock.ko loaded?)", why_r);
		ASSERT_TRUE(0);
	}
	if (r->kind == BOTH && got_c != r->want) {
		TH_LOG("%s: c_mock gives %s, the table says %s (table or "
		       "kernel changed?)", r->name, ename(got_c),
		       ename(r->want));
		ok = false;
	}
	if (r->kind == BOTH && got_c != got_r) {
		TH_LOG("%s: rust_mock gives %s, c_mock %s", r->name,
		       ename(got_r), ename(got_c));
		ok = false;
	} else if (got_r != r->want) {
		TH_LOG("%s: rust_mock gives %s, documented %s", r->name,
		       ename(got_r), ename(r->want));
		ok = false;
	}
	if (post_c) {
		TH_LOG("%s: c_mock, after the call: %s", r->name, why_c);
		ok = false;
	}
	if (post_r) {
		TH_LOG("%s: rust_mock, after the call: %s", r->name, why_r);
		ok = false;
	}
	ASSERT_TRUE(ok);
	if (counts)
		__atomic_add_fetch(&counts[1], 1, __ATOMIC_RELAXED);
}

/* One TEST per row: the table above, indexed */
FIXTURE(badinput) {
	int unused;
};

FIXTURE_VARIANT(badinput) {
	unsigned int row;
};

FIXTURE_SETUP(badinput)
{
}

FIXTURE_TEARDOWN(badinput)
{
}

TEST_F(badinput, row)
{
	ASSERT_GT(NR_ROWS, variant->row);
	run_row(_metadata, &rows[variant->row]);
}

/*
 * Register one variant per row at start-up, named after the row, so TAP
 * shows "badinput.<row>.row".  (The harness's FIXTURE_VARIANT_ADD is static;
 * this does at run time what it does at compile time.)
 */
static struct __fixture_variant_metadata row_variants[NR_ROWS];
static FIXTURE_VARIANT(badinput) row_data[NR_ROWS];

static __attribute__((constructor(KSELFTEST_PRIO_TEST))) void register_rows(void)
{
	unsigned int i;

	for (i = 0; i != NR_ROWS; i++) {
		row_data[i].row = i;
		row_variants[i].name = rows[i].name;
		row_variants[i].data = &row_data[i];
		__register_fixture_variant(&_badinput_fixture_object,
					   &row_variants[i]);
	}
}

/* ---------------------------------------------------------------------- */
/* Access control                                                          */

/*
 * In a child: optionally open the control device as root, drop to
 * 65534:65534 with no supplementary groups, then try to open it again.
 * Exit status: 0 ok, 1 open did not fail with EACCES, 2 the pre-opened
 * descriptor stopped working, 3 dropping privileges failed.
 */
static int child_drop(bool preopen)
{
	struct riommu_mock_stats st;
	int fd = -1, fd2;

	if (preopen) {
		fd = open(RIOMMU_MOCK_DEV, O_RDWR);
		if (fd < 0)
			return 4;
	}
	if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
		return 3;
	if (getuid() != 65534 || geteuid() != 65534)
		return 3;
	fd2 = open(RIOMMU_MOCK_DEV, O_RDWR);
	if (fd2 >= 0 || errno != EACCES) {
		fprintf(stderr, "# open as uid 65534: %s\n",
			fd2 >= 0 ? "succeeded" : ename(errno));
		return 1;
	}
	fd2 = open(RIOMMU_MOCK_DEV, O_RDONLY);
	if (fd2 >= 0 || errno != EACCES)
		return 1;
	if (preopen && rmock_stats(fd, &st)) {
		fprintf(stderr, "# STATS on the inherited fd: %s\n",
			ename(errno));
		return 2;
	}
	return 0;
}

FIXTURE(access) {
	int unused;
};

FIXTURE_SETUP(access)
{
	struct stat st;

	if (geteuid() != 0)
		SKIP(return, "needs root (to drop privileges)");
	if (stat(RIOMMU_MOCK_DEV, &st)) {
		TH_LOG("%s: %s (is riommu_mock.ko loaded?)", RIOMMU_MOCK_DEV,
		       ename(errno));
		ASSERT_TRUE(0);
	}
}

FIXTURE_TEARDOWN(access)
{
}

TEST_F(access, node_mode_0600_root)
{
	struct stat st;

	ASSERT_EQ(0, stat(RIOMMU_MOCK_DEV, &st));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	ASSERT_EQ(0600, st.st_mode & 07777);
	ASSERT_EQ(0, st.st_uid);
	ASSERT_EQ(0, st.st_gid);
}

TEST_F(access, unprivileged_open_eacces)
{
	int status;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid)
		_exit(child_drop(false));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
}

/*
 * A descriptor opened by root and handed to (or kept by) an unprivileged
 * process keeps working: the check is at open(), like any device node.
 * Documented, not a bug: whoever root gives the fd to is trusted with it.
 */
TEST_F(access, preopened_fd_keeps_working)
{
	int status;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid)
		_exit(child_drop(true));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
