// SPDX-License-Identifier: GPL-2.0
/*
 * riommu_smmuv3_bench: iommufd latencies through an Arm SMMUv3 driver, with
 * QEMU's edu device bound to vfio-pci (VFIO cdev, VFIO_DEVICE_BIND_IOMMUFD)
 * and attached to the HWPTs measured, on QEMU virt's emulated SMMUv3
 * (tools/vm.sh --arch arm64: -M virt,iommu=smmuv3, nested stages, edu).
 * The same program runs in boots of the same QEMU configuration, one with
 * riommu_smmuv3.ko (riommu_smmuv3.allow_unsafe_viommu=1, for its vIOMMU),
 * one with the kernel's arm_smmu_v3.ko; both cannot own the one SMMU in a
 * boot.  tools/bench.sh runs both and takes the ratios.
 *
 * Measures (keys as printed by --list):
 *   smmu_map_1m      one IOMMU_IOAS_MAP of 1 MiB (256 physically
 *                    discontiguous 4 KiB pages) at a fixed IOVA, then one
 *                    IOMMU_IOAS_UNMAP of it; the IOAS's only HWPT is a
 *                    paging HWPT (IOMMU_HWPT_ALLOC on it) attached to edu
 *   smmu_map_4k_x256 the same 256 pages with 256 IOAS_MAP calls of 4 KiB
 *                    (consecutive IOVAs), then 256 IOAS_UNMAP calls of 4 KiB;
 *                    one op is all 512 calls
 *   smmu_map_2m_x8   8 IOAS_MAP calls of 2 MiB, each backed by one
 *                    physically contiguous, 2 MiB-aligned hugetlb page
 *                    (tools/vm.sh reserves them: --hugepages), at 2 MiB-
 *                    aligned IOVAs, so that a driver can map each with one
 *                    block entry; then 8 IOAS_UNMAP calls; one op is all 16.
 *                    The pages' contiguity is checked in /proc/self/pagemap;
 *                    if they are not contiguous (or there are none) the
 *                    measure is "n/a", never a number
 *   smmu_replace     VFIO_DEVICE_ATTACH_IOMMUFD_PT of edu, attached, to the
 *                    other of two paging HWPTs of one IOAS (a replace)
 *   smmu_nested_alloc  IOMMU_HWPT_ALLOC of a nested HWPT (a user STE:
 *                    stage 1 translation, a CD table in the IOAS) on a
 *                    vIOMMU (IOMMU_VIOMMU_TYPE_ARM_SMMUV3 over a NEST_PARENT
 *                    HWPT, with a vDEVICE for edu), then IOMMU_DESTROY of it
 *   smmu_viommu_inval  one IOMMU_HWPT_INVALIDATE on the vIOMMU with one
 *                    IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3 entry, a
 *                    CMDQ_TLBI_NH_VA of one leaf page of the guest ASID,
 *                    edu attached to a nested HWPT of that ASID
 * The last two need a vIOMMU: the kernel's driver refuses one on QEMU (no
 * CANWBS, no S2FWB), and they are "n/a" with the failing step and errno.
 *
 * Before and after the measures, edu DMAs through the map HWPT (and
 * through a replace HWPT, and through the nested HWPT when there is one)
 * and the data must land where the IOVAs say: the domains timed are live.
 *
 * Timing as riommu_vtd_bench (tools/bench/edu_bench.h): round 0 warms up
 * and sizes each measure's batch to at least --batch-ms; each of --rounds
 * rounds runs --subs batches per measure and keeps the best; the result is
 * the median over the rounds with the spread (min-max).
 *
 *   riommu_smmuv3_bench [--rounds N] [--subs N] [--batch-ms MS]
 *                       [--only KEY,...] [--expect DRIVER] [--list]
 *                       [--profile above|all|KEY,...] [--profile-ms MS]
 *   riommu_smmuv3_bench --smoke     setup, the DMA checks and each measure
 *                                   once, as TAP, then once more in a
 *                                   marked window ("QCOUNT key 1", as
 *                                   --count 1)
 *   riommu_smmuv3_bench --count N   for QEMU's trace (tools/bench/qtrace.py):
 *                                   per measure a warm-up op, then a marked
 *                                   window of N ops (qcount_begin/end); no
 *                                   timing
 * --expect riommu_smmuv3|arm-smmu-v3: fail unless that driver owns the SMMU.
 * riommu_smmuv3 loaded with allow_unsafe_viommu=1 (on the kernel command
 * line) must give its vIOMMU: the setup fails if it does not.
 * --profile: after the table, a kernel profile of each measure profiled
 * (all, the given keys, or "above", which is "all" here: a boot runs one
 * driver, so the program has no ratio Rust/C), --profile-ms (1500) of
 * perf_event_open sampling per measure, between "PROFILE begin KEY
 * DRIVER" and "PROFILE end KEY DRIVER" lines (DRIVER riommu_smmuv3 or
 * arm-smmu-v3; tools/bench/profile.h); then the DMA checks once more.
 * Not in --smoke nor --count.
 * Options may also come from the kernel command line, as
 * riommu_smmuv3_bench=rounds:7,only:smmu_map_1m+smmu_replace ('+' for ',').
 * A binary built with -DBENCH_DEFAULT_SMOKE defaults to --smoke.
 *
 * Output: INFO lines (driver, kernel, module parameters, IDRs), a human
 * table, then between "RESULTS begin" and "RESULTS end":
 *   RESULT key unit median min max | label | note
 *   VALUES key v1 v2 ...      (after a RESULT: each round's value, ns)
 *   NA key ERRNO | label | why
 * In --count mode: "QCOUNT key N" before each window, NA lines for the
 * measures that cannot run, and "COUNTED n" (windows) at the end.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "edu_bench.h"

#define SZ_2M		0x200000UL
#define HUGE_PAGES	8
#define HUGE_LEN	(HUGE_PAGES * SZ_2M)		/* 16 MiB */
#define IOVA_HUGE	0x80000000ULL			/* 2 GiB, 2 MiB-aligned */
#define PFNS_PER_2M	(SZ_2M / PAGE_4K)
/* pagemap entry: bit 63 present, bits 0-54 the PFN (Documentation/admin-guide/mm/pagemap.rst) */
#define PM_PRESENT	(1ULL << 63)
#define PM_PFN_MASK	((1ULL << 55) - 1)

