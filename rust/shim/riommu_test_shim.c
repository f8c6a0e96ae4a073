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

/*
 * The domain of the HWPT @id of @ictx, with the HWPT held: *@obj is the
 * HWPT's object, which riommu_test_hwpt_put() releases.  @type is
 * IOMMUFD_OBJ_HWPT_PAGING or IOMMUFD_OBJ_HWPT_NESTED (-ENOENT for an object
 * of another type), or IOMMUFD_OBJ_ANY for either (-EINVAL for any other
 * object), as the C mock's __get_md_pagetable() and iommufd_get_hwpt().
 * While held, iommufd_object_remove() cannot destroy the HWPT (its
 * refcount_dec_if_one(&obj->users) fails: EBUSY), so the domain, which the
 * HWPT's destroy frees, lives until the put.
 *
 * iommufd_get_object() is not exported (the C mock is built into iommufd):
 * this is its body (7.3 main.c) without the fault injection, with
 * iommufd_lock_obj() from iommufd_private.h.  xa_load() returns NULL for an
 * id reserved by iommufd_object_alloc() but not yet finalized.  Upstream
 * would export iommufd_get_object() for test drivers, or offer a lookup of
 * a HWPT's domain in include/linux/iommufd.h.
 */
struct iommu_domain *riommu_test_hwpt_get(struct iommufd_ctx *ictx, u32 id,
					  enum iommufd_object_type type,
					  struct iommufd_object **obj)
{
	struct iommufd_object *o;

	if (type != IOMMUFD_OBJ_ANY && type != IOMMUFD_OBJ_HWPT_PAGING &&
	    type != IOMMUFD_OBJ_HWPT_NESTED)
		return ERR_PTR(-EINVAL);

	xa_lock(&ictx->objects);
	o = xa_load(&ictx->objects, id);
	if (!o || (type != IOMMUFD_OBJ_ANY && o->type != type) ||
	    !iommufd_lock_obj(o))
		o = ERR_PTR(-ENOENT);
	xa_unlock(&ictx->objects);
	if (IS_ERR(o))
		return ERR_CAST(o);

	if (o->type != IOMMUFD_OBJ_HWPT_PAGING &&
	    o->type != IOMMUFD_OBJ_HWPT_NESTED) {
		iommufd_put_object(ictx, o);
		return ERR_PTR(-EINVAL);
	}
	*obj = o;
	return container_of(o, struct iommufd_hw_pagetable, obj)->domain;
}

/* Releases the HWPT riommu_test_hwpt_get() returned (iommufd_put_object()). */
void riommu_test_hwpt_put(struct iommufd_ctx *ictx, struct iommufd_object *obj)
{
	iommufd_put_object(ictx, obj);
}
