"""The one HTTP fetch helper for small documents: feeds, Podcasting 2.0
chapter files, chapter images, OPML by URL (not episode downloads).

Every fetch is bounded:

- the body is read as a raw stream and decoded here, a bounded slice at a
  time, so the cap counts *decoded* bytes and a gzip bomb (nested or not)
  stops as soon as it passes the cap, with a small, constant peak memory;
- a total deadline per fetch (headers, redirects and body together), not
  only a per-read timeout: a server trickling one byte a second fails at the
  deadline;
- http and https only, at every redirect hop;
- optionally (``allow_private=False``, for URLs a feed hands us), no
  loopback, link-local or private targets, at every hop.

Errors are `FetchError` with one line a user can act on.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
import urllib.request  # (loaded by httpx anyway)
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from ibplayer import __version__

USER_AGENT = f"ibplayer/{__version__} (+https://github.com/ibplayer/ibplayer)"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DEFAULT_DEADLINE = 60.0  # seconds for a whole fetch, redirects and body included
MAX_REDIRECTS = 8
_STEP = 1 << 16  # decoded bytes produced per decompression call


class FetchError(Exception):
    """A document could not be fetched; the message is one line."""


class Unreachable(FetchError):
    """The host could not be reached at all (offline, DNS, refused)."""


@dataclass
class Fetched:
    """A document fetched (``content`` None: answered 304)."""

    url: str  # the final URL, after redirects
    status: int
    headers: httpx.Headers
    content: bytes | None  # None for 304
    permanent: bool  # every redirect hop (if any) was permanent

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


class _PlainHTTPTransport(httpx.HTTPTransport):
    """httpx's transport for ``http://`` only: the same httpcore connection
    pool with the same limits, but no TLS context, which httpx builds even
    with ``verify=False`` (initialising OpenSSL and reading its configuration:
    ~3 ms at every start).  Such a pool never speaks TLS: it is only ever
    handed plain-http requests."""

    def __init__(self, limits: httpx.Limits):  # (HTTPTransport's own __init__ builds the context)
        import httpcore

        self._pool = httpcore.ConnectionPool(
            ssl_context=None,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
        )


class LazyTransport(httpx.BaseTransport):
    """httpx's own transport, built on first use and per scheme: a client
    that only ever asks ``http://`` (a loopback or LAN feed, a 304 answer)
    never loads the CA certificates (30-100 ms at every start) nor sets up
    TLS at all; ``https://`` (or a redirect to it) is verified exactly as
    httpx's default does."""

    def __init__(self, limits: httpx.Limits | None = None):
        # httpx's default limits (what httpx.Client() uses without a transport)
        self._limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._lock = threading.Lock()
        self._by_scheme: dict[str, httpx.HTTPTransport] = {}

    def _transport(self, scheme: str) -> httpx.HTTPTransport:
        with self._lock:
            t = self._by_scheme.get(scheme)
            if t is None:
                t = (_PlainHTTPTransport(self._limits) if scheme == "http"
                     else httpx.HTTPTransport(limits=self._limits))
                self._by_scheme[scheme] = t
            return t

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._transport(request.url.scheme).handle_request(request)

    def close(self) -> None:
        with self._lock:
            ts, self._by_scheme = list(self._by_scheme.values()), {}
        for t in ts:
            t.close()


def lazy_transport(limits: httpx.Limits | None = None) -> LazyTransport | None:
    """The transport for a client: the lazy one, or None (httpx's own) when
    the system names a proxy — httpx routes through the environment's
    proxies only with its own transport (and then sets up TLS eagerly)."""
    if any(k != "no" for k in urllib.request.getproxies()):
        return None
    return LazyTransport(limits)


def make_client(timeout: float | httpx.Timeout | None = None) -> httpx.Client:
    return httpx.Client(
        headers={"User-Agent": USER_AGENT, "Accept": "application/rss+xml, application/xml;q=0.9, */*;q=0.5"},
        timeout=timeout if timeout is not None else DEFAULT_TIMEOUT,
        follow_redirects=True,  # the downloader relies on it; fetch() follows hop by hop itself
        max_redirects=MAX_REDIRECTS,
        transport=lazy_transport(),
    )