/* SMMUv3 encodings (Arm IHI 0070), as riommu_smmuv3_nested.c builds them */
#define IDR0_S1P		(1u << 1)
#define IDR0_S2P		(1u << 0)
#define IDR3_RIL		(1u << 10)
#define IDR5_OAS(idr5)		((idr5) & 7)
#define STE0_V			(1ull << 0)
#define STE0_CFG_S1_TRANS	(5ull << 1)
#define STE1_S1CIR_WBRA		(1ull << 2)
#define STE1_S1COR_WBRA		(1ull << 4)
#define STE1_S1CSH_ISH		(3ull << 6)
#define CD0_T0SZ(bits)		(64ull - (bits))
#define CD0_IR0_WBRA		(1ull << 8)
#define CD0_OR0_WBRA		(1ull << 10)
#define CD0_SH0_ISH		(3ull << 12)
#define CD0_EPD1		(1ull << 30)
#define CD0_V			(1ull << 31)
#define CD0_IPS(f)		((uint64_t)(f) << 32)
#define CD0_AA64		(1ull << 41)
#define CD0_R			(1ull << 45)
#define CD0_A			(1ull << 46)
#define CD0_ASET		(1ull << 47)
#define CD0_ASID(a)		((uint64_t)(a) << 48)
#define CD3_MAIR		0xf404ff44ull	/* NC, WBRWA, Device, INC-OWB */
#define PTE_TABLE		3ull
#define PTE_PAGE		3ull
#define PTE_ATTR_WB		(1ull << 2)	/* MAIR index 1 */
#define PTE_AP_RW_EL0		(1ull << 6)
#define PTE_SH_ISH		(3ull << 8)
#define PTE_AF			(1ull << 10)
#define PTE_NG			(1ull << 11)
#define CMD_OP_TLBI_NH_VA	0x12ull
#define CMD_TLBI_ASID(a)	((uint64_t)(a) << 48)
#define CMD_TLBI_LEAF		1ull
#define S1_VA_BITS		48

