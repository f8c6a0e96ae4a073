// SPDX-License-Identifier: GPL-2.0
/*
 * The test drivers' shim (see riommu_test_shim.h): the only riommu C code
 * that includes private headers of drivers/iommu.  Each function says what
 * it needs and which public interface upstream would have to offer
 * instead.
 */
#include <linux/iommu.h>
#include <linux/iommufd.h>
#include "iommu-priv.h"
#include "iommufd/iommufd_private.h"
#include "riommu_test_shim.h"

/*
 * A software bus with an IOMMU instance of its own, as the C mock registers
 * (iommufd_test_init()).  iommu_device_register_bus(),
 * iommu_device_unregister_bus() and iommu_mock_device_add() are exported
 * only with CONFIG_IOMMUFD_TEST and declared only in iommu-priv.h: upstream
 * would declare them in include/linux/iommu.h (under IOMMUFD_TEST) for
 * out-of-tree test drivers.
 */
int riommu_test_register_bus(struct iommu_device *iommu,
			     const struct iommu_ops *ops,
			     const struct bus_type *bus,
			     struct notifier_block *nb)
{
	return iommu_device_register_bus(iommu, ops, bus, nb);
}

void riommu_test_unregister_bus(struct iommu_device *iommu,
				const struct bus_type *bus,
				struct notifier_block *nb)
{
	iommu_device_unregister_bus(iommu, bus, nb);
}

int riommu_test_mock_device_add(struct device *dev, struct iommu_device *iommu)
{
	return iommu_mock_device_add(dev, iommu);
}

/*
 * The iommufd object id of the HWPT that owns @domain, or 0: the mock's
 * control device finds domains by the HWPT id userspace names, as the C
 * mock's get_md_pagetable() does.  iommufd keeps struct
 * iommufd_hw_pagetable private; its first member is the public struct
 * iommufd_object (asserted).  Upstream would need an accessor such as
 * iommufd_domain_hwpt_id() in include/linux/iommufd.h.
 */
static_assert(offsetof(struct iommufd_hw_pagetable, obj) == 0);
u32 riommu_test_domain_hwpt_id(struct iommu_domain *domain)
{
	if (domain->cookie_type != IOMMU_COOKIE_IOMMUFD || !domain->iommufd_hwpt)
		return 0;
	return domain->iommufd_hwpt->obj.id;
}
