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
bool riommu_shim_domain_published(struct iommu_domain *domain);
void riommu_shim_dirty_record(struct iommu_dirty_bitmap *dirty,
			      unsigned long iova, unsigned long length);
int riommu_shim_user_addr_to_phys(unsigned long uaddr, phys_addr_t *phys);
u64 riommu_shim_alloc_table(void);
void riommu_shim_free_table(u64 phys);
void *riommu_shim_phys_to_virt(u64 phys);
struct iommu_iotlb_gather;
void riommu_shim_gather_init(struct iommu_iotlb_gather *gather);
bool riommu_shim_gather_list_empty(struct iommu_iotlb_gather *gather);
bool riommu_shim_gfp_may_sleep(gfp_t gfp);
void riommu_shim_gather_add_table(struct iommu_iotlb_gather *gather, u64 phys);
size_t riommu_shim_gather_release(struct iommu_iotlb_gather *gather);
void riommu_shim_rcu_barrier(void);
struct iommufd_object;
unsigned int riommu_shim_object_users(struct iommufd_object *obj);
struct iommufd_viommu;
struct iommufd_vdevice;
void riommu_shim_viommu_lock(struct iommufd_viommu *viommu);
void riommu_shim_viommu_unlock(struct iommufd_viommu *viommu);
struct iommufd_vdevice *riommu_shim_viommu_find_vdev(struct iommufd_viommu *viommu,
						     unsigned long virt_id);
void riommu_shim_viommu_unpublish_vdev(struct iommufd_viommu *viommu,
				       struct iommufd_vdevice *vdev);
int riommu_shim_device_set_pasid_bits(struct device *dev, u32 bits);
struct mm_struct;
int riommu_shim_mm_access(struct mm_struct *mm, unsigned long addr, void *buf,
			  size_t len, bool write);
u64 riommu_shim_alloc_pages_phys(unsigned int order);
void riommu_shim_free_pages_phys(u64 phys, unsigned int order);

/* Hardware IOMMU drivers (rust/riommu/hw.rs). */
struct delayed_work;
struct work_struct;
void riommu_shim_pci_segment_root(struct device *dev, int *segment,
				  u16 *root_rid);
void riommu_shim_init_delayed_work(struct delayed_work *dwork,
				   void (*fn)(struct work_struct *work));
bool riommu_shim_schedule_delayed_work(struct delayed_work *dwork,
				       unsigned long delay);

#endif
