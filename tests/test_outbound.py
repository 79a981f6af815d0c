"""The outbound HTTP helper against a real HTTP server on loopback: size limits (also after
decompression), redirects re-checked hop by hop, private addresses refused, timeouts, retries,
conditional GET, the User-Agent, and parallel downloads."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pressroom.lib import outbound


class Handler(BaseHTTPRequestHandler):
    hits: dict[str, int] = {}
    seen_headers: dict[str, dict[str, str]] = {}

    def log_message(self, *args: object) -> None:
        pass

    def send_body(self, body: bytes, status: int = 200, **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path
        Handler.hits[path] = Handler.hits.get(path, 0) + 1
        Handler.seen_headers[path] = dict(self.headers)
        port = self.server.server_address[1]
        if path == "/small":
            self.send_body(b"hello")
        elif path == "/big":
            self.send_body(b"x" * 200_000)
        elif path == "/big-chunked":
            # No Content-Length: the limit must hold while streaming.
            self.send_response(200)
            self.end_headers()
            for _ in range(50):
                self.wfile.write(b"y" * 10_000)
        elif path == "/gzip-bomb":
            self.send_body(gzip.compress(b"\0" * 20_000_000), Content_Encoding="gzip")
        elif path.startswith("/redirect/"):
            left = int(path.rsplit("/", 1)[1])
            target = "/small" if left == 0 else f"/redirect/{left - 1}"
            self.send_body(b"", 302, Location=target)
        elif path == "/to-other-host":
            self.send_body(b"", 302, Location=f"http://127.0.0.2:{port}/small")
        elif path == "/slow":
            time.sleep(2)
            self.send_body(b"late")
        elif path.startswith("/drip"):
            self.drip(path)
        elif path == "/flaky":
            if Handler.hits[path] == 1:
                self.send_body(b"busy", 503)
            else:
                self.send_body(b"ok now")
        elif path == "/etag":
            if self.headers.get("If-None-Match") == '"v1"':
                self.send_body(b"", 304, ETag='"v1"')
            else:
                self.send_body(
                    b"content", ETag='"v1"', Last_Modified="Sun, 29 Nov 2026 10:00:00 GMT"
                )
        else:
            self.send_body(b"missing", 404)

    def drip(self, path: str) -> None:
        """One byte every 0.2 s: of the body (with or without a length), or of the headers."""
        try:
            if path == "/drip-headers":
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"z" * 100:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.2)
                return
            self.send_response(200)
            if path == "/drip-length":
                self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"d")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:  # the client gave up, as it should
            pass
        self.close_connection = True


@pytest.fixture
def server() -> Iterator[str]:
    Handler.hits, Handler.seen_headers = {}, {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def allow_loopback(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = True
    settings.OUTBOUND_RETRY_BACKOFF = 0.01


def test_a_plain_get_names_the_site_in_its_user_agent(server, allow_loopback, settings):
    settings.SITE_NAME, settings.SITE_URL = "Andes Daily", "https://andes.example"
    response = outbound.fetch(f"{server}/small")
    assert (response.status, response.content) == (200, b"hello")
    agent = Handler.seen_headers["/small"]["User-Agent"]
    assert "Andes Daily" in agent
    assert "https://andes.example" in agent


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
def test_responses_over_the_limit_are_cut_off(server, allow_loopback, path):
    with pytest.raises(outbound.ResponseTooLargeError):
        outbound.fetch(f"{server}{path}", max_bytes=100_000)
    assert len(outbound.fetch(f"{server}{path}", max_bytes=1_000_000).content) > 100_000


def test_a_gzip_bomb_stops_at_the_limit_of_decompressed_bytes(server, allow_loopback):
    with pytest.raises(outbound.ResponseTooLargeError, match="larger than 1000000"):
        outbound.fetch(f"{server}/gzip-bomb", max_bytes=1_000_000)


def test_redirects_are_followed_up_to_the_limit(server, allow_loopback):
    response = outbound.fetch(f"{server}/redirect/2", max_redirects=3)
    assert response.content == b"hello"
    assert len(response.redirects) == 3
    with pytest.raises(outbound.TooManyRedirectsError):
        outbound.fetch(f"{server}/redirect/3", max_redirects=3)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_private_addresses_are_refused_unless_the_setting_allows_them(server, settings, host):
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    port = server.rsplit(":", 1)[1]
    with pytest.raises(outbound.BlockedAddressError, match="not public"):
        outbound.fetch(f"http://{host}:{port}/small")
    assert "/small" not in Handler.hits  # refused before connecting


def test_each_redirect_hop_is_checked_again(server, settings, monkeypatch):
    """A public server that redirects to a private one (here: 127.0.0.1 counted as public,
    127.0.0.2 not) is refused at the hop, after DNS, before connecting."""
    settings.OUTBOUND_ALLOW_PRIVATE_ADDRESSES = False
    monkeypatch.setattr(outbound, "is_public_address", lambda address: address == "127.0.0.1")
    with pytest.raises(outbound.BlockedAddressError, match=r"127\.0\.0\.2"):
        outbound.fetch(f"{server}/to-other-host")


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("10.1.2.3", False),
        ("192.168.0.1", False),
        ("172.16.5.4", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),  # noqa: S104 (an address to refuse, not to bind)
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("93.184.215.14", True),
        ("2606:4700::1111", True),
    ],
)
def test_what_counts_as_public(address, public):
    assert outbound.is_public_address(address) is public


def test_a_slow_server_times_out(server, allow_loopback):
    with pytest.raises(outbound.OutboundTimeoutError):
        outbound.fetch(f"{server}/slow", read_timeout=0.3, retries=0)


@pytest.mark.parametrize("path", ["/drip-length", "/drip-until-close", "/drip-headers"])
def test_a_server_dripping_bytes_is_cut_off_at_the_total_timeout(
    server, allow_loopback, settings, path
):
    """Each byte comes well within the read timeout, but the whole answer would take 20 s: the
    total timeout (1 s here) ends it, and nothing cut short is returned as if complete."""
    settings.OUTBOUND_TOTAL_TIMEOUT = 1
    settings.OUTBOUND_READ_TIMEOUT = 5
    with pytest.raises(outbound.OutboundTimeoutError, match="took too long"):
        outbound.fetch(f"{server}{path}", retries=0)


def test_gets_are_retried_after_a_503(server, allow_loopback):
    response = outbound.fetch(f"{server}/flaky", retries=2)
    assert response.content == b"ok now"
    assert Handler.hits["/flaky"] == 2


def test_conditional_get_answers_not_modified(server, allow_loopback):
    first = outbound.fetch(f"{server}/etag")
    assert first.etag == '"v1"'
    assert first.last_modified
    again = outbound.fetch(f"{server}/etag", etag=first.etag, last_modified=first.last_modified)
    assert again.not_modified
    assert again.content == b""


def test_other_schemes_are_refused(allow_loopback):
    for url in [
        "file:///etc/passwd",
        "ftp://example.org/x",
        "gopher://x",
        "http://user:pw@example.org/",
    ]:
        with pytest.raises(outbound.OutboundError):
            outbound.fetch(url)


def test_fetch_many_downloads_a_few_at_a_time(server, allow_loopback):
    urls = [f"{server}/small", f"{server}/missing", f"{server}/big", f"{server}/etag"]
    results = outbound.fetch_many(urls, workers=3, max_bytes=100_000)
    assert results[urls[0]].content == b"hello"
    assert results[urls[1]].status == 404
    assert isinstance(results[urls[2]], outbound.ResponseTooLargeError)
    assert results[urls[3]].ok
