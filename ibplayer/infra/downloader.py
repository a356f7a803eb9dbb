"""Episode downloads: safe file names, a resumable downloader and a small queue.

No Qt and no database here.  The store/CLI/UI layers decide *where* files go
and *which* episodes to fetch; this module only moves bytes safely.

Guarantees of :func:`download_file`:

* Bytes are streamed to ``NAME.part`` (never held in memory as a whole) and
  renamed atomically to ``NAME`` only once complete and verified, so a file
  under its final name is always complete.  The ``.part`` is locked while a
  download runs: a second process (or thread) on the same file gets "already
  being downloaded".
* ``NAME.part.json`` (a small sidecar, written atomically *before* the first
  body byte) remembers the URL, the server's validator (strong ETag, else
  Last-Modified), its checksum (``Repr-Digest``/``Digest``) and the total
  length, so a later call -- even after the process was killed -- resumes
  with ``Range`` + ``If-Range``.  Without a validator, or when a 206 names
  none, it starts again from zero rather than splice two versions; a 200
  answering a Range is used only if it really starts at byte 0.
* Length policy: the server's length (Content-Length of a 200, or the total of
  a Content-Range) is authoritative.  A body shorter than it is never a
  complete file (it is resumed / retried).  Feed enclosure lengths
  (``expected_length``) are often bogus, so when the server announces a
  length that disagrees with ``expected_length`` we trust the server and log a
  warning; ``expected_length`` is enforced when the server announces no
  length at all (then a body shorter than ``expected_length`` counts as cut).
  But an empty body, a body under a tenth of ``expected_length``, or an HTML
  page is never the episode; and a resumed file whose checksum fails, or
  whose size is off ``expected_length`` by more than 1 %, is fetched once
  more from zero before giving up.
* ``Accept-Encoding: identity`` is requested; a compressed body sent anyway
  is decoded in bounded steps with a running cap (a gzip bomb fails fast).
* A full disk gives "the disk is full" and keeps the ``.part`` for a resume;
  free space is checked against what is left to download.
* Cancel and pause are noticed within ~50 ms even when the server stalls.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import hashlib
import json
import logging
import os
import posixpath
import random
import re
import shutil
import socket
import threading
import time
import unicodedata
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx

from ibplayer.infra.http import USER_AGENT, lazy_transport  # one User-Agent for every request
from ibplayer.infra.paths import write_atomic

log = logging.getLogger(__name__)

PART_SUFFIX = ".part"
SIDECAR_SUFFIX = ".part.json"
READ_SIZE = 1 << 20  # socket reads for a body (httpcore reads 64 KiB by default)
PROGRESS_INTERVAL = 0.1  # seconds: at most ~10 progress reports a second
# Every this many bytes, ask the kernel to start writing the file out (and drop
# it from the page cache): the final fsync then has little left to do, and a
# 1.5 h episode doesn't evict everything else from the cache.
WRITEBACK_EVERY = 8 * 1024 * 1024
_fadvise = getattr(os, "posix_fadvise", None)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None
try:
    import msvcrt
except ImportError:
    msvcrt = None
_WIN_LOCK_AT = 1 << 40  # the byte locked on Windows: far past any real episode
# errnos of "someone else holds the lock" (flock: EWOULDBLOCK; msvcrt: EACCES / EDEADLOCK)
_LOCKED = {errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES, getattr(errno, "EDEADLOCK", errno.EDEADLK)}

__all__ = [
    "USER_AGENT",
    "DownloadError",
    "DownloadCancelled",
    "DownloadPaused",
    "Progress",
    "safe_filename",
    "feed_dirname",
    "download_file",
    "part_paths",
    "DownloadQueue",
]


# --------------------------------------------------------------------------
# errors and progress


class DownloadError(Exception):
    """A download failed; ``str(err)`` is a one-line, user-readable cause."""


class DownloadCancelled(DownloadError):
    """The cancel event was set: the .part and its sidecar were deleted."""


class DownloadPaused(DownloadError):
    """The pause event was set: the .part is kept for a later resume."""


@dataclass(frozen=True)
class Progress:
    bytes_done: int  # bytes on disk for this file, including resumed ones
    total: int | None  # total size when known
    speed: float  # bytes/s, exponentially smoothed
    eta: float | None  # seconds left, when total and speed are known

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.bytes_done / self.total)


# --------------------------------------------------------------------------
# file names

_FORBIDDEN = {
    ":": " -",
    "/": "-",
    "\\": "-",
    "|": "-",
    "*": "",
    "?": "",
    '"': "'",
    "<": "",
    ">": "",
}
_RESERVED = (
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$", "CLOCK$"}
    | {f"COM{c}" for c in "123456789¹²³"}
    | {f"LPT{c}" for c in "123456789¹²³"}
)
# Leave room under the usual 255-byte file name limit (ext4, APFS, NTFS) for
# the ".part.json" sidecar suffix.
MAX_NAME_BYTES = 240

_AUDIO_EXTS = {
    ".mp3", ".m4a", ".m4b", ".mp4", ".aac", ".ogg", ".oga", ".opus", ".flac",
    ".wav", ".webm", ".mka", ".spx", ".mov", ".m4v", ".wma", ".aiff", ".aif",
}
_MIME_EXTS = {
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/x-mpeg": ".mp3",
    "audio/mpeg3": ".mp3",
    "audio/x-mp3": ".mp3",
    "audio/mp4": ".m4a",
    "audio/x-m4a": ".m4a",
    "audio/m4a": ".m4a",
    "audio/x-m4b": ".m4b",
    "audio/aac": ".aac",
    "audio/aacp": ".aac",
    "audio/ogg": ".ogg",
    "audio/vorbis": ".ogg",
    "audio/opus": ".opus",
    "audio/flac": ".flac",
    "audio/x-flac": ".flac",
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/webm": ".webm",
    "video/mp4": ".mp4",
    "video/x-m4v": ".m4v",
    "video/quicktime": ".mov",
    "video/webm": ".webm",
}


def _clean_component(text: str) -> str:
    """Make one path component out of arbitrary text (no extension logic)."""
    text = unicodedata.normalize("NFC", text or "")
    out = []
    for ch in text:
        if ch in _FORBIDDEN:
            out.append(_FORBIDDEN[ch])
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch not in (
            "\u200d",  # zero-width joiner: part of emoji sequences
        ):
            out.append(" ")  # control / format / line separators
        elif ch.isspace():
            out.append(" ")
        else:
            out.append(ch)
    text = re.sub(r"\s+", " ", "".join(out))
    # No leading dots (hidden files, "..") or dashes (look like options), no
    # trailing dots or spaces (Windows drops them).
    text = text.lstrip(" .-").rstrip(" .")
    return text


def _truncate(text: str, max_chars: int, max_bytes: int) -> str:
    """Cut to both limits at a code point boundary, not mid-combining sequence."""
    if max_chars < 0 or max_bytes < 0:
        return ""
    text = text[:max_chars]
    while len(text.encode("utf-8")) > max_bytes:
        text = text[:-1]
    # don't leave a dangling combining mark, joiner or variation selector
    while text and (
        unicodedata.combining(text[-1])
        or text[-1] in "\u200d\ufe0e\ufe0f"
        or 0x1F3FB <= ord(text[-1]) <= 0x1F3FF  # skin tone modifiers
    ):
        text = text[:-1]
    return text.rstrip(" .")


def _is_reserved(stem: str) -> bool:
    base = stem.split(".", 1)[0].rstrip(" ").upper()
    return base in _RESERVED


def _extension(url: str, mime: str | None) -> str:
    try:
        path = unquote(urlsplit(url).path)
    except ValueError:
        path = ""
    # basename after unquoting: "..%2F..%2Fx.mp3" only ever yields "x.mp3"
    base = posixpath.basename(path.replace("\\", "/"))
    ext = posixpath.splitext(base)[1].lower()
    if ext in _AUDIO_EXTS:
        return ext
    if mime:
        ext = _MIME_EXTS.get(mime.split(";", 1)[0].strip().lower())
        if ext:
            return ext
    return ".mp3"


def _unique(stem: str, ext: str, existing: set[str] | None, max_len: int) -> str:
    taken = {n.casefold() for n in existing} if existing else set()
    n = 1
    while True:
        suffix = "" if n == 1 else f" ({n})"
        room_chars = max_len - len(ext) - len(suffix)
        room_bytes = MAX_NAME_BYTES - len((ext + suffix).encode("utf-8"))
        s = _truncate(stem, room_chars, room_bytes)
        if not s or _is_reserved(s):
            s = "_" + s if s else "episode"
            s = _truncate(s, room_chars, room_bytes) or "_"
        name = f"{s}{suffix}{ext}"
        if name.casefold() not in taken:
            return name
        n += 1


def safe_filename(
    title: str,
    url: str,
    existing: set[str] | None = None,
    max_len: int = 120,
    *,
    mime: str | None = None,
) -> str:
    """A portable, unique file name for an episode.

    The extension comes from the URL path when it is a known audio/video
    extension, else from ``mime``, else ``.mp3``.  The result is NFC,
    contains no path separators, reserved characters or control characters,
    is not a Windows device name, is at most ``max_len`` characters and
    ``MAX_NAME_BYTES`` UTF-8 bytes, and (case-insensitively) not in
    ``existing`` -- `` (2)``, `` (3)``... are appended as needed.
    """
    max_len = max(max_len, 16)
    ext = _extension(url, mime)
    stem = _clean_component(title)
    # a title that already ends with the extension: don't double it
    if stem.lower().endswith(ext):
        stem = stem[: -len(ext)].rstrip(" .")
    if not stem:
        stem = "episode"
    return _unique(stem, ext, existing, max_len)


def feed_dirname(title: str, existing: set[str] | None = None, max_len: int = 80) -> str:
    """A portable, unique directory name for a feed (same rules, no extension)."""
    max_len = max(max_len, 16)
    stem = _clean_component(title) or "podcast"
    return _unique(stem, "", existing, max_len)


# --------------------------------------------------------------------------
# the downloader


def part_paths(dest: Path) -> tuple[Path, Path]:
    """The ``.part`` file and its ``.part.json`` sidecar for ``dest``."""
    dest = Path(dest)
    return dest.with_name(dest.name + PART_SUFFIX), dest.with_name(dest.name + SIDECAR_SUFFIX)


class _Retry(Exception):
    """Internal: a transient failure worth another attempt."""

    def __init__(self, message: str, delay: float | None = None):
        super().__init__(message)
        self.delay = delay


class _Restart(Exception):
    """Internal: the .part is unusable; start again from zero (no backoff)."""


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f}"


def _unlink(*paths: Path) -> None:
    for p in paths:
        try:
            p.unlink()
        except FileNotFoundError:
            pass
        except OSError as e:  # pragma: no cover - e.g. permissions
            log.warning("could not remove %s: %s", p, e)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _load_sidecar(sidecar: Path, url: str) -> dict | None:
    try:
        data = json.loads(sidecar.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("url") != url:
        return None
    return data


def _save_sidecar(sidecar: Path, data: dict) -> None:
    write_atomic(sidecar, json.dumps(data).encode("utf-8"))  # a full disk leaves no debris


def _validator(resp: httpx.Response) -> dict:
    etag = resp.headers.get("etag")
    return {
        "etag": etag if etag and not etag.startswith("W/") else None,
        "weak_etag": etag if etag and etag.startswith("W/") else None,
        "last_modified": resp.headers.get("last-modified"),
    }


_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)\s*/\s*(\d+|\*)\s*$", re.I)


def _parse_content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """(start, end, total) from a Content-Range header; Nones when absent."""
    if not value:
        return None, None, None
    m = _CONTENT_RANGE.match(value)
    if not m:
        return None, None, None
    start = int(m.group(1)) if m.group(1) is not None else None
    end = int(m.group(2)) if m.group(2) is not None else None
    total = int(m.group(3)) if m.group(3) not in (None, "*") else None
    return start, end, total


def _content_length(resp: httpx.Response) -> int | None:
    if resp.headers.get("content-encoding", "identity").lower() not in ("identity", ""):
        return None  # the length is of the encoded body
    try:
        n = int(resp.headers.get("content-length", ""))
    except ValueError:
        return None
    return n if n >= 0 else None


def _retry_after(resp: httpx.Response) -> float | None:
    try:
        return min(30.0, max(0.0, float(resp.headers.get("retry-after", ""))))
    except ValueError:
        return None


class _Speed:
    """Smoothed speed and throttled progress reports."""

    def __init__(self, progress: Callable[[Progress], None] | None, done: int, total: int | None):
        self.cb = progress
        self.total = total
        self.done = done
        self.speed = 0.0
        self._t = time.monotonic()
        self._bytes_at_t = done
        self._last_report = 0.0

    def add(self, n: int) -> bool:
        """Count n bytes; return True when a report is due (and send it)."""
        self.done += n
        now = time.monotonic()
        dt = now - self._t
        if dt >= PROGRESS_INTERVAL:
            inst = (self.done - self._bytes_at_t) / dt
            self.speed = inst if self.speed == 0 else 0.7 * self.speed + 0.3 * inst
            self._t, self._bytes_at_t = now, self.done
        if self.cb and now - self._last_report >= PROGRESS_INTERVAL:
            self._last_report = now
            self.report()
            return True
        return False

    def reset(self, done: int, total: int | None) -> None:
        self.done, self.total = done, total
        self._t, self._bytes_at_t = time.monotonic(), done

    def report(self) -> None:
        if not self.cb:
            return
        eta = None
        if self.total and self.speed > 0:
            eta = max(0.0, (self.total - self.done) / self.speed)
        elif self.total and self.done >= self.total:
            eta = 0.0
        try:
            self.cb(Progress(self.done, self.total, self.speed, eta))
        except Exception:  # a UI bug must not kill the download
            log.exception("progress callback failed")


def _check_space(directory: Path, remaining: int, min_free_bytes: int) -> None:
    need = max(0, remaining) + max(0, min_free_bytes)
    if need <= 0:
        return
    free = shutil.disk_usage(directory).free
    if free < need:
        raise DownloadError(f"not enough disk space: need {_mb(need)} MB, {_mb(free)} MB free")


# A feed's enclosure length above this is a feed error, not a size to check against.
MAX_PLAUSIBLE_LENGTH = 20 * 10**9
# A body under this fraction of the stated length is not the episode (an error page,
# a "quota exceeded" note...).
MIN_FRACTION_OF_STATED = 0.1
# Decoding a compressed body: at most this much output per step, and a running cap.
DECODE_PIECE = 1 << 20
MAX_EXPANSION = 20  # decoded bytes per received byte (audio barely compresses)
_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_DIGEST_ALGOS = {"sha-256": "sha256", "sha-512": "sha512"}


def _plausible(stated: int) -> bool:
    return 0 < stated <= MAX_PLAUSIBLE_LENGTH


def _close_to(size: int, stated: int) -> bool:
    """Within a small margin of the stated length (1 %, at least 16 KiB)."""
    return abs(size - stated) <= max(16 * 1024, stated // 100)


def _repr_digest(resp: httpx.Response) -> list[str] | None:
    """[hashlib name, hex] of the whole representation, from ``Repr-Digest``
    (RFC 9530) or ``Digest`` (RFC 3230), when the server sends one."""
    for header, colons in (("repr-digest", True), ("digest", False)):
        for item in (resp.headers.get(header) or "").split(","):
            name, _, value = item.strip().partition("=")
            algo = _DIGEST_ALGOS.get(name.strip().lower())
            value = value.strip()
            if not algo:
                continue
            if colons:
                if not (len(value) > 2 and value[0] == value[-1] == ":"):
                    continue
                value = value[1:-1]
            try:
                return [algo, base64.b64decode(value, validate=True).hex()]
            except (ValueError, binascii.Error):
                continue
    return None


def _encodings(resp: httpx.Response) -> list[str]:
    raw = resp.headers.get("content-encoding", "")
    return [e.strip().lower() for e in raw.split(",") if e.strip().lower() not in ("", "identity")]


def _inflate(chunks: Iterator[bytes], encoding: str) -> Iterator[bytes]:
    """Decode one content coding, never more than DECODE_PIECE at a time."""
    if encoding in ("gzip", "x-gzip"):
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif encoding == "deflate":
        d = zlib.decompressobj(zlib.MAX_WBITS)
    else:
        raise DownloadError(f"the server sent the episode in an unsupported encoding ({encoding[:40]})")
    try:
        for chunk in chunks:
            data = chunk
            while data and not d.eof:
                out = d.decompress(data, DECODE_PIECE)
                if out:
                    yield out
                data = d.unconsumed_tail
        tail = d.flush()
    except zlib.error as e:
        raise _Retry(f"damaged {encoding} body: {e}") from None
    if tail:
        yield tail


def _open_part(part: Path) -> int:
    """Open (creating) and lock the ``.part``; return its descriptor.

    The lock (flock on POSIX, a byte lock on Windows) is held for the whole
    download, so a second process or thread asking for the same file gets
    "already being downloaded" instead of writing into it too."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0)
    for _ in range(20):
        fd = os.open(part, flags, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            elif msvcrt is not None:  # pragma: no cover - Windows
                os.lseek(fd, _WIN_LOCK_AT, os.SEEK_SET)
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError as e:
            if e.errno not in _LOCKED:  # e.g. a filesystem without locks: go on unlocked
                log.info("cannot lock %s: %s", part.name, e)
                return fd
            os.close(fd)
            raise DownloadError("already being downloaded (by another ibplayer window or command)") from None
        # The holder may have renamed or removed the file between our open and
        # our lock: then we locked a file nobody will ever see.  Try again.
        try:
            st = os.stat(part)
        except FileNotFoundError:
            st = None
        fst = os.fstat(fd)
        if st is not None and (st.st_ino, st.st_dev) == (fst.st_ino, fst.st_dev):
            return fd
        os.close(fd)
    raise DownloadError("already being downloaded (by another ibplayer window or command)")


def _discard_partial(dest: Path) -> None:
    """Remove ``dest``'s .part and sidecar, unless another download holds them."""
    part, sidecar = part_paths(dest)
    if not part.exists():
        _unlink(sidecar)
        return
    try:
        _Part(part, sidecar).close(remove=True)
    except (DownloadError, OSError) as e:
        log.info("keeping %s: %s", part.name, e)


def _read_at(fd: int, n: int, offset: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, n, offset)
    os.lseek(fd, offset, os.SEEK_SET)  # pragma: no cover - Windows
    return os.read(fd, n)


def _write_all(fd: int, data) -> None:
    n = os.write(fd, data)
    if n != len(data):
        mv = memoryview(data)[n:]
        while mv:
            mv = mv[os.write(fd, mv):]


def _file_digest(fd: int, algo: str) -> str:
    h = hashlib.new(algo)
    os.lseek(fd, 0, os.SEEK_SET)
    while block := os.read(fd, 1 << 20):
        h.update(block)
    return h.hexdigest()


@dataclass
class _State:
    """What one download_file call has learned about this server."""

    no_range: bool = False  # the server mishandles Range: always fetch from zero
    reverified: bool = False  # a finished file failed its check and was fetched again


class _Part:
    """The locked ``.part`` and its sidecar."""

    def __init__(self, part: Path, sidecar: Path):
        self.path, self.sidecar = part, sidecar
        self.fd = _open_part(part)

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def discard(self) -> None:
        """Start again from zero (the file and its lock stay)."""
        os.ftruncate(self.fd, 0)
        _unlink(self.sidecar)

    def close(self, *, remove: bool = False) -> None:
        if self.fd < 0:
            return
        if remove or self.size() == 0:
            if os.name == "nt":  # pragma: no cover - open files can't be removed there
                os.close(self.fd)
                self.fd = -1
            _unlink(self.path, self.sidecar)
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class _Watch:
    """Makes cancel and pause prompt: a read blocked on a stalled server is
    woken by shutting the connection's socket down, instead of waiting for
    the read timeout.  One small thread per download that has events."""

    def __init__(self, events: list[threading.Event]):
        self._events = events
        self._sock = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        if events:
            self._thread = threading.Thread(target=self._run, name="download-watch", daemon=True)
            self._thread.start()

    @contextlib.contextmanager
    def attached(self, resp: httpx.Response) -> Iterator[None]:
        """While the body is read, a cancel or pause may shut its socket down."""
        self.attach(resp)
        try:
            yield
        finally:
            self.attach(None)

    def attach(self, resp: httpx.Response | None) -> None:
        sock = None
        if resp is not None:
            stream = resp.extensions.get("network_stream")
            try:
                sock = stream.get_extra_info("socket") if stream is not None else None
            except Exception:  # pragma: no cover - a transport without sockets
                sock = None
        with self._lock:
            self._sock = sock

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            if any(e.is_set() for e in self._events):
                with self._lock:
                    sock, self._sock = self._sock, None
                if sock is not None:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(1)


def download_file(
    url: str,
    dest: Path,
    *,
    expected_length: int = 0,
    client: httpx.Client | None = None,
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    pause: threading.Event | None = None,
    retries: int = 4,
    backoff: float = 0.5,
    timeout: float = 30,
    min_free_bytes: int = 0,
) -> Path:
    """Download ``url`` to ``dest`` (resumably, atomically); return ``dest``.

    Raises :class:`DownloadError` (one-line message naming the cause),
    :class:`DownloadCancelled` or :class:`DownloadPaused`.  ``retries`` is the
    number of extra attempts after transient failures (connection/read
    errors, timeouts, 5xx, 408, 429), with exponential backoff starting at
    ``backoff`` seconds.  Other 4xx fail at once.  If ``dest`` already exists
    it is replaced only when the new download is complete.  ``expected_length``
    is the feed's stated length (0: unknown).
    """
    try:
        scheme = urlsplit(url).scheme.lower()
    except (ValueError, AttributeError):
        scheme = ""
    if scheme not in ("http", "https"):
        raise DownloadError(f"unsupported URL (only http/https): {str(url)[:200]!r}")

    dest = Path(dest)
    part_path, sidecar = part_paths(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        part = _Part(part_path, sidecar)
    except OSError as e:
        if e.errno in _DISK_FULL:
            raise DownloadError("the disk is full") from None
        raise DownloadError(f"cannot write {part_path}: {e.strerror or e}") from None

    own_client = client is None
    watch = _Watch([e for e in (cancel, pause) if e is not None])
    remove = False
    try:
        if own_client:
            client = _make_client(timeout)
        return _download(
            url, dest, part, client,
            expected_length=max(0, int(expected_length or 0)),
            progress=progress, cancel=cancel, pause=pause, watch=watch,
            retries=max(0, retries), backoff=max(0.0, backoff),
            timeout=timeout, min_free_bytes=min_free_bytes,
        )
    except DownloadCancelled:
        remove = True
        raise
    except OSError as e:
        if e.errno in _DISK_FULL:
            kept = part.size()
            raise DownloadError(
                f"the disk is full: {_mb(kept)} MB kept in {part_path.name}; "
                "free some space and download again to resume"
            ) from None
        raise DownloadError(f"cannot write {part_path}: {e.strerror or e}") from None
    finally:
        watch.stop()
        part.close(remove=remove)
        if own_client and client is not None:
            client.close()


def _make_client(timeout: float, limits: httpx.Limits | None = None) -> httpx.Client:
    limits = limits or httpx.Limits(max_connections=None, max_keepalive_connections=8)
    return httpx.Client(
        follow_redirects=True,
        timeout=httpx.Timeout(timeout),
        headers={"User-Agent": USER_AGENT},
        limits=limits,  # (for httpx's own transport, used when a proxy is configured)
        # built on first use and per scheme: a plain http:// download never
        # loads the CA certificates
        transport=lazy_transport(limits),
    )


def _download(
    url: str,
    dest: Path,
    part: _Part,
    client: httpx.Client,
    *,
    expected_length: int,
    progress: Callable[[Progress], None] | None,
    cancel: threading.Event | None,
    pause: threading.Event | None,
    watch: _Watch,
    retries: int,
    backoff: float,
    timeout: float,
    min_free_bytes: int,
) -> Path:
    def check_events() -> None:
        if cancel is not None and cancel.is_set():
            raise DownloadCancelled("download cancelled")  # files removed by the caller
        if pause is not None and pause.is_set():
            raise DownloadPaused("download paused")

    def wait_or_stop(delay: float) -> None:
        end = time.monotonic() + delay
        while True:
            check_events()
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.05))

    # What we know from an earlier (possibly killed) run.
    meta = _load_sidecar(part.sidecar, url) if part.size() else None
    if meta is None:
        if part.size():
            log.info("discarding %s: no matching sidecar", part.path.name)
        part.discard()

    check_events()
    offset = part.size()
    # Fail clearly before touching the network when the size is already known
    # from the server (sidecar).  A feed's enclosure length may be bogus, so it
    # is only used once the server has been asked (and announced no length).
    known_total = (meta or {}).get("total") or 0
    _check_space(dest.parent, known_total - offset if known_total else 0, min_free_bytes)

    speed = _Speed(progress, offset, (meta or {}).get("total"))
    state = _State()
    attempt = 0
    restarts = 0
    while True:
        check_events()
        try:
            meta = _load_sidecar(part.sidecar, url) if part.size() else None
            if meta is None and part.size():
                part.discard()
            offset = part.size()
            total = (meta or {}).get("total")
            if meta and total is not None and offset == total and offset > 0:
                # complete .part left by a run killed before the rename
                return _complete(part, dest, meta, offset, expected_length, speed, state)
            if meta and total is not None and offset > total:
                raise _Restart(f"partial file larger than {total} bytes")
            return _attempt(
                url, dest, part, client, meta, offset, state,
                expected_length=expected_length, speed=speed, timeout=timeout,
                min_free_bytes=min_free_bytes, check_events=check_events, watch=watch,
            )
        except _Restart as e:
            check_events()
            restarts += 1
            log.info("%s: restarting from zero: %s", dest.name, e)
            part.discard()
            speed.reset(0, None)
            if restarts > retries + 2:
                raise DownloadError(f"download keeps failing: {e}") from None
            continue
        except (_Retry, httpx.TransportError) as e:
            check_events()  # a cancel or pause that woke a blocked read
            last_error = _describe(e)
            attempt += 1
            if attempt > retries:
                n = attempt
                raise DownloadError(
                    f"{last_error} (gave up after {n} attempt{'s' if n != 1 else ''})"
                ) from None
            delay = backoff * (2 ** (attempt - 1)) * (1 + 0.1 * random.random())
            if isinstance(e, _Retry) and e.delay is not None:
                delay = max(delay, e.delay)
            log.info("%s: %s; retry %d/%d in %.2fs", dest.name, last_error, attempt, retries, delay)
            wait_or_stop(delay)
        except DownloadError as e:
            if not isinstance(e, DownloadPaused | DownloadCancelled) and getattr(e, "discard", False):
                part.discard()
            raise


