"""ibplayer: a desktop podcast player for long interview shows."""

from importlib import metadata as _md

try:
    __version__ = _md.version("ibplayer")
except _md.PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.1.0"

DEFAULT_FEED_URL = "https://www.the-information-bottleneck.com/feed"
