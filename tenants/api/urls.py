"""Routes of the tenants API and the roll-ups, registered on the project's one `/api/v1/` router."""

from . import views

routes = [
    ("tenants", views.TenantViewSet, "tenant"),
    ("allocations", views.SpaceAllocationViewSet, "allocation"),
    ("rollups/phases", views.PhaseRollupViewSet, "rollup-phase"),
    ("rollups/parcels", views.ParcelRollupViewSet, "rollup-parcel"),
    ("rollups/facilities", views.FacilityRollupViewSet, "rollup-facility"),
]
