// SPDX-License-Identifier: GPL-2.0
//! QEMU's `edu` PCI device (hw/misc/edu.c) as the guest's assigned device:
//! found in sysfs, bound to vfio-pci, and driven through the region reads
//! and writes of `vfio_ioctls::VfioDevice`, as a VMM forwards a guest's
//! BAR accesses.

use std::fs;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use vfio_bindings::bindings::vfio::{VFIO_PCI_BAR0_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX};
use vfio_ioctls::VfioDevice;

/// edu's PCI vendor and device ids.
const VENDOR: u32 = 0x1234;
const DEVICE: u32 = 0x11e8;
/// BAR0 registers: identification (reads 0x010000ed), DMA source,
/// destination, count and command.
const REG_ID: u64 = 0x00;
const REG_DMA_SRC: u64 = 0x80;
const REG_DMA_DST: u64 = 0x88;
const REG_DMA_CNT: u64 = 0x90;
const REG_DMA_CMD: u64 = 0x98;
/// The identification register's value.
pub const ID: u32 = 0x010000ed;
/// Command bits: start (clears when the transfer is done), and direction
/// (set: from edu's buffer to RAM).
const CMD_RUN: u64 = 1 << 0;
const CMD_TO_RAM: u64 = 1 << 1;
/// edu's 4 KiB buffer, at its device address.
const BUF: u64 = 0x40000;
/// PCI_COMMAND (include/uapi/linux/pci_regs.h) and its memory space and
/// bus master enables; neither crate defines them.
const PCI_COMMAND: u64 = 0x04;
const PCI_COMMAND_MEMORY: u16 = 0x2;
const PCI_COMMAND_MASTER: u16 = 0x4;

/// The sysfs directory of the first edu device.
pub fn find() -> Option<PathBuf> {
    let hex = |p: PathBuf| -> Option<u32> {
        let s = fs::read_to_string(p).ok()?;
        u32::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok()
    };
    let mut devs: Vec<PathBuf> = fs::read_dir("/sys/bus/pci/devices")
        .ok()?
        .filter_map(|e| Some(e.ok()?.path()))
        .collect();
    devs.sort();
    devs.into_iter()
        .find(|d| hex(d.join("vendor")) == Some(VENDOR) && hex(d.join("device")) == Some(DEVICE))
}

/// Binds the device at `dev` to vfio-pci (driver_override, then
/// drivers_probe), as an administrator does before starting a VMM: no
/// crate does this.
pub fn bind_vfio_pci(dev: &Path) -> std::io::Result<()> {
    let bdf = dev
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or(std::io::ErrorKind::InvalidInput)?;
    if let Ok(drv) = fs::read_link(dev.join("driver")) {
        if drv.ends_with("vfio-pci") {
            return Ok(());
        }
        fs::write(dev.join("driver/unbind"), bdf)?;
    }
    fs::write(dev.join("driver_override"), "vfio-pci")?;
    fs::write("/sys/bus/pci/drivers_probe", bdf)
}

fn read32(dev: &VfioDevice, reg: u64) -> u32 {
    let mut b = [0u8; 4];
    dev.region_read(VFIO_PCI_BAR0_REGION_INDEX, &mut b, reg);
    u32::from_le_bytes(b)
}

fn read64(dev: &VfioDevice, reg: u64) -> u64 {
    let mut b = [0u8; 8];
    dev.region_read(VFIO_PCI_BAR0_REGION_INDEX, &mut b, reg);
    u64::from_le_bytes(b)
}

fn write64(dev: &VfioDevice, reg: u64, v: u64) {
    dev.region_write(VFIO_PCI_BAR0_REGION_INDEX, &v.to_le_bytes(), reg);
}

/// edu's identification register.
pub fn id(dev: &VfioDevice) -> u32 {
    read32(dev, REG_ID)
}

/// Turns on memory decoding and bus mastering; returns the command register
/// as read back (`VfioDevice::region_write` reports no error).
pub fn enable(dev: &VfioDevice) -> u16 {
    let cfg = VFIO_PCI_CONFIG_REGION_INDEX;
    let mut b = [0u8; 2];
    dev.region_read(cfg, &mut b, PCI_COMMAND);
    let cmd = u16::from_le_bytes(b) | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
    dev.region_write(cfg, &cmd.to_le_bytes(), PCI_COMMAND);
    dev.region_read(cfg, &mut b, PCI_COMMAND);
    u16::from_le_bytes(b)
}

/// Whether [`enable`]'s read-back has both bits.
pub fn enabled(cmd: u16) -> bool {
    cmd & (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER) == PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER
}

/// One DMA of `len` bytes between device address `addr` and edu's buffer:
/// `to_ram` copies the buffer to `addr`, else `addr` into the buffer.
/// True once the start bit cleared (the transfer ran, or faulted: edu
/// cannot tell); false after 10 s.
pub fn dma(dev: &VfioDevice, addr: u64, len: u64, to_ram: bool) -> bool {
    let (src, dst) = if to_ram { (BUF, addr) } else { (addr, BUF) };
    write64(dev, REG_DMA_SRC, src);
    write64(dev, REG_DMA_DST, dst);
    write64(dev, REG_DMA_CNT, len);
    write64(
        dev,
        REG_DMA_CMD,
        CMD_RUN | if to_ram { CMD_TO_RAM } else { 0 },
    );
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        if read64(dev, REG_DMA_CMD) & CMD_RUN == 0 {
            return true;
        }
        sleep(Duration::from_millis(1));
    }
    false
}
