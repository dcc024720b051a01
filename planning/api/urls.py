"""Routes of the planning API, registered on the project's one `/api/v1/` router."""

from . import views

routes = [
    ("campuses", views.CampusViewSet, "campus"),
    ("phases", views.PhaseViewSet, "phase"),
    ("parcels", views.ParcelViewSet, "parcel"),
    ("facility-types", views.FacilityTypeViewSet, "facilitytype"),
    ("facilities", views.FacilityViewSet, "facility"),
    ("utility-capacities", views.UtilityCapacityViewSet, "utilitycapacity"),
    ("schedule-items", views.ScheduleItemViewSet, "scheduleitem"),
    ("schedule-dependencies", views.ScheduleDependencyViewSet, "scheduledependency"),
]
