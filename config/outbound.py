"""Outbound HTTP (webhooks and the webhook deployer), signed per Standard Webhooks 1.0, through
the SSRF guard: http or https URLs without credentials, whose host resolves only to public
addresses, unless ``SIGNOFF_WEBHOOK_ALLOWED_HOSTS`` names it (the tests name 127.0.0.1). The
address checked is the one connected to: a name that resolves elsewhere between the check and
the request (DNS rebinding) cannot move the request."""

import base64
import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

MAX_URL = 2000


def check_url(url: str, *, allow_private: bool = False) -> None:
    """The URL's form (what an administrator typed): refused with what is wrong. A literal
    private or loopback address is refused unless ``allow_private`` (an MLflow server on the
    internal network); link-local (cloud metadata) and multicast addresses always are."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise ValidationError(f"Give an http or https URL of at most {MAX_URL} characters.")
    if any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in url):
        raise ValidationError("The URL must not contain control characters.")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("Give an http or https URL with a host (file:, gopher: and the like are refused).")
    if parts.username or parts.password:
        raise ValidationError("Put no user name or password in the URL; the body is signed instead.")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise ValidationError("The URL's port must be a number from 1 to 65535.") from None
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return
    if literal.is_link_local or literal.is_multicast or literal.is_unspecified:
        raise ValidationError(f"{parts.hostname} is a link-local, multicast or unspecified address.")
    if not literal.is_global and not allow_private and not _allowed(parts.hostname):
        raise ValidationError(
            f"{parts.hostname} is a private, loopback or link-local address; webhooks go to public addresses "
            "unless SIGNOFF_WEBHOOK_ALLOWED_HOSTS names the host."
        )


def _allowed(host: str) -> bool:
    return host.lower() in {name.lower() for name in settings.SIGNOFF_WEBHOOK_ALLOWED_HOSTS}


def public_address(host: str, port: int) -> str:
    """The address to connect to for ``host``: refused (``ValidationError``) when any address it
    resolves to is loopback, private, link-local, multicast, reserved or unspecified, unless the
    host is allowed by the settings."""
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except (socket.gaierror, UnicodeError) as error:
        raise ValidationError(f"{host} does not resolve: {error}") from None
    if _allowed(host):
        return sorted(found)[0]
    for address in found:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global or ip.is_multicast:
            raise ValidationError(
                f"{host} resolves to {address}, a private, loopback or link-local address; webhooks go to "
                "public addresses unless SIGNOFF_WEBHOOK_ALLOWED_HOSTS names the host."
            )
    return sorted(found)[0]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to ``address``, checking the certificate of ``host`` (the name in the URL)."""

    def __init__(self, host, port, address, timeout):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict, timeout: float) -> tuple[int, bytes]:
    """POST ``body`` to ``url`` through the guard; (status, the first 4 KB of the answer)."""
    check_url(url)
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = public_address(parts.hostname, port)
    if parts.scheme == "https":
        connection = _PinnedHTTPSConnection(parts.hostname, port, address, timeout)
    else:
        connection = http.client.HTTPConnection(address, port, timeout=timeout)
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    try:
        connection.request("POST", path, body=body, headers={"Host": parts.netloc, **headers})
        response = connection.getresponse()
        return response.status, response.read(4096)
    finally:
        connection.close()


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks 1.0: ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` with the secret's key."""
    return hmac_v1(base64.b64decode(secret.removeprefix("whsec_")), message_id, timestamp, body)


def hmac_v1(key: bytes, message_id: str, timestamp: int | str, body: bytes) -> str:
    """``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body``: Standard Webhooks' signature, and
    MLflow's (whose key is its secret's text rather than base64)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signed_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Signoff-Webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
    }
    if secret:
        headers["webhook-signature"] = signature(secret, message_id, timestamp, body)
    return headers


def answer_kind(status: int) -> str:
    """How an answer is taken: ``done`` (2xx), ``permanent`` (4xx but 408 and 429) or ``transient``."""
    if 200 <= status < 300:
        return "done"
    if 400 <= status < 500 and status not in (408, 429):
        return "permanent"
    return "transient"
