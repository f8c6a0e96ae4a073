// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end DMA through an Arm SMMUv3 and iommufd, with QEMU's edu device
 * (hw/misc/edu.c) as the DMA engine, in the arm64 test guest
 * (-M virt,iommu=smmuv3 -global arm-smmuv3.stage=nested -device edu).
 *
 * The SMMU is driven by whichever driver is bound to it: riommu_smmuv3.ko
 * (this project's Rust driver) or arm_smmu_v3.ko (Linux's C driver); the
 * test names it in its output.  edu is bound to vfio-pci and used through
 * its VFIO cdev and /dev/iommu:
 *
 *   paging_dma     an IOAS with an automatic paging domain: edu copies a
 *                  page from one IOVA to another; unmapping the target makes
 *                  the next DMA fault (the data does not land; the
 *                  driver's event queue interrupt fires and it logs the
 *                  F_TRANSLATION, with nothing reading its debugfs record
 *                  first; riommu_smmuv3 also counts it in that record).
 *   s2_parent_dma  a NEST_PARENT (stage 2) HWPT attached directly: DMA to
 *                  IOVA = IPA.
 *   nested_dma     the vSMMU flow a VMM uses: S2 NEST_PARENT HWPT on the
 *                  IOAS (the IPA space), a vIOMMU (IOMMU_VIOMMU_TYPE_ARM_SMMUV3),
 *                  a vDEVICE (virtual StreamID), a CD table and stage 1 page
 *                  tables built here in IOAS memory, a nested HWPT from a
 *                  user STE pointing at that CD table.  DMA to a VA lands in
 *                  the page behind the IPA the stage 1 maps it to; after
 *                  changing that PTE and a TLBI_NH_VA through the vIOMMU,
 *                  the next DMA lands at the new IPA; after unmapping that
 *                  IPA from the IOAS the DMA faults (riommu_smmuv3: the
 *                  stage 2 fault is in its debugfs event record).
 *   nested_vevent  with a vEVENTQ, clearing the stage 1 PTE (and a TLBI):
 *                  the stage 1 fault reaches userspace as a vEVENT of the
 *                  virtual StreamID (the vEVENTQ fd polls readable, with no
 *                  debugfs read to drain the event queue).
 *   nested_refusals illegal user STEs (EIO), flags (EOPNOTSUPP), a stage 1
 *                  nested domain attached without a vDEVICE (ENOENT); a
 *                  non-valid user STE is accepted and attached (abort).
 *   viommu_bad_cmd a command the vSMMU must refuse (CFGI_STE) gives EIO with
 *                  entry_num 0.
 *
 * Linux's driver refuses a vIOMMU here (its arm_smmu_get_viommu_size()
 * wants a CANWBS device, an ACPI IORT flag, or an SMMU with S2FWB; QEMU
 * virt has neither), so with it the vIOMMU tests check exactly that
 * refusal (EOPNOTSUPP) and skip the rest.  riommu_smmuv3 refuses it too
 * unless loaded with allow_unsafe_viommu=1 (which taints the kernel):
 * with RIOMMU_SMMUV3_NO_VIOMMU=1 in the environment the test expects the
 * refusal from it as well.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/iommufd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "../riommu/riommu_edu.h"

#define PAGE		0x1000UL

/*
 * riommu_smmuv3 names its debugfs directory after the SMMU's register base;
 * QEMU virt's SMMU is at 0x09050000 (VIRT_SMMU, hw/arm/virt.c).
 */
#define SMMU_DEBUGFS	"/sys/kernel/debug/riommu_smmuv3.9050000/events"

/* SMMUv3 encodings (Arm IHI 0070) the test builds by hand, as a guest does */
#define IDR0_S1P		(1u << 1)
#define IDR0_S2P		(1u << 0)
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
#define CMD_OP_CFGI_STE		0x03ull
#define CMD_OP_TLBI_NH_VA	0x12ull
#define CMD_TLBI_ASID(a)	((uint64_t)(a) << 48)
#define CMD_TLBI_LEAF		1ull

