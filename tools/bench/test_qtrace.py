#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Host tests of qtrace.py on synthetic traces.

  python3 -m unittest discover -s tools/bench -p 'test_*.py'
"""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import qtrace  # noqa: E402

EDU_BEGIN = "pci_cfg_read edu 00:03.0 @0x29 -> 0x0"
EDU_END = "pci_cfg_read edu 00:03.0 @0x2d -> 0x1a"
# pci_save_state(): the kernel's dword reads of the header, in order.
EDU_SAVE = [f"pci_cfg_read edu 00:03.0 @0x{o:x} -> 0x0" for o in range(0, 0x40, 4)]


def vtd_desc(t):
    return f"vtd_inv_desc invalidate desc type {t} high 0x0 low 0x{0x20:x}"


VTD_READ = "vtd_reg_read addr 0x34 size 0x4"
VTD_WRITE = "vtd_reg_write addr 0x88 size 0x8 value 0x40"


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def files(self, prog, trace):
        p = os.path.join(self.dir.name, "prog.out")
        t = os.path.join(self.dir.name, "q.trace")
        with open(p, "w") as f:
            f.write("\n".join(prog) + "\n")
        with open(t, "w") as f:
            f.write("\n".join(trace) + "\n")
        return p, t


class VtdTest(Base):
    def test_per_op(self):
        prog = ["# riommu_vtd_bench", "QCOUNT map 4", "QCOUNT unmap 2", "RESULT x"]
        trace = [vtd_desc("iotlb"), VTD_READ,  # before: not counted
                 EDU_BEGIN]
        for _ in range(4):
            trace += [vtd_desc("p-iotlb"), vtd_desc("wait"), VTD_WRITE, VTD_READ, VTD_READ]
        trace += [EDU_END, vtd_desc("iotlb"),  # between windows: not counted
                  "pci_cfg_read edu 00:03.0 @0x4 -> 0x0",  # another offset: no marker
                  "pci_cfg_read virtio 00:04.0 @0x29 -> 0x0",  # another device
                  ] + EDU_SAVE + list(reversed(EDU_SAVE)) + [  # no markers
                  "1234@1700000000.000001:" + EDU_BEGIN,  # timestamped line
                  vtd_desc("iotlb"), vtd_desc("wait"), vtd_desc("wait"),
                  "vtd_reg_write_gcmd status 0x0 value 0x0",  # not vtd_reg_write
                  "vtd_inv_desc_wait_sw addr 0x0 data 0x0",  # not vtd_inv_desc
                  EDU_END]
        w = qtrace.windows(*self.files(prog, trace))
        self.assertEqual(list(w), ["map", "unmap"])
        self.assertEqual(w["map"], {"desc:p-iotlb": 1, "desc:wait": 1, "waits": 1,
                                    "mmio_r": 2, "mmio_w": 1})
        self.assertEqual(w["unmap"], {"desc:iotlb": 0.5, "desc:wait": 1, "waits": 1,
                                      "mmio_r": 0, "mmio_w": 0})
        self.assertIn("desc:p-iotlb", qtrace.table(w))
        self.assertEqual(qtrace.counters(w)[-3:], ["waits", "mmio_r", "mmio_w"])

    def test_empty_window(self):
        w = qtrace.windows(*self.files(["QCOUNT nothing 3"],
                                       [VTD_READ, EDU_BEGIN, EDU_END]))
        self.assertEqual(w, {"nothing": {"waits": 0, "mmio_r": 0, "mmio_w": 0}})

    def test_more_lines_than_windows(self):
        with self.assertRaisesRegex(ValueError, "2 QCOUNT lines.*1 windows"):
            qtrace.windows(*self.files(["QCOUNT a 1", "QCOUNT b 1"],
                                       [EDU_BEGIN, VTD_READ, EDU_END]))

    def test_more_windows_than_lines(self):
        with self.assertRaisesRegex(ValueError, "1 QCOUNT lines.*2 windows"):
            qtrace.windows(*self.files(["QCOUNT a 1"],
                                       [EDU_BEGIN, VTD_READ, EDU_END, EDU_BEGIN, EDU_END]))

    def test_unclosed(self):
        with self.assertRaisesRegex(ValueError, "not closed"):
            qtrace.windows(*self.files(["QCOUNT a 1"], [VTD_READ, EDU_BEGIN, VTD_READ]))

    def test_opened_twice(self):
        with self.assertRaisesRegex(ValueError, "opened twice"):
            qtrace.windows(*self.files(["QCOUNT a 1"],
                                       [VTD_READ, EDU_BEGIN, EDU_BEGIN, EDU_END]))

    def test_end_without_start(self):
        with self.assertRaisesRegex(ValueError, "without a start"):
            qtrace.windows(*self.files(["QCOUNT a 1"], [VTD_READ, EDU_END]))

    def test_duplicate_key(self):
        with self.assertRaisesRegex(ValueError, "twice"):
            qtrace.windows(*self.files(["QCOUNT a 1", "QCOUNT a 1"],
                                       [VTD_READ, EDU_BEGIN, EDU_END, EDU_BEGIN, EDU_END]))

    def test_no_iommu_events(self):
        with self.assertRaisesRegex(ValueError, "no VT-d"):
            qtrace.windows(*self.files(["QCOUNT a 1"], [EDU_BEGIN, EDU_END]))


class SmmuTest(Base):
    def test_per_op(self):
        prog = ["QCOUNT unmap 2"]
        trace = ["smmuv3_read_mmio addr: 0x0 val:0x0 size: 0x4(0)",
                 EDU_BEGIN]
        for _ in range(2):
            trace += ["smmuv3_cmdq_consume prod=1 cons=0 prod.wrap=0 cons.wrap=0",
                      "smmuv3_cmdq_opcode <--- SMMU_CMD_TLBI_NH_VA",
                      "smmuv3_cmdq_opcode <--- SMMU_CMD_TLBI_NH_VA",
                      "smmuv3_cmdq_opcode <--- SMMU_CMD_SYNC",
                      "smmuv3_write_mmio addr: 0x98 val:0x3 size: 0x4(0)",
                      "smmuv3_read_mmio addr: 0x9c val:0x3 size: 0x4(0)",
                      "smmuv3_read_mmio addr: 0x9c val:0x3 size: 0x4(0)"]
        trace += [EDU_END]
        w = qtrace.windows(*self.files(prog, trace))
        self.assertEqual(w["unmap"], {"cmd:CMD_TLBI_NH_VA": 2, "cmd:CMD_SYNC": 1,
                                      "syncs": 1, "mmio_r": 2, "mmio_w": 1})

    def test_sync(self):
        w = qtrace.windows(*self.files(["QCOUNT s 1"], [
            EDU_BEGIN, "smmuv3_cmdq_opcode <--- SMMU_CMD_SYNC", EDU_END]))
        self.assertEqual(w["s"]["syncs"], 1)
        self.assertEqual(w["s"]["cmd:CMD_SYNC"], 1)


class CliTest(Base):
    def test_main(self):
        p, t = self.files(["QCOUNT a 1"], [EDU_BEGIN, VTD_READ, EDU_END])
        self.assertEqual(qtrace.main(["qtrace.py", p, t]), 0)
        p, t = self.files(["QCOUNT a 1"], [VTD_READ, EDU_BEGIN])
        self.assertEqual(qtrace.main(["qtrace.py", p, t]), 1)


if __name__ == "__main__":
    unittest.main()
