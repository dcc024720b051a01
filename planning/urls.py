from django.urls import path

from .views import pages

app_name = "planning"

urlpatterns = [
    path("plan/", pages.plan, name="plan"),
    path("dashboard/", pages.dashboard, name="dashboard"),
]
