// SPDX-License-Identifier: GPL-2.0
/*
 * SVA through riommu_mock: binding a process address space (its mm) to mock
 * devices with iommu_sva_bind_device(), "device accesses" through the PASID,
 * MMU-notifier invalidations, and the lifetime rules: a bond belongs to the
 * mm, not to the thread that made it, and ends safely when the mm goes.
 *
 * The C mock has no SVA, so these tests run on riommu_mock only.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/riommu_mock.h>

#include "kselftest_harness.h"

#define PAGE 4096UL

struct sva_env {
	int fd;		/* /dev/iommu */
	int cfd;	/* /dev/riommu-mock */
	uint32_t ioas;
};

static int env_open(struct sva_env *e)
{
	struct iommu_ioas_alloc ia = { .size = sizeof(ia) };

	e->fd = open("/dev/iommu", O_RDWR);
	e->cfd = open("/dev/riommu-mock", O_RDWR);
	if (e->fd < 0 || e->cfd < 0)
		return -1;
	if (ioctl(e->fd, IOMMU_IOAS_ALLOC, &ia))
		return -1;
	e->ioas = ia.out_ioas_id;
	return 0;
}

static void env_close(struct sva_env *e)
{
	close(e->cfd);
	close(e->fd);
}

/* A PASID-capable mock device attached to the IOAS; returns its handle. */
static int dev_add(struct sva_env *e, uint32_t *dev_id)
{
	struct riommu_mock_dev_add da = {
		.size = sizeof(da),
		.iommufd = e->fd,
		.dev_flags = RIOMMU_MOCK_DEV_PASID,
		.pt_id = e->ioas,
	};

	if (ioctl(e->cfd, RIOMMU_MOCK_DEV_ADD, &da))
		return -1;
	*dev_id = da.out_dev_id;
	return 0;
}

static int bind(int cfd, uint32_t dev_id, uint32_t *bond, uint32_t *pasid)
{
	struct riommu_mock_sva_bind b = { .size = sizeof(b), .dev_id = dev_id };

	if (ioctl(cfd, RIOMMU_MOCK_SVA_BIND, &b))
		return -1;
	*bond = b.bond_id;
	*pasid = b.out_pasid;
	return 0;
}

static int unbind(int cfd, uint32_t bond)
{
	struct riommu_mock_sva_bind b = { .size = sizeof(b), .bond_id = bond };

	return ioctl(cfd, RIOMMU_MOCK_SVA_UNBIND, &b);
}

static int dev_access(int cfd, uint32_t dev_id, uint32_t pasid, void *addr,
		      void *buf, size_t len, int write)
{
	struct riommu_mock_sva_access a = {
		.size = sizeof(a),
		.dev_id = dev_id,
		.pasid = pasid,
		.flags = write ? RIOMMU_MOCK_SVA_ACCESS_WRITE : 0,
		.addr = (uintptr_t)addr,
		.length = len,
		.uptr = (uintptr_t)buf,
	};

	return ioctl(cfd, RIOMMU_MOCK_SVA_ACCESS, &a);
}

static int check_inval(int cfd, uint32_t dev_id, uint32_t pasid, void *start,
		       size_t len)
{
	struct riommu_mock_sva_check_inval c = {
		.size = sizeof(c),
		.dev_id = dev_id,
		.pasid = pasid,
		.start = (uintptr_t)start,
		.length = len,
	};

	return ioctl(cfd, RIOMMU_MOCK_SVA_CHECK_INVAL, &c);
}

static int stats(int cfd, struct riommu_mock_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return ioctl(cfd, RIOMMU_MOCK_STATS, st);
}

FIXTURE(sva) {
	struct sva_env e;
	uint32_t dev;
};

FIXTURE_SETUP(sva)
{
	ASSERT_EQ(0, env_open(&self->e))
		TH_LOG("open /dev/iommu, /dev/riommu-mock: %s (is riommu_mock loaded?)",
		       strerror(errno));
	ASSERT_EQ(0, dev_add(&self->e, &self->dev));
}

FIXTURE_TEARDOWN(sva)
{
	env_close(&self->e);
}

