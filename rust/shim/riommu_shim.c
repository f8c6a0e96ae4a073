// SPDX-License-Identifier: GPL-2.0
/*
 * riommu C shim, linked into every riommu module (see riommu_shim.h).
 * Kept tiny on purpose: everything else is Rust.
 */
#include <linux/iommu.h>
#include <linux/iommufd.h>
#include <linux/mm.h>
#include <linux/property.h>
#include <linux/highmem.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/workqueue.h>
#include "riommu_shim.h"

/* The shim and the generated bindings use iommufd's driver exports. */
MODULE_IMPORT_NS("IOMMUFD");

/*
 * Whether iommufd has made @domain a HWPT's: it sets the cookie (public
 * fields of struct iommu_domain) once the allocation returned, after the
 * HWPT took its references (for a nested HWPT, on its vIOMMU).
 */
bool riommu_shim_domain_published(struct iommu_domain *domain)
{
	return domain->cookie_type == IOMMU_COOKIE_IOMMUFD && domain->iommufd_hwpt;
}

/* iommu_dirty_bitmap_record() is a static inline in iommu.h. */
void riommu_shim_dirty_record(struct iommu_dirty_bitmap *dirty,
			      unsigned long iova, unsigned long length)
{
	iommu_dirty_bitmap_record(dirty, iova, length);
}

/*
 * kmalloc() of a run-time size, for the API's fixed-size objects
 * (rust/riommu/kmem.rs): kmalloc() is a static inline (with the
 * allocation-profiling and kmalloc-token hooks the configuration asks for),
 * and Rust's Kmalloc reaches kmalloc only through krealloc_node_align(),
 * which first looks for an old object.
 */
void *riommu_shim_kmalloc(size_t size, gfp_t flags)
{
	return kmalloc(size, flags);
}

/*
 * Physical address behind a user virtual address of current->mm.
 * page_to_phys() is a macro and the gup/put_page pair is inline plumbing.
 */
int riommu_shim_user_addr_to_phys(unsigned long uaddr, phys_addr_t *phys)
{
	struct page *page;
	long n;

	n = get_user_pages_fast(uaddr & PAGE_MASK, 1, 0, &page);
	if (n < 0)
		return n;
	if (n != 1)
		return -EFAULT;
	*phys = page_to_phys(page) + offset_in_page(uaddr);
	put_page(page);
	return 0;
}

/*
 * Page-table pages for riommu's page-table walker (rust/riommu/pgtable.rs):
 * one zeroed 4 KiB page, named by its physical address as hardware walkers
 * need.  __pa()/__va() are macros.
 */
u64 riommu_shim_alloc_table(void)
{
	unsigned long va = get_zeroed_page(GFP_KERNEL_ACCOUNT);

	return va ? __pa(va) : 0;
}

void riommu_shim_free_table(u64 phys)
{
	free_page((unsigned long)__va(phys));
}

void *riommu_shim_phys_to_virt(u64 phys)
{
	return __va(phys);
}

/*
 * The gather's free list of table pages (rust/riommu/iotlb.rs): pages that
 * a map or unmap unlinked, linked through page->lru as iommu-pages.h's
 * iommu_pages_list_add() does (a private inline), released only after the
 * flush.  The release goes through call_rcu(): a CPU walk without the
 * table lock (LockedPageTable::iova_to_phys, under rcu_read_lock()) may still be
 * reading the page.  page->rcu_head overlays page->lru, which is free again
 * once the page is off the list.  list_empty(), page_to_phys() and friends
 * are inlines and macros.
 */
/* iommu_iotlb_gather_init() is an inline (the list head points to itself). */
void riommu_shim_gather_init(struct iommu_iotlb_gather *gather)
{
	iommu_iotlb_gather_init(gather);
}

/* gfpflags_allow_blocking() is an inline. */
bool riommu_shim_gfp_may_sleep(gfp_t gfp)
{
	return gfpflags_allow_blocking(gfp);
}

bool riommu_shim_gather_list_empty(struct iommu_iotlb_gather *gather)
{
	return list_empty(&gather->freelist.pages);
}

void riommu_shim_gather_add_table(struct iommu_iotlb_gather *gather, u64 phys)
{
	list_add_tail(&phys_to_page(phys)->lru, &gather->freelist.pages);
}

static void riommu_shim_table_rcu_free(struct rcu_head *head)
{
	__free_page(container_of(head, struct page, rcu_head));
}

size_t riommu_shim_gather_release(struct iommu_iotlb_gather *gather)
{
	struct page *page, *next;
	size_t n = 0;

	list_for_each_entry_safe(page, next, &gather->freelist.pages, lru) {
		list_del(&page->lru);
		call_rcu(&page->rcu_head, riommu_shim_table_rcu_free);
		n++;
	}
	return n;
}

/* refcount_read() of an iommufd object's users (an inline). */
unsigned int riommu_shim_object_users(struct iommufd_object *obj)
{
	return refcount_read(&obj->users);
}

