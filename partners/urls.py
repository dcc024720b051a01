"""The partner portal under `/portal/`. `attachment-download` and `invitation-accept` are also linked from the
admin and from invitation e-mails: keep their names."""

from django.urls import path

from . import views

app_name = "partners"

urlpatterns = [
    path("", views.portal, name="portal"),
    path("eois/new/", views.eoi_create, name="eoi-create"),
    path("eois/validate/", views.eoi_validate, name="eoi-validate"),
    path("eois/<int:pk>/", views.eoi_detail, name="eoi-detail"),
    path("eois/<int:pk>/edit/", views.eoi_edit, name="eoi-edit"),
    path("eois/<int:pk>/delete/", views.eoi_delete, name="eoi-delete"),
    path("eois/<int:pk>/attachments/", views.attachment_add, name="attachment-add"),
    # The partner's workflow steps by name (`partners.workflow`): /eois/<pk>/submit/, /eois/<pk>/withdraw/.
    path("eois/<int:pk>/<slug:transition>/", views.eoi_move, name="eoi-move"),
    path("attachments/<int:pk>/download/", views.attachment_download, name="attachment-download"),
    path("attachments/<int:pk>/delete/", views.attachment_delete, name="attachment-delete"),
    path("invite/", views.invite, name="invite"),
    path("invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation-revoke"),
    path("invitations/<int:pk>/resend/", views.invitation_resend, name="invitation-resend"),
    path("invitations/<uuid:token>/", views.invitation_accept, name="invitation-accept"),
    path("privacy/", views.privacy, name="privacy"),
]
