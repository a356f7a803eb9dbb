"""Several connections to one library, in one process and across processes
(the window's reader, writer and worker process do exactly this)."""

from __future__ import annotations

import subprocess
import sys

from ibplayer.infra.store import Library


def test_opening_another_connection_keeps_the_first_ones_locks(tmp_path):
    """Regression: opening a library read its header with open()/close(),
    which drops every POSIX lock the process holds on the file; a worker
    process closing the library then deleted the WAL index under the
    window's connections ("disk I/O error" on the next read)."""
    a = Library(tmp_path)
    a.set_setting("k", "v")  # WAL mode, -wal and -shm in use
    b = Library(tmp_path)  # a second connection in this process
    r = subprocess.run([sys.executable, "-c",
                        "import sys\nfrom ibplayer.infra.store import Library\n"
                        "lib = Library(sys.argv[1]); lib.set_setting('k2', 'v2'); lib.close()", str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "library.sqlite3-shm").exists(), "the WAL index went away while connections were open"
    assert a.get_setting("k2") == "v2" and b.get_setting("k") == "v"
    c = Library(tmp_path)
    assert c.get_setting("k2") == "v2"
    for lib in (a, b, c):
        lib.close()