/* The guest's world: IPAs (IOVAs of the IOAS) and a VA stage 1 maps */
#define IPA_BASE	0x80000000ull
enum { PG_CD, PG_L0, PG_L1, PG_L2, PG_L3, PG_SRC, PG_A, PG_B, NR_PAGES };
#define IPA(pg)		(IPA_BASE + (uint64_t)(pg) * PAGE)
#define VA_SRC		0x123456780000ull
#define VA_DST		(VA_SRC + PAGE)
#define GUEST_ASID	0x77
#define VSID		0x42
#define DMA_LEN		256

/* ---------------------------------------------------------------------- */

/* The driver bound to the SMMU: "riommu_smmuv3", "arm-smmu-v3" or NULL */
static const char *smmu_driver(void)
{
	static const char *const names[] = { "riommu_smmuv3", "arm-smmu-v3" };
	char path[PATH_MAX];

	for (unsigned int i = 0; i < 2; i++) {
		DIR *d;
		struct dirent *e;

		snprintf(path, sizeof(path), "/sys/bus/platform/drivers/%s", names[i]);
		d = opendir(path);
		if (!d)
			continue;
		while ((e = readdir(d)))
			if (strstr(e->d_name, "smmu")) {
				closedir(d);
				return names[i];
			}
		closedir(d);
	}
	return NULL;
}

static int is_riommu(void)
{
	const char *d = smmu_driver();

	return d && !strcmp(d, "riommu_smmuv3");
}

/* The counters of riommu_smmuv3's debugfs event file */
struct smmu_events {
	unsigned long events, faults;
	char last[256];
};

static int read_events(struct smmu_events *ev)
{
	char buf[1024], *l;

	memset(ev, 0, sizeof(*ev));
	if (read_file(SMMU_DEBUGFS, buf, sizeof(buf)))
		return -1;
	for (l = strtok(buf, "\n"); l; l = strtok(NULL, "\n")) {
		sscanf(l, "events %lu", &ev->events);
		sscanf(l, "translation_faults %lu", &ev->faults);
		if (!strncmp(l, "last ", 5))
			snprintf(ev->last, sizeof(ev->last), "%s", l + 5);
	}
	return 0;
}

/* /dev/kmsg at its end: what the kernel logs from now on */
static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* Whether the kernel logged @needle (waits up to 2 s for it) */
static int kmsg_has(int fd, const char *needle)
{
	char rec[2048];

	for (int tries = 0; tries < 200; tries++) {
		ssize_t n;

		while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
			if (n <= 0)
				continue;	/* overwritten records */
			rec[n] = 0;
			if (strstr(rec, needle))
				return 1;
		}
		usleep(10000);
	}
	return 0;
}

/*
 * How often the interrupt whose handler is named @name has fired (summed
 * over the CPUs of its /proc/interrupts line), or -1 if there is none.
 */
static long irq_count(const char *name)
{
	char line[1024];
	long total = -1;
	FILE *f = fopen("/proc/interrupts", "r");

	if (!f)
		return -1;
	while (total < 0 && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':'), *end;
		size_t len = strlen(line);

		while (len && (line[len - 1] == '\n' || line[len - 1] == ' '))
			line[--len] = 0;
		if (!p || len < strlen(name) || strcmp(line + len - strlen(name), name) ||
		    line[len - strlen(name) - 1] != ' ')
			continue;
		total = 0;
		for (p++;; p = end) {
			long n = strtol(p, &end, 10);

			if (end == p)
				break;
			total += n;
		}
	}
	fclose(f);
	return total;
}

/* The event queue interrupt of the driver bound to the SMMU */
static const char *evtq_irq_name(void)
{
	return is_riommu() ? "riommu-smmuv3-evtq" : "arm-smmu-v3-evtq";
}

/* ---------------------------------------------------------------------- */

FIXTURE(smmu) {
	int iommufd, devfd;
	uint32_t dev_id, ioas_id;
	volatile uint8_t *bar;
	size_t bar_size;
	uint32_t idr[6];
	char bdf[NAME_MAX + 1];
	const char *driver;
	/* the IOAS memory: NR_PAGES pages at IPA_BASE, one mapping each */
	uint8_t *mem;
};

