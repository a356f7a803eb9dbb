"""PyInstaller entry point of the bundle: the same as the `ibplayer` console script."""

import sys

from ibplayer.main import main

if __name__ == "__main__":
    sys.exit(main())
