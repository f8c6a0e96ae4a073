/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Runs the kernel's own iommufd selftests, unmodified, on riommu_mock.
 *
 * tools/selftests-upstream.sh compiles the 7.3 sources of
 * tools/testing/selftests/iommu/iommufd.c and iommufd_fail_nth.c a second
 * time with "-include" of this header, into iommufd.riommu and
 * iommufd_fail_nth.riommu.  The header only translates; it never answers a
 * check itself:
 *
 *  - every IOMMU_TEST_CMD op that concerns a mock device or a mock domain
 *    becomes the matching /dev/riommu-mock ioctl (include/uapi/linux/
 *    riommu_mock.h), whose answer (return value, errno, output fields) is
 *    handed back as the C mock's would be;
 *  - every other IOMMU_TEST_CMD op (access objects, ACCESS_RW,
 *    SET_TEMP_MEMORY_LIMIT, MD_CHECK_REFS, ADD_RESERVED, dma-buf) is the
 *    iommufd core's and passes through unchanged, as does every other ioctl.
 *
 * Object ids.  The C mock's "stdev" is an iommufd object, so the tests
 * destroy a mock device with IOMMU_DESTROY and hand its id to later ops.  A
 * riommu_mock device is a handle of the control file instead (dev_id), so
 * the adapter hands out stdev ids RIOMMU_ADAPTER_STDEV_BASE + dev_id, far
 * above any id iommufd allocates in a test, and turns IOMMU_DESTROY of such
 * an id into RIOMMU_MOCK_DEV_REMOVE.  Any other id given as a stdev id
 * becomes dev_id 0, which riommu_mock answers with ENOENT, as iommufd does
 * for a missing object.  DEV_CHECK_CACHE, TRIGGER_IOPF and TRIGGER_VEVENT
 * name the device by its iommufd device id; the adapter remembers which dev_id each idev_id it
 * saw belongs to.
 *
 * Ownership.  C mock devices belong to the iommufd context; riommu_mock
 * devices to the control file that made them.  The adapter opens one
 * control file per iommufd file descriptor (on its first mock device) and
 * closes it just before that descriptor is closed, so the devices go away
 * when the test closes its iommufd, as the C mock's do.
 */
#ifndef RIOMMU_ADAPTER_H
#define RIOMMU_ADAPTER_H

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/riommu_mock.h>
#include "iommufd_test.h"

/* The two mocks' shared constants must be the same numbers. */
_Static_assert((long)RIOMMU_MOCK_DEV_NO_DIRTY == (long)MOCK_FLAGS_DEVICE_NO_DIRTY, "flags");
_Static_assert((long)RIOMMU_MOCK_DEV_PASID == (long)MOCK_FLAGS_DEVICE_PASID, "flags");
_Static_assert((long)RIOMMU_MOCK_PASID_WIDTH == (long)MOCK_PASID_WIDTH, "pasid width");
_Static_assert((long)RIOMMU_MOCK_PASID_FAKE_ERROR == (long)IOMMU_TEST_PASID_RESERVED,
	       "fault-injecting pasid");
_Static_assert((long)RIOMMU_MOCK_DEV_CACHE_NUM == (long)MOCK_DEV_CACHE_NUM, "cache");
_Static_assert((long)RIOMMU_MOCK_IOTLB_NUM == (long)MOCK_NESTED_DOMAIN_IOTLB_NUM, "iotlb");

#define RIOMMU_ADAPTER_STDEV_BASE 0x70000000u
#define RIOMMU_ADAPTER_MAX_FD 1024
#define RIOMMU_ADAPTER_MAX_DEV 256

/* Per iommufd file descriptor: its control file and its devices. */
struct riommu_adapter_ctx {
	int ctl; /* control fd + 1; 0: none yet */
	uint32_t idev_of[RIOMMU_ADAPTER_MAX_DEV]; /* by dev_id */
};

static struct riommu_adapter_ctx riommu_adapter_ctx[RIOMMU_ADAPTER_MAX_FD];

static struct riommu_adapter_ctx *riommu_adapter_get(int fd)
{
	if (fd < 0 || fd >= RIOMMU_ADAPTER_MAX_FD) {
		errno = EBADF;
		return NULL;
	}
	return &riommu_adapter_ctx[fd];
}

