"""Artwork on screen (issue 10 §6): cached image files (the enrichment
service fetched them, size-capped) decoded defensively off the GUI thread.

``QImageReader`` with an allocation limit and a dimension check, scaled
while decoding to the box it is shown in; a file that cannot be decoded (a
broken or hostile image) gives None and is skipped, never a crash."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable

from PySide6.QtCore import QObject, QSize, Qt, QUrl
from PySide6.QtGui import QImage, QImageReader, QPixmap

from . import workers

log = logging.getLogger(__name__)

MAX_SIDE = 8000  # pixels: a larger image is refused, not decoded
ALLOCATION_MB = 64
CACHE = 64  # decoded pixmaps kept


def local_path(image: str | None) -> str | None:
    """A chapter image's cached file (its ``file://`` URI) or a plain path;
    None for anything still remote (not cached: not shown)."""
    if not image:
        return None
    if image.startswith("file:"):
        return QUrl(image).toLocalFile() or None
    if "://" in image:
        return None
    return image


def decode_image(path: str, box: int) -> QImage | None:
    """Decode ``path`` scaled to fit ``box`` x ``box`` (any thread).  None
    when it is missing, too large, or not a readable image."""
    try:
        QImageReader.setAllocationLimit(ALLOCATION_MB)
        reader = QImageReader(path)
        reader.setDecideFormatFromContent(True)
        if not reader.canRead():
            return None
        size = reader.size()
        if size.isValid():
            if size.width() <= 0 or size.height() <= 0 or max(size.width(), size.height()) > MAX_SIDE:
                return None
            scaled = size.scaled(QSize(box, box), Qt.KeepAspectRatio)
            if scaled.width() < size.width():
                reader.setScaledSize(scaled)
        img = reader.read()
        if img.isNull():
            log.info("image %s not shown: %s", path, reader.errorString())
            return None
        if img.width() > box or img.height() > box:
            img = img.scaled(box, box, Qt.KeepAspectRatio, Qt.SmoothTransformation)
        return img
    except Exception:  # noqa: BLE001 - a broken image is skipped, never a crash
        log.exception("decoding %s", path)
        return None


class ArtLoader(QObject):
    """Decode in the pool, hand back a QPixmap on the GUI thread; a small
    cache of what was shown."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._cache: OrderedDict[tuple[str, int], QPixmap | None] = OrderedDict()

    def load(self, path: str | None, box: int, done: Callable[[QPixmap | None], None]) -> None:
        if not path:
            done(None)
            return
        key = (path, box)
        if key in self._cache:
            self._cache.move_to_end(key)
            done(self._cache[key])
            return

        def decoded(img):
            pm = QPixmap.fromImage(img) if img is not None else None
            self._cache[key] = pm
            while len(self._cache) > CACHE:
                self._cache.popitem(last=False)
            done(pm)

        workers.run_task(lambda: decode_image(path, box), decoded, lambda exc: done(None))

    def load_first(self, paths: list[str], box: int, done: Callable[[QPixmap | None, str | None], None],
                   guard: Callable = lambda fn: fn) -> None:
        """The first of ``paths`` that decodes (a broken image is skipped):
        ``done(pixmap, its path)``, or ``done(None, None)`` when none does."""
        if not paths:
            done(None, None)
            return

        def loaded(pm):
            if pm is None and len(paths) > 1:
                self.load_first(paths[1:], box, done, guard)
            else:
                done(pm, paths[0] if pm is not None else None)

        self.load(paths[0], box, guard(loaded))