/* The nesting IOAS: IPAs, and the VAs the guest's stage 1 maps */
#define IPA_BASE	0x80000000ull
enum { PG_CD, PG_L0, PG_L1, PG_L2, PG_L3, PG_SRC, PG_A, NR_NEST_PAGES };
#define IPA(pg)		(IPA_BASE + (uint64_t)(pg) * PAGE_4K)
#define VA_SRC		0x123456780000ull
#define VA_DST		(VA_SRC + PAGE_4K)
#define GUEST_ASID	0x77
#define VSID		0x42

static const char *const driver_names[] = { "riommu_smmuv3", "arm-smmu-v3" };
enum { DRV_RIOMMU, DRV_C };

static const char *expect;		/* --expect */

/* ------------------------------------------------------------------------ */
/* State (edu, the map and replace HWPTs: edu_bench.h)                      */

static int driver = -1;
static uint32_t idr[6];
static char *hbuf;			/* HUGE_PAGES 2 MiB pages, or NULL */

static uint32_t nest_ioas, nest_parent, viommu, vdev, nested;
static uint8_t *nest_mem;		/* NR_NEST_PAGES pages at IPA_BASE */
static struct iommu_hwpt_arm_smmuv3 ste;
static char nest_na[192];		/* why there is no vIOMMU ("": there is) */
static int nest_errno;
static char huge_na[192];		/* why smmu_map_2m_x8 is n/a */
static int huge_errno;
static char nest_note[192];		/* why the nested HWPT is not attached */
static uint32_t nested_pt;		/* nested if edu is attached to it, else 0 */

/* The driver bound to the SMMU (DRV_RIOMMU, DRV_C), or -1 */
static int smmu_driver(void)
{
	char path[PATH_MAX];
	unsigned int i;

	for (i = 0; i < ARRAY_LEN(driver_names); i++) {
		DIR *d;
		struct dirent *e;

		snprintf(path, sizeof(path), "/sys/bus/platform/drivers/%s", driver_names[i]);
		d = opendir(path);
		if (!d)
			continue;
		while ((e = readdir(d)))
			if (strstr(e->d_name, "smmu")) {
				closedir(d);
				return i;
			}
		closedir(d);
	}
	return -1;
}

static const char *drv_name(int d)
{
	return d >= 0 ? driver_names[d] : "none";
}

static int destroy(uint32_t id)
{
	struct iommu_destroy d = { .size = sizeof(d), .id = id };

	return ioctl(edu.iommufd, IOMMU_DESTROY, &d);
}

/* ------------------------------------------------------------------------ */
/* Measures                                                                 */

static int op_map_2m_x8(const struct measure *m, long iters)
{
	while (iters--)
		if (map_unmap_each(hbuf, IOVA_HUGE, SZ_2M, HUGE_PAGES))
			return -1;
	return 0;
}

static int op_nested_alloc(const struct measure *m, long iters)
{
	uint32_t id;

	while (iters--) {
		if (hwpt_alloc(edu.iommufd, edu.devid, viommu, 0, IOMMU_HWPT_DATA_ARM_SMMUV3,
			       &ste, sizeof(ste), &id) ||
		    destroy(id))
			return -1;
	}
	return 0;
}

static int op_viommu_inval(const struct measure *m, long iters)
{
	struct iommu_viommu_arm_smmuv3_invalidate cmd = {
		.cmd = { CMD_OP_TLBI_NH_VA | CMD_TLBI_ASID(GUEST_ASID), VA_DST | CMD_TLBI_LEAF },
	};

	while (iters--) {
		struct iommu_hwpt_invalidate inv = {
			.size = sizeof(inv),
			.hwpt_id = viommu,
			.data_uptr = (uintptr_t)&cmd,
			.data_type = IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
			.entry_len = sizeof(cmd),
			.entry_num = 1,
		};

		if (ioctl(edu.iommufd, IOMMU_HWPT_INVALIDATE, &inv))
			return -1;
		if (inv.entry_num != 1) {
			errno = EIO;
			return -1;
		}
	}
	return 0;
}

