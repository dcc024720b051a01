"""The four roles, as Django groups, and the questions views ask about them."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

PLANNER = "Planner"
EXECUTIVE = "Executive"
STAFF = "Staff"
PARTNER = "Partner"
ALL_ROLES = (PLANNER, EXECUTIVE, STAFF, PARTNER)

# Where `/` sends each role, first match wins (a user in several groups lands on the most capable place).
HOME_BY_ROLE = (
    (STAFF, "admin:index"),
    (PLANNER, "planning:plan"),
    (EXECUTIVE, "dashboard:dashboard"),
    (PARTNER, "partners:portal"),
)


def roles_of(user: AbstractBaseUser | AnonymousUser) -> frozenset[str]:
    """The role names of a user; cached on the user object for the request."""
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_innopole_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            cached |= {STAFF}
        user._innopole_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    return bool(roles_of(user) & set(roles))


def can_edit_plan(user) -> bool:
    """Planners and HKSTP staff change plan data; executives and partners only read it."""
    return has_role(user, PLANNER, STAFF)


def role_required(*roles: str):
    """View decorator: signed-in users without one of `roles` get 403 (sign-in itself is the middleware's job)."""
    from functools import wraps

    from django.core.exceptions import PermissionDenied

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not has_role(request.user, *roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
