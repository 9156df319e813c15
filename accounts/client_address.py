"""The client's address, for the login lockout and the API throttles: one rule.

``REMOTE_ADDR`` is the client, unless it is one of ``SIGNOFF_TRUSTED_PROXIES`` (addresses or
networks of the reverse proxies in front of Signoff). Then the client is the right-most address
in ``X-Forwarded-For`` that is not itself a trusted proxy: what the nearest proxy saw, never what
the client claims further left. With no trusted proxies configured (the default), a forwarded
header is ignored, so nobody escapes a lockout by inventing addresses.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


@lru_cache(maxsize=8)
def _networks(configured: tuple[str, ...]):
    return [ipaddress.ip_network(entry.strip(), strict=False) for entry in configured if entry.strip()]


def _trusted(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(tuple(settings.SIGNOFF_TRUSTED_PROXIES)))


def client_address(request) -> str:
    remote = request.META.get("REMOTE_ADDR", "") or ""
    if not _trusted(remote):
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    for address in reversed(forwarded):
        if not _trusted(address):
            try:
                return str(ipaddress.ip_address(address))
            except ValueError:
                return remote  # a proxy that forwards garbage: count it as the proxy's own
    return remote


class AnonThrottle(AnonRateThrottle):
    def get_ident(self, request):
        return client_address(request)


class UserThrottle(UserRateThrottle):
    def get_ident(self, request):
        return client_address(request)
