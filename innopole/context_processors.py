"""Template context every page needs: the navigation for the signed-in user's roles."""

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core.roles import EXECUTIVE, PARTNER, PLANNER, STAFF, has_role

NAVIGATION = (
    (_("Plan"), "planning:plan", (PLANNER, STAFF)),
    (_("Schedule"), "planning:schedule", (EXECUTIVE, PLANNER, STAFF)),
    (_("Dashboard"), "dashboard:dashboard", (EXECUTIVE, PLANNER, STAFF)),
    (_("Portal"), "partners:portal", (PARTNER,)),
    (_("Admin"), "admin:index", (STAFF,)),
    (_("API"), "api-docs", (PLANNER, STAFF, EXECUTIVE, PARTNER)),
)


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    items = [
        {"label": label, "url": reverse(url_name), "active": False}
        for label, url_name, roles in NAVIGATION
        if has_role(user, *roles)
    ]
    # The current page is the item with the longest address the path starts with (/plan/schedule/ is the
    # schedule's, not the plan's).
    current = max(
        (item for item in items if request.path.startswith(item["url"])),
        key=lambda item: len(item["url"]),
        default=None,
    )
    if current is not None:
        current["active"] = True
    return {"nav_items": items}
