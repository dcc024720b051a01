"""The tenants part of the demo: space allocations of data/innopole-demo.json, through `tenants.services`."""

from planning.demo import DemoLoad, day, number, register

from . import services
from .models import SpaceAllocation


@register(20)
def load_tenants(load: DemoLoad) -> None:
    for item in load.data["allocations"]:
        tenant = services.tenant_for_organisation(organisation=load.organisations[item["tenant"]], actor=None)
        facility = load.parcels[item["parcel"]].facilities.get(name=item["facility"])
        load.upsert(
            SpaceAllocation,
            {"tenant": tenant, "facility": facility},
            {"gfa_m2": number(item["gfa_m2"]), "status": item["status"], "start": day(item.get("start"))},
            create=services.allocation_create,
            update=services.allocation_update,
            name="allocation",
        )
