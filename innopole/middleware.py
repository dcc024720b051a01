"""Project-wide middleware: sign-in required by default, the Content Security Policy header, request body limits."""

import re
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.http import JsonResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.urls import Resolver404, resolve
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _


class LoginRequiredMiddleware(auth_middleware.LoginRequiredMiddleware):
    """Django's sign-in-by-default, except for the API: DRF authenticates tokens itself and answers 401/403.

    Pages that anonymous visitors may reach are marked with `@login_not_required`.
    """

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


def basemap_image_sources() -> list[str]:
    """The origins the map's basemap loads images from: the tile server of settings.BASEMAP_TILE_URL (a `{s}`
    subdomain becomes a wildcard) and any image in settings.BASEMAP_ATTRIBUTION (the provider's logo)."""
    if not settings.BASEMAP_TILE_URL:
        return []
    sources = []
    urls = [settings.BASEMAP_TILE_URL, *re.findall(r"""<img[^>]+src=["']([^"']+)""", settings.BASEMAP_ATTRIBUTION)]
    for url in urls:
        parts = urlsplit(url.replace("{s}", "subdomain"))
        if parts.scheme in ("https", "http") and parts.netloc:
            origin = f"{parts.scheme}://{parts.netloc}".replace("://subdomain.", "://*.")
            if origin not in sources:
                sources.append(origin)
    return sources


def with_image_sources(policy: str, sources: list[str]) -> str:
    """The policy with `sources` added to its img-src directive (one made from default-src when it has none)."""
    if not sources:
        return policy
    directives = [directive.strip() for directive in policy.split(";") if directive.strip()]
    for index, directive in enumerate(directives):
        if directive.split()[0] == "img-src":
            directives[index] = " ".join([directive, *sources])
            break
    else:
        default = next((d.split()[1:] for d in directives if d.split()[0] == "default-src"), [])
        directives.append(" ".join(["img-src", *default, *sources]))
    return "; ".join(directives)


class ContentSecurityPolicyMiddleware:
    """Sends the CSP of settings.CONTENT_SECURITY_POLICY unless a view set its own; with a basemap configured, its
    tile server (and the logo in its attribution) may serve images too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if settings.CONTENT_SECURITY_POLICY and "Content-Security-Policy" not in response:
            policy = with_image_sources(settings.CONTENT_SECURITY_POLICY, basemap_image_sources())
            response["Content-Security-Policy"] = policy
        return response


class RequestBodyLimitMiddleware:
    """Refuses a request body over its route's limit with 413 before a byte of it is read.

    Django reads at most CONTENT_LENGTH bytes of a body (WSGIRequest wraps the input in a LimitedStream, and the
    multipart parser stops there too), so checking the declared length here, before CsrfViewMiddleware or a view
    touches `request.POST`, is what keeps an oversized upload from being spooled to the temporary folder. A chunked
    body without a length would be read as empty, so it is refused with 411 rather than silently dropped.

    The limit is the first that applies of: the route's name in settings.REQUEST_BODY_LIMITS_BY_ROUTE (the value is
    a number of bytes or the name of a setting holding it), the longest matching path prefix in
    settings.REQUEST_BODY_LIMITS_BY_PATH, and settings.REQUEST_BODY_LIMIT_BYTES.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        length = request.META.get("CONTENT_LENGTH") or ""
        try:
            declared = int(length)
        except ValueError:
            declared = None
        if declared is None and "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            return self.refuse(request, status=411, limit=self.limit_for(request))
        if declared:
            limit = self.limit_for(request)
            if declared > limit:
                return self.refuse(request, status=413, limit=limit, size=declared)
        return self.get_response(request)

    @staticmethod
    def limit_for(request) -> int:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            match = None
        if match is not None and match.view_name in settings.REQUEST_BODY_LIMITS_BY_ROUTE:
            limit = settings.REQUEST_BODY_LIMITS_BY_ROUTE[match.view_name]
            return getattr(settings, limit) if isinstance(limit, str) else limit
        prefixes = [prefix for prefix in settings.REQUEST_BODY_LIMITS_BY_PATH if request.path_info.startswith(prefix)]
        if prefixes:
            return settings.REQUEST_BODY_LIMITS_BY_PATH[max(prefixes, key=len)]
        return settings.REQUEST_BODY_LIMIT_BYTES

    @staticmethod
    def refuse(request, *, status: int, limit: int, size: int | None = None):
        if status == 411:
            title = _("Length required")
            message = _("Send the request with a Content-Length header; chunked request bodies are not accepted.")
        else:
            title = _("Too much data sent")
            message = _("The request is %(size)s; at most %(limit)s can be sent here.") % {
                "size": filesizeformat(size),
                "limit": filesizeformat(limit),
            }
            if limit >= settings.ATTACHMENT_MAX_BYTES:
                message += " " + _("A file can be at most %(limit)s.") % {
                    "limit": filesizeformat(settings.ATTACHMENT_MAX_BYTES)
                }
        if request.path_info.startswith("/api/"):
            code = "length_required" if status == 411 else "request_too_large"
            return JsonResponse({"detail": message, "code": code}, status=status)
        back = request.META.get("HTTP_REFERER", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = ""
        return render(request, "413.html", {"title": title, "message": message, "back": back}, status=status)
