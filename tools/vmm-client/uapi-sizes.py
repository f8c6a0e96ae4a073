#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Whether the iommufd uAPI structs of the iommufd-bindings crate that
tools/vmm-client is locked to have the sizes of the kernel's own
include/uapi/linux/iommufd.h.

  uapi-sizes.py HDRDIR

HDRDIR: a kernel's installed headers (make headers_install; the test
kernels' O=/usr/include).  The crate's sizes are bindgen's layout
assertions in its source (cargo's registry copy, which `cargo build
--locked` of tools/vmm-client fetched); each struct's size in the kernel's
header is measured by the host C compiler.  Prints one line per struct
that differs, then a summary; exits 1 on a difference or if nothing could
be compared.
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))


def locked_version(crate):
    lock = open(os.path.join(here, "Cargo.lock")).read()
    m = re.search(r'name = "%s"\nversion = "([^"]+)"' % re.escape(crate), lock)
    if not m:
        sys.exit("uapi-sizes: %s is not in Cargo.lock" % crate)
    return m.group(1)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    hdr = sys.argv[1]
    ver = locked_version("iommufd-bindings")
    home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    srcs = glob.glob(os.path.join(home, "registry/src/*/iommufd-bindings-%s/src/iommufd.rs" % ver))
    if not srcs:
        sys.exit("uapi-sizes: no iommufd-bindings-%s source under %s (build tools/vmm-client first)"
                 % (ver, home))
    rs = open(srcs[0]).read()
    sizes = [(n, int(v)) for n, v in re.findall(
        r'\["Size of ([A-Za-z_0-9]+)"\]\s*\[\s*::std::mem::size_of::<[A-Za-z_0-9]+>\(\)'
        r'\s*-\s*(\d+)usize\]', rs) if n.startswith("iommu") and "__bindgen" not in n]
    h = open(os.path.join(hdr, "linux/iommufd.h")).read()
    kernel = set(re.findall(r"^struct (iommu[a-z_0-9]+) \{", h, re.M))
    both = [(n, v) for n, v in sizes if n in kernel]
    prog = "#include <stdio.h>\n#include <linux/iommufd.h>\nint main(void)\n{\n"
    for n, v in both:
        prog += '\tprintf("%%s %%zu\\n", "%s", sizeof(struct %s));\n' % (n, n)
    prog += "\treturn 0;\n}\n"
    with tempfile.TemporaryDirectory() as d:
        c, exe = os.path.join(d, "s.c"), os.path.join(d, "s")
        open(c, "w").write(prog)
        subprocess.run(["gcc", "-I", hdr, c, "-o", exe], check=True)
        out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    got = dict(l.split() for l in out.splitlines())
    bad = [(n, v, int(got[n])) for n, v in both if int(got[n]) != v]
    for n, v, k in bad:
        print("differs: struct %s: %d bytes in iommufd-bindings %s, %d in the kernel" % (n, v, ver, k))
    only = sorted(kernel - {n for n, _ in sizes})
    print("iommufd-bindings %s: %d structs compared, %d differ; in the kernel only: %s"
          % (ver, len(both), len(bad), ", ".join(only) or "none"))
    return 1 if bad or not both else 0


sys.exit(main())