/* 1. The device sees what the CPU wrote, and the CPU sees what it wrote. */
TEST_F(sva, bind_read_write)
{
	uint32_t bond, pasid;
	char *buf = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char out[64], in[64] = "written by the device";

	ASSERT_NE(MAP_FAILED, buf);
	ASSERT_EQ(0, bind(self->e.cfd, self->dev, &bond, &pasid));
	ASSERT_NE(0, pasid);
	/* Across a page boundary. */
	strcpy(buf + PAGE - 8, "hello from the CPU");
	ASSERT_EQ(0, dev_access(self->e.cfd, self->dev, pasid, buf + PAGE - 8,
				out, 19, 0));
	ASSERT_STREQ("hello from the CPU", out);
	ASSERT_EQ(0, dev_access(self->e.cfd, self->dev, pasid, buf + 100, in,
				sizeof(in), 1));
	ASSERT_STREQ(in, buf + 100);
	/* Unmapped address: EFAULT; wrong PASID: ENOENT. */
	ASSERT_EQ(-1, dev_access(self->e.cfd, self->dev, pasid, NULL, out, 8, 0));
	ASSERT_EQ(EFAULT, errno);
	ASSERT_EQ(-1, dev_access(self->e.cfd, self->dev, pasid + 1, buf, out, 8, 0));
	ASSERT_EQ(ENOENT, errno);
	ASSERT_EQ(0, unbind(self->e.cfd, bond));
	ASSERT_EQ(-1, dev_access(self->e.cfd, self->dev, pasid, buf, out, 8, 0));
	ASSERT_EQ(ENOENT, errno);
	ASSERT_EQ(-1, unbind(self->e.cfd, bond));
	ASSERT_EQ(ENOENT, errno);
	munmap(buf, 2 * PAGE);
}

/* 2. munmap of a bound range reaches the mock's IOTLB record. */
TEST_F(sva, munmap_invalidates)
{
	uint32_t bond, pasid;
	char *buf = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, buf);
	memset(buf, 1, 16 * PAGE);
	ASSERT_EQ(0, bind(self->e.cfd, self->dev, &bond, &pasid));
	ASSERT_EQ(-1, check_inval(self->e.cfd, self->dev, pasid, buf + 4 * PAGE,
				  8 * PAGE));
	ASSERT_EQ(ENOENT, errno);
	ASSERT_EQ(0, munmap(buf + 4 * PAGE, 8 * PAGE));
	ASSERT_EQ(0, check_inval(self->e.cfd, self->dev, pasid, buf + 4 * PAGE,
				 8 * PAGE));
	ASSERT_EQ(0, unbind(self->e.cfd, bond));
	munmap(buf, 16 * PAGE);
}

struct thr {
	int cfd;
	uint32_t dev, bond, pasid;
	int rc;
};

static void *bind_thread(void *arg)
{
	struct thr *t = arg;

	t->rc = bind(t->cfd, t->dev, &t->bond, &t->pasid);
	return NULL;
}

/* 3. The bond belongs to the mm: it outlives the thread that made it. */
TEST_F(sva, bond_outlives_binding_thread)
{
	struct thr t = { .cfd = self->e.cfd, .dev = self->dev };
	static char data[64] = "still reachable";
	char out[64];
	pthread_t th;

	ASSERT_EQ(0, pthread_create(&th, NULL, bind_thread, &t));
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_EQ(0, t.rc);
	/* Thread A is gone; this thread still reaches the mm. */
	ASSERT_EQ(0, dev_access(self->e.cfd, self->dev, t.pasid, data, out,
				sizeof(data), 0));
	ASSERT_STREQ(data, out);
	ASSERT_EQ(0, unbind(self->e.cfd, t.bond));
}

/* Runs fn in a child process; returns what the child wrote to the pipe. */
static int in_child(int (*fn)(int wfd, void *arg), void *arg, uint32_t *vals,
		    int n)
{
	int p[2], st;
	pid_t pid;

	if (pipe(p))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (!pid) {
		close(p[0]);
		_exit(fn(p[1], arg) ? 1 : 0);
	}
	close(p[1]);
	if (read(p[0], vals, n * sizeof(*vals)) != (ssize_t)(n * sizeof(*vals)))
		return -1;
	close(p[0]);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
		return -1;
	return 0;
}

