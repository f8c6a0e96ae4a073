// SPDX-License-Identifier: GPL-2.0
/*
 * riommu_pgfree: page-table pages that a map unlinks are released only
 * after the IOTLB sync that follows it (issue #15, the gather's free list).
 *
 * On riommu_mock's huge-page domain (MOCK_IOMMUPT_HUGE: PAGE_SIZE and
 * 1 MiB leaves, as the C mock's) a 4 KiB map at a 2 MiB-aligned IOVA makes
 * the walker allocate a leaf table; after the unmap the table is empty,
 * and a 2 MiB map of a transparent huge page at the same IOVA replaces it
 * by the first of two 1 MiB leaves.  The API hands the unlinked table to the map's gather, the glue
 * runs the domain's iotlb_sync and only then releases it (through RCU):
 * RIOMMU_MOCK_STATS counts it in out_tables_released, and out_table_bytes
 * drops by the page.  (Before the gather, the table stayed allocated until
 * the domain was freed, linked through its own first entry while hardware
 * could still walk it, and out_table_bytes did not drop.)
 */
#include <pthread.h>
#include "riommu_utils.h"

static int mock_stats(int ctl, struct riommu_mock_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->size = sizeof(*st);
	return ioctl(ctl, RIOMMU_MOCK_STATS, st);
}

/* Whether @p (2 MiB aligned) is backed by one transparent huge page. */
static int is_thp(const void *p)
{
	char line[256];
	unsigned long start, end, anon_huge = 0;
	int in = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &start, &end) == 2 && strchr(line, ' ') &&
		    line[strspn(line, "0123456789abcdef")] == '-') {
			in = start <= (uintptr_t)p && (uintptr_t)p < end;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %lu kB", &anon_huge) == 1)
			break;
	}
	fclose(f);
	return anon_huge >= 2048;
}

FIXTURE(pgfree)
{
	int fd;
	int ctl;
	uint32_t ioas;
	uint32_t dev;
	uint32_t idev;
	uint32_t hwpt;
	uint8_t *buf;
};

FIXTURE_SETUP(pgfree)
{
	struct iommu_hwpt_selftest data = { .pagetable_type = MOCK_IOMMUPT_HUGE };
	struct riommu_mock_dev_add add = { .size = sizeof(add) };
	struct riommu_mock_dev_attach rep = { .size = sizeof(rep) };

	self->fd = iommufd_open();
	ASSERT_LE(0, self->fd);
	self->ctl = open(RIOMMU_MOCK_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->ctl);
	ASSERT_EQ(0, ioas_alloc(self->fd, &self->ioas));
	add.iommufd = self->fd;
	add.pt_id = self->ioas;
	ASSERT_EQ(0, ioctl(self->ctl, RIOMMU_MOCK_DEV_ADD, &add));
	self->dev = add.out_dev_id;
	self->idev = add.out_idev_id;
	ASSERT_EQ(0, hwpt_alloc_raw(self->fd, self->idev, self->ioas, 0,
				    IOMMU_HWPT_DATA_SELFTEST, &data, sizeof(data),
				    &self->hwpt));
	rep.dev_id = self->dev;
	rep.pt_id = self->hwpt;
	ASSERT_EQ(0, ioctl(self->ctl, RIOMMU_MOCK_DEV_REPLACE, &rep));
	self->buf = alloc_buf_aligned(SZ_2M, SZ_2M);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(pgfree)
{
	if (self->buf)
		munmap(self->buf, SZ_2M);
	close(self->ctl);
	close(self->fd);
}

/* The table a 1 MiB leaf replaces is released after the map's sync. */
TEST_F(pgfree, table_released_after_sync)
{
	const uint64_t iova = 16 * SZ_2M;
	struct riommu_mock_stats before, mid, after;

	if (!is_thp(self->buf))
		SKIP(return, "no transparent huge page for the 2 MiB map");

	/*
	 * A 4 KiB leaf (two 2 KiB entries): a leaf table under the first
	 * 1 MiB entry of the 2 MiB range.
	 */
	ASSERT_EQ(0, ioas_map_fixed(self->fd, self->ioas, self->buf, PAGE_4K, iova));
	ASSERT_EQ(0, mock_stats(self->ctl, &before));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas, iova, PAGE_4K));
	ASSERT_EQ(0, mock_stats(self->ctl, &mid));
	/* An unmap leaves the (now empty) table in place. */
	ASSERT_EQ(before.out_tables_released, mid.out_tables_released);
	ASSERT_EQ(before.out_table_bytes, mid.out_table_bytes);

	/* The first 1 MiB leaf of the 2 MiB map replaces the empty table. */
	ASSERT_EQ(0, ioas_map_fixed(self->fd, self->ioas, self->buf, SZ_2M, iova));
	ASSERT_EQ(0, mock_stats(self->ctl, &after));
	EXPECT_EQ(mid.out_tables_released + 1, after.out_tables_released);
	EXPECT_EQ(mid.out_table_bytes - PAGE_4K, after.out_table_bytes);
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas, iova, SZ_2M));
}

