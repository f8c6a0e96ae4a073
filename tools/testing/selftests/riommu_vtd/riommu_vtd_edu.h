/* SPDX-License-Identifier: GPL-2.0 */
/*
 * QEMU's "edu" device (-device edu,dma_mask=0xffffffffffffffff; PCI
 * 1234:11e8) bound to vfio-pci and driven from user space through its VFIO
 * cdev and iommufd, behind a VT-d IOMMU: riommu_vtd.ko (booted with
 * intel_iommu=off) or the kernel's intel-iommu (intel_iommu=on,sm_on).
 *
 * Shared by the VT-d programs: the selftest riommu_vtd_dma.c and the
 * benchmark tools/bench/riommu_vtd_bench.c; the edu helpers that the
 * SMMUv3 test uses too are in ../riommu/riommu_edu.h.  Everything is
 * static inline; no function here exits or asserts: each returns -1
 * (errno set where a call failed) and the caller reports.
 */
#ifndef RIOMMU_VTD_EDU_H
#define RIOMMU_VTD_EDU_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

#include "../riommu/riommu_edu.h"

#define RVTD_DEBUGFS	"/sys/kernel/debug/riommu_vtd"

enum backend { RIOMMU_VTD, INTEL_IOMMU };

/*
 * Which driver the kernel command line asks for: intel_iommu=off (the
 * riommu_vtd boot: the module must be active), intel_iommu=on (the C
 * driver must be), or -1 (neither said).
 */
static inline int expected_backend(void)
{
	char cmdline[4096];

	if (read_file("/proc/cmdline", cmdline, sizeof(cmdline)))
		return -1;
	if (strstr(cmdline, "intel_iommu=off"))
		return RIOMMU_VTD;
	if (strstr(cmdline, "intel_iommu=on"))
		return INTEL_IOMMU;
	return -1;
}

/* The active VT-d driver: riommu_vtd (its debugfs), intel-iommu, or -1. */
static inline int active_backend(void)
{
	if (!access(RVTD_DEBUGFS, F_OK))
		return RIOMMU_VTD;
	if (!access("/sys/class/iommu/dmar0", F_OK))
		return INTEL_IOMMU;
	return -1;
}

static inline const char *backend_name(int be)
{
	return be == RIOMMU_VTD ? "riommu_vtd" : be == INTEL_IOMMU ? "intel-iommu" : "none";
}

/* ---- iommufd and VFIO ------------------------------------------------------ */

static inline int ioas_map(int iommufd, uint32_t ioas, void *va, uint64_t iova, uint64_t len)
{
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = ioas,
		.user_va = (uintptr_t)va,
		.length = len,
		.iova = iova,
	};

	return ioctl(iommufd, IOMMU_IOAS_MAP, &map);
}

static inline int ioas_unmap(int iommufd, uint32_t ioas, uint64_t iova, uint64_t len)
{
	struct iommu_ioas_unmap unmap = {
		.size = sizeof(unmap),
		.ioas_id = ioas,
		.iova = iova,
		.length = len,
	};

	return ioctl(iommufd, IOMMU_IOAS_UNMAP, &unmap);
}

/* Attaches the device to @pt_id; while attached, this is a replace. */
static inline int attach(int devfd, uint32_t pt_id)
{
	struct vfio_device_attach_iommufd_pt at = {
		.argsz = sizeof(at),
		.pt_id = pt_id,
	};

	return ioctl(devfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at);
}

/* An IOAS, in *@id. */
static inline int ioas_alloc(int iommufd, uint32_t *id)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };

	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc))
		return -1;
	*id = alloc.out_ioas_id;
	return 0;
}

/*
 * A HWPT for device @devid on @pt_id (an IOAS: a paging HWPT; a
 * NEST_PARENT HWPT with @data_type IOMMU_HWPT_DATA_VTD_S1: a nested one),
 * in *@id.
 */
static inline int hwpt_alloc(int iommufd, uint32_t devid, uint32_t pt_id, uint32_t flags,
			     uint32_t data_type, const void *data, uint32_t data_len,
			     uint32_t *id)
{
	struct iommu_hwpt_alloc hwpt = {
		.size = sizeof(hwpt),
		.flags = flags,
		.dev_id = devid,
		.pt_id = pt_id,
		.data_type = data_type,
		.data_len = data_len,
		.data_uptr = (uintptr_t)data,
	};

	if (ioctl(iommufd, IOMMU_HWPT_ALLOC, &hwpt))
		return -1;
	*id = hwpt.out_hwpt_id;
	return 0;
}

