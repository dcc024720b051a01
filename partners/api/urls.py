"""Routes of the partners API, registered on the project's one `/api/v1/` router."""

from . import views

routes = [
    ("organisations", views.OrganisationViewSet, "organisation"),
    ("mous", views.MoUViewSet, "mou"),
    ("eois", views.EOIViewSet, "eoi"),
    ("commitment-stages", views.CommitmentStageViewSet, "commitmentstage"),
    ("commitments", views.CommitmentViewSet, "commitment"),
]
