/* SPDX-License-Identifier: GPL-2.0 */
/*
 * QEMU's "edu" PCI device (1234:11e8) from user space, for the hardware
 * IOMMU selftests: find it in sysfs, bind it to vfio-pci, name its VFIO
 * cdev, and run its DMA engine through the mapped BAR0.  Shared by
 * tools/testing/selftests/riommu_vtd (through riommu_vtd_edu.h, which
 * tools/bench uses too) and riommu_smmuv3.  Everything is static inline;
 * each function returns 0, or -1 when something failed.
 *
 * edu (QEMU hw/misc/edu.c): BAR0 registers 0x80 DMA source, 0x88 DMA
 * destination, 0x90 count, 0x98 command (bit 0 start, bit 1 direction:
 * 0 = from RAM into edu's 4 KiB buffer, 1 = from the buffer to RAM); the
 * buffer sits at device address 0x40000; the transfer happens 100 ms (of
 * virtual time) after the start bit, which then clears.
 */
#ifndef RIOMMU_EDU_H
#define RIOMMU_EDU_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

#endif /* RIOMMU_EDU_H */
