from django.urls import path

from .views import exchange, history, pages, parcel, phase, schedule

app_name = "planning"

urlpatterns = [
    path("plan/", pages.plan, name="plan"),
    # Import (upload, preview, apply) and the export links: planning.views.exchange.
    path("plan/import/", exchange.parcel_import, name="parcel-import"),
    path("plan/import/done/", exchange.parcel_import_done, name="parcel-import-done"),
    # The parcel panel (planning.views.parcel): fragments to htmx, the whole workspace otherwise.
    path("plan/parcels/new/", parcel.parcel_new, name="parcel-new"),
    path("plan/parcels/new/validate/", parcel.parcel_new_validate, name="parcel-new-validate"),
    path("plan/parcels/<str:code>/", parcel.parcel_panel, name="parcel"),
    path("plan/parcels/<str:code>/history/", parcel.parcel_history_more, name="parcel-history"),
    path("plan/parcels/<str:code>/attributes/", parcel.parcel_attributes, name="parcel-attributes"),
    path("plan/parcels/<str:code>/attributes/edit/", parcel.parcel_attributes_edit, name="parcel-attributes-edit"),
    path(
        "plan/parcels/<str:code>/attributes/validate/",
        parcel.parcel_attributes_validate,
        name="parcel-attributes-validate",
    ),
    path("plan/parcels/<str:code>/delete/", parcel.parcel_delete, name="parcel-delete"),
    path("plan/parcels/<str:code>/facilities/new/", parcel.facility_new, name="facility-new"),
    path("plan/parcels/<str:code>/facilities/validate/", parcel.facility_validate, name="facility-validate"),
    path("plan/parcels/<str:code>/facilities/<int:pk>/", parcel.facility_row, name="facility"),
    path("plan/parcels/<str:code>/facilities/<int:pk>/edit/", parcel.facility_edit, name="facility-edit"),
    path("plan/parcels/<str:code>/facilities/<int:pk>/delete/", parcel.facility_delete, name="facility-delete"),
]
# The timeline (planning.views.schedule), the phase view (planning.views.phase) and the history and time-travel
# fragments (planning.views.history) keep their routes beside their views.
urlpatterns += schedule.urlpatterns + phase.urlpatterns + history.urlpatterns