/*
 * _iommufd_object_depend() (drivers/iommu/iommufd/driver.c), but taking the
 * users reference only if it is not zero: iommufd_object_remove() drops an
 * object's users to 0 (refcount_dec_if_one(), under the objects' xa_lock)
 * before it calls the object's destroy op, so a driver that finds a sibling
 * queue in its own table may find one whose destruction has begun; an
 * unconditional refcount_inc() there would resurrect an object that is
 * about to be freed.  refcount_inc_not_zero() is an inline.  The reference
 * is dropped with _iommufd_object_undepend().
 *
 * This does not cover a depended queue that is not finalized yet: the
 * driver sees it from hw_queue_init_phys() on, with users at 1, and if
 * iommufd_ucmd_respond() then fails, iommufd_object_abort_and_destroy()
 * destroys it regardless of users, and iommufd_object_abort() WARNs and
 * leaks it if another queue took a reference meanwhile and still holds it
 * (main.c).
 * Only the core can tell a finalized object (xa_load(&ictx->objects, id) ==
 * obj, as iommufd_try_inc_users() checks), and that is private.
 */
int riommu_shim_object_depend(struct iommufd_object *obj_dependent,
			      struct iommufd_object *obj_depended)
{
	if (obj_dependent == obj_depended ||
	    obj_dependent->type != obj_depended->type)
		return -EINVAL;
	if (!refcount_inc_not_zero(&obj_depended->users))
		return -ENOENT;
	return 0;
}

/* Waits for the RCU callbacks above: they run module text. */
void riommu_shim_rcu_barrier(void)
{
	rcu_barrier();
}

/* xa_lock()/xa_unlock() of the vIOMMU's vDEVICE table are static inlines. */
void riommu_shim_viommu_lock(struct iommufd_viommu *viommu)
{
	xa_lock(&viommu->vdevs);
}

void riommu_shim_viommu_unlock(struct iommufd_viommu *viommu)
{
	xa_unlock(&viommu->vdevs);
}

/* The vDEVICE published under @virt_id; the caller holds the xa_lock. */
struct iommufd_vdevice *riommu_shim_viommu_find_vdev(struct iommufd_viommu *viommu,
						     unsigned long virt_id)
{
	lockdep_assert_held(&viommu->vdevs.xa_lock);
	return xa_load(&viommu->vdevs, virt_id);
}

/*
 * Remove @vdev from its vIOMMU's table before its driver part is destroyed:
 * iommufd_vdevice_abort() calls vdev->destroy() first and clears the entry
 * only afterwards (with an xa_cmpxchg() that tolerates finding it gone), so
 * a concurrent lookup under the xa_lock could otherwise still reach a
 * vDEVICE whose driver data is being dropped.  xa_cmpxchg() is an inline.
 */
void riommu_shim_viommu_unpublish_vdev(struct iommufd_viommu *viommu,
				       struct iommufd_vdevice *vdev)
{
	xa_cmpxchg(&viommu->vdevs, vdev->virt_id, vdev, NULL, GFP_KERNEL);
}

/* Zeroed pages named by physical address (for mmap regions); __pa() is a macro. */
u64 riommu_shim_alloc_pages_phys(unsigned int order)
{
	unsigned long va = __get_free_pages(GFP_KERNEL_ACCOUNT | __GFP_ZERO, order);

	return va ? __pa(va) : 0;
}

void riommu_shim_free_pages_phys(u64 phys, unsigned int order)
{
	free_pages((unsigned long)__va(phys), order);
}

/* The first word of such pages, for loopback data. */

/*
 * Give a non-PCI device the "pasid-num-bits" property the iommu core reads
 * for max_pasids, before device_add().  The property array is a macro-built
 * C initializer.
 */
int riommu_shim_device_set_pasid_bits(struct device *dev, u32 bits)
{
	const struct property_entry props[] = {
		PROPERTY_ENTRY_U32("pasid-num-bits", bits),
		{}
	};

	return device_create_managed_software_node(dev, props, NULL);
}

/*
 * Copy between @buf and @addr of @mm, page by page, as a device would
 * through a PASID bound to @mm.  access_remote_vm() is not exported; this is
 * its minimal equivalent over exported get_user_pages_remote() and the
 * mmget/mmap-lock/kmap inlines.  -ESRCH once @mm has no users.
 */
int riommu_shim_mm_access(struct mm_struct *mm, unsigned long addr, void *buf,
			  size_t len, bool write)
{
	int ret = 0;

	if (!mmget_not_zero(mm))
		return -ESRCH;
	mmap_read_lock(mm);
	while (len) {
		size_t off = offset_in_page(addr);
		size_t n = min_t(size_t, len, PAGE_SIZE - off);
		struct page *page;
		void *va;

		if (get_user_pages_remote(mm, addr, 1, write ? FOLL_WRITE : 0,
					  &page, NULL) != 1) {
			ret = -EFAULT;
			break;
		}
		va = kmap_local_page(page);
		if (write) {
			memcpy(va + off, buf, n);
			set_page_dirty_lock(page);
		} else {
			memcpy(buf, va + off, n);
		}
		kunmap_local(va);
		put_page(page);
		addr += n;
		buf += n;
		len -= n;
	}
	mmap_read_unlock(mm);
	mmput(mm);
	return ret;
}

