"""ibplayer: a desktop podcast player for long interview shows."""

# A constant, not importlib.metadata (25 ms at every start); a test keeps it
# equal to pyproject.toml's version.
__version__ = "0.1.0"

DEFAULT_FEED_URL = "https://www.the-information-bottleneck.com/feed"