struct walker {
	int fd;
	int ctl;
	uint32_t hwpt;
	uint64_t iova;
	const void *buf;
	volatile int stop;
	unsigned long rounds;
	int err;
};

/*
 * Walks the domain's table while another thread replaces tables by leaves:
 * RIOMMU_MOCK_CHECK_MAP translates through iova_to_phys, which takes no
 * table lock (rust/riommu/pgtable.rs), so a released table must outlive
 * such a walk (the release goes through RCU).
 */
static void *walk_loop(void *arg)
{
	struct walker *w = arg;

	while (!w->stop) {
		struct riommu_mock_check_map cmd = {
			.size = sizeof(cmd),
			.iommufd = w->fd,
			.hwpt_id = w->hwpt,
			.iova = w->iova,
			.length = PAGE_4K,
			.uptr = (uintptr_t)w->buf,
		};

		/* EINVAL when the mapping differs: the mapper is between maps. */
		if (ioctl(w->ctl, RIOMMU_MOCK_CHECK_MAP, &cmd) && errno != EINVAL) {
			w->err = errno;
			break;
		}
		w->rounds++;
	}
	return NULL;
}

/* Maps that free tables race lock-free walks of the same table. */
TEST_F(pgfree, release_races_walks)
{
	const uint64_t iova = 32 * SZ_2M;
	struct walker w = { .fd = self->fd, .ctl = self->ctl, .hwpt = self->hwpt,
			    .iova = iova, .buf = self->buf };
	struct riommu_mock_stats before, after;
	unsigned long maps = 0;
	pthread_t t;
	time_t end;

	if (!is_thp(self->buf))
		SKIP(return, "no transparent huge page for the 2 MiB map");
	/* The tables above the 2 MiB range, which unmaps keep. */
	ASSERT_EQ(0, ioas_map_fixed(self->fd, self->ioas, self->buf, SZ_2M, iova));
	ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas, iova, SZ_2M));
	ASSERT_EQ(0, mock_stats(self->ctl, &before));
	ASSERT_EQ(0, pthread_create(&t, NULL, walk_loop, &w));
	end = time(NULL) + 3;
	while (time(NULL) < end && maps < 4000) {
		/* 4 KiB (allocates a table), then 2 MiB over it (frees it). */
		ASSERT_EQ(0, ioas_map_fixed(self->fd, self->ioas, self->buf, PAGE_4K, iova));
		ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas, iova, PAGE_4K));
		ASSERT_EQ(0, ioas_map_fixed(self->fd, self->ioas, self->buf, SZ_2M, iova));
		ASSERT_EQ(0, ioas_unmap(self->fd, self->ioas, iova, SZ_2M));
		maps++;
	}
	w.stop = 1;
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, w.err);
	ASSERT_EQ(0, mock_stats(self->ctl, &after));
	ASSERT_LT(0, maps);
	ASSERT_LT(0, w.rounds);
	/* Every 2 MiB map's first leaf replaced a table, released after its sync. */
	EXPECT_LE(before.out_tables_released + maps, after.out_tables_released);
	EXPECT_EQ(before.out_table_bytes, after.out_table_bytes);
	TH_LOG("%lu table-freeing maps, %lu racing walks, %llu tables released",
	       maps, w.rounds,
	       (unsigned long long)(after.out_tables_released - before.out_tables_released));
}

TEST_HARNESS_MAIN