static struct measure measures[] = {
	{ "smmu_map_1m", "IOAS_MAP + UNMAP, 1 MiB (4K x 256) in one call each",
	  op_map_1m, &map_hwpt },
	{ "smmu_map_4k_x256", "IOAS_MAP + UNMAP, 4K x 256 in 256 calls each",
	  op_map_4k_x256, &map_hwpt },
	{ "smmu_map_2m_x8", "IOAS_MAP + UNMAP, 2M x 8 (contiguous) in 8 calls each",
	  op_map_2m_x8, &map_hwpt, huge_na, &huge_errno },
	{ "smmu_replace", "replace edu between two paging HWPTs", op_replace,
	  &rep_hwpt[0] },
	{ "smmu_nested_alloc", "nested HWPT alloc + destroy on a vIOMMU",
	  op_nested_alloc, NULL, nest_na, &nest_errno },
	{ "smmu_viommu_inval", "vIOMMU invalidate, 1 TLBI_NH_VA (per call)",
	  op_viommu_inval, &nested_pt, nest_na, &nest_errno, nest_note },
};

/* ------------------------------------------------------------------------ */
/* Setup                                                                    */

/* The map HWPT, mapped for a moment (1 MiB, and the huge pages): DMA through it */
static int dma_check_map_hwpt(const char *when)
{
	char w[128];
	int ret = dma_check_map_1m(when);

	if (ret || !hbuf || huge_na[0])
		return ret;
	/* A 2 MiB page to the middle of another one: through block entries */
	if (ioas_map(edu.iommufd, map_ioas, hbuf, IOVA_HUGE, HUGE_LEN)) {
		fail("edu DMA %s: map the huge pages: %s", when, strerror(errno));
		return -1;
	}
	snprintf(w, sizeof(w), "%s (2 MiB pages)", when);
	ret = dma_copy_check(w, hbuf + SZ_2M, IOVA_HUGE + SZ_2M,
			     hbuf + 5 * SZ_2M + 3 * PAGE_4K, IOVA_HUGE + 5 * SZ_2M + 3 * PAGE_4K);
	if (ioas_unmap(edu.iommufd, map_ioas, IOVA_HUGE, HUGE_LEN)) {
		fail("edu DMA %s: unmap the huge pages: %s", when, strerror(errno));
		return -1;
	}
	return ret;
}

/* The PFN of the page at @va, or 0 */
static uint64_t pfn_of(int pm, const void *va)
{
	uint64_t e;

	if (pread(pm, &e, sizeof(e), ((uintptr_t)va / PAGE_4K) * sizeof(e)) != sizeof(e) ||
	    !(e & PM_PRESENT))
		return 0;
	return e & PM_PFN_MASK;
}

/*
 * HUGE_PAGES hugetlb pages of 2 MiB (tools/vm.sh reserves them; the guest
 * kernel's default huge page size is 2 MiB with 4 KiB pages), each checked
 * physically contiguous and 2 MiB-aligned in the pagemap.  Sets huge_na
 * when that cannot be had.
 */
static void setup_huge(void)
{
	unsigned int i;
	int pm;

	hbuf = mmap(NULL, HUGE_LEN, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_POPULATE, -1, 0);
	if (hbuf == MAP_FAILED) {
		huge_errno = errno;
		snprintf(huge_na, sizeof(huge_na), "mmap of %u hugetlb 2 MiB pages: %s (%s)",
			 HUGE_PAGES, errno_name(errno), strerror(errno));
		hbuf = NULL;
		return;
	}
	pm = open("/proc/self/pagemap", O_RDONLY);
	for (i = 0; i < HUGE_PAGES; i++) {
		char *p = hbuf + i * SZ_2M;
		uint64_t pfn = pm < 0 ? 0 : pfn_of(pm, p);

		p[0] = 1;
		if (!pfn || pfn % PFNS_PER_2M || phys_runs(p, PFNS_PER_2M, PAGE_4K) != 1) {
			huge_errno = EINVAL;
			snprintf(huge_na, sizeof(huge_na),
				 "2 MiB page %u not physically contiguous and 2 MiB-aligned "
				 "(pagemap PFN %#" PRIx64 ")", i, pfn);
			break;
		}
	}
	if (pm >= 0)
		close(pm);
	if (!huge_na[0])
		printf("# huge buffer: %u pages of 2 MiB, each physically contiguous and aligned\n",
		       HUGE_PAGES);
	else
		printf("# smmu_map_2m_x8 n/a: %s\n", huge_na);
}

