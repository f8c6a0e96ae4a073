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


VTD_READ = "vtd_reg_read addr 0x1c size 0x4"  # GSTS_REG
VTD_FSTS = "vtd_reg_read addr 0x34 size 0x4"  # FSTS_REG: fsts_r
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
        trace += [VTD_FSTS]  # a fault poll, apart from the other reads
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
                                    "mmio_r": 2, "mmio_w": 1, "fsts_r": 0.25})
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


    def test_untraced(self):
        # IQA: 1 page (QS=0), DW=1: 128 descriptors of 32 bytes.  In the
        # window the tail moves by 3 descriptors (wrapping), 2 traced.
        iqa = "vtd_reg_write addr 0x90 size 0x8 value 0x1234800"
        tail = "vtd_reg_write addr 0x88 size 0x8 value 0x{:x}"
        trace = [iqa, tail.format(0xfc0), EDU_BEGIN, tail.format(0x20),
                 vtd_desc("p-iotlb"), vtd_desc("wait"), EDU_END]
        w = qtrace.windows(*self.files(["QCOUNT r 1"], trace))
        self.assertEqual(w["r"]["desc:untraced"], 1)
        self.assertEqual(w["r"]["mmio_w"], 1)
        # All traced: no desc:untraced
        trace = [iqa, tail.format(0xfe0), EDU_BEGIN, tail.format(0x0),
                 vtd_desc("wait"), EDU_END]
        w = qtrace.windows(*self.files(["QCOUNT r 1"], trace))
        self.assertNotIn("desc:untraced", w["r"])
        # 128-bit descriptors (DW=0), 4-byte tail writes
        trace = ["vtd_reg_write addr 0x90 size 0x8 value 0x1234000",
                 "vtd_reg_write addr 0x88 size 0x4 value 0x10", EDU_BEGIN,
                 "vtd_reg_write addr 0x88 size 0x4 value 0x40", vtd_desc("wait"), EDU_END]
        w = qtrace.windows(*self.files(["QCOUNT r 1"], trace))
        self.assertEqual(w["r"]["desc:untraced"], 2)


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


def range_inval(tg, pages, ttl):
    return (f"smmuv3_range_inval vmid=0 asid=1 addr=0x100000 tg={tg} num_pages=0x{pages:x} "
            f"ttl={ttl} leaf=1 stage=1")


class SmmuRangeTest(Base):
    def test_pages_and_ttl(self):
        prog = ["QCOUNT u 2"]
        trace = [EDU_BEGIN,
                 "smmuv3_cmdq_opcode <--- SMMU_CMD_TLBI_NH_VA", range_inval(1, 0x100, 3),
                 "smmuv3_cmdq_opcode <--- SMMU_CMD_TLBI_NH_VA", range_inval(0, 1, 0),
                 range_inval(2, 2, 0),  # 16 KiB granule: 8 pages of 4 KiB
                 EDU_END]
        w = qtrace.windows(*self.files(prog, trace))
        self.assertEqual(w["u"]["tlbi_pages"], (0x100 + 1 + 8) / 2)
        self.assertEqual(w["u"]["tlbi_ttl"], 0.5)

    def test_bad_line(self):
        with self.assertRaises(ValueError):
            qtrace.windows(*self.files(["QCOUNT u 1"], [
                EDU_BEGIN, "smmuv3_range_inval vmid=0", EDU_END]))

    def pair(self, name, trace):
        p = os.path.join(self.dir.name, name + ".out")
        t = os.path.join(self.dir.name, name + ".trace")
        with open(p, "w") as f:
            f.write("QCOUNT m 1\n")
        with open(t, "w") as f:
            f.write("\n".join([EDU_BEGIN] + trace + [EDU_END]) + "\n")
        return p, t

    def test_compare(self):
        tlbi = "smmuv3_cmdq_opcode <--- SMMU_CMD_TLBI_NH_VA"
        sync = "smmuv3_cmdq_opcode <--- SMMU_CMD_SYNC"
        c = self.pair("c", [tlbi, range_inval(1, 1, 3), sync])
        same = self.pair("r", [tlbi, range_inval(1, 1, 3), sync])
        ok, lines = qtrace.compare(*same, *c)
        self.assertTrue(ok, lines)
        # Two pages where C invalidates one (no TTL: rounded up).
        wide = self.pair("w", [tlbi, range_inval(1, 2, 0), sync])
        ok, lines = qtrace.compare(*wide, *c)
        self.assertFalse(ok)
        self.assertIn("TLBI pages 2 vs C 1", lines[0])
        self.assertIn("level-hinted ranges 0 vs C 1", lines[0])
        # More commands.
        more = self.pair("m", [tlbi, range_inval(1, 1, 3), sync, sync])
        self.assertFalse(qtrace.compare(*more, *c)[0])
        # Nothing to compare, or no range event traced for C.
        other = os.path.join(self.dir.name, "o.out")
        with open(other, "w") as f:
            f.write("QCOUNT x 1\n")
        self.assertFalse(qtrace.compare(other, same[1], *c)[0])
        bare = self.pair("b", [tlbi, sync])
        self.assertFalse(qtrace.compare(*same, *bare)[0])
        self.assertEqual(qtrace.main(["qtrace.py", "compare", *same, *c]), 0)
        self.assertEqual(qtrace.main(["qtrace.py", "compare", *wide, *c]), 1)


class CliTest(Base):
    def test_main(self):
        p, t = self.files(["QCOUNT a 1"], [EDU_BEGIN, VTD_READ, EDU_END])
        self.assertEqual(qtrace.main(["qtrace.py", p, t]), 0)
        p, t = self.files(["QCOUNT a 1"], [VTD_READ, EDU_BEGIN])
        self.assertEqual(qtrace.main(["qtrace.py", p, t]), 1)

    def test_need_work(self):
        p, t = self.files(["QCOUNT a 2", "QCOUNT b 1"],
                          [EDU_BEGIN, vtd_desc("wait"), EDU_END, EDU_BEGIN, VTD_READ, EDU_END])
        self.assertEqual(qtrace.main(["qtrace.py", "--need-work", "a", p, t]), 0)
        self.assertEqual(qtrace.main(["qtrace.py", "--need-work", "a,b", p, t]), 1)
        self.assertEqual(qtrace.main(["qtrace.py", "--need-work", "c", p, t]), 1)


if __name__ == "__main__":
    unittest.main()
