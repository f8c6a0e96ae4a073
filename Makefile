# SPDX-License-Identifier: GPL-2.0
#
# riommu: out-of-tree Rust IOMMU drivers for Linux 7.3.
#
#   make run        build everything, boot QEMU, load the modules, run the demo
#   make check      build everything and run every test (host + in QEMU)
#   make check-debug  the QEMU tests on the debug kernel (KASAN, lockdep...)
#   make modules    build the modules against KDIR
#   make CLIPPY=1   build the modules with clippy
#   make LLVM=-19   build the modules with clang-19 (for a kernel built so)
#
# KDIR defaults to the cached test kernel built by tools/kernel.sh; set
# KDIR=/path/to/your/7.3/build to use your own.

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
RIOMMU_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/riommu
KVER ?= 7.3
ARCH ?= x86_64
KDIR ?= $(RIOMMU_CACHE)/build/linux-$(KVER)-$(ARCH)
export LIBCLANG_PATH ?= /usr/lib/llvm-19/lib
export PATH := $(HOME)/.cargo/bin:$(PATH)

kbuild_arch := $(if $(filter arm64,$(ARCH)),ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-,)
KMAKE = $(MAKE) -C $(KDIR) M=$(TOP) $(kbuild_arch) BINDGEN=bindgen $(if $(CLIPPY),CLIPPY=1) $(if $(LLVM),LLVM=$(LLVM))

.PHONY: all modules modules-list clean run check check-debug bench fuzz soak setup kernel clippy fmt fmt-check host-test

# The modules tests load, in load order (x86_64).
MODULES := riommu_mock.ko riommu_minimal.ko
# arm64 (tools/check-arm64.sh): riommu_smmuv3.ko binds to the SMMUv3.
MODULES_arm64 := riommu_mock.ko riommu_minimal.ko riommu_smmuv3.ko

all: modules

modules:
	+$(KMAKE) modules

modules-list:
	@for m in $(if $(filter arm64,$(ARCH)),$(MODULES_arm64),$(MODULES)); do echo $(TOP)/$$m; done

clippy:
	+$(KMAKE) CLIPPY=1 KRUSTFLAGS=-Dwarnings modules

fmt:
	rustfmt --edition 2021 --config-path $(TOP)/.rustfmt.toml $(shell find $(TOP)/drivers $(TOP)/rust $(TOP)/tools/vmm-client/src -name '*.rs' -not -path '*/target/*' -not -path '*/gen/*')

fmt-check:
	rustfmt --check --edition 2021 --config-path $(TOP)/.rustfmt.toml $(shell find $(TOP)/drivers $(TOP)/rust $(TOP)/tools/vmm-client/src -name '*.rs' -not -path '*/target/*' -not -path '*/gen/*')

host-test:
	cd $(TOP)/rust/riommu_core && cargo test
	cd $(TOP)/tools/vmm-client && cargo test --locked
	python3 -m unittest discover -s $(TOP)/tools/bench -p 'test_*.py'

setup:
	$(TOP)/tools/setup.sh

kernel:
	$(TOP)/tools/kernel.sh $(ARCH)

run:
	$(TOP)/tools/run.sh

check:
	$(TOP)/tools/check.sh

bench:
	$(TOP)/tools/bench.sh

# A long run of the lockstep ioctl fuzzer (make check runs a short one).
fuzz:
	$(TOP)/tools/soak.sh --cycles 0 --objects 0 --fuzz $(or $(FUZZ_SECONDS),600)

soak:
	$(TOP)/tools/soak.sh

check-debug:
	$(TOP)/tools/check-debug.sh

clean:
	-+$(KMAKE) clean
