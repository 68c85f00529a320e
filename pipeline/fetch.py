"""Fetching an image by URL for the rembg-style API (``GET /api/remove?url=...``), safely.

Off unless the environment variable ``BACKDROP_ALLOW_URL_FETCH`` is ``1`` (or ``true``/``yes``): a server that
fetches what it is told to is a way into the network it stands in. When on, :func:`fetch_url`

- accepts only ``http`` and ``https`` URLs;
- resolves the host once per request and refuses it if any of its addresses is not a public unicast address
  (private, loopback, link-local, shared, reserved, multicast, unspecified, or an IPv6 form wrapping one of
  those), then connects to the checked address itself, so a second DNS answer cannot send it elsewhere
  (DNS rebinding); HTTPS still verifies the certificate against the host name;
- follows at most :data:`MAX_REDIRECTS` redirects by hand, checking every hop the same way;
- reads at most :data:`MAX_FETCH_BYTES` (50 MiB, as ``rembg s``) and gives up after :data:`FETCH_TIMEOUT_S`
  seconds in all; ignores proxy settings (a proxy would connect to where it is told, unchecked).

Every refusal and failure is a :class:`UrlFetchError` with a sentence for the user. The standard library's
``http.client`` is used because it lets the connection go to a given address while the request names the host;
urllib and requests re-resolve the name themselves.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import ssl
import time
from collections.abc import Callable
from urllib.parse import urljoin, urlsplit

from pipeline.errors import PipelineError

ENABLE_VARIABLE = "BACKDROP_ALLOW_URL_FETCH"
MAX_FETCH_BYTES = 50 * 1024 * 1024
FETCH_TIMEOUT_S = 20.0
MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 1 << 16

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class UrlFetchError(PipelineError):
    """The URL was refused, or fetching it failed."""


class UrlFetchDisabledError(UrlFetchError):
    """Fetching by URL is turned off on this server."""


def fetch_enabled() -> bool:
    """Whether this server may fetch images by URL (``BACKDROP_ALLOW_URL_FETCH``)."""
    return os.environ.get(ENABLE_VARIABLE, "").strip().lower() in ("1", "true", "yes", "on")


def _embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 transition address carries (mapped, 6to4, Teredo, NAT64), else the address."""
    if not isinstance(address, ipaddress.IPv6Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def is_public_address(address: IPAddress) -> bool:
    """A public unicast address: the address and any IPv4 address it wraps are global and not multicast."""
    return all(candidate.is_global and not candidate.is_multicast
               for candidate in (address, _embedded_ipv4(address)))


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (numeric strings), as the system resolver gives them."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UrlFetchError(f"The host name {host!r} could not be resolved.") from None
    return list(dict.fromkeys(str(answer[4][0]) for answer in answers))


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to ``address`` for a request that names ``host``."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to ``address``, its certificate verified against ``host``."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _checked_target(url: str, resolve: Resolver, address_allowed: Callable[[IPAddress], bool]
                    ) -> tuple[str, str, int, str, str]:
    """(scheme, host, port, address to connect to, path) for ``url``, or a refusal."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UrlFetchError("The URL is not valid.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UrlFetchError("Only http and https URLs can be fetched.")
    host = parts.hostname
    if not host:
        raise UrlFetchError("The URL has no host name.")
    port = port or (443 if scheme == "https" else 80)
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = resolve(host, port)
    if not addresses:
        raise UrlFetchError(f"The host name {host!r} could not be resolved.")
    for address in addresses:
        if not address_allowed(ipaddress.ip_address(address)):
            raise UrlFetchError("The URL points to a private, local or reserved address, which is not fetched.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port, addresses[0], path


def fetch_url(url: str, *, max_bytes: int = MAX_FETCH_BYTES, timeout_s: float = FETCH_TIMEOUT_S,
              max_redirects: int = MAX_REDIRECTS, resolve: Resolver = resolve_host,
              address_allowed: Callable[[IPAddress], bool] = is_public_address) -> bytes:
    """The body of ``url`` (at most ``max_bytes``), fetched as the module's docstring says.

    Args:
        url: an http or https URL.
        max_bytes: the largest body accepted.
        timeout_s: the time allowed for the whole fetch, redirects included.
        max_redirects: how many redirects are followed.
        resolve: host name → addresses (the system resolver; a test may give its own).
        address_allowed: the address check (:func:`is_public_address`; a plumbing test may widen it).

    Raises:
        UrlFetchDisabledError: fetching by URL is off (``BACKDROP_ALLOW_URL_FETCH`` unset).
        UrlFetchError: the URL, an address or a redirect was refused, or the fetch failed or took too long.
    """
    if not fetch_enabled():
        raise UrlFetchDisabledError(
            f"Fetching images by URL is turned off on this server (set {ENABLE_VARIABLE}=1 to allow it); "
            "send the file itself with POST instead.")
    deadline = time.monotonic() + timeout_s
    for _ in range(max_redirects + 1):
        scheme, host, port, address, path = _checked_target(url, resolve, address_allowed)
        connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
        connection = connection_class(host, port, address, timeout=max(0.1, deadline - time.monotonic()))
        try:
            connection.request("GET", path, headers={"User-Agent": "BackdropStudio", "Accept": "image/*",
                                                     "Accept-Encoding": "identity"})
            response = connection.getresponse()
            if response.status in _REDIRECTS:
                location = response.getheader("Location")
                if not location:
                    raise UrlFetchError("The URL redirected without saying where to.")
                url = urljoin(url, location)
                continue
            if not 200 <= response.status < 300:
                raise UrlFetchError(f"The URL answered with HTTP {response.status} instead of an image.")
            return _read_body(connection, response, max_bytes, deadline)
        except TimeoutError:
            raise UrlFetchError(f"Fetching the URL took longer than {timeout_s:g} s.") from None
        except ssl.SSLError:
            raise UrlFetchError("A secure connection to the URL's host could not be made.") from None
        except (OSError, http.client.HTTPException):
            raise UrlFetchError("The URL's host could not be reached, or it broke off the connection.") from None
        finally:
            connection.close()
    raise UrlFetchError(f"The URL redirected more than {max_redirects} times.")


def _read_body(connection: http.client.HTTPConnection, response: http.client.HTTPResponse, max_bytes: int,
               deadline: float) -> bytes:
    too_large = f"The image at the URL is larger than {max_bytes / 2**20:g} MB, the limit."
    length = response.getheader("Content-Length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise UrlFetchError(too_large)
    chunks, size = [], 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        if connection.sock is not None:
            connection.sock.settimeout(remaining)
        chunk = response.read(_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise UrlFetchError(too_large)
        chunks.append(chunk)
