/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What riommu's test drivers (riommu_mock and the riommu_minimal sample)
 * need from the iommu core's and iommufd's private headers, which the
 * riommu API, the shared shim and the hardware drivers do not include.  The
 * C mock (drivers/iommu/iommufd/selftest.c) lives inside iommufd and sees
 * the same internals.  Linked into the test drivers only (Kbuild); their
 * crates are built with --cfg riommu_test, which enables the Rust side
 * (rust/riommu/mockbus.rs, IommuRegistration::new_mock_bus,
 * Domain::hwpt_id).  Only public types appear here.
 */
#ifndef RIOMMU_TEST_SHIM_H
#define RIOMMU_TEST_SHIM_H

#include <linux/types.h>
#include <linux/iommufd.h>

struct bus_type;
struct device;
struct iommu_device;
struct iommu_domain;
struct iommu_ops;
struct iommufd_ctx;
struct iommufd_object;
struct notifier_block;

int riommu_test_register_bus(struct iommu_device *iommu,
			     const struct iommu_ops *ops,
			     const struct bus_type *bus,
			     struct notifier_block *nb);
void riommu_test_unregister_bus(struct iommu_device *iommu,
				const struct bus_type *bus,
				struct notifier_block *nb);
int riommu_test_mock_device_add(struct device *dev, struct iommu_device *iommu);
u32 riommu_test_domain_hwpt_id(struct iommu_domain *domain);
struct iommu_domain *riommu_test_hwpt_get(struct iommufd_ctx *ictx, u32 id,
					  enum iommufd_object_type type,
					  struct iommufd_object **obj);
void riommu_test_hwpt_put(struct iommufd_ctx *ictx, struct iommufd_object *obj);

#endif
