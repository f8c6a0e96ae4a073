/* SPDX-License-Identifier: GPL-2.0 */
/*
 * QEMU's "edu" device (-device edu,dma_mask=0xffffffffffffffff; PCI
 * 1234:11e8) bound to vfio-pci and driven from user space through its VFIO
 * cdev and iommufd, behind a VT-d IOMMU: riommu_vtd.ko (booted with
 * intel_iommu=off) or the kernel's intel-iommu (intel_iommu=on,sm_on).
 *
 * Shared by the VT-d programs: the selftest riommu_vtd_dma.c and the
 * benchmark tools/bench/riommu_vtd_bench.c.  Everything is static inline; no function here exits or asserts: each
 * returns -1 (errno set where a call failed) and the caller reports.
 *
 * edu (QEMU hw/misc/edu.c): BAR0 registers 0x80 DMA source, 0x88 DMA
 * destination, 0x90 count, 0x98 command (bit 0 start, bit 1 direction:
 * 0 = from RAM into edu's 4 KiB buffer, 1 = from the buffer to RAM); the
 * buffer sits at device address 0x40000; the transfer happens 100 ms (of
 * virtual time) after the start bit, which then clears.
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

#define EDU_VENDOR	0x1234
#define EDU_DEVICE	0x11e8
#define EDU_ID		0x00	/* reads 0x010000ed */
#define EDU_DMA_SRC	0x80
#define EDU_DMA_DST	0x88
#define EDU_DMA_CNT	0x90
#define EDU_DMA_CMD	0x98
#define EDU_CMD_RUN	0x1
#define EDU_CMD_TO_RAM	0x2
#define EDU_BUF		0x40000ULL
#define EDU_BUF_SIZE	4096

#define RVTD_DEBUGFS	"/sys/kernel/debug/riommu_vtd"

enum backend { RIOMMU_VTD, INTEL_IOMMU };

/* ---- sysfs helpers ------------------------------------------------------ */

static inline int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

static inline int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

static inline unsigned long read_hex(const char *dir, const char *name)
{
	char path[640], buf[64];

	snprintf(path, sizeof(path), "%.300s/%.300s", dir, name);
	if (read_file(path, buf, sizeof(buf)))
		return ~0UL;
	return strtoul(buf, NULL, 16);
}

/* The BDF of the first edu device, or -1. */
static inline int find_edu(char *bdf, size_t len)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	int ret = -1;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char dir[300];

		if (e->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%.255s", e->d_name);
		if (read_hex(dir, "vendor") == EDU_VENDOR &&
		    read_hex(dir, "device") == EDU_DEVICE) {
			if (strlen(e->d_name) >= len)
				continue;
			memcpy(bdf, e->d_name, strlen(e->d_name) + 1);
			ret = 0;
			break;
		}
	}
	closedir(d);
	return ret;
}

/* Binds @bdf to vfio-pci (driver_override + drivers_probe) if needed. */
static inline int bind_vfio(const char *bdf)
{
	char path[512], link[512];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n > 0) {
		link[n] = 0;
		if (strstr(link, "/vfio-pci"))
			return 0;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
		if (write_file(path, bdf))
			return -1;
	}
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	if (write_file(path, "vfio-pci"))
		return -1;
	return write_file("/sys/bus/pci/drivers_probe", bdf);
}

/* The VFIO cdev of @bdf, /dev/vfio/devices/vfioN. */
static inline int vfio_cdev(const char *bdf, char *dev, size_t len)
{
	char path[512];
	struct dirent *e;
	DIR *d;
	int ret = -1;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (!strncmp(e->d_name, "vfio", 4) && strlen(e->d_name) < 32) {
			snprintf(dev, len, "/dev/vfio/devices/%.31s", e->d_name);
			ret = 0;
			break;
		}
	}
	closedir(d);
	return ret;
}

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

static inline void edu_write(volatile uint8_t *bar, unsigned int reg, uint64_t v)
{
	*(volatile uint64_t *)(bar + reg) = v;
}

static inline uint64_t edu_read(volatile uint8_t *bar, unsigned int reg)
{
	return *(volatile uint64_t *)(bar + reg);
}

/*
 * One edu DMA of @len bytes between IOVA @iova and edu's buffer at @off:
 * @to_ram 0 reads RAM into the buffer, 1 writes the buffer to RAM.
 * Returns 0 once the start bit cleared, -1 after 10 s.
 */
static inline int edu_dma(volatile uint8_t *bar, uint64_t iova, uint64_t off, uint64_t len,
			  int to_ram)
{
	struct timespec t0, t;

	if (to_ram) {
		edu_write(bar, EDU_DMA_SRC, EDU_BUF + off);
		edu_write(bar, EDU_DMA_DST, iova);
	} else {
		edu_write(bar, EDU_DMA_SRC, iova);
		edu_write(bar, EDU_DMA_DST, EDU_BUF + off);
	}
	edu_write(bar, EDU_DMA_CNT, len);
	edu_write(bar, EDU_DMA_CMD, EDU_CMD_RUN | (to_ram ? EDU_CMD_TO_RAM : 0));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (!(edu_read(bar, EDU_DMA_CMD) & EDU_CMD_RUN))
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10) {
			errno = ETIMEDOUT;
			return -1;
		}
		usleep(1000);
	}
}

#endif /* RIOMMU_VTD_EDU_H */