/*
 * edu, found and bound to vfio-pci, opened through its VFIO cdev and bound
 * to a new iommufd (not yet attached: its DMA is blocked).
 */
struct edu {
	char bdf[32];
	int iommufd;
	int devfd;
	uint32_t devid;
	volatile uint8_t *bar;	/* BAR0, after edu_map_bar() */
	size_t bar_size;
};

/*
 * Opens edu into @e; returns 0, or -1 with *@what naming the step that
 * failed (and errno set where a call failed).  edu_close() undoes it.
 */
static inline int edu_open(struct edu *e, const char **what)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	char cdev[256];

	e->iommufd = e->devfd = -1;
	e->bar = MAP_FAILED;
	*what = "find edu (QEMU -device edu)";
	if (find_edu(e->bdf, sizeof(e->bdf)))
		return -1;
	*what = "bind edu to vfio-pci";
	if (bind_vfio(e->bdf))
		return -1;
	*what = "find edu's VFIO cdev";
	if (vfio_cdev(e->bdf, cdev, sizeof(cdev)))
		return -1;
	*what = "open /dev/iommu";
	e->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (e->iommufd < 0)
		return -1;
	*what = "open edu's VFIO cdev";
	e->devfd = open(cdev, O_RDWR | O_CLOEXEC);
	if (e->devfd < 0)
		return -1;
	*what = "VFIO_DEVICE_BIND_IOMMUFD";
	bind.iommufd = e->iommufd;
	if (ioctl(e->devfd, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		return -1;
	e->devid = bind.out_devid;
	return 0;
}

/*
 * Maps BAR0 and turns on memory decoding and bus mastering; checks edu's
 * identification register.  Returns 0, or -1 with *@what set.
 */
static inline int edu_map_bar(struct edu *e, const char **what)
{
	struct vfio_region_info reg = { .argsz = sizeof(reg) };
	uint16_t cmd;

	*what = "BAR0 region info";
	reg.index = VFIO_PCI_BAR0_REGION_INDEX;
	if (ioctl(e->devfd, VFIO_DEVICE_GET_REGION_INFO, &reg))
		return -1;
	*what = "mmap BAR0";
	if (!(reg.flags & VFIO_REGION_INFO_FLAG_MMAP)) {
		errno = EINVAL;
		return -1;
	}
	e->bar = mmap(NULL, reg.size, PROT_READ | PROT_WRITE, MAP_SHARED, e->devfd, reg.offset);
	if (e->bar == MAP_FAILED)
		return -1;
	e->bar_size = reg.size;
	*what = "PCI command register";
	memset(&reg, 0, sizeof(reg));
	reg.argsz = sizeof(reg);
	reg.index = VFIO_PCI_CONFIG_REGION_INDEX;
	if (ioctl(e->devfd, VFIO_DEVICE_GET_REGION_INFO, &reg) ||
	    pread(e->devfd, &cmd, 2, reg.offset + PCI_COMMAND) != 2)
		return -1;
	cmd |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if (pwrite(e->devfd, &cmd, 2, reg.offset + PCI_COMMAND) != 2)
		return -1;
	/* Registers below 0x80 take 32-bit accesses only. */
	*what = "edu identification register";
	if ((*(volatile uint32_t *)(e->bar + EDU_ID) & 0xff0000ff) != 0x010000edu) {
		errno = ENODEV;
		return -1;
	}
	return 0;
}

/* Closing the cdev detaches and unbinds; closing iommufd frees the rest. */
static inline void edu_close(struct edu *e)
{
	if (e->bar != MAP_FAILED)
		munmap((void *)e->bar, e->bar_size);
	if (e->devfd >= 0)
		close(e->devfd);
	if (e->iommufd >= 0)
		close(e->iommufd);
	e->bar = MAP_FAILED;
	e->devfd = e->iommufd = -1;
}

/* ---- edu DMA ---------------------------------------------------------------- */

#endif /* RIOMMU_VTD_EDU_H */
