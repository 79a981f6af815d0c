"""A real HTTP server on loopback serving partner feeds, good and bad, for the tests and the
benchmark: each route is a function of the request giving (status, headers, body)."""

from __future__ import annotations

import contextlib
import gzip
import io
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DATA = Path(__file__).parent / "data"
# A tiny valid PNG (1x1), served as a partner's photo.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2a3b3b3"
    "0000000049454e44ae426082"
)

Answer = tuple[int, dict[str, str], bytes | Callable[[BaseHTTPRequestHandler], None]]
Route = Callable[[BaseHTTPRequestHandler], Answer]


@dataclass
class FeedServer:
    url: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    requests: list[dict[str, str]] = field(default_factory=list)

    def serve(self, path: str, body: bytes, content_type: str = "application/rss+xml") -> str:
        """A feed with an ETag and Last-Modified, answering 304 to a conditional GET."""
        etag = f'"{hash(body) & 0xFFFFFFFF:x}"'

        def route(request: BaseHTTPRequestHandler) -> Answer:
            if request.headers.get("If-None-Match") == etag:
                return 304, {"ETag": etag}, b""
            headers = {
                "Content-Type": content_type,
                "ETag": etag,
                "Last-Modified": "Sun, 29 Nov 2026 16:00:00 GMT",
            }
            return 200, headers, body

        self.routes[path] = route
        return self.url + path

    def serve_file(self, path: str, name: str, content_type: str = "application/rss+xml") -> str:
        body = (DATA / name).read_bytes().replace(b"IMAGE_URL", f"{self.url}/photo.png".encode())
        return self.serve(path, body, content_type)


def gzip_bomb(megabytes: int = 200) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as out:
        chunk = b"\0" * (1024 * 1024)
        for _ in range(megabytes):
            out.write(chunk)
    return buffer.getvalue()


@contextlib.contextmanager
def feed_server() -> Iterator[FeedServer]:
    state = FeedServer()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            state.hits[path] = state.hits.get(path, 0) + 1
            state.requests.append({"path": path, **{k.lower(): v for k, v in self.headers.items()}})
            route = state.routes.get(path)
            if route is None:
                if path == "/photo.png":
                    status, headers, body = 200, {"Content-Type": "image/png"}, PNG
                else:
                    status, headers, body = 404, {"Content-Type": "text/plain"}, b"not found"
            else:
                status, headers, body = route(self)
            if callable(body):
                body(self)  # the route writes its own answer (slow, endless)
                return
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


def drip(seconds: float) -> Callable[[BaseHTTPRequestHandler], None]:
    """An answer that sends its headers, then one byte a second for `seconds`."""

    def write(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "application/rss+xml")
        request.send_header("Content-Length", "100000")
        request.end_headers()
        with contextlib.suppress(OSError):
            for _ in range(int(seconds)):
                request.wfile.write(b" ")
                request.wfile.flush()
                time.sleep(1)

    return write


def endless(megabytes: int) -> Callable[[BaseHTTPRequestHandler], None]:
    """A feed of `megabytes` without a declared length (chunked by closing): the limit must
    count what arrives."""

    def write(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "application/rss+xml")
        request.send_header("Connection", "close")
        request.end_headers()
        head = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>'
        with contextlib.suppress(OSError):
            request.wfile.write(head)
            item = (
                b"<item><title>x</title><description>" + b"y" * 100_000 + b"</description></item>"
            )
            for _ in range(megabytes * 10):
                request.wfile.write(item)
        request.close_connection = True

    return write
