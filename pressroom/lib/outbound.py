"""The one way Pressroom talks to other servers: `fetch` (and `fetch_many` / `fetch_each` for a
few at once).

Every outbound request of the project goes through here (WordPress media, partner feeds,
federation, link previews), so each of them gets the same protections:

- connect and read timeouts, plus a deadline for the whole request (OUTBOUND_TOTAL_TIMEOUT): a
  watchdog shuts the connection when it passes, so a server dripping one byte a second, in its
  headers or its body, cannot hold a worker;
- a size limit counted on the *decompressed* bytes, read as a stream and aborted past the limit
  (a gzip bomb stops at the limit; urllib3 2.6+ decompresses at most what is asked for);
- at most a few redirects, each hop checked again like the first address;
- addresses that are not public (loopback, private, link-local such as the cloud metadata
  service, shared, reserved, multicast) are refused *after* DNS resolution, every resolved
  address is checked, and the connection goes to the address that was checked, so a name that
  resolves differently a second time (DNS rebinding) cannot slip through.
  `OUTBOUND_ALLOW_PRIVATE_ADDRESSES=true` switches this off for tests and local development;
- a User-Agent that names the site (SITE_NAME and SITE_URL), so other operators know who asks;
- retries with exponential backoff for GETs (idempotent) on connection errors and 429/502/503/504;
- conditional GET: pass the ETag / Last-Modified you kept, get `not_modified` (304) back.

Built on urllib3 (already installed by requests/sentry, well kept, streaming and decompression
limits built in, and lets us connect to a chosen IP while verifying TLS for the host name);
httpx would need a custom transport to pin the checked address.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import urllib3
import urllib3.connection
from django.conf import settings
from urllib3.exceptions import HTTPError as Urllib3Error

REDIRECT_STATUSES = {301, 302, 303, 307, 308}
RETRY_STATUSES = {429, 502, 503, 504}
CHUNK_BYTES = 64 * 1024


class OutboundError(Exception):
    """A request that could not be made or whose answer was refused; the message says why."""


class BlockedAddressError(OutboundError):
    """The host resolves to an address that is not on the public internet."""


class ResponseTooLargeError(OutboundError):
    """The response (decompressed) is larger than the limit."""


class TooManyRedirectsError(OutboundError):
    pass


class OutboundTimeoutError(OutboundError):
    pass


@dataclass
class OutboundResponse:
    url: str  # after redirects
    status: int
    headers: Mapping[str, str]
    content: bytes = b""
    redirects: list[str] = field(default_factory=list)

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def etag(self) -> str:
        return self.headers.get("etag", "")

    @property
    def last_modified(self) -> str:
        return self.headers.get("last-modified", "")


def user_agent() -> str:
    return getattr(settings, "OUTBOUND_USER_AGENT", "") or (
        f"Pressroom ({settings.SITE_NAME}; +{settings.SITE_URL})"
    )


def is_public_address(address: str) -> bool:
    """True for an address on the public internet; false for loopback, private networks,
    link-local (169.254.169.254 is the cloud metadata service), shared, reserved, multicast,
    and IPv4 written inside IPv6 (::ffff:127.0.0.1)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not is_public_address(str(embedded)):
            return False
    return ip.is_global and not ip.is_multicast


def resolve(host: str, port: int) -> str:
    """The address to connect to for `host`, after checking every address it resolves to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise OutboundError(f"cannot resolve {host!r}: {error}") from None
    addresses = [info[4][0] for info in infos]
    if not addresses:
        raise OutboundError(f"cannot resolve {host!r}")
    if not settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES:
        refused = [address for address in addresses if not is_public_address(str(address))]
        if refused:
            raise BlockedAddressError(
                f"{host} resolves to an address that is not public ({refused[0]}); "
                "set OUTBOUND_ALLOW_PRIVATE_ADDRESSES=true only for development"
            )
    return str(addresses[0])


class _Watchdog:
    """Shuts a request's sockets when its deadline passes, whatever the server does: a socket's
    timeout counts from one packet to the next, so a server sending one byte a second (of
    headers or body) would otherwise hold the request for ever. Cancelled when the request ends
    (no thread outlives it)."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.sockets: list[socket.socket] = []
        self.timer = threading.Timer(max(0.0, deadline - time.monotonic()), self.expire)
        self.timer.daemon = True

    def watch(self, sock: socket.socket | None) -> None:
        if sock is not None:
            self.sockets.append(sock)
        if not self.timer.ident:  # not started yet
            self.timer.start()

    def expire(self) -> None:
        for sock in self.sockets:
            # Wakes the read waiting on it (it sees the end of the stream); closed already: fine.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        self.timer.cancel()