/* The control file of iommufd @fd, opened on first use; -1 with errno. */
static int riommu_adapter_ctl(int fd)
{
	struct riommu_adapter_ctx *c = riommu_adapter_get(fd);
	int ctl;

	if (!c)
		return -1;
	if (c->ctl)
		return c->ctl - 1;
	ctl = open("/dev/riommu-mock", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return -1;
	c->ctl = ctl + 1;
	return ctl;
}

/* dev_id of stdev id @id; 0 (unknown to riommu_mock: ENOENT) if not one. */
static uint32_t riommu_adapter_dev_id(uint32_t id)
{
	if (id > RIOMMU_ADAPTER_STDEV_BASE &&
	    id <= RIOMMU_ADAPTER_STDEV_BASE + RIOMMU_ADAPTER_MAX_DEV)
		return id - RIOMMU_ADAPTER_STDEV_BASE;
	return 0;
}

/* dev_id of the device whose iommufd device id is @idev_id, else 0. */
static uint32_t riommu_adapter_dev_of_idev(int fd, uint32_t idev_id)
{
	struct riommu_adapter_ctx *c = riommu_adapter_get(fd);
	uint32_t i;

	for (i = 1; c && idev_id && i < RIOMMU_ADAPTER_MAX_DEV; i++)
		if (c->idev_of[i] == idev_id)
			return i;
	return 0;
}

static int riommu_adapter_mock_domain(int fd, struct iommu_test_cmd *cmd,
				      uint32_t dev_flags)
{
	struct riommu_mock_dev_add add = {
		.size = sizeof(add),
		.iommufd = fd,
		.dev_flags = dev_flags,
		.pt_id = cmd->id,
	};
	struct riommu_mock_dev_remove rm = { .size = sizeof(rm) };
	struct riommu_adapter_ctx *c = riommu_adapter_get(fd);
	int ctl = riommu_adapter_ctl(fd);

	if (ctl < 0)
		return -1;
	if (ioctl(ctl, RIOMMU_MOCK_DEV_ADD, &add))
		return -1;
	rm.dev_id = add.out_dev_id;
	if (add.out_dev_id >= RIOMMU_ADAPTER_MAX_DEV) {
		fprintf(stderr, "riommu adapter: more than %u mock devices\n",
			RIOMMU_ADAPTER_MAX_DEV - 1);
		ioctl(ctl, RIOMMU_MOCK_DEV_REMOVE, &rm);
		errno = ENOSPC;
		return -1;
	}
	if (!cmd->id) {
		/*
		 * The C mock always attaches, so pt_id 0 fails there; ask
		 * riommu_mock for the same attach, and return its answer.
		 */
		struct riommu_mock_dev_attach at = {
			.size = sizeof(at),
			.dev_id = add.out_dev_id,
		};

		if (ioctl(ctl, RIOMMU_MOCK_DEV_ATTACH, &at)) {
			int err = errno;

			ioctl(ctl, RIOMMU_MOCK_DEV_REMOVE, &rm);
			errno = err;
			return -1;
		}
		add.pt_id = at.pt_id;
	}
	c->idev_of[add.out_dev_id] = add.out_idev_id;
	/* mock_domain and mock_domain_flags share these three fields. */
	cmd->mock_domain.out_stdev_id = RIOMMU_ADAPTER_STDEV_BASE + add.out_dev_id;
	cmd->mock_domain.out_hwpt_id = add.pt_id;
	cmd->mock_domain.out_idev_id = add.out_idev_id;
	return 0;
}

static int riommu_adapter_pasid(int fd, struct iommu_test_cmd *cmd,
				unsigned long req, uint32_t pasid, uint32_t *pt)
{
	struct riommu_mock_pasid p = {
		.size = sizeof(p),
		.dev_id = riommu_adapter_dev_id(cmd->id),
		.pasid = pasid,
		.pt_id = pt ? *pt : 0,
	};
	int ctl = riommu_adapter_ctl(fd);

	if (ctl < 0 || ioctl(ctl, req, &p))
		return -1;
	if (pt && req != RIOMMU_MOCK_PASID_CHECK)
		*pt = p.pt_id;
	return 0;
}

/* IOMMU_TEST_CMD on iommufd @fd. */
static int riommu_adapter_test_cmd(int fd, struct iommu_test_cmd *cmd)
{
	int ctl;

	switch (cmd->op) {
	case IOMMU_TEST_OP_MOCK_DOMAIN:
		return riommu_adapter_mock_domain(fd, cmd, 0);
	case IOMMU_TEST_OP_MOCK_DOMAIN_FLAGS:
		return riommu_adapter_mock_domain(
			fd, cmd, cmd->mock_domain_flags.dev_flags);
	case IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE: {
		struct riommu_mock_dev_attach r = {
			.size = sizeof(r),
			.dev_id = riommu_adapter_dev_id(cmd->id),
			.pt_id = cmd->mock_domain_replace.pt_id,
		};

		ctl = riommu_adapter_ctl(fd);
		if (ctl < 0 || ioctl(ctl, RIOMMU_MOCK_DEV_REPLACE, &r))
			return -1;
		cmd->mock_domain_replace.pt_id = r.pt_id;
		return 0;
	}
	case IOMMU_TEST_OP_MD_CHECK_MAP: {
		struct riommu_mock_check_map m = {
			.size = sizeof(m),
			.iommufd = fd,
			.hwpt_id = cmd->id,
			.iova = cmd->check_map.iova,
			.length = cmd->check_map.length,
			.uptr = cmd->check_map.uptr,
		};

		ctl = riommu_adapter_ctl(fd);
		return ctl < 0 ? -1 : ioctl(ctl, RIOMMU_MOCK_CHECK_MAP, &m);
	}
	case IOMMU_TEST_OP_MD_CHECK_IOTLB: {
		struct riommu_mock_check_iotlb t = {
			.size = sizeof(t),
			.iommufd = fd,
			.hwpt_id = cmd->id,
			.iotlb_id = cmd->check_iotlb.id,
			.iotlb = cmd->check_iotlb.iotlb,
		};

		ctl = riommu_adapter_ctl(fd);
		return ctl < 0 ? -1 : ioctl(ctl, RIOMMU_MOCK_CHECK_IOTLB, &t);
	}
	case IOMMU_TEST_OP_DEV_CHECK_CACHE: {
		struct riommu_mock_check_dev_cache k = {
			.size = sizeof(k),
			/* An iommufd device id, as iommufd_test_dev_check_cache() */
			.dev_id = riommu_adapter_dev_of_idev(fd, cmd->id),
			.cache_id = cmd->check_dev_cache.id,
			.cache = cmd->check_dev_cache.cache,
		};

		ctl = riommu_adapter_ctl(fd);
		return ctl < 0 ? -1 : ioctl(ctl, RIOMMU_MOCK_CHECK_DEV_CACHE, &k);
	}
	case IOMMU_TEST_OP_DIRTY: {
		struct riommu_mock_set_dirty d = {
			.size = sizeof(d),
			.iommufd = fd,
			.hwpt_id = cmd->id,
			.flags = cmd->dirty.flags,
			.iova = cmd->dirty.iova,
			.length = cmd->dirty.length,
			.page_size = cmd->dirty.page_size,
			.uptr = cmd->dirty.uptr,
		};

		ctl = riommu_adapter_ctl(fd);
		if (ctl < 0 || ioctl(ctl, RIOMMU_MOCK_SET_DIRTY, &d))
			return -1;
		cmd->dirty.out_nr_dirty = d.out_nr_dirty;
		return 0;
	}
	case IOMMU_TEST_OP_TRIGGER_IOPF: {
		struct riommu_mock_trigger_iopf f = {
			.size = sizeof(f),
			.dev_id = riommu_adapter_dev_of_idev(
				fd, cmd->trigger_iopf.dev_id),
			.pasid = cmd->trigger_iopf.pasid,
			.grpid = cmd->trigger_iopf.grpid,
			.perm = cmd->trigger_iopf.perm,
			.addr = cmd->trigger_iopf.addr,
		};

		ctl = riommu_adapter_ctl(fd);
		return ctl < 0 ? -1 : ioctl(ctl, RIOMMU_MOCK_TRIGGER_IOPF, &f);
	}
	case IOMMU_TEST_OP_TRIGGER_VEVENT: {
		struct riommu_mock_dev_trigger_vevent v = {
			.size = sizeof(v),
			.dev_id = riommu_adapter_dev_of_idev(
				fd, cmd->trigger_vevent.dev_id),
		};

		ctl = riommu_adapter_ctl(fd);
		return ctl < 0 ? -1 :
				 ioctl(ctl, RIOMMU_MOCK_DEV_TRIGGER_VEVENT, &v);
	}
	case IOMMU_TEST_OP_PASID_ATTACH:
		return riommu_adapter_pasid(fd, cmd, RIOMMU_MOCK_PASID_ATTACH,
					    cmd->pasid_attach.pasid,
					    &cmd->pasid_attach.pt_id);
	case IOMMU_TEST_OP_PASID_REPLACE:
		return riommu_adapter_pasid(fd, cmd, RIOMMU_MOCK_PASID_REPLACE,
					    cmd->pasid_replace.pasid,
					    &cmd->pasid_replace.pt_id);
	case IOMMU_TEST_OP_PASID_DETACH:
		return riommu_adapter_pasid(fd, cmd, RIOMMU_MOCK_PASID_DETACH,
					    cmd->pasid_detach.pasid, NULL);
	case IOMMU_TEST_OP_PASID_CHECK_HWPT:
		return riommu_adapter_pasid(fd, cmd, RIOMMU_MOCK_PASID_CHECK,
					    cmd->pasid_check.pasid,
					    &cmd->pasid_check.hwpt_id);
	default:
		/* The iommufd core's own test ops: no mock device in them. */
		return ioctl(fd, IOMMU_TEST_CMD, cmd);
	}
}

/*
 * Copies @n bytes at @src without faulting.  1: done; 0: they are not all
 * readable (tests pass bad pointers on purpose; those go to the kernel);
 * -1 with errno: the copy itself failed (fault injection reaches the pipe
 * too), and the call fails with that errno rather than reach the C mock.
 * Through a pipe, as the test kernel need not have process_vm_readv().
 * The pipe is kept per thread and process (the tests fork), as creating
 * one per call made ACCESS_RW-heavy tests 15 times slower under TCG.
 */
static __thread int riommu_adapter_pipe[2] = { -1, -1 };
static __thread pid_t riommu_adapter_pipe_pid;

static void riommu_adapter_pipe_drop(void)
{
	close(riommu_adapter_pipe[0]);
	close(riommu_adapter_pipe[1]);
	riommu_adapter_pipe[0] = riommu_adapter_pipe[1] = -1;
}

static int riommu_adapter_peek(void *dst, const void *src, size_t n)
{
	pid_t pid = getpid();
	ssize_t w;
	int err;

	if (riommu_adapter_pipe[0] >= 0 && riommu_adapter_pipe_pid != pid) {
		/* Inherited across fork: the parent's, not ours to share. */
		riommu_adapter_pipe_drop();
	}
	if (riommu_adapter_pipe[0] < 0) {
		if (pipe2(riommu_adapter_pipe, O_CLOEXEC)) {
			riommu_adapter_pipe[0] = riommu_adapter_pipe[1] = -1;
			return -1;
		}
		riommu_adapter_pipe_pid = pid;
	}
	w = write(riommu_adapter_pipe[1], src, n);
	if (w < 0 && errno == EFAULT)
		return 0;
	if (w == (ssize_t)n && read(riommu_adapter_pipe[0], dst, n) == (ssize_t)n)
		return 1;
	/* Never leave bytes behind in the pipe: a new one next time. */
	err = errno;
	riommu_adapter_pipe_drop();
	if (w >= 0 && w < (ssize_t)n)
		return 0; /* a short write: the rest is not readable */
	errno = w < 0 ? err : EIO;
	return -1;
}

static int riommu_adapter_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);

	/*
	 * Only well-formed commands are translated.  One the core refuses
	 * before it dispatches (a bad pointer, a short size) passes through:
	 * the core's EFAULT or EINVAL involves no mock.
	 */
	if (req == IOMMU_TEST_CMD) {
		struct iommu_test_cmd peek;
		int ok = riommu_adapter_peek(&peek, arg, sizeof(peek));

		if (ok < 0)
			return -1;
		if (ok && peek.size >= sizeof(peek))
			return riommu_adapter_test_cmd(fd, arg);
	}
	if (req == IOMMU_DESTROY) {
		struct iommu_destroy peek = {};
		struct iommu_destroy *d = &peek;
		uint32_t dev_id = 0;
		int ok = riommu_adapter_peek(&peek, arg, sizeof(peek));

		if (ok < 0)
			return -1;
		if (ok && peek.size >= sizeof(peek))
			dev_id = riommu_adapter_dev_id(d->id);

		if (dev_id) {
			struct riommu_mock_dev_remove rm = {
				.size = sizeof(rm),
				.dev_id = dev_id,
			};
			struct riommu_adapter_ctx *c = riommu_adapter_get(fd);
			int ctl = riommu_adapter_ctl(fd);

			if (ctl < 0 || ioctl(ctl, RIOMMU_MOCK_DEV_REMOVE, &rm))
				return -1;
			c->idev_of[dev_id] = 0;
			return 0;
		}
	}
	return ioctl(fd, req, arg);
}

/* Closing an iommufd removes its riommu_mock devices first. */
static int riommu_adapter_close(int fd)
{
	struct riommu_adapter_ctx *c =
		fd >= 0 && fd < RIOMMU_ADAPTER_MAX_FD ? &riommu_adapter_ctx[fd] :
							NULL;

	if (c && c->ctl) {
		close(c->ctl - 1);
		memset(c, 0, sizeof(*c));
	}
	return close(fd);
}

/*
 * Some calls pass no third argument (VFIO_GET_API_VERSION): a trailing NULL
 * gives every call one, and the real ioctl() gets NULL for those.
 */
#define ioctl(fd, ...) riommu_adapter_ioctl(fd, __VA_ARGS__, (void *)0)
#define close(fd) riommu_adapter_close(fd)

#endif /* RIOMMU_ADAPTER_H */