def _describe(e: Exception) -> str:
    if isinstance(e, _Retry):
        return str(e)
    if isinstance(e, httpx.TimeoutException):
        kind = {
            httpx.ConnectTimeout: "connection timed out",
            httpx.ReadTimeout: "server stopped sending data (read timed out)",
            httpx.WriteTimeout: "write timed out",
            httpx.PoolTimeout: "timed out waiting for a connection",
        }.get(type(e), "timed out")
        return kind
    if isinstance(e, httpx.ConnectError):
        return f"could not connect: {str(e) or type(e).__name__}"
    if isinstance(e, httpx.RemoteProtocolError):
        m = re.search(r"received (\d+) bytes, expected (\d+)", str(e))
        if m:
            return f"connection closed early: got {m[1]} of {m[2]} bytes of this response"
        return f"connection dropped: {str(e) or type(e).__name__}"
    if isinstance(e, httpx.TransportError):
        return f"network error: {str(e) or type(e).__name__}"
    return str(e) or type(e).__name__


def _bad_body(message: str) -> DownloadError:
    """A failure of this body (not the network): not retried, the .part is discarded."""
    e = DownloadError(message)
    e.discard = True  # type: ignore[attr-defined]
    return e


def _same_version(meta: dict, v: dict) -> bool | None:
    """Whether a response's validator names the version the .part came from
    (None: the response carries no validator)."""
    if meta.get("etag"):
        return None if not v["etag"] else v["etag"] == meta["etag"]
    if meta.get("last_modified"):
        return None if not v["last_modified"] else v["last_modified"] == meta["last_modified"]
    return None


