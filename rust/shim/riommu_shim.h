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
int riommu_shim_object_depend(struct iommufd_object *obj_dependent,
			      struct iommufd_object *obj_depended);
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
void *riommu_shim_kmalloc(size_t size, gfp_t flags);
void riommu_shim_free_pages_phys(u64 phys, unsigned int order);

/* Hardware IOMMU drivers (rust/riommu/hw.rs). */
struct delayed_work;
struct work_struct;
void riommu_shim_pci_segment_root(struct device *dev, int *segment,
				  u16 *root_rid);

/* What a bridge above a device is, for its DMA aliases. */
enum riommu_pci_bridge_kind {
	RIOMMU_PCI_BRIDGE_PCIE_PORT,	/* root port, switch up/downstream */
	RIOMMU_PCI_BRIDGE_PCIE_TO_PCI,	/* PCI_EXP_TYPE_PCI_BRIDGE */
	RIOMMU_PCI_BRIDGE_PCI_TO_PCIE,	/* PCI_EXP_TYPE_PCIE_BRIDGE */
	RIOMMU_PCI_BRIDGE_PCIE_OTHER,	/* another PCIe type */
	RIOMMU_PCI_BRIDGE_CONVENTIONAL,	/* not PCIe */
};

/* One bus above a device (riommu_shim_pci_dma_upstream()). */
struct riommu_pci_upstream {
	u16 id;			/* the bridge's pci_dev_id() */
	u8 secondary;		/* its subordinate bus number */
	u8 kind;		/* enum riommu_pci_bridge_kind */
	bool is_virtual;	/* a virtual bus: no bridge (bus->self NULL) */
	bool xlate_root;	/* PCI_DEV_FLAGS_BRIDGE_XLATE_ROOT */
	bool no_alias;		/* PCI_DEV_FLAGS_PCI_BRIDGE_NO_ALIAS */
	bool pcie_bridge_alias;	/* PCI_DEV_FLAG_PCIE_BRIDGE_ALIAS */
};

int riommu_shim_pci_dma_upstream(struct device *dev, u64 quirk[4],
				 struct riommu_pci_upstream *up, int max);
void riommu_shim_init_delayed_work(struct delayed_work *dwork,
				   void (*fn)(struct work_struct *work));
bool riommu_shim_schedule_delayed_work(struct delayed_work *dwork,
				       unsigned long delay);

#endif