class _DeadlineMixin:
    """A connection whose socket the request's watchdog may shut."""

    sock: socket.socket | None

    def __init__(self, *args: object, watchdog: _Watchdog, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        self._watchdog = watchdog

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self._watchdog.watch(self.sock)


class _HTTPConnection(_DeadlineMixin, urllib3.connection.HTTPConnection):
    pass


class _HTTPSConnection(_DeadlineMixin, urllib3.connection.HTTPSConnection):
    pass


def _pool(
    scheme: str, host: str, address: str, port: int, timeout: urllib3.Timeout, watchdog: _Watchdog
):
    """A connection to the checked `address`, speaking TLS for `host` when https, shut by
    `watchdog` at the request's deadline."""
    pool: urllib3.HTTPConnectionPool
    if scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            timeout=timeout,
            retries=False,
            server_hostname=host,
            assert_hostname=host,
            cert_reqs="CERT_REQUIRED",
            watchdog=watchdog,
        )
        pool.ConnectionCls = _HTTPSConnection
    else:
        pool = urllib3.HTTPConnectionPool(
            address, port, timeout=timeout, retries=False, watchdog=watchdog
        )
        pool.ConnectionCls = _HTTPConnection
    return pool


def _one_hop(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
    max_bytes: int,
    timeout: urllib3.Timeout,
    deadline: float,
) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise OutboundError(f"only http(s) addresses can be fetched, not {url[:200]!r}")
    if parts.username or parts.password:
        raise OutboundError("addresses with a user name or password are not fetched")
    host = parts.hostname
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise OutboundError(f"bad port in {url[:200]!r}") from None
    address = resolve(host, port)
    default_port = port == (443 if parts.scheme == "https" else 80)
    request_headers = {**headers, "Host": host if default_port else f"{host}:{port}"}
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise OutboundTimeoutError(f"{host} took too long to answer")
    timeout = urllib3.Timeout(
        connect=min(timeout.connect_timeout, remaining),  # type: ignore[type-var]
        read=min(timeout.read_timeout, remaining),  # type: ignore[type-var]
    )
    watchdog = _Watchdog(deadline)
    pool = _pool(parts.scheme, host, address, port, timeout, watchdog)
    try:
        response = pool.urlopen(
            method,
            path,
            body=body,
            headers=request_headers,
            redirect=False,
            retries=False,
            preload_content=False,
            decode_content=True,
            assert_same_host=False,
        )
        try:
            declared = response.headers.get("content-length", "")
            if (
                declared.isascii()
                and declared.isdigit()
                and int(declared) > max_bytes
                and method != "HEAD"
            ):
                raise ResponseTooLargeError(
                    f"{host} announced {int(declared)} bytes; the limit is {max_bytes}"
                )
            chunks: list[bytes] = []
            received = 0
            if response.status not in REDIRECT_STATUSES and method != "HEAD":
                for chunk in response.stream(CHUNK_BYTES, decode_content=True):
                    received += len(chunk)
                    if received > max_bytes:
                        raise ResponseTooLargeError(
                            f"the response from {host} is larger than {max_bytes} bytes"
                        )
                    chunks.append(chunk)
            if time.monotonic() >= deadline:
                # The watchdog shut the socket: what was read is cut short.
                raise OutboundTimeoutError(f"{host} took too long to answer")
            return (
                response.status,
                {key.lower(): value for key, value in response.headers.items()},
                b"".join(chunks),
            )
        finally:
            response.release_conn()
            response.close()
    except urllib3.exceptions.TimeoutError as error:
        raise OutboundTimeoutError(f"{host} timed out: {error}") from None
    except urllib3.exceptions.DecodeError as error:
        raise OutboundError(f"the response from {host} is badly compressed: {error}") from None
    except Urllib3Error as error:
        if time.monotonic() >= deadline:
            raise OutboundTimeoutError(f"{host} took too long to answer") from None
        raise OutboundError(f"cannot reach {host}: {error}") from None
    finally:
        watchdog.cancel()
        pool.close()