def is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url or "")
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:  # e.g. "http://[::1" (an unclosed IPv6 bracket)
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _blocked_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (ip.is_loopback or ip.is_private or ip.is_link_local or ip.is_reserved
            or ip.is_unspecified or ip.is_multicast)


def is_private_url(url: str) -> bool:
    """True when the URL's host is (or resolves to) a loopback, link-local or
    private address: the user's own machine or LAN."""
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    if not host:
        return False
    try:
        return _blocked_address(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False  # unresolvable: the request itself will fail as unreachable
    for info in infos:
        try:
            if _blocked_address(ipaddress.ip_address(info[4][0].split("%", 1)[0])):
                return True
        except ValueError:
            continue
    return False


# --------------------------------------------------------------------------- decoding


def _layer(encoding: str):
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(16 + zlib.MAX_WBITS), encoding
    if encoding == "deflate":
        return None, "deflate"  # zlib-wrapped or raw: decided on the first bytes
    return None, None


class _Decoder:
    """Content-Encoding layers undone a bounded slice at a time."""

    def __init__(self, encodings: list[str]):
        self.layers: list[list] = []
        for enc in reversed(encodings):  # the last applied is undone first
            obj, kind = _layer(enc)
            if kind is None:
                raise ValueError(f"unsupported content encoding {enc!r}")
            self.layers.append([kind, obj])

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._through(0, data)

    def _through(self, i: int, data: bytes) -> Iterator[bytes]:
        if i == len(self.layers):
            if data:
                yield data
            return
        kind, obj = self.layers[i]
        while data:
            if obj is None:  # deflate: a zlib header, or raw deflate
                zlib_hdr = len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
                obj = self.layers[i][1] = zlib.decompressobj(zlib.MAX_WBITS if zlib_hdr else -zlib.MAX_WBITS)
            if obj.eof:
                if kind != "deflate" and data[:2] == b"\x1f\x8b":  # another gzip member
                    obj = self.layers[i][1] = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    continue
                return  # trailing garbage after the stream: ignored, like browsers do
            try:
                out = obj.decompress(data, _STEP)
            except zlib.error as exc:
                raise ValueError(f"corrupt {kind} data ({exc})") from exc
            data = obj.unused_data + obj.unconsumed_tail if obj.eof else obj.unconsumed_tail
            yield from self._through(i + 1, out)
            if obj.eof and not data:
                return


# --------------------------------------------------------------------------- fetching


class _Watchdog:
    """Cuts the connection when the deadline passes, so a stalled read
    returns at once instead of after its own (longer) timeout."""

    def __init__(self, seconds: float):
        self.fired = False
        self._sock = None
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, resp: httpx.Response) -> None:
        stream = resp.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        with self._lock:
            self._sock = sock
            if self.fired:
                self._cut()

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            self._cut()

    def _cut(self) -> None:
        if self._sock is not None:
            try:  # the plain socket method: an SSL socket's own would drop its state under the reader
                socket.socket.shutdown(self._sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel(self) -> None:
        self._timer.cancel()
        self._timer.join()  # gone before we return: the CLI forks parse workers only when single-threaded


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


def _short(url: str) -> str:
    return url if len(url) <= 120 else url[:117] + "..."


def fetch(
    url: str,
    *,
    max_bytes: int,
    deadline: float = DEFAULT_DEADLINE,
    allow_private: bool = True,
    client: httpx.Client | None = None,
    headers: dict[str, str] | None = None,
    what: str = "the document",
) -> Fetched:
    """GET ``url``: at most ``max_bytes`` decoded bytes, within ``deadline``
    seconds in all.  Statuses >= 400 raise; 304 gives ``content=None``."""
    if not is_http_url(url):
        raise FetchError(f"not an http(s) URL: {_short(url)!r}")
    own = client is None
    client = client or make_client()
    start = time.monotonic()
    end = start + deadline
    watchdog = _Watchdog(deadline)
    current = url
    permanent = True

    def too_long() -> FetchError:
        return FetchError(f"{_short(url)}: the server took too long to answer (limit {deadline:g} s)")

    try:
        for _hop in range(MAX_REDIRECTS + 1):
            if not allow_private and is_private_url(current):
                where = "" if current == url else f" (redirected to {_short(current)})"
                raise FetchError(f"{_short(url)}: refused: the address is on this computer or a private network{where}")
            left = end - time.monotonic()
            if left <= 0:
                raise too_long()
            base = client.timeout
            timeout = httpx.Timeout(
                connect=min(base.connect or left, left), read=min(base.read or left, left),
                write=min(base.write or left, left), pool=min(base.pool or left, left),
            )
            req_headers = {"Accept-Encoding": "gzip, deflate", **(headers or {})}
            req = client.build_request("GET", current, headers=req_headers, timeout=timeout)
            try:
                resp = client.send(req, stream=True, follow_redirects=False)
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                # httpx builds the next request even when not following, and
                # fails there on a javascript:, data: or malformed Location.
                raise FetchError(f"{_short(url)}: redirected to a non-http(s) or invalid address: refused") from exc
            try:
                watchdog.watch(resp)
                if resp.is_redirect and resp.headers.get("location") is not None:
                    loc = resp.headers["location"].strip()
                    try:
                        nxt = urljoin(current, loc)
                    except ValueError:
                        nxt = loc
                    if not is_http_url(nxt):
                        raise FetchError(f"{_short(url)}: redirected to a non-http(s) address ({_short(loc)!r}): refused")
                    if resp.status_code not in (301, 308):
                        permanent = False
                    current = nxt
                    continue
                if resp.status_code == 304:
                    return Fetched(current, 304, resp.headers, None, permanent)
                if resp.status_code >= 400:
                    raise FetchError(f"{_short(url)}: the server answered HTTP {resp.status_code} {resp.reason_phrase}".rstrip())
                declared = resp.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise FetchError(f"{_short(url)}: {what} is too large ({_mb(int(declared))}, limit {_mb(max_bytes)})")
                encodings = [e.strip().lower() for e in resp.headers.get("content-encoding", "").split(",")]
                encodings = [e for e in encodings if e and e != "identity"]
                try:
                    decoder = _Decoder(encodings)
                except ValueError as exc:
                    raise FetchError(f"{_short(url)}: {exc}") from exc
                buf = bytearray()
                try:
                    for raw in resp.iter_raw(_STEP):
                        for piece in decoder.feed(raw):
                            buf += piece
                            if len(buf) > max_bytes:
                                raise FetchError(f"{_short(url)}: {what} is too large (over the {_mb(max_bytes)} limit)")
                        if time.monotonic() > end:
                            raise too_long()
                except ValueError as exc:
                    raise FetchError(f"{_short(url)}: the server sent {exc}") from exc
                if watchdog.fired:
                    raise too_long()
                return Fetched(current, resp.status_code, resp.headers, bytes(buf), permanent)
            finally:
                resp.close()
        raise FetchError(f"{_short(url)}: too many redirects")
    except FetchError:
        raise
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        if watchdog.fired:
            raise too_long() from exc
        raise Unreachable(f"{_short(url)}: cannot reach the server ({_reason(exc)})") from exc
    except httpx.TimeoutException as exc:
        raise too_long() if watchdog.fired or time.monotonic() >= end - 0.05 else FetchError(
            f"{_short(url)}: the server took too long to answer") from exc
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as exc:
        if watchdog.fired:
            raise too_long() from exc
        raise FetchError(f"{_short(url)}: download failed ({_reason(exc)})") from exc
    finally:
        watchdog.cancel()
        if own:
            client.close()


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.0f} MB" if n >= 1_000_000 else f"{n / 1000:.0f} kB"


def fetch_bytes(
    url: str,
    max_bytes: int,
    deadline: float = DEFAULT_DEADLINE,
    *,
    allow_private: bool = False,
    client: httpx.Client | None = None,
    what: str = "the file",
) -> Fetched:
    """An enrichment fetch (chapters JSON, images): private targets refused
    unless ``allow_private`` (the feed itself came from such an address)."""
    return fetch(url, max_bytes=max_bytes, deadline=deadline, allow_private=allow_private,
                 client=client, what=what, headers={"Accept": "*/*"})
