import sys

from ibplayer.main import main

sys.exit(main())
