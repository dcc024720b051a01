"""Who is signing in, from where: usernames compared as people read them, the client's real address, and the hooks
that django-axes (the sign-in lockout) and Django's password machinery call.

Bottom layer: the apps' services use `username_check_available` before they create or rename an account; the
settings name the callables below (`AXES_USERNAME_CALLABLE`, `AXES_CLIENT_IP_CALLABLE`, `AUTH_PASSWORD_VALIDATORS`).
"""

import ipaddress
import unicodedata
from functools import cache

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# AccessAttempt.username is 255 characters; a longer value would fail the insert (and no username is that long).
_LOCKOUT_KEY_LENGTH = 255


def username_key(username: object) -> str:
    """The form under which two usernames count as the same person: NFKC (`ｓｔａｆｆ` → `staff`), then case-folded.

    Used for the lockout key and for uniqueness, never stored: the account keeps the spelling its owner chose.
    """
    return unicodedata.normalize("NFKC", str(username)).strip().casefold()[:_LOCKOUT_KEY_LENGTH]


def username_clean(username: str) -> str:
    """The username as stored: NFKC, as Django's sign-in form normalises what people type, without outer spaces."""
    return get_user_model().normalize_username(username).strip()


def username_check_available(username: str, *, exclude_pk: int | None = None) -> None:
    """Refuse a username that reads the same as an existing account's (`Staff`, `ｓｔａｆｆ` beside `staff`).

    The database's case-insensitive comparison (UPPER) is asked with both the stored form and the case-folded key,
    which also catches folds that change the length (`Straße` / `strasse`).
    """
    stored, key = username_clean(username), username_key(username)
    taken = get_user_model().objects.filter(Q(username__iexact=stored) | Q(username__iexact=key))
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError({"username": _("This username is taken; choose another.")})


# --- django-axes -------------------------------------------------------------------------------------------------


class LockoutModelBackend(AxesStandaloneBackend, ModelBackend):
    """Django's username-and-password backend behind django-axes' lockout check, as one backend.

    A locked-out username is refused (axes raises PermissionDenied, which `authenticate()` reports as a failure)
    before the password is checked. One backend rather than axes' and Django's side by side: with two, every
    `login(request, user)` without a `backend=` argument (the invitation's sign-in, for one) would fail.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        AxesStandaloneBackend.authenticate(self, request, username=username, password=password, **kwargs)
        return ModelBackend.authenticate(self, request, username=username, password=password, **kwargs)


def lockout_username(request, credentials: dict | None) -> str | None:
    """AXES_USERNAME_CALLABLE: failures are counted under the normalised username, so every variant of a name shares
    one count (security M8)."""
    field = get_user_model().USERNAME_FIELD
    username = (credentials or {}).get(field)
    if username is None and request is not None:
        username = request.POST.get(field)
    return None if username is None else username_key(username)


@cache
def _trusted_networks(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies if proxy.strip())


def _parse(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(address.strip())
    except ValueError:
        return None


def client_address(request) -> str:
    """The address of the client, for the sign-in lockout and the API throttles (AXES_CLIENT_IP_CALLABLE).

    The peer (`REMOTE_ADDR`) unless it is one of `settings.TRUSTED_PROXIES`; then `X-Forwarded-For` is read from
    the right (each proxy appends the address it received from), skipping trusted proxies, and the first address
    that is not one is the client. What a client writes into the header itself stands to the left of that and is
    never read, so a made-up `X-Forwarded-For` changes nothing (security H1).
    """
    networks = _trusted_networks(tuple(settings.TRUSTED_PROXIES))
    peer = request.META.get("REMOTE_ADDR", "")

    def trusted(address) -> bool:
        return any(address in network for network in networks)

    current = _parse(peer)
    if current is None or not trusted(current):
        return peer
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _parse(hop)
        if address is None:  # garbage in the header: the last trusted hop is all we know
            break
        current = address
        if not trusted(address):
            break
    return str(current)


# --- passwords ---------------------------------------------------------------------------------------------------


class RevokeTokensOnPasswordChange:
    """Deletes the user's API tokens whenever their password changes (security L4).

    Listed in AUTH_PASSWORD_VALIDATORS because Django calls a validator's `password_changed` after every save that
    follows `set_password`: the password change and reset pages, the admin, `changepassword`, and services. It
    validates nothing.
    """

    def validate(self, password, user=None) -> None:
        return None

    def password_changed(self, password, user=None) -> None:
        if user is not None and user.pk is not None:
            from rest_framework.authtoken.models import Token

            Token.objects.filter(user=user).delete()

    def get_help_text(self) -> str:
        return gettext_lazy("A new password withdraws every API token issued before it.")
