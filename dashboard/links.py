"""Where each object the dashboard names can be opened, for the person reading it.

Planners and staff open a parcel in the workspace; an executive, who has no workspace, its phase's page. Schedule
items open at their row of the phase's timeline, utility lines at the phase's supply table (every role reads
both), commitments in the admin (staff only: nobody else has a page for one, and gets no link).
"""

from django.urls import reverse

from core.roles import STAFF, can_edit_plan, has_role
from planning.views.pages import parcel_url


def _phase_page(number) -> str:
    return reverse("planning:phase", args=[number]) if number is not None else ""


def object_url(obj: dict, user) -> str:
    kind, phase = obj.get("type"), obj.get("phase")
    if kind == "parcel":
        if can_edit_plan(user):
            return parcel_url(obj.get("code") or obj["label"])
        return _phase_page(phase)
    if kind == "schedule_item" and phase is not None:
        return f"{reverse('planning:schedule-phase', args=[phase])}#schedule-row-{obj['id']}"
    if kind == "utility" and phase is not None:
        return f"{_phase_page(phase)}#utilities-heading"
    if kind == "commitment" and has_role(user, STAFF):
        return reverse("admin:partners_commitment_change", args=[obj["id"]])
    return ""


def audience(user) -> str:
    """Which links `user` gets (`object_url` gives the same ones to everyone of an audience): for caching them."""
    if has_role(user, STAFF):
        return "staff"
    return "editor" if can_edit_plan(user) else "reader"


def object_links(objects: list[dict], user) -> list[dict]:
    """`objects` (type, id, label, and the details the selector added) with `url` for `user`."""
    return [{**obj, "url": object_url(obj, user)} for obj in objects]