/* A child that opens its own files, binds and exits without unbinding. */
static int child_bind_and_exit(int wfd, void *arg)
{
	struct sva_env e;
	uint32_t dev, bond, pasid;

	if (env_open(&e) || dev_add(&e, &dev) || bind(e.cfd, dev, &bond, &pasid))
		return -1;
	return write(wfd, &pasid, sizeof(pasid)) != sizeof(pasid);
}

/* 4. A child binds and exits: bond, domain and PASID go, nothing leaks. */
TEST_F(sva, child_exit_tears_down)
{
	struct riommu_mock_stats before, after;
	uint32_t p1, p2;
	int tries;

	ASSERT_EQ(0, stats(self->e.cfd, &before));
	ASSERT_EQ(0, in_child(child_bind_and_exit, NULL, &p1, 1));
	ASSERT_EQ(0, stats(self->e.cfd, &after));
	ASSERT_EQ(before.out_devices, after.out_devices);
	ASSERT_EQ(before.out_sva_domains, after.out_sva_domains);
	ASSERT_EQ(before.out_paging_domains, after.out_paging_domains);
	/*
	 * PASIDs are allocated lowest first; a later fresh process getting
	 * the same PASID shows the first one was released.  The release
	 * happens when the mm_struct is freed, which a CPU that last ran the
	 * child may delay (lazy TLB keeps the mm as its active_mm), so retry
	 * for a while.
	 */
	for (tries = 0; tries < 100; tries++) {
		ASSERT_EQ(0, in_child(child_bind_and_exit, NULL, &p2, 1));
		if (p2 == p1)
			break;
		usleep(20 * 1000);
	}
	ASSERT_EQ(p1, p2);
}

struct shared_bind {
	int cfd;
	uint32_t dev;
};

/* A child binds through the parent's control file and exits. */
static int child_bind_shared(int wfd, void *arg)
{
	struct shared_bind *s = arg;
	uint32_t v[3];
	static char data[16] = "child data";

	if (bind(s->cfd, s->dev, &v[0], &v[1]))
		return -1;
	v[2] = (uint32_t)(uintptr_t)data;
	return write(wfd, v, sizeof(v)) != sizeof(v);
}

/* When the mm goes first, device accesses fail cleanly (ESRCH). */
TEST_F(sva, access_after_mm_exit)
{
	struct shared_bind s = { .cfd = self->e.cfd, .dev = self->dev };
	struct riommu_mock_stats st;
	uint32_t v[3];
	char out[16];

	ASSERT_EQ(0, in_child(child_bind_shared, &s, v, 3));
	/* The bond lives in our (shared) file, its mm is gone. */
	ASSERT_EQ(-1, dev_access(self->e.cfd, self->dev, v[1],
				 (void *)(uintptr_t)v[2], out, sizeof(out), 0));
	ASSERT_EQ(ESRCH, errno);
	ASSERT_EQ(0, unbind(self->e.cfd, v[0]));
	ASSERT_EQ(0, stats(self->e.cfd, &st));
	ASSERT_EQ(0, st.out_sva_domains);
}

/* 5. Two devices bound to one mm share its PASID; unbinds are independent. */
TEST_F(sva, two_devices_one_pasid)
{
	static char data[32] = "shared";
	uint32_t dev2, b1, b2, p1, p2;
	char out[32];

	ASSERT_EQ(0, dev_add(&self->e, &dev2));
	ASSERT_EQ(0, bind(self->e.cfd, self->dev, &b1, &p1));
	ASSERT_EQ(0, bind(self->e.cfd, dev2, &b2, &p2));
	ASSERT_EQ(p1, p2);
	ASSERT_EQ(0, unbind(self->e.cfd, b1));
	ASSERT_EQ(-1, dev_access(self->e.cfd, self->dev, p1, data, out, 8, 0));
	ASSERT_EQ(ENOENT, errno);
	ASSERT_EQ(0, dev_access(self->e.cfd, dev2, p2, data, out, sizeof(out), 0));
	ASSERT_STREQ(data, out);
	ASSERT_EQ(0, unbind(self->e.cfd, b2));
}