def fetch(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    etag: str = "",
    last_modified: str = "",
    max_bytes: int | None = None,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    total_timeout: float | None = None,
    max_redirects: int | None = None,
    retries: int | None = None,
) -> OutboundResponse:
    """Make one request with every protection of this module; raise OutboundError on refusal.

    The response of any status is returned (check `ok` / `not_modified`); only problems of
    transport, size, address or redirects raise.
    """
    method = method.upper()
    max_bytes = settings.OUTBOUND_MAX_BYTES if max_bytes is None else max_bytes
    max_redirects = settings.OUTBOUND_MAX_REDIRECTS if max_redirects is None else max_redirects
    retries = (settings.OUTBOUND_RETRIES if retries is None else retries) if method == "GET" else 0
    timeout = urllib3.Timeout(
        connect=connect_timeout or settings.OUTBOUND_CONNECT_TIMEOUT,
        read=read_timeout or settings.OUTBOUND_READ_TIMEOUT,
    )
    total = total_timeout or settings.OUTBOUND_TOTAL_TIMEOUT
    request_headers = {"User-Agent": user_agent(), "Accept-Encoding": "gzip, deflate"}
    request_headers.update(headers or {})
    if etag:
        request_headers["If-None-Match"] = etag
    if last_modified:
        request_headers["If-Modified-Since"] = last_modified

    attempt = 0
    while True:
        try:
            response = _follow(
                method, url, request_headers, body, max_bytes, timeout, total, max_redirects
            )
        except OutboundError as error:
            if attempt >= retries or not _is_transport_error(error):
                raise
        else:
            if response.status not in RETRY_STATUSES or attempt >= retries:
                return response
        time.sleep(settings.OUTBOUND_RETRY_BACKOFF * (2**attempt))
        attempt += 1


def _is_transport_error(error: OutboundError) -> bool:
    message = str(error)
    return isinstance(error, OutboundTimeoutError) or message.startswith("cannot reach")


def _follow(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
    max_bytes: int,
    timeout: urllib3.Timeout,
    total: float,
    max_redirects: int,
) -> OutboundResponse:
    deadline = time.monotonic() + total
    visited: list[str] = []
    origin = urlsplit(url).netloc
    while True:
        status, response_headers, content = _one_hop(
            method, url, headers, body, max_bytes, timeout, deadline
        )
        location = response_headers.get("location")
        if status not in REDIRECT_STATUSES or not location:
            return OutboundResponse(url, status, response_headers, content, visited)
        if len(visited) >= max_redirects:
            raise TooManyRedirectsError(
                f"more than {max_redirects} redirects from {(visited or [url])[0]}"
            )
        visited.append(url)
        url = urljoin(url, location)
        if status == 303 or (status in {301, 302} and method == "POST"):
            method, body = "GET", None
        if urlsplit(url).netloc != origin:
            # Credentials meant for one server are not handed to the next.
            headers = {
                key: value
                for key, value in headers.items()
                if key.lower() not in {"authorization", "cookie"}
            }


def fetch_many(
    urls: Iterable[str], *, workers: int | None = None, **options: object
) -> dict[str, OutboundResponse | OutboundError]:
    """Fetch several addresses a few at a time; each gets its response or its error."""
    unique = list(dict.fromkeys(urls))
    workers = max(1, min(workers or settings.OUTBOUND_PARALLEL_DOWNLOADS, len(unique) or 1))

    def one(url: str) -> OutboundResponse | OutboundError:
        try:
            return fetch(url, **options)  # type: ignore[arg-type]
        except OutboundError as error:
            return error

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="outbound") as pool:
        return dict(zip(unique, pool.map(one, unique), strict=True))


def fetch_each(
    urls: Iterable[str], *, workers: int | None = None, **options: object
) -> Iterator[tuple[str, OutboundResponse | OutboundError]]:
    """Fetch a long list a few at a time, yielding each answer in the order asked: at most
    about twice `workers` responses are held at once, however long the list (an import's
    thousands of photos are never all in memory)."""
    workers = max(1, workers or settings.OUTBOUND_PARALLEL_DOWNLOADS)

    def one(url: str) -> OutboundResponse | OutboundError:
        try:
            return fetch(url, **options)  # type: ignore[arg-type]
        except OutboundError as error:
            return error

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="outbound") as pool:
        pending: deque[tuple[str, Future[OutboundResponse | OutboundError]]] = deque()
        try:
            for url in urls:
                pending.append((url, pool.submit(one, url)))
                if len(pending) >= 2 * workers:
                    url, future = pending.popleft()
                    yield url, future.result()
            while pending:
                url, future = pending.popleft()
                yield url, future.result()
        finally:
            # Stopped early (an error in the caller, Ctrl-C): drop what has not started.
            for _, future in pending:
                future.cancel()