/*
 * The PCI segment of @dev and the requester id of its ancestor on the root
 * bus (the device itself when it sits on the root bus), which is what a
 * DMAR device scope naming a bridge covers.  The segment is an int: VMD
 * domains are numbered from 0x10000, which no DMAR unit covers (the Rust
 * side refuses them; the C driver looks such a device up by its VMD
 * endpoint, pci_real_dma_dev(), which is not exported to modules).  @dev
 * is a PCI device (the Rust caller holds it as a kernel::pci::Device, which
 * has neither).  to_pci_dev() is container_of(), pci_domain_nr() and
 * pci_is_root_bus() are inlines.
 */
void riommu_shim_pci_segment_root(struct device *dev, int *segment,
				  u16 *root_rid)
{
	struct pci_dev *pdev = to_pci_dev(dev), *up = pdev;

	while (!pci_is_root_bus(up->bus) && up->bus->self)
		up = up->bus->self;
	*segment = pci_domain_nr(pdev->bus);
	*root_rid = pci_dev_id(up);
}

/*
 * The facts pci_for_each_dma_alias() (drivers/pci/search.c) walks for
 * @dev's DMA aliases, which 7.3 does not export to modules: the quirk
 * aliases of its dma_alias_mask (devfns on its own bus, as a 256-bit map
 * in @quirk), and each bus above it up to the root bus, nearest first, in
 * @up (at most @max).  Returns how many buses, or -E2BIG if there are more
 * than @max.  riommu_core::vtd::alias decides what they alias to.  Only
 * fields and inlines (pci_is_pcie(), pci_pcie_type(), pci_is_root_bus())
 * are read; @dev is a PCI device the caller holds, and its ancestors live
 * as long as it does.
 */
/* MAX_NR_DEVFNS of the private drivers/pci/pci.h: a devfn is 8 bits. */
#define RIOMMU_PCI_DEVFNS 256

int riommu_shim_pci_dma_upstream(struct device *dev, u64 quirk[4],
				 struct riommu_pci_upstream *up, int max)
{
	struct pci_dev *pdev = to_pci_dev(dev);
	struct pci_bus *bus;
	unsigned int devfn;
	int n = 0;

	memset(quirk, 0, 4 * sizeof(u64));
	if (pdev->dma_alias_mask)
		for_each_set_bit(devfn, pdev->dma_alias_mask, RIOMMU_PCI_DEVFNS)
			quirk[devfn / 64] |= 1ULL << (devfn % 64);
	for (bus = pdev->bus; !pci_is_root_bus(bus); bus = bus->parent) {
		struct pci_dev *tmp = bus->self;
		struct riommu_pci_upstream *u;

		if (n == max)
			return -E2BIG;
		u = &up[n++];
		memset(u, 0, sizeof(*u));
		if (!tmp) {
			u->is_virtual = true;
			continue;
		}
		u->id = pci_dev_id(tmp);
		/*
		 * tmp->subordinate is this bus (pci_alloc_child_bus() sets
		 * child->self and bridge->subordinate together, probe.c), so
		 * its number without a second load of a pointer that a
		 * hot-remove of the bridge may clear.
		 */
		u->secondary = bus->number;
		u->xlate_root = tmp->dev_flags & PCI_DEV_FLAGS_BRIDGE_XLATE_ROOT;
		u->no_alias = tmp->dev_flags & PCI_DEV_FLAGS_PCI_BRIDGE_NO_ALIAS;
		u->pcie_bridge_alias = tmp->dev_flags & PCI_DEV_FLAG_PCIE_BRIDGE_ALIAS;
		if (!pci_is_pcie(tmp)) {
			u->kind = RIOMMU_PCI_BRIDGE_CONVENTIONAL;
			continue;
		}
		switch (pci_pcie_type(tmp)) {
		case PCI_EXP_TYPE_ROOT_PORT:
		case PCI_EXP_TYPE_UPSTREAM:
		case PCI_EXP_TYPE_DOWNSTREAM:
			u->kind = RIOMMU_PCI_BRIDGE_PCIE_PORT;
			break;
		case PCI_EXP_TYPE_PCI_BRIDGE:
			u->kind = RIOMMU_PCI_BRIDGE_PCIE_TO_PCI;
			break;
		case PCI_EXP_TYPE_PCIE_BRIDGE:
			u->kind = RIOMMU_PCI_BRIDGE_PCI_TO_PCIE;
			break;
		default:
			u->kind = RIOMMU_PCI_BRIDGE_PCIE_OTHER;
			break;
		}
	}
	return n;
}

/* INIT_DELAYED_WORK() is a macro (it also sets up the lockdep map). */
void riommu_shim_init_delayed_work(struct delayed_work *dwork,
				   void (*fn)(struct work_struct *work))
{
	INIT_DELAYED_WORK(dwork, fn);
}

/* schedule_delayed_work() is a static inline over the system workqueue. */
bool riommu_shim_schedule_delayed_work(struct delayed_work *dwork,
				       unsigned long delay)
{
	return schedule_delayed_work(dwork, delay);
}