FIXTURE_SETUP(smmu)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_region_info reg = { .argsz = sizeof(reg) };
	struct iommu_ioas_alloc ioas = { .size = sizeof(ioas) };
	struct iommu_hw_info_arm_smmuv3 info = {};
	struct iommu_hw_info hw = {
		.size = sizeof(hw),
		.data_len = sizeof(info),
		.data_uptr = (uintptr_t)&info,
	};
	char cdev[PATH_MAX];
	uint16_t cmd;

	self->driver = smmu_driver();
	if (!self->driver)
		SKIP(return, "no driver bound to the SMMUv3");
	ASSERT_EQ(0, find_edu(self->bdf, sizeof(self->bdf)));
	ASSERT_EQ(0, bind_vfio(self->bdf));
	ASSERT_EQ(0, vfio_cdev(self->bdf, cdev, sizeof(cdev)));
	self->iommufd = open("/dev/iommu", O_RDWR);
	ASSERT_LE(0, self->iommufd);
	self->devfd = open(cdev, O_RDWR);
	ASSERT_LE(0, self->devfd);
	bind.iommufd = self->iommufd;
	ASSERT_EQ(0, ioctl(self->devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind));
	self->dev_id = bind.out_devid;

	hw.dev_id = self->dev_id;
	ASSERT_EQ(0, ioctl(self->iommufd, IOMMU_GET_HW_INFO, &hw));
	ASSERT_EQ(IOMMU_HW_INFO_TYPE_ARM_SMMUV3, hw.out_data_type);
	memcpy(self->idr, info.idr, sizeof(self->idr));

	/* BAR0, with memory decoding and bus mastering on */
	reg.index = VFIO_PCI_BAR0_REGION_INDEX;
	ASSERT_EQ(0, ioctl(self->devfd, VFIO_DEVICE_GET_REGION_INFO, &reg));
	self->bar_size = reg.size;
	self->bar = mmap(NULL, reg.size, PROT_READ | PROT_WRITE, MAP_SHARED,
			 self->devfd, reg.offset);
	ASSERT_NE(MAP_FAILED, self->bar);
	reg.index = VFIO_PCI_CONFIG_REGION_INDEX;
	ASSERT_EQ(0, ioctl(self->devfd, VFIO_DEVICE_GET_REGION_INFO, &reg));
	ASSERT_EQ(2, pread(self->devfd, &cmd, 2, reg.offset + PCI_COMMAND));
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	ASSERT_EQ(2, pwrite(self->devfd, &cmd, 2, reg.offset + PCI_COMMAND));

	ASSERT_EQ(0, ioctl(self->iommufd, IOMMU_IOAS_ALLOC, &ioas));
	self->ioas_id = ioas.out_ioas_id;
	self->mem = mmap(NULL, NR_PAGES * PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	memset(self->mem, 0, NR_PAGES * PAGE);
	for (int pg = 0; pg < NR_PAGES; pg++) {
		struct iommu_ioas_map map = {
			.size = sizeof(map),
			.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
				 IOMMU_IOAS_MAP_WRITEABLE,
			.ioas_id = self->ioas_id,
			.user_va = (uintptr_t)(self->mem + pg * PAGE),
			.length = PAGE,
			.iova = IPA(pg),
		};

		ASSERT_EQ(0, ioctl(self->iommufd, IOMMU_IOAS_MAP, &map));
	}
	TH_LOG("SMMUv3 driver %s, edu %s, IDR0 %#x", self->driver, self->bdf, self->idr[0]);
}

FIXTURE_TEARDOWN(smmu)
{
	if (self->bar && self->bar != MAP_FAILED)
		munmap((void *)self->bar, self->bar_size);
	if (self->devfd > 0)
		close(self->devfd);
	if (self->iommufd > 0)
		close(self->iommufd);
}

/*
 * One edu DMA of DMA_LEN bytes: to_dev copies from @addr into the device's
 * buffer, else from its buffer to @addr; 0 when done.
 */
static int run_dma(FIXTURE_DATA(smmu) *self, uint64_t addr, int to_dev)
{
	return edu_dma(self->bar, addr, 0, DMA_LEN, !to_dev);
}

static uint8_t *page_of(FIXTURE_DATA(smmu) *self, int pg)
{
	return self->mem + pg * PAGE;
}