static void nesting_na(const char *step, int e)
{
	nest_errno = e;
	snprintf(nest_na, sizeof(nest_na), "%s: %s (%s)", step, errno_name(e), strerror(e));
	printf("# vIOMMU unavailable: %s\n", nest_na);
}

static uint8_t *nest_page(int pg)
{
	return nest_mem + pg * PAGE_4K;
}

/* The stage 1 of the guest: a CD, 4 levels of tables, VA_SRC and VA_DST */
static void build_s1(void)
{
	uint64_t *cd = (uint64_t *)nest_page(PG_CD);
	uint64_t *l0 = (uint64_t *)nest_page(PG_L0);
	uint64_t *l1 = (uint64_t *)nest_page(PG_L1);
	uint64_t *l2 = (uint64_t *)nest_page(PG_L2);
	uint64_t *l3 = (uint64_t *)nest_page(PG_L3);
	const uint64_t leaf = PTE_PAGE | PTE_ATTR_WB | PTE_AP_RW_EL0 | PTE_SH_ISH | PTE_AF |
			      PTE_NG;

	l0[(VA_SRC >> 39) & 511] = IPA(PG_L1) | PTE_TABLE;
	l1[(VA_SRC >> 30) & 511] = IPA(PG_L2) | PTE_TABLE;
	l2[(VA_SRC >> 21) & 511] = IPA(PG_L3) | PTE_TABLE;
	l3[(VA_SRC >> 12) & 511] = IPA(PG_SRC) | leaf;
	l3[(VA_DST >> 12) & 511] = IPA(PG_A) | leaf;
	cd[0] = CD0_T0SZ(S1_VA_BITS) | CD0_IR0_WBRA | CD0_OR0_WBRA | CD0_SH0_ISH | CD0_EPD1 |
		CD0_V | CD0_IPS(IDR5_OAS(idr[5])) | CD0_AA64 | CD0_R | CD0_A | CD0_ASET |
		CD0_ASID(GUEST_ASID);
	cd[1] = IPA(PG_L0);
	cd[3] = CD3_MAIR;
	__sync_synchronize();
	ste.ste[0] = STE0_V | STE0_CFG_S1_TRANS | IPA(PG_CD);
	ste.ste[1] = STE1_S1CIR_WBRA | STE1_S1COR_WBRA | STE1_S1CSH_ISH;
}

/*
 * The vSMMU of a VMM: an IOAS (the IPA space) with the guest's pages, a
 * NEST_PARENT HWPT on it, a vIOMMU, a vDEVICE, a nested HWPT from the
 * guest's STE, attached to edu, and edu DMA through both stages.
 */