/* 6. Unbind racing with munmap, device accesses and exits: no crash. */
struct race {
	int cfd;
	uint32_t dev;
	volatile int stop;
	char *area;
};

static void *race_bind(void *arg)
{
	struct race *r = arg;
	uint32_t bond, pasid;

	while (!r->stop)
		if (!bind(r->cfd, r->dev, &bond, &pasid))
			unbind(r->cfd, bond);
	return NULL;
}

static void *race_map(void *arg)
{
	struct race *r = arg;

	while (!r->stop) {
		char *p = mmap(r->area, 4 * PAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

		if (p != MAP_FAILED) {
			memset(p, 2, 4 * PAGE);
			munmap(p, 4 * PAGE);
		}
	}
	return NULL;
}

static void *race_access(void *arg)
{
	struct race *r = arg;
	char buf[64];
	uint32_t pasid;
	struct riommu_mock_sva_bind b = { .size = sizeof(b), .dev_id = r->dev };

	/* Learn the mm's PASID once; accesses may fail, never crash. */
	if (ioctl(r->cfd, RIOMMU_MOCK_SVA_BIND, &b))
		return NULL;
	pasid = b.out_pasid;
	while (!r->stop)
		dev_access(r->cfd, r->dev, pasid, r->area + 64, buf, sizeof(buf),
			   0);
	ioctl(r->cfd, RIOMMU_MOCK_SVA_UNBIND, &b);
	return NULL;
}

static int child_race(int wfd, void *arg)
{
	struct sva_env e;
	struct race r = { 0 };
	pthread_t th[3];
	uint32_t ok = 1;
	int i;

	if (env_open(&e) || dev_add(&e, &r.dev))
		return -1;
	r.cfd = e.cfd;
	r.area = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	pthread_create(&th[0], NULL, race_bind, &r);
	pthread_create(&th[1], NULL, race_map, &r);
	pthread_create(&th[2], NULL, race_access, &r);
	usleep(300 * 1000);
	if (write(wfd, &ok, sizeof(ok)) != sizeof(ok))
		return -1;
	/* Exit with everything running: the mm goes while bonds exist. */
	for (i = 0; i < 3; i++)
		(void)th[i];
	_exit(0);
}

TEST_F(sva, unbind_munmap_exit_race)
{
	struct race r = { .cfd = self->e.cfd, .dev = self->dev };
	struct riommu_mock_stats before, after;
	pthread_t th[3];
	uint32_t ok;
	int i;

	ASSERT_EQ(0, stats(self->e.cfd, &before));
	r.area = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, r.area);
	ASSERT_EQ(0, pthread_create(&th[0], NULL, race_bind, &r));
	ASSERT_EQ(0, pthread_create(&th[1], NULL, race_map, &r));
	ASSERT_EQ(0, pthread_create(&th[2], NULL, race_access, &r));
	/* Meanwhile, processes that exit in the middle of the same dance. */
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, in_child(child_race, NULL, &ok, 1));
	r.stop = 1;
	for (i = 0; i < 3; i++)
		ASSERT_EQ(0, pthread_join(th[i], NULL));
	ASSERT_EQ(0, stats(self->e.cfd, &after));
	ASSERT_EQ(before.out_sva_domains, after.out_sva_domains);
	ASSERT_EQ(before.out_devices, after.out_devices);
}

/* Non-PASID devices cannot bind. */
TEST_F(sva, bind_needs_pasid_device)
{
	struct riommu_mock_dev_add da = {
		.size = sizeof(da),
		.iommufd = self->e.fd,
		.pt_id = self->e.ioas,
	};
	uint32_t bond, pasid;

	ASSERT_EQ(0, ioctl(self->e.cfd, RIOMMU_MOCK_DEV_ADD, &da));
	ASSERT_EQ(-1, bind(self->e.cfd, da.out_dev_id, &bond, &pasid));
}

TEST_HARNESS_MAIN