static void fill(uint8_t *p, uint8_t seed)
{
	for (int i = 0; i < DMA_LEN; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static int is_filled(const uint8_t *p, uint8_t seed)
{
	for (int i = 0; i < DMA_LEN; i++)
		if (p[i] != (uint8_t)(seed + i * 7))
			return 0;
	return 1;
}

static int is_zero(const uint8_t *p)
{
	for (int i = 0; i < DMA_LEN; i++)
		if (p[i])
			return 0;
	return 1;
}

static int attach(FIXTURE_DATA(smmu) *self, uint32_t pt_id)
{
	struct vfio_device_attach_iommufd_pt at = {
		.argsz = sizeof(at),
		.pt_id = pt_id,
	};

	return ioctl(self->devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at);
}

static int ioas_unmap(FIXTURE_DATA(smmu) *self, uint64_t iova)
{
	struct iommu_ioas_unmap un = {
		.size = sizeof(un),
		.ioas_id = self->ioas_id,
		.iova = iova,
		.length = PAGE,
	};

	return ioctl(self->iommufd, IOMMU_IOAS_UNMAP, &un);
}

/* DMA from IOVA(src) through the device to IOVA(dst), and check it */
static int copy_ok(FIXTURE_DATA(smmu) *self, uint64_t src, uint64_t dst,
		   int dst_pg, uint8_t seed)
{
	memset(page_of(self, dst_pg), 0, PAGE);
	if (run_dma(self, src, 1) || run_dma(self, dst, 0))
		return 0;
	return is_filled(page_of(self, dst_pg), seed);
}

TEST_F(smmu, paging_dma)
{
	struct smmu_events before, after;
	int riommu = is_riommu();
	char needle[64];
	long irqs;
	int kmsg;

	/* An automatic paging domain on the IOAS: IOVA = the IPAs above */
	ASSERT_EQ(0, attach(self, self->ioas_id));
	fill(page_of(self, PG_SRC), 0x11);
	ASSERT_TRUE(copy_ok(self, IPA(PG_SRC), IPA(PG_A), PG_A, 0x11));

	/* Unmapped target: the write faults, nothing lands */
	if (riommu)
		ASSERT_EQ(0, read_events(&before));
	/* The driver has an event queue interrupt (QEMU virt wires "eventq") */
	irqs = irq_count(evtq_irq_name());
	TH_LOG("%s: %ld interrupts so far", evtq_irq_name(), irqs);
	ASSERT_LE(0, irqs);
	kmsg = kmsg_open();
	ASSERT_LE(0, kmsg);
	ASSERT_EQ(0, ioas_unmap(self, IPA(PG_A)));
	memset(page_of(self, PG_A), 0, PAGE);
	ASSERT_EQ(0, run_dma(self, IPA(PG_A), 0));
	ASSERT_TRUE(is_zero(page_of(self, PG_A)));
	/*
	 * The fault is reported by the event queue interrupt: nothing reads
	 * the debugfs record (which drains the queue) before it is logged.
	 */
	if (riommu)
		snprintf(needle, sizeof(needle), "addr %#llx", (unsigned long long)IPA(PG_A));
	else	/* arm-smmu-v3 logs its events */
		snprintf(needle, sizeof(needle), "iova: %#llx", (unsigned long long)IPA(PG_A));
	ASSERT_TRUE(kmsg_has(kmsg, needle));
	TH_LOG("the kernel logged the fault (\"%s\")", needle);
	close(kmsg);
	ASSERT_LT(irqs, irq_count(evtq_irq_name()));
	if (riommu) {
		ASSERT_EQ(0, read_events(&after));
		ASSERT_LT(before.faults, after.faults);
		TH_LOG("fault recorded: %s", after.last);
		ASSERT_NE(NULL, strstr(after.last, "F_TRANSLATION"));
	}
}

TEST_F(smmu, s2_parent_dma)
{
	struct iommu_hwpt_alloc s2 = {
		.size = sizeof(s2),
		.flags = IOMMU_HWPT_ALLOC_NEST_PARENT,
		.dev_id = self->dev_id,
		.pt_id = self->ioas_id,
	};

	if ((self->idr[0] & (IDR0_S1P | IDR0_S2P)) != (IDR0_S1P | IDR0_S2P))
		SKIP(return, "the SMMU does not nest (IDR0 %#x)", self->idr[0]);
	ASSERT_EQ(0, ioctl(self->iommufd, IOMMU_HWPT_ALLOC, &s2));
	ASSERT_EQ(0, attach(self, s2.out_hwpt_id));
	fill(page_of(self, PG_SRC), 0x22);
	ASSERT_TRUE(copy_ok(self, IPA(PG_SRC), IPA(PG_B), PG_B, 0x22));
}

/* The S2 parent, the vIOMMU and the vDEVICE; 0, or the errno of a refusal */
static int make_viommu(struct __test_metadata *_metadata, FIXTURE_DATA(smmu) *self,
		       uint32_t *viommu_id)
{
	struct iommu_hwpt_alloc s2 = {
		.size = sizeof(s2),
		.flags = IOMMU_HWPT_ALLOC_NEST_PARENT,
		.dev_id = self->dev_id,
		.pt_id = self->ioas_id,
	};
	struct iommu_viommu_alloc va = {
		.size = sizeof(va),
		.type = IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
		.dev_id = self->dev_id,
	};
	struct iommu_vdevice_alloc vd = {
		.size = sizeof(vd),
		.dev_id = self->dev_id,
		.virt_id = VSID,
	};

	if (ioctl(self->iommufd, IOMMU_HWPT_ALLOC, &s2))
		return errno;
	va.hwpt_id = s2.out_hwpt_id;
	if (ioctl(self->iommufd, IOMMU_VIOMMU_ALLOC, &va))
		return errno;
	vd.viommu_id = va.out_viommu_id;
	if (ioctl(self->iommufd, IOMMU_VDEVICE_ALLOC, &vd))
		return errno;
	*viommu_id = va.out_viommu_id;
	return 0;
}

/* Sets the stage 1 leaf of @va (in the L3 table) to @ipa (0: invalid) */
static void s1_set(FIXTURE_DATA(smmu) *self, uint64_t va, uint64_t ipa)
{
	uint64_t *l3 = (uint64_t *)page_of(self, PG_L3);

	l3[(va >> 12) & 511] = ipa ? ipa | PTE_PAGE | PTE_ATTR_WB | PTE_AP_RW_EL0 |
				     PTE_SH_ISH | PTE_AF | PTE_NG : 0;
	__sync_synchronize();
}

/* The guest's CD and stage 1 tables, in IOAS memory (all addresses IPAs) */
static void build_s1(FIXTURE_DATA(smmu) *self)
{
	uint64_t *cd = (uint64_t *)page_of(self, PG_CD);
	uint64_t *l0 = (uint64_t *)page_of(self, PG_L0);
	uint64_t *l1 = (uint64_t *)page_of(self, PG_L1);
	uint64_t *l2 = (uint64_t *)page_of(self, PG_L2);

	l0[(VA_SRC >> 39) & 511] = IPA(PG_L1) | PTE_TABLE;
	l1[(VA_SRC >> 30) & 511] = IPA(PG_L2) | PTE_TABLE;
	l2[(VA_SRC >> 21) & 511] = IPA(PG_L3) | PTE_TABLE;
	s1_set(self, VA_SRC, IPA(PG_SRC));
	s1_set(self, VA_DST, IPA(PG_A));
	cd[0] = CD0_T0SZ(48) | CD0_IR0_WBRA | CD0_OR0_WBRA | CD0_SH0_ISH | CD0_EPD1 |
		CD0_V | CD0_IPS(IDR5_OAS(self->idr[5])) | CD0_AA64 | CD0_R | CD0_A |
		CD0_ASET | CD0_ASID(GUEST_ASID);
	cd[1] = IPA(PG_L0);
	cd[3] = CD3_MAIR;
	__sync_synchronize();
}

static int viommu_inval(FIXTURE_DATA(smmu) *self, uint32_t viommu_id,
			uint64_t w0, uint64_t w1, uint32_t *done)
{
	struct iommu_viommu_arm_smmuv3_invalidate cmd = { .cmd = { w0, w1 } };
	struct iommu_hwpt_invalidate inv = {
		.size = sizeof(inv),
		.hwpt_id = viommu_id,
		.data_uptr = (uintptr_t)&cmd,
		.data_type = IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3,
		.entry_len = sizeof(cmd),
		.entry_num = 1,
	};
	int ret = ioctl(self->iommufd, IOMMU_HWPT_INVALIDATE, &inv);

	*done = inv.entry_num;
	return ret;
}

/*
 * The nested setup of a VMM: S2 parent, vIOMMU, vDEVICE, the guest's CD
 * and stage 1 tables, a nested HWPT from the guest's STE, attached.
 * Returns 0, or the errno with which the vIOMMU (or the S2 parent) was
 * refused.
 */
static int nested_attach(struct __test_metadata *_metadata, FIXTURE_DATA(smmu) *self,
			 uint32_t *viommu_id)
{
	struct iommu_hwpt_arm_smmuv3 ste = {};
	struct iommu_hwpt_alloc nested = {
		.size = sizeof(nested),
		.dev_id = self->dev_id,
		.data_type = IOMMU_HWPT_DATA_ARM_SMMUV3,
		.data_len = sizeof(ste),
		.data_uptr = (uintptr_t)&ste,
	};
	int ret = make_viommu(_metadata, self, viommu_id);

	if (ret)
		return ret;
	build_s1(self);
	ste.ste[0] = STE0_V | STE0_CFG_S1_TRANS | IPA(PG_CD);
	ste.ste[1] = STE1_S1CIR_WBRA | STE1_S1COR_WBRA | STE1_S1CSH_ISH;
	nested.pt_id = *viommu_id;
	if (ioctl(self->iommufd, IOMMU_HWPT_ALLOC, &nested))
		return errno;
	if (attach(self, nested.out_hwpt_id))
		return errno;
	return 0;
}

/* Runs @ret's checks of the nested tests: the C driver refuses the vIOMMU */
/*
 * Whether the driver offers a vIOMMU here.  arm-smmu-v3 does not (no CANWBS,
 * an ACPI IORT flag only, and no S2FWB in QEMU); neither does riommu_smmuv3
 * unless loaded with allow_unsafe_viommu=1, as tools/check-arm64.sh loads it.
 * riommu_smmuv3_reload.sh reloads it without and sets
 * RIOMMU_SMMUV3_NO_VIOMMU=1 to say so.
 */
static int viommu_offered(void)
{
	const char *no = getenv("RIOMMU_SMMUV3_NO_VIOMMU");

	return is_riommu() && !(no && !strcmp(no, "1"));
}

#define NESTED_OR_SKIP(ret)								\
	do {										\
		if (!viommu_offered()) {						\
			ASSERT_EQ(EOPNOTSUPP, ret);					\
			SKIP(return, "%s refuses a vIOMMU without CANWBS/S2FWB "	\
			     "(EOPNOTSUPP, as expected)", self->driver);		\
		}									\
		ASSERT_EQ(0, ret);							\
	} while (0)

TEST_F(smmu, nested_dma)
{
	struct smmu_events before, after;
	uint32_t viommu_id = 0, done;

	if ((self->idr[0] & (IDR0_S1P | IDR0_S2P)) != (IDR0_S1P | IDR0_S2P))
		SKIP(return, "the SMMU does not nest (IDR0 %#x)", self->idr[0]);
	NESTED_OR_SKIP(nested_attach(_metadata, self, &viommu_id));

	/* VA_SRC -> IPA(SRC) and VA_DST -> IPA(A): the copy lands in A */
	fill(page_of(self, PG_SRC), 0x33);
	memset(page_of(self, PG_B), 0, PAGE);
	ASSERT_TRUE(copy_ok(self, VA_SRC, VA_DST, PG_A, 0x33));
	ASSERT_TRUE(is_zero(page_of(self, PG_B)));

	/* Point VA_DST at IPA(B); without a TLBI the SMMU may still use A */
	s1_set(self, VA_DST, IPA(PG_B));
	memset(page_of(self, PG_A), 0, PAGE);
	ASSERT_EQ(0, run_dma(self, VA_DST, 0));
	TH_LOG("before TLBI_NH_VA the DMA went to %s",
	       is_filled(page_of(self, PG_A), 0x33) ? "A (stale IOTLB entry)" :
	       is_filled(page_of(self, PG_B), 0x33) ? "B" : "nowhere");

	/* TLBI_NH_VA through the vIOMMU: now it lands in B */
	ASSERT_EQ(0, viommu_inval(self, viommu_id,
				  CMD_OP_TLBI_NH_VA | CMD_TLBI_ASID(GUEST_ASID),
				  VA_DST | CMD_TLBI_LEAF, &done));
	ASSERT_EQ(1, done);
	memset(page_of(self, PG_A), 0, PAGE);
	memset(page_of(self, PG_B), 0, PAGE);
	ASSERT_EQ(0, run_dma(self, VA_DST, 0));
	ASSERT_TRUE(is_filled(page_of(self, PG_B), 0x33));
	ASSERT_TRUE(is_zero(page_of(self, PG_A)));

	/* Unmap IPA(B) from the IOAS (stage 2): the DMA faults in stage 2 */
	ASSERT_EQ(0, read_events(&before));
	ASSERT_EQ(0, ioas_unmap(self, IPA(PG_B)));
	memset(page_of(self, PG_B), 0, PAGE);
	ASSERT_EQ(0, run_dma(self, VA_DST, 0));
	ASSERT_TRUE(is_zero(page_of(self, PG_B)));
	ASSERT_EQ(0, read_events(&after));
	TH_LOG("fault recorded: %s", after.last);
	ASSERT_LT(before.faults, after.faults);
	ASSERT_NE(NULL, strstr(after.last, "stage2"));
}

TEST_F(smmu, nested_vevent)
{
	struct iommu_veventq_alloc vq = {
		.size = sizeof(vq),
		.type = IOMMU_VEVENTQ_TYPE_ARM_SMMUV3,
		.veventq_depth = 16,
	};
	struct {
		struct iommufd_vevent_header hdr;
		struct iommu_vevent_arm_smmuv3 evt;
	} rec;
	struct pollfd pfd = { .events = POLLIN };
	struct smmu_events ev;
	uint32_t viommu_id = 0, done;
	ssize_t n;

	if ((self->idr[0] & (IDR0_S1P | IDR0_S2P)) != (IDR0_S1P | IDR0_S2P))
		SKIP(return, "the SMMU does not nest (IDR0 %#x)", self->idr[0]);
	NESTED_OR_SKIP(nested_attach(_metadata, self, &viommu_id));
	vq.viommu_id = viommu_id;
	ASSERT_EQ(0, ioctl(self->iommufd, IOMMU_VEVENTQ_ALLOC, &vq));
	pfd.fd = vq.out_veventq_fd;

	/* Clear VA_DST's stage 1 PTE: the DMA takes a stage 1 fault */
	s1_set(self, VA_DST, 0);
	ASSERT_EQ(0, viommu_inval(self, viommu_id,
				  CMD_OP_TLBI_NH_VA | CMD_TLBI_ASID(GUEST_ASID),
				  VA_DST | CMD_TLBI_LEAF, &done));
	ASSERT_EQ(0, run_dma(self, VA_DST, 0));
	/*
	 * The event queue interrupt reports the vEVENT: it arrives with no
	 * debugfs read (which would drain the queue) first.
	 */
	ASSERT_EQ(1, poll(&pfd, 1, 2000));
	ASSERT_EQ(0, read_events(&ev));
	TH_LOG("last event: %s", ev.last);
	n = read(vq.out_veventq_fd, &rec, sizeof(rec));
	ASSERT_EQ(sizeof(rec), n);
	TH_LOG("vEVENT %#llx %#llx %#llx %#llx",
	       (unsigned long long)rec.evt.evt[0], (unsigned long long)rec.evt.evt[1],
	       (unsigned long long)rec.evt.evt[2], (unsigned long long)rec.evt.evt[3]);
	/* F_TRANSLATION of the virtual StreamID, at VA_DST */
	ASSERT_EQ(0x10, rec.evt.evt[0] & 0xff);
	ASSERT_EQ(VSID, rec.evt.evt[0] >> 32);
	ASSERT_EQ(VA_DST, rec.evt.evt[2] & ~(PAGE - 1));
	close(vq.out_veventq_fd);
}

/* A nested HWPT of @viommu_id from the user STE @w0/@w1: its id or -errno */
static int nested_alloc(FIXTURE_DATA(smmu) *self, uint32_t viommu_id, uint32_t flags,
			uint64_t w0, uint64_t w1)
{
	struct iommu_hwpt_arm_smmuv3 ste = { .ste = { w0, w1 } };
	struct iommu_hwpt_alloc nested = {
		.size = sizeof(nested),
		.flags = flags,
		.dev_id = self->dev_id,
		.pt_id = viommu_id,
		.data_type = IOMMU_HWPT_DATA_ARM_SMMUV3,
		.data_len = sizeof(ste),
		.data_uptr = (uintptr_t)&ste,
	};

	if (ioctl(self->iommufd, IOMMU_HWPT_ALLOC, &nested))
		return -errno;
	return nested.out_hwpt_id;
}

TEST_F(smmu, nested_refusals)
{
	struct iommu_hwpt_alloc s2 = {
		.size = sizeof(s2),
		.flags = IOMMU_HWPT_ALLOC_NEST_PARENT,
		.dev_id = self->dev_id,
		.pt_id = self->ioas_id,
	};
	struct iommu_viommu_alloc va = {
		.size = sizeof(va),
		.type = IOMMU_VIOMMU_TYPE_ARM_SMMUV3,
		.dev_id = self->dev_id,
	};
	uint64_t s1 = STE0_V | STE0_CFG_S1_TRANS | IPA(PG_CD);
	int id;

	if ((self->idr[0] & (IDR0_S1P | IDR0_S2P)) != (IDR0_S1P | IDR0_S2P))
		SKIP(return, "the SMMU does not nest (IDR0 %#x)", self->idr[0]);
	ASSERT_EQ(0, ioctl(self->iommufd, IOMMU_HWPT_ALLOC, &s2));
	va.hwpt_id = s2.out_hwpt_id;
	NESTED_OR_SKIP(ioctl(self->iommufd, IOMMU_VIOMMU_ALLOC, &va) ? errno : 0);

	/* Linux 7.3's rules for the user STE: EIO for anything illegal */
	ASSERT_EQ(-EIO, nested_alloc(self, va.out_viommu_id, 0,
				     STE0_V | (6ull << 1) /* S2 translate */, 0));
	ASSERT_EQ(-EIO, nested_alloc(self, va.out_viommu_id, 0,
				     s1, 1ull << 19 /* MEV: the host's */));
	ASSERT_EQ(-EOPNOTSUPP, nested_alloc(self, va.out_viommu_id,
					    IOMMU_HWPT_ALLOC_NEST_PARENT, s1, 0));
	/* A non-valid STE is accepted (an abort STE, C_BAD_STE for the guest) */
	id = nested_alloc(self, va.out_viommu_id, 0, 0x1234ull << 6, 0);
	ASSERT_LT(0, id);
	ASSERT_EQ(0, attach(self, id));
	/* A stage 1 STE needs the device's vDEVICE first */
	id = nested_alloc(self, va.out_viommu_id, 0, s1, 0);
	ASSERT_LT(0, id);
	ASSERT_EQ(-1, attach(self, id));
	ASSERT_EQ(ENOENT, errno);
}

TEST_F(smmu, viommu_bad_cmd)
{
	uint32_t viommu_id = 0, done = 99;

	if ((self->idr[0] & (IDR0_S1P | IDR0_S2P)) != (IDR0_S1P | IDR0_S2P))
		SKIP(return, "the SMMU does not nest (IDR0 %#x)", self->idr[0]);
	NESTED_OR_SKIP(make_viommu(_metadata, self, &viommu_id));
	/* CFGI_STE is the host's business: EIO, nothing processed */
	ASSERT_EQ(-1, viommu_inval(self, viommu_id, CMD_OP_CFGI_STE | ((uint64_t)VSID << 32),
				   0, &done));
	ASSERT_EQ(EIO, errno);
	ASSERT_EQ(0, done);
}

TEST_HARNESS_MAIN