static void setup_nesting(void)
{
	struct iommu_viommu_alloc va = {
		.size = sizeof(va),
		.type = IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
	};
	struct iommu_vdevice_alloc vd = { .size = sizeof(vd), .virt_id = VSID };
	int pg;

	if ((idr[0] & (IDR0_S1P | IDR0_S2P)) != (IDR0_S1P | IDR0_S2P)) {
		nesting_na("the SMMU does not nest (IDR0.S1P/S2P)", EOPNOTSUPP);
		return;
	}
	nest_mem = mmap(NULL, NR_NEST_PAGES * PAGE_4K, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (nest_mem == MAP_FAILED || ioas_alloc(edu.iommufd, &nest_ioas)) {
		fail("nesting IOAS: %s", strerror(errno));
		return;
	}
	memset(nest_mem, 0, NR_NEST_PAGES * PAGE_4K);
	for (pg = 0; pg < NR_NEST_PAGES; pg++)
		if (ioas_map(edu.iommufd, nest_ioas, nest_page(pg), IPA(pg), PAGE_4K)) {
			fail("nesting IOAS map: %s", strerror(errno));
			return;
		}
	build_s1();
	if (hwpt_alloc(edu.iommufd, edu.devid, nest_ioas, IOMMU_HWPT_ALLOC_NEST_PARENT,
		       IOMMU_HWPT_DATA_NONE, NULL, 0, &nest_parent)) {
		nesting_na("IOMMU_HWPT_ALLOC (NEST_PARENT)", errno);
		return;
	}
	va.dev_id = edu.devid;
	va.hwpt_id = nest_parent;
	if (ioctl(edu.iommufd, IOMMU_VIOMMU_ALLOC, &va)) {
		nesting_na("IOMMU_VIOMMU_ALLOC", errno);
		return;
	}
	viommu = va.out_viommu_id;
	vd.dev_id = edu.devid;
	vd.viommu_id = viommu;
	if (ioctl(edu.iommufd, IOMMU_VDEVICE_ALLOC, &vd)) {
		nesting_na("IOMMU_VDEVICE_ALLOC", errno);
		return;
	}
	vdev = vd.out_vdevice_id;
	if (hwpt_alloc(edu.iommufd, edu.devid, viommu, 0, IOMMU_HWPT_DATA_ARM_SMMUV3, &ste,
		       sizeof(ste), &nested)) {
		nesting_na("IOMMU_HWPT_ALLOC (nested, IOMMU_HWPT_DATA_ARM_SMMUV3)", errno);
		return;
	}
	if (use_pt(nested)) {
		snprintf(nest_note, sizeof(nest_note),
			 "nested HWPT not attached to edu (VFIO_DEVICE_ATTACH_IOMMUFD_PT: %s)",
			 errno_name(errno));
		printf("# %s: invalidations timed unattached\n", nest_note);
		return;
	}
	nested_pt = nested;
	printf("# vIOMMU %u (vDEVICE %u) over NEST_PARENT HWPT %u; nested HWPT %u attached\n",
	       viommu, vdev, nest_parent, nested);
	dma_copy_check("through the nested HWPT (VA -> IPA -> PA)", (char *)nest_page(PG_SRC),
		       VA_SRC, (char *)nest_page(PG_A), VA_DST);
}

/*
 * Whether riommu_smmuv3 was loaded to offer its vIOMMU on this SMMU (the
 * module parameter on the kernel command line, which the guest's init
 * passes to insmod): then the vIOMMU measures must not be n/a.
 */
static bool viommu_wanted(void)
{
	char cmdline[4096];

	return driver == DRV_RIOMMU && !read_file("/proc/cmdline", cmdline, sizeof(cmdline)) &&
	       strstr(cmdline, "riommu_smmuv3.allow_unsafe_viommu=1");
}

static int setup(void)
{
	struct iommu_hw_info_arm_smmuv3 info = {};
	struct iommu_hw_info hw = { .size = sizeof(hw), .data_len = sizeof(info),
				    .data_uptr = (uintptr_t)&info };
	const char *what;

	driver = smmu_driver();
	printf("INFO driver %s\n", drv_name(driver));
	if (driver < 0 || (expect && strcmp(expect, drv_name(driver)))) {
		fail("the SMMUv3 driver expected (%s) is not bound to the SMMU (%s)",
		     expect ? expect : "any", drv_name(driver));
		return -1;
	}
	/* hugetlb first: MAP_POPULATE takes the reserved pages at once */
	setup_huge();
	if (edu_open(&edu, &what) || edu_map_bar(&edu, &what)) {
		fail("%s: %s", what, strerror(errno));
		return -1;
	}
	hw.dev_id = edu.devid;
	if (ioctl(edu.iommufd, IOMMU_GET_HW_INFO, &hw) ||
	    hw.out_data_type != IOMMU_HW_INFO_TYPE_ARM_SMMUV3) {
		fail("IOMMU_GET_HW_INFO: %s (type %u)", strerror(errno), hw.out_data_type);
		return -1;
	}
	memcpy(idr, info.idr, sizeof(idr));
	printf("INFO hw IDR0 %#x IDR1 %#x IDR3 %#x (RIL %d) IDR5 %#x\n", idr[0], idr[1], idr[3],
	       !!(idr[3] & IDR3_RIL), idr[5]);
	printf("# edu at %s\n", edu.bdf);
	if (count_iters && qmark_open(edu.bdf)) {
		fail("open edu's config space for the count markers: %s", strerror(errno));
		return -1;
	}
	/* --smoke marks one op per measure too, when it can (see smoke()) */
	if (opt.smoke && qmark_fd < 0 && qmark_open(edu.bdf))
		printf("# no count markers: %s\n", strerror(errno));
	if (setup_map_replace() || dma_check_map_hwpt("before the measures") ||
	    dma_check_replace())
		return -1;
	setup_nesting();
	if (nest_na[0] && viommu_wanted())
		fail("riommu_smmuv3 was loaded with allow_unsafe_viommu=1 but gives no vIOMMU: %s",
		     nest_na);
	return failures ? -1 : 0;
}

/* After the measures: the map HWPT and the nested HWPT still translate */
static int dma_check_after(void)
{
	if (dma_check_map_hwpt("after the measures"))
		return -1;
	if (!nested_pt)
		return 0;
	if (use_pt(nested_pt)) {
		fail("attach edu to the nested HWPT again: %s", strerror(errno));
		return -1;
	}
	return dma_copy_check("through the nested HWPT after the measures",
			      (char *)nest_page(PG_SRC), VA_SRC, (char *)nest_page(PG_A), VA_DST);
}

/* ------------------------------------------------------------------------ */
/* Main                                                                     */

static const char *const flag_opts[] = { "smoke", "list", "profile", NULL };

static int set_opt(const char *k, const char *v)
{
	if (!strcmp(k, "expect") && v) {
		expect = strdup(v);
		return 0;
	}
	if (!strcmp(k, "count") && v) {
		count_iters = atol(v);
		return count_iters > 0 ? 0 : -1;
	}
	return bench_opt(&opt, k, v) && profile_opt(&popt, k, v);
}

static void usage(void)
{
	printf("usage: riommu_smmuv3_bench [--smoke | --count N] [--rounds N] [--subs N]\n"
	       "                           [--batch-ms MS] [--only KEY,...] [--expect DRIVER]\n"
	       "                           [--profile above|all|KEY,...] [--profile-ms MS]\n"
	       "                           [--list]\n");
}

int main(int argc, char **argv)
{
	int ret = bench_start(argc, argv, "riommu_smmuv3_bench", "riommu_smmuv3", set_opt, flag_opts,
			      usage, measures, ARRAY_LEN(measures), false);
	bool ok;

	if (ret >= 0)
		return ret;
	ok = !setup();
	if (opt.smoke) {
		/* Each op once more in a window of one, when the markers opened */
		smoke(measures, ARRAY_LEN(measures), ok, drv_name(driver), dma_check_after);
		goto out;
	}
	if (!ok)
		goto out;
	if (count_iters) {
		int windows = count_measures(measures, ARRAY_LEN(measures));

		if (windows >= 0 && !dma_check_after())
			printf("COUNTED %d\n", windows);
		goto out;
	}
	if (run_rounds(measures, ARRAY_LEN(measures), 54) || dma_check_after())
		goto out;
	print_table(measures, ARRAY_LEN(measures), drv_name(driver), "SMMUv3", 54, NULL);
	if (popt.which && !profile_load()) {
		/* PROFILE lines name the driver: "PROFILE begin smmu_map_1m riommu_smmuv3" */
		if (!profile_measures(measures, ARRAY_LEN(measures), drv_name(driver)))
			dma_check_after();
	}
out:
	return bench_end();
}
