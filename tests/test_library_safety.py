"""Data the user could lose (issue 12): unsubscribe keys, damaged library
files, a read-only data folder and a full disk.  Real SQLite files in temp
dirs, real tmpfs mounts (the tests run as root), the CLI as a subprocess."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
from pathlib import Path

import pytest
from conftest import run_cli

from ibplayer.domain.models import Chapter, ParsedEpisode, ParsedFeed, Person
from ibplayer.infra.store import DB_NAME, Library, LibraryDamaged, LibraryError, LibraryReadOnly, forget_check

DAMAGED = re.compile(r"library\.sqlite3\.damaged-\d{8}-\d{6}(-\d+)?$")


def _feed(title: str, n: int = 3, tag: str = "") -> ParsedFeed:
    eps = [
        ParsedEpisode(
            guid=f"{title}-{tag}{i}", title=f"{title} episode {i}", audio_url=f"http://127.0.0.1:9/{i}.mp3",
            notes_text=f"We talk about gradient descent and owls, part {i}.",
            chapters={"notes": [Chapter(start=0, title="Hello there"), Chapter(start=60, title=f"Owls at night {i}")]},
            guests=[Person(name=f"Guest Number{i}")], topics=["owls"],
        )
        for i in range(n)
    ]
    return ParsedFeed(title=title, episodes=eps)


def _library_with(data_dir: Path, *titles: str) -> list[int]:
    with Library(data_dir) as lib:
        ids = []
        for i, t in enumerate(titles):
            fid = lib.add_feed(f"http://127.0.0.1:9/feed{i}.xml", t)
            lib.store_feed(fid, _feed(t))
            ids.append(fid)
    return ids


def _one_line(r) -> str:
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    return lines[0]


# ---------------------------------------------------------------- unsubscribe


def test_unsubscribe_an_all_digit_key_is_only_an_id(data_dir):
    _library_with(data_dir, "Top 20 talks", "Other show", "Third show")
    r = run_cli("unsubscribe", "2", data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    assert "Other show" in r.stdout
    r = run_cli("unsubscribe", "2", data_dir=data_dir)
    assert r.returncode != 0
    assert "no feed with id 2" in _one_line(r)
    feeds = run_cli("feeds", data_dir=data_dir).stdout
    assert "Top 20 talks" in feeds and "Third show" in feeds


def test_feed_has_user_data(data_dir):
    a, b, c, d = _library_with(data_dir, "Played", "Downloaded", "Started", "Untouched")
    with Library(data_dir) as lib:
        first = {f: lib.episodes(f)[0].id for f in (a, b, c)}
        lib.set_played(first[a])
        lib.set_file(first[b], str(data_dir / "x.mp3"), size=10)
        lib.set_position(first[c], 42.0)
        assert [lib.feed_has_user_data(f) for f in (a, b, c, d)] == [True, True, True, False]


def test_unsubscribe_with_history_needs_yes(data_dir):
    fid, _other = _library_with(data_dir, "Listened show", "Fresh show")
    with Library(data_dir) as lib:
        lib.set_played(lib.episodes(fid)[0].id)
    r = run_cli("unsubscribe", "Listened", data_dir=data_dir)
    assert r.returncode != 0
    assert "--yes" in _one_line(r)
    assert "Listened show" in run_cli("feeds", data_dir=data_dir).stdout
    r = run_cli("unsubscribe", "Fresh", data_dir=data_dir)  # nothing to lose: no question
    assert r.returncode == 0, r.stderr
    r = run_cli("unsubscribe", "Listened", "--yes", data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    assert "no subscriptions" in run_cli("feeds", data_dir=data_dir).stdout


# ---------------------------------------------------------------- damaged files


def _set_aside(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.iterdir() if DAMAGED.search(p.name))


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_damaged_library_is_set_aside_and_a_fresh_one_started(data_dir, damage):
    _library_with(data_dir, "Kept show")
    path = data_dir / DB_NAME
    if damage == "garbage":
        path.write_bytes(os.urandom(50_000))
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_bytes(b"")
        old = path.stat().st_mtime - 3600  # left empty an hour ago, not being created right now
        os.utime(path, (old, old))
    before = path.read_bytes()
    r = run_cli("feeds", data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    line = _one_line(r)
    [aside] = _set_aside(data_dir)
    assert "damaged" in line and str(aside) in line and "new, empty library" in line
    assert aside.read_bytes() == before  # kept, byte for byte
    assert "no subscriptions" in r.stdout
    # the fresh library works, and says nothing the next time
    r = run_cli("feeds", data_dir=data_dir)
    assert r.returncode == 0 and r.stderr == ""
    assert len(_set_aside(data_dir)) == 1


def _corrupt_a_middle_page(path: Path) -> None:
    """Overwrite one b-tree page in the middle: the header and size stay
    right, so only a real check finds it."""
    db = sqlite3.connect(path)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name='episodes'").fetchone()[0]
    db.close()
    with open(path, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(b"\x0d" + os.urandom(page_size - 1))


def test_subscribe_never_writes_into_a_damaged_library(data_dir, httpserver, real_feed_bytes):
    _library_with(data_dir, "Kept show")
    path = data_dir / DB_NAME
    _corrupt_a_middle_page(path)
    before = path.read_bytes()
    httpserver.expect_request("/feed.xml").respond_with_data(real_feed_bytes, content_type="application/rss+xml")
    url = httpserver.url_for("/feed.xml")
    r = run_cli("subscribe", url, data_dir=data_dir)
    assert r.returncode != 0
    line = _one_line(r)
    [aside] = _set_aside(data_dir)
    assert "damaged" in line and str(aside) in line
    assert aside.read_bytes() == before  # nothing was written into it
    r = run_cli("subscribe", url, data_dir=data_dir)  # again: into the fresh library
    assert r.returncode == 0, r.stderr
    assert "The Information Bottleneck" in run_cli("feeds", data_dir=data_dir).stdout


def _statements_of_first_write(data_dir: Path) -> list[str]:
    seen: list[str] = []
    with Library(data_dir) as lib:
        lib.db.set_trace_callback(seen.append)
        lib.set_setting("probe", "1")  # the session's first write
    return seen


def test_a_session_that_wrote_leaves_the_file_marked_checked(data_dir):
    """The full check before the first write runs once per change from
    outside, not after every session of our own (it reads the whole file:
    most of a 304 refresh at 2,000 episodes)."""
    _library_with(data_dir, "Kept show")
    forget_check(data_dir / DB_NAME)  # as after damage met while reading: the next write checks
    assert any("quick_check" in s for s in _statements_of_first_write(data_dir))
    for _ in range(3):  # each of these sessions wrote (and checkpointed at close)
        assert not any("quick_check" in s for s in _statements_of_first_write(data_dir))


def test_damage_right_after_a_session_that_wrote_is_still_found(data_dir):
    _library_with(data_dir, "Kept show")
    _statements_of_first_write(data_dir)  # checked and written: the file is now stamped intact
    path = data_dir / DB_NAME
    _corrupt_a_middle_page(path)  # at once: within the same file-time tick as that session's last write
    before = path.read_bytes()
    with pytest.raises(LibraryDamaged):
        with Library(data_dir) as lib:
            lib.set_setting("probe", "2")
    [aside] = _set_aside(data_dir)
    assert aside.read_bytes() == before


def test_damage_is_an_exception_the_window_can_show(data_dir):
    _library_with(data_dir, "Kept show")
    (data_dir / DB_NAME).write_bytes(b"not a database at all" * 100)
    lib = Library(data_dir)
    assert isinstance(lib.recovered, LibraryDamaged)
    assert lib.recovered.moved_to is not None and lib.recovered.moved_to.exists()
    assert "\n" not in str(lib.recovered)
    assert lib.feeds() == []
    lib.close()


def test_library_path_that_is_a_directory(data_dir):
    (data_dir / DB_NAME).mkdir()
    r = run_cli("feeds", data_dir=data_dir)
    assert r.returncode != 0
    assert f"{data_dir / DB_NAME} is a directory" in _one_line(r)


def test_newer_schema_is_one_clear_line(data_dir):
    _library_with(data_dir, "Future show")
    db = sqlite3.connect(data_dir / DB_NAME)
    db.execute("PRAGMA user_version=99")
    db.commit()
    db.close()
    before = (data_dir / DB_NAME).read_bytes()
    r = run_cli("subscribe", "http://127.0.0.1:9/x.xml", data_dir=data_dir)
    line = _one_line(r)
    assert r.returncode != 0 and "newer ibplayer" in line and str(data_dir / DB_NAME) in line
    assert (data_dir / DB_NAME).read_bytes() == before
    assert not _set_aside(data_dir)


# ---------------------------------------------------------------- read-only folder and full disk


@pytest.fixture
def tmpfs(tmp_path):
    """A small real filesystem of our own (mounted as root, unmounted after)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()

    def mount(size: str) -> Path:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], check=True)
        return mnt

    yield mount
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _remount(mnt: Path, opts: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{opts}", str(mnt)], check=True)


def test_read_only_data_folder_still_reads_and_exports(tmpfs, httpserver, real_feed_bytes):
    d = tmpfs("64m")
    httpserver.expect_request("/feed.xml").respond_with_data(real_feed_bytes, content_type="application/rss+xml")
    url = httpserver.url_for("/feed.xml")
    assert run_cli("subscribe", url, data_dir=d).returncode == 0
    export_before = run_cli("export", "--json", data_dir=d).stdout
    short_id = run_cli("episodes", data_dir=d).stdout.split()[0]
    _remount(d, "ro")
    for args in (["feeds"], ["episodes", "--chapters"], ["show", short_id], ["search", "world", "models"]):
        r = run_cli(*args, data_dir=d)
        assert r.returncode == 0 and r.stdout.strip(), (args, r.stderr)
    r = run_cli("export", "--json", data_dir=d)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == json.loads(export_before)
    for args in (["subscribe", url], ["refresh"], ["unsubscribe", "1", "--yes"]):
        r = run_cli(*args, data_dir=d)
        assert r.returncode != 0, args
        assert _one_line(r) == f"ibplayer: error: cannot write the library at {d / DB_NAME}: read-only"
    lib = Library(d)
    assert lib.read_only
    with pytest.raises(LibraryReadOnly):
        lib.set_played(lib.episodes()[0].id)
    lib.close()


def test_read_only_folder_without_a_library(tmpfs):
    d = tmpfs("1m")
    _remount(d, "ro")
    with pytest.raises(LibraryError, match="read-only"):
        Library(d)


def _fill(folder: Path) -> Path:
    """Write a file until the filesystem has no byte left."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        for chunk in (1 << 16, 1):
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


def _more_items(feed: bytes, extra: int) -> bytes:
    text = feed.decode("utf-8")
    head, _, rest = text.partition("<item>")
    items = ["<item>" + part.split("</item>")[0] + "</item>" for part in ("<item>" + rest).split("<item>")[1:]]
    item = next(it for it in items if 'type="audio/' in it)
    new = [re.sub(r"(<guid[^>]*>)(.*?)(</guid>)", lambda m, i=i: f"{m.group(1)}{m.group(2)}-more{i}{m.group(3)}", item,
                  count=1)
           for i in range(extra)]
    return (head + "".join(new) + "<item>" + rest).encode("utf-8")


def test_full_disk_during_refresh_changes_nothing_and_a_retry_succeeds(tmpfs, httpserver, real_feed_bytes):
    d = tmpfs("8m")
    httpserver.expect_request("/feed.xml").respond_with_data(real_feed_bytes, content_type="application/rss+xml")
    url = httpserver.url_for("/feed.xml")
    assert run_cli("subscribe", url, data_dir=d).returncode == 0
    before = json.loads(run_cli("export", "--json", data_dir=d).stdout)
    httpserver.clear()
    httpserver.expect_request("/feed.xml").respond_with_data(_more_items(real_feed_bytes, 200),
                                                             content_type="application/rss+xml")
    filler = _fill(d)
    r = run_cli("refresh", data_dir=d)
    assert r.returncode != 0
    assert _one_line(r) == "ibplayer: error: the disk is full: nothing was changed"
    filler.unlink()
    assert json.loads(run_cli("export", "--json", data_dir=d).stdout) == before
    assert not _set_aside(d)
    r = run_cli("refresh", data_dir=d)
    assert r.returncode == 0, r.stderr
    assert "200 new" in r.stdout
    assert len(json.loads(run_cli("export", "--json", data_dir=d).stdout)["feeds"][0]["episodes"]) == 219


def test_full_disk_while_writing_a_big_refresh(tmpfs, httpserver, real_feed_bytes):
    """Some room left: the library opens, the big write is what fails."""
    d = tmpfs("32m")
    httpserver.expect_request("/feed.xml").respond_with_data(real_feed_bytes, content_type="application/rss+xml")
    url = httpserver.url_for("/feed.xml")
    assert run_cli("subscribe", url, data_dir=d).returncode == 0
    before = json.loads(run_cli("export", "--json", data_dir=d).stdout)
    httpserver.clear()
    httpserver.expect_request("/feed.xml").respond_with_data(_more_items(real_feed_bytes, 600),
                                                             content_type="application/rss+xml")
    filler = _fill(d)
    os.truncate(filler, filler.stat().st_size - 400_000)  # room to open and start, not to finish
    r = run_cli("refresh", data_dir=d)
    assert r.returncode != 0
    assert _one_line(r) == "ibplayer: error: the disk is full: nothing was changed"
    filler.unlink()
    assert json.loads(run_cli("export", "--json", data_dir=d).stdout) == before
    r = run_cli("refresh", data_dir=d)
    assert r.returncode == 0, r.stderr
    assert "600 new" in r.stdout


def test_damage_met_while_reading_is_one_line_and_the_next_write_sets_it_aside(data_dir):
    _library_with(data_dir, "Kept show")
    path = data_dir / DB_NAME
    # a damaged page the cheap check at open cannot see; the check stamp says "intact"
    _corrupt_a_middle_page(path)
    from ibplayer.infra.store import _file_stamp, _stamp_path

    _stamp_path(path).write_text(_file_stamp(path))
    before = path.read_bytes()
    r = run_cli("episodes", data_dir=data_dir)
    assert r.returncode != 0
    line = _one_line(r)
    assert "damaged" in line and str(path) in line
    assert path.read_bytes() == before
    r = run_cli("unsubscribe", "1", "--yes", data_dir=data_dir)
    assert r.returncode != 0 and "set aside" in _one_line(r)
    [aside] = _set_aside(data_dir)
    assert aside.read_bytes() == before


def test_a_library_being_created_right_now_is_not_set_aside(data_dir):
    """Another process has just created the file and not written it yet:
    that is not damage (setting it aside would lose that process's writes)."""
    (data_dir / DB_NAME).write_bytes(b"")
    with Library(data_dir) as lib:
        assert lib.recovered is None and lib.feeds() == []
    assert not _set_aside(data_dir)
