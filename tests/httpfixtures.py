"""A real threaded HTTP server on 127.0.0.1 that can misbehave on purpose.

Usage (pytest)::

    def test_x(file_server):
        url = file_server.add("/ep.mp3", data, cut_after=1000, cut_times=1)
        ...
        assert file_server.requests_for("/ep.mp3")[1].range == "bytes=1000-"

Each path has a :class:`Route` describing its (mis)behaviour; every request
is logged as a :class:`RequestLog` (headers included).  Use it from a
``conftest.py`` with ``from tests.httpfixtures import file_server  # noqa``
or import the fixture into a test module directly.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

_RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


@dataclass
class Route:
    data: bytes = b""
    content_type: str = "audio/mpeg"
    etag: str | None = None  # default: a strong ETag from the sha256
    last_modified: str | None = None
    status: int | None = None  # always answer this status (e.g. 404)
    fail_statuses: list[int] = field(default_factory=list)  # answered first, in order
    redirect_to: str | None = None  # path or URL
    redirect_status: int = 302
    cut_after: int | None = None  # send this many body bytes, then drop the connection
    cut_times: int = 1  # ...for this many responses (None = always)
    extra_length: int = 0  # announce Content-Length this much larger than sent
    extra_length_times: int | None = None  # ...for this many responses (None = always)
    ignore_range: bool = False  # always answer 200 with the whole body
    always_416: bool = False  # answer 416 to any Range request
    rate: float | None = None  # bytes per second (slow server)
    piece: int = 4096  # write size when rate-limited
    delay_headers: float = 0.0  # stall before sending the status line
    no_length: bool = False  # no Content-Length; close to end the body
    # download misbehaviours (issue 12)
    tail_on_range: bool = False  # answer a Range request with 200 and only the tail
    no_last_modified: bool = False  # no Last-Modified header (with etag="": no validator at all)
    bare_206: bool = False  # 206 answers carry no ETag and no Last-Modified
    content_encoding: str | None = None  # send data as is, labelled with this Content-Encoding
    repr_digest: bool | str = False  # send Repr-Digest (sha-256 of the current data, or this text)
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    trickle_every: float | None = None  # after the body, one more byte this often, forever (slowloris)
    stall_after: int | None = None  # send this many body bytes (of the announced length), then hold the connection silent
    hits: int = 0


@dataclass
class RequestLog:
    path: str
    method: str
    headers: dict[str, str]
    status: int = 0
    time: float = 0.0

    @property
    def range(self) -> str | None:
        return self.headers.get("range")

    @property
    def if_range(self) -> str | None:
        return self.headers.get("if-range")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def do_HEAD(self):
        self._serve(head=True)

    def do_GET(self):
        self._serve(head=False)

    # -------------------------------------------------------------------

    def _serve(self, head: bool) -> None:
        srv = self.server.owner
        path = self.path.split("?", 1)[0]
        entry = RequestLog(path, self.command, {k.lower(): v for k, v in self.headers.items()},
                           time=time.monotonic())
        with srv.lock:
            srv.log.append(entry)
            route = srv.routes.get(path)
            if route is not None:
                route.hits += 1
                hit = route.hits
            srv.active += 1
            srv.max_active = max(srv.max_active, srv.active)
        try:
            self._respond(route, entry, head, hit if route else 0)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            with srv.lock:
                srv.active -= 1

    def _status(self, entry: RequestLog, code: int, headers: dict[str, str], close=False) -> None:
        entry.status = code
        self.send_response(code)
        for k, v in headers.items():
            self.send_header(k, v)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()

    def _respond(self, route: Route | None, entry: RequestLog, head: bool, hit: int) -> None:
        srv = self.server.owner
        if route is None:
            body = b"not found"
            self._status(entry, 404, {"Content-Length": str(len(body))})
            self.wfile.write(body)
            return
        if route.delay_headers and srv.stopping.wait(route.delay_headers):
            return
        if route.fail_statuses and hit <= len(route.fail_statuses):
            code = route.fail_statuses[hit - 1]
            body = f"error {code}".encode()
            self._status(entry, code, {"Content-Length": str(len(body))})
            self.wfile.write(body)
            return
        if route.status is not None:
            body = f"status {route.status}".encode()
            self._status(entry, route.status, {"Content-Length": str(len(body))})
            self.wfile.write(body)
            return
        if route.redirect_to:
            loc = route.redirect_to
            if loc.startswith("/"):
                loc = srv.url(loc)
            self._status(entry, route.redirect_status, {"Location": loc, "Content-Length": "0"})
            return

        data = route.data
        total = len(data)
        etag = route.etag if route.etag is not None else '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        lm = route.last_modified or email.utils.formatdate(1_700_000_000, usegmt=True)
        common = {"Content-Type": route.content_type, "Accept-Ranges": "bytes",
                  "ETag": etag, "Last-Modified": lm}
        if route.content_encoding:
            common["Content-Encoding"] = route.content_encoding
        common.update(route.headers)
        if not route.etag and route.etag is not None:  # etag="" → no ETag header
            del common["ETag"]
        if route.no_last_modified:
            del common["Last-Modified"]
        if isinstance(route.repr_digest, str):
            common["Repr-Digest"] = route.repr_digest
        elif route.repr_digest:
            common["Repr-Digest"] = "sha-256=:" + base64.b64encode(hashlib.sha256(data).digest()).decode() + ":"

        start, code = 0, 200
        rng = entry.range
        m = _RANGE.match(rng or "")
        if m and not route.ignore_range:
            if_range = entry.if_range
            if if_range is None or if_range in (etag, lm):
                if route.always_416 or int(m.group(1)) >= total:
                    self._status(entry, 416, {"Content-Range": f"bytes */{total}",
                                              "Content-Length": "0"})
                    return
                start, code = int(m.group(1)), 206
        if route.tail_on_range and m:  # broken: the tail, labelled as the whole file
            start = int(m.group(1))
            code = 200
        body = data[start:]
        headers = dict(common)
        if code == 206:
            headers["Content-Range"] = f"bytes {start}-{total - 1}/{total}"
            if route.bare_206:
                headers.pop("ETag", None)
                headers.pop("Last-Modified", None)

        cut = None
        if route.cut_after is not None and (route.cut_times is None or hit <= route.cut_times):
            cut = route.cut_after
        announced = len(body)
        if route.extra_length and (route.extra_length_times is None
                                   or hit <= route.extra_length_times):
            announced += route.extra_length
            cut = len(body) if cut is None else cut
        endless = route.trickle_every is not None or route.stall_after is not None
        close = cut is not None or route.no_length or endless
        if not route.no_length and route.trickle_every is None:
            # a stall happens mid-body: the length of the whole answer was promised
            headers["Content-Length"] = str(announced)
        self._status(entry, code, headers, close=close)
        if head:
            return
        to_send = body if cut is None else body[:cut]
        if route.stall_after is not None:
            to_send = to_send[:route.stall_after]
        self._send_body(route, to_send)
        if endless:
            self.wfile.flush()
            self._hold(route)
            return
        if cut is not None:
            self.wfile.flush()
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _send_body(self, route: Route, body: bytes) -> None:
        srv = self.server.owner
        mv = memoryview(body)
        if route.rate is None:
            self.wfile.write(mv)
            return
        piece = max(1, route.piece)
        for i in range(0, len(mv), piece):
            if srv.stopping.is_set():
                self.close_connection = True
                return
            self.wfile.write(mv[i:i + piece])
            self.wfile.flush()
            if srv.stopping.wait(piece / route.rate):
                self.close_connection = True
                return


    def _hold(self, route: Route) -> None:
        """Slowloris (a byte now and then) or a silent stall, until the
        client gives up or the server stops."""
        srv = self.server.owner
        self.close_connection = True
        every = route.trickle_every if route.trickle_every is not None else 0.2
        while not srv.stopping.wait(every):
            if route.trickle_every is not None:
                self.wfile.write(b" ")
                self.wfile.flush()


def gzip_bomb(decoded_size: int, layers: int = 1, chunk: bytes = b"\0" * (1 << 20)) -> bytes:
    """A gzip stream of ``decoded_size`` zero bytes, gzipped ``layers``
    times (serve it with ``content_encoding=", ".join(["gzip"] * layers)``).
    Built without compressing gigabytes: after a full flush the deflate
    output for the same input is the same block, so it is repeated.  The
    trailer is left off (the stream never ends cleanly): a reader must give
    up at its cap long before."""
    import zlib

    c = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    head = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    assert c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH) == block
    data = head + block * max(0, decoded_size // len(chunk) - 1)
    for _ in range(layers - 1):
        data = zlib.compress(data, 9, wbits=16 + zlib.MAX_WBITS)
    return data


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: FileServer

    def handle_error(self, request, client_address) -> None:
        """A client that goes away mid-answer (a killed CLI, a cancelled
        download) is what many tests do on purpose: no traceback for that.
        Any other error in a handler is still printed."""
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class FileServer:
    """The server plus its routes and request log (all thread-safe)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.routes: dict[str, Route] = {}
        self.log: list[RequestLog] = []
        self.active = 0
        self.max_active = 0
        self.stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add(self, path: str, data: bytes = b"", **behaviour) -> str:
        """Serve ``data`` at ``path`` with the given :class:`Route` options."""
        with self.lock:
            self.routes[path] = Route(data=data, **behaviour)
        return self.url(path)

    def route(self, path: str) -> Route:
        return self.routes[path]

    def requests_for(self, path: str) -> list[RequestLog]:
        with self.lock:
            return [r for r in self.log if r.path == path]

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)


@pytest.fixture
def file_server():
    srv = FileServer()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture
def stalling_server():
    """A server that accepts connections and never sends a byte (until the
    test ends): a stream that connects but stays silent."""

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    held, stop = [], threading.Event()

    def loop():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
                held.append(conn)
            except OSError:
                pass

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}", held
    stop.set()
    t.join(2)
    for c in held:
        c.close()
    srv.close()


def payload(n: int, seed: int = 1) -> bytes:
    """Deterministic, non-repeating bytes (so a wrong offset changes the hash)."""
    import hashlib

    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{i}".encode()).digest()
        i += 1
    return bytes(out[:n])


def wait_for(cond, timeout: float = 5.0, step: float = 0.01) -> bool:
    """Poll ``cond`` until it holds or ``timeout`` passes; its last answer."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())