def _attempt(
    url: str,
    dest: Path,
    part: _Part,
    client: httpx.Client,
    meta: dict | None,
    offset: int,
    state: _State,
    *,
    expected_length: int,
    speed: _Speed,
    timeout: float,
    min_free_bytes: int,
    check_events: Callable[[], None],
    watch: _Watch,
) -> Path:
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    check_head = 0  # compare this many first bytes of a 200 with the .part's
    if offset > 0 and meta:
        validator = meta.get("etag") or meta.get("last_modified")
        if meta.get("encoded") or not validator or state.no_range:
            # Nothing to check a resumed range against (or offsets of a
            # compressed body): resuming could splice two versions.
            why = ("compressed body" if meta.get("encoded") else
                   "no ETag or Last-Modified" if not validator else "server mishandles ranges")
            log.info("%s: not resuming (%s): restarting from zero", dest.name, why)
            part.discard()
            offset, meta = 0, None
        else:
            headers["Range"] = f"bytes={offset}-"
            headers["If-Range"] = validator
    else:
        offset = 0

    with client.stream(
        "GET", url, headers=headers, follow_redirects=True, timeout=httpx.Timeout(timeout)
    ) as resp, watch.attached(resp):
        status = resp.status_code
        if status == 416:
            _, _, total = _parse_content_range(resp.headers.get("content-range"))
            total = total if total is not None else (meta or {}).get("total")
            if offset > 0 and total is not None and offset == total:
                return _complete(part, dest, meta or {}, total, expected_length, speed, state)
            raise _Restart("server rejected the resume range (416)")
        if status >= 500 or status in (408, 429):
            raise _Retry(f"server error: HTTP {status} {resp.reason_phrase}".rstrip(),
                         _retry_after(resp))
        if status not in (200, 206):
            raise _bad_body(f"HTTP {status} {resp.reason_phrase}".rstrip())

        v = _validator(resp)
        digest = _repr_digest(resp)
        encodings = _encodings(resp)
        if status == 206:
            assert meta is not None and offset > 0  # a 206 only answers our Range
            start, _, total = _parse_content_range(resp.headers.get("content-range"))
            if start is None or start != offset:
                raise _Restart(f"server resumed at byte {start}, expected {offset}")
            if encodings:
                raise _Restart("server sent a compressed partial body")
            old_total = meta.get("total")
            if old_total is not None and total is not None and old_total != total:
                raise _Restart(f"file size changed on the server ({old_total} -> {total})")
            same = _same_version(meta, v)
            if same is None:
                state.no_range = True
                raise _Restart("the server's partial reply names no version (no ETag or Last-Modified)")
            if not same or any(meta.get(k) and v[k] and meta[k] != v[k]
                               for k in ("etag", "weak_etag", "last_modified")):
                raise _Restart("file changed on the server")
            if meta.get("digest") and digest and digest != meta["digest"]:
                raise _Restart("file changed on the server (its checksum differs)")
            if total is None:
                total = old_total
            new_meta = dict(meta, url=url, total=total, resumed=True)
            if digest and not meta.get("digest"):
                new_meta["digest"] = digest
        else:  # 200: a fresh start (first request, Range ignored or If-Range failed)
            total = _content_length(resp)
            if offset > 0:
                # "The same version" but not the whole file's length: perhaps only
                # the tail, labelled as the whole (a broken server).  It is the
                # whole file only if it starts with what the .part starts with.
                same = _same_version(meta, v)
                if same is not False and not (total is not None and total == meta.get("total")):
                    check_head = min(offset, 64 * 1024)
                log.info("%s: server sent the whole file; restarting from zero", dest.name)
                offset = 0
            new_meta = {"url": url, "total": total, **v}
            if encodings:
                new_meta["encoded"] = True
            elif digest:
                new_meta["digest"] = digest

        stated = expected_length if _plausible(expected_length) else 0
        if total is not None and expected_length and total != expected_length:
            log.warning(
                "%s: feed says %d bytes, server says %d; trusting the server",
                dest.name, expected_length, total,
            )
        # now that the real size is known, check the disk again
        if encodings:
            wire = int(resp.headers.get("content-length", "0") or 0) if resp.headers.get(
                "content-length", "").isdigit() else 0
            remaining = max(stated, wire)
        else:
            remaining = (total - offset) if total is not None else max(0, stated - offset)
        _check_space(dest.parent, remaining, min_free_bytes)
        html = resp.headers.get("content-type", "").split(";", 1)[0].strip().lower() in _HTML_TYPES
        fd = part.fd

        def start(first: bytes) -> None:
            """Before the first body byte: is this the episode?  Then the sidecar."""
            if html and (not first or _looks_like_html(first)):
                raise _web_page(resp)
            if check_head:
                n = min(check_head, len(first))
                if n == 0 or _read_at(fd, n, 0) != first[:n]:
                    state.no_range = True
                    raise _Restart("the server answered the resume with only part of the file")
            if offset == 0:
                os.ftruncate(fd, 0)
            _save_sidecar(part.sidecar, new_meta)
            os.lseek(fd, offset, os.SEEK_SET)
            speed.reset(offset, total if total is not None else (stated or None))
            speed.report()  # started (a small file may then arrive in one read)

        received = [0]

        def raw() -> Iterator[bytes]:
            _widen_reads(resp)
            for chunk in resp.iter_raw():  # as read from the socket: a cut loses nothing
                received[0] += len(chunk)
                yield chunk

        body: Iterator[bytes] = raw()
        for enc in reversed(encodings):
            body = _inflate(body, enc)
        cap = int(stated * 1.5) + DECODE_PIECE if (encodings and stated) else None

        pos = advised = offset
        started = False
        for chunk in body:
            if not started:
                start(chunk)
                started = True
            _write_all(fd, chunk)
            pos += len(chunk)
            if encodings and (pos > MAX_EXPANSION * received[0] + 8 * DECODE_PIECE
                              or (cap is not None and pos > cap)):
                raise _bad_body(
                    f"the server's compressed body expands far beyond the episode's size "
                    f"({_mb(received[0])} MB became over {_mb(pos)} MB)"
                )
            speed.add(len(chunk))
            if _fadvise is not None and pos - advised >= WRITEBACK_EVERY:
                try:
                    _fadvise(fd, advised, pos - advised, os.POSIX_FADV_DONTNEED)
                except OSError:  # pragma: no cover - unsupported filesystem
                    pass
                advised = pos
            check_events()
        if not started:
            start(b"")
        size = pos

    if total is not None:
        if size < total:
            raise _Retry(f"connection closed early: got {size} of {total} bytes")
        if size > total:
            raise _Restart(f"server sent more than the announced {total} bytes")
    elif stated and size < stated and not _close_to(size, stated):
        # no length from the server: the feed's length is all we have
        raise _Retry(f"connection closed early: got {size} of about {stated} bytes")
    return _complete(part, dest, new_meta, size, expected_length, speed, state)


