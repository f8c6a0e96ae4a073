/* SPDX-License-Identifier: GPL-2.0 */
/*
 * riommu C shim: the few static inlines and private layouts Rust cannot
 * reach through bindings.  Each function says why it exists.
 */
#ifndef RIOMMU_SHIM_H
#define RIOMMU_SHIM_H

#include <linux/types.h>

struct device;
struct iommu_domain;
struct iommu_dirty_bitmap;

void *riommu_shim_dev_iommu_priv_get(struct device *dev);
u32 riommu_shim_domain_hwpt_id(struct iommu_domain *domain);
void riommu_shim_dirty_record(struct iommu_dirty_bitmap *dirty,
			      unsigned long iova, unsigned long length);
int riommu_shim_user_addr_to_phys(unsigned long uaddr, phys_addr_t *phys);
u64 riommu_shim_alloc_table(void);
void riommu_shim_free_table(u64 phys);
void *riommu_shim_phys_to_virt(u64 phys);

#endif