def _widen_reads(resp: httpx.Response) -> None:
    """Read the body from the socket in READ_SIZE pieces instead of httpcore's
    64 KiB: most of the CPU of a fast download is spent per read.  Done on
    this connection only, and silently skipped if httpx/httpcore change shape."""
    x = getattr(resp, "stream", None)
    for _ in range(8):
        if x is None:
            return
        conn = getattr(x, "_connection", None)
        if conn is not None:
            if isinstance(getattr(conn, "READ_NUM_BYTES", None), int):
                conn.READ_NUM_BYTES = READ_SIZE
            return
        x = getattr(x, "_stream", None) or getattr(x, "_httpcore_stream", None)


def _looks_like_html(chunk: bytes) -> bool:
    head = chunk[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith(b"<")


def _web_page(resp: httpx.Response) -> DownloadError:
    ctype = resp.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return _bad_body(f"the server sent a web page ({ctype}), not the episode")


def _not_the_episode(size: int, stated: int) -> DownloadError:
    return _bad_body(
        f"the server sent only {size} bytes for an episode stated as {_mb(stated)} MB: "
        "not the episode"
    )


def _complete(part: _Part, dest: Path, meta: dict, size: int, expected_length: int,
              speed: _Speed, state: _State) -> Path:
    """Check the finished .part, then give it its final name."""
    stated = expected_length if _plausible(expected_length) else 0
    if size == 0:
        raise _bad_body("the server sent an empty file")
    if stated and size < stated * MIN_FRACTION_OF_STATED:
        raise _not_the_episode(size, stated)
    problem = None
    digest = meta.get("digest")
    if digest:
        if _file_digest(part.fd, digest[0]) != digest[1]:
            problem = "its checksum does not match the server's"
    elif meta.get("resumed") and stated and not _close_to(size, stated):
        problem = f"it was resumed and its size ({size} bytes) differs from the stated {stated}"
    if problem:
        if state.reverified:
            raise _bad_body(f"the downloaded file is not what the server describes: {problem} "
                            "(fetched twice)")
        state.reverified = True
        state.no_range = state.no_range or bool(meta.get("resumed"))
        raise _Restart(problem)
    return _finish(part, dest, size, speed)


def _finish(part: _Part, dest: Path, total: int, speed: _Speed) -> Path:
    size = part.size()
    if size != total:  # pragma: no cover - guarded by the callers
        raise _Retry(f"incomplete file: {size} of {total} bytes")
    os.fsync(part.fd)
    os.replace(part.path, dest)  # the lock moves along with the file
    _fsync_dir(dest.parent)
    _unlink(part.sidecar)
    speed.total = total
    speed.done = total
    speed.report()
    return dest


# --------------------------------------------------------------------------
# the queue


@dataclass
class _Job:
    job_id: str
    url: str
    dest: Path
    expected_length: int
    state: str = "queued"  # queued | running | paused | done | error | cancelled
    cancel: threading.Event | None = None
    pause: threading.Event | None = None
    resume_requested: bool = False


class DownloadQueue:
    """Runs downloads on worker threads, at most ``max_concurrent`` at once.

    Callbacks are called from worker threads with plain values:
    ``on_progress(job_id, Progress)``, ``on_done(job_id, Path)``,
    ``on_error(job_id, message)``, and optionally ``on_paused(job_id)`` and
    ``on_cancelled(job_id)``.  ``download_options`` are passed on to
    :func:`download_file` (``retries``, ``timeout``, ``min_free_bytes``...).
    """

    def __init__(
        self,
        max_concurrent: int = 2,
        on_progress: Callable[[str, Progress], None] | None = None,
        on_done: Callable[[str, Path], None] | None = None,
        on_error: Callable[[str, str], None] | None = None,
        *,
        on_paused: Callable[[str], None] | None = None,
        on_cancelled: Callable[[str], None] | None = None,
        client: httpx.Client | None = None,
        **download_options,
    ):
        self._max = max(1, int(max_concurrent))
        self.on_progress = on_progress
        self.on_done = on_done
        self.on_error = on_error
        self.on_paused = on_paused
        self.on_cancelled = on_cancelled
        self._options = download_options
        self._own_client = client is None
        self._client = client or _make_client(download_options.get("timeout", 30))
        self._lock = threading.Condition()
        self._jobs: dict[str, _Job] = {}
        self._pending: deque[str] = deque()
        self._threads: dict[str, threading.Thread] = {}
        # workers that have stopped but are still running their job's callback
        self._reporting: set[threading.Thread] = set()
        self._closed = False

    # -- public API -------------------------------------------------------

    def add(self, job_id: str, url: str, dest: Path, expected_length: int = 0) -> None:
        """Queue a download.  Re-adding a finished/failed/cancelled id restarts it."""
        with self._lock:
            if self._closed:
                raise RuntimeError("queue is shut down")
            old = self._jobs.get(job_id)
            if old and old.state in ("queued", "running", "paused"):
                raise ValueError(f"job {job_id!r} is already in the queue")
            self._jobs[job_id] = _Job(job_id, url, Path(dest), int(expected_length or 0))
            self._pending.append(job_id)
            self._pump()

    def cancel(self, job_id: str) -> None:
        """Stop the job and delete its partial file."""
        self._stop(job_id, "cancelled")

    def pause(self, job_id: str) -> None:
        """Stop the job but keep its partial file for :meth:`resume`."""
        self._stop(job_id, "paused")

    def _stop(self, job_id: str, to: str) -> None:
        """Cancel or pause: a running job is signalled (its worker reports the
        end); a waiting one ends here, its partial file deleted on cancel."""
        cancel = to == "cancelled"
        notify = False
        with self._lock:
            job = self._jobs.get(job_id)
            if not job:
                return
            if job.state == "running":
                job.resume_requested = False
                (job.cancel if cancel else job.pause).set()
            elif job.state == "queued" or (cancel and job.state == "paused"):
                if job.state == "queued":
                    self._pending.remove(job_id)
                job.state = to
                if cancel:
                    _discard_partial(job.dest)
                notify = True
                self._lock.notify_all()
        if notify:
            self._call(self.on_cancelled if cancel else self.on_paused, job_id)

    def resume(self, job_id: str) -> None:
        """Queue a paused (or failed) job again; it resumes from its .part."""
        with self._lock:
            job = self._jobs.get(job_id)
            if not job or self._closed:
                return
            if job.state == "running" and job.pause.is_set():
                job.resume_requested = True  # requeued when the worker stops
            elif job.state in ("paused", "error"):
                job.state = "queued"
                self._pending.append(job_id)
                self._pump()

    def set_max_concurrent(self, n: int) -> None:
        """Change the limit; running jobs above a lowered limit finish normally."""
        with self._lock:
            self._max = max(1, int(n))
            self._pump()

    @property
    def max_concurrent(self) -> int:
        return self._max

    def state(self, job_id: str) -> str | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return job.state if job else None

    def wait(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued or running and every finished job's
        callback (``on_done``, ``on_error``...) has returned; False on timeout.
        (Called from inside a callback, that callback itself is not waited for.)"""
        end = None if timeout is None else time.monotonic() + timeout
        me = threading.current_thread()
        with self._lock:
            while self._pending or self._threads or (self._reporting - {me}):
                left = None if end is None else end - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._lock.wait(left)
            return True

    def shutdown(self, timeout: float | None = 10) -> None:
        """Pause running jobs (their .part files are kept), drop queued ones.
        Returns once the running jobs have stopped and their callbacks have
        returned (or after ``timeout`` seconds)."""
        with self._lock:
            self._closed = True
            for job_id in list(self._pending):
                self._jobs[job_id].state = "paused"
            self._pending.clear()
            for job in self._jobs.values():
                if job.state == "running":
                    job.resume_requested = False
                    job.pause.set()
        self.wait(timeout)
        if self._own_client:
            self._client.close()

    # -- internals --------------------------------------------------------

    def _pump(self) -> None:  # called with the lock held
        while self._pending and len(self._threads) < self._max and not self._closed:
            job = self._jobs[self._pending.popleft()]
            job.state = "running"
            job.cancel, job.pause = threading.Event(), threading.Event()
            job.resume_requested = False
            t = threading.Thread(target=self._run, args=(job,), name=f"download-{job.job_id}",
                                 daemon=True)
            self._threads[job.job_id] = t
            t.start()

    def _call(self, cb, *args) -> None:
        if cb is None:
            return
        try:
            cb(*args)
        except Exception:
            log.exception("download callback failed")

    def _run(self, job: _Job) -> None:
        outcome: tuple = ()
        try:
            path = download_file(
                job.url, job.dest,
                expected_length=job.expected_length,
                client=self._client,
                progress=lambda p: self._call(self.on_progress, job.job_id, p),
                cancel=job.cancel, pause=job.pause,
                **self._options,
            )
            outcome = ("done", path)
        except DownloadCancelled:
            outcome = ("cancelled",)
        except DownloadPaused:
            outcome = ("paused",)
        except DownloadError as e:
            outcome = ("error", str(e))
        except Exception as e:  # never let a worker die silently
            log.exception("download %s crashed", job.job_id)
            outcome = ("error", f"unexpected error: {e}")
        me = threading.current_thread()
        with self._lock:
            del self._threads[job.job_id]
            self._reporting.add(me)
            job.state = outcome[0]
            if outcome[0] == "paused" and job.resume_requested and not self._closed:
                job.state = "queued"
                self._pending.append(job.job_id)
                outcome = ("requeued",)
            self._pump()
            self._lock.notify_all()
        try:
            kind = outcome[0]
            if kind == "done":
                self._call(self.on_done, job.job_id, outcome[1])
            elif kind == "error":
                self._call(self.on_error, job.job_id, outcome[1])
            elif kind == "paused":
                self._call(self.on_paused, job.job_id)
            elif kind == "cancelled":
                self._call(self.on_cancelled, job.job_id)
        finally:
            with self._lock:
                self._reporting.discard(me)
                self._lock.notify_all()
