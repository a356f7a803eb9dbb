"""Hostile servers (issue 12): gzip bombs, slowloris, stalls, cuts, lying
lengths, redirects to other schemes and into the user's own network.

Every case runs against the real loopback server in httpfixtures.py and
checks that the library is exactly what it was before the failure."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
import zlib

import pytest
from conftest import ROOT, run_cli

from ibplayer.infra import http
from ibplayer.infra.feeds import FeedError
from ibplayer.services.core import Core

try:
    from tests.httpfixtures import file_server, gzip_bomb  # noqa: F401
except ImportError:  # tests/ not importable as a package
    from httpfixtures import file_server, gzip_bomb  # noqa: F401


def feed_xml(title: str, guids: list[str], extra: str = "", ns: str = "") -> bytes:
    items = "".join(
        f"<item><title>Episode {g}</title><guid>{g}</guid>"
        f'<enclosure url="http://127.0.0.1:9/{g}.mp3" type="audio/mpeg" length="1000"/>'
        f"<description>We talk about {g}.</description>{extra}</item>"
        for g in guids
    )
    return (f'<?xml version="1.0"?><rss version="2.0"{ns}><channel><title>{title}</title>'
            f"{items}</channel></rss>").encode()


def snapshot(core: Core) -> str:
    return json.dumps(core.library.export(), sort_keys=True, default=str)


def cli_export(data_dir) -> str:
    r = run_cli("export", "--json", data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    return r.stdout


# Runs in a small fresh interpreter: a child forked straight from pytest would
# count pytest's own (large) resident set in its peak RSS.
_MEASURE = """
import os, resource, subprocess, sys, time, json
limit, timeout, out, err, *cmd = sys.argv[1:]
def cap():
    resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
t0 = time.monotonic()
with open(out, "wb") as o, open(err, "wb") as e:
    proc = subprocess.Popen(cmd, stdout=o, stderr=e, preexec_fn=cap)
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - t0 > float(timeout):
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.02)
print(json.dumps({"rc": os.waitstatus_to_exitcode(status), "seconds": time.monotonic() - t0,
                  "maxrss": usage.ru_maxrss * 1024}))
"""


def peak_rss_of(*args: str, data_dir, address_space: int = 2 << 30, timeout: float = 60):
    """Run the CLI in a subprocess: (returncode, stdout, stderr, seconds,
    peak RSS in bytes of that one process).  The address space is capped so
    that a failing run cannot take the shared machine down with it."""
    out_path, err_path = data_dir.parent / "out.txt", data_dir.parent / "err.txt"
    cmd = [sys.executable, "-m", "ibplayer", "--data-dir", str(data_dir), *args]
    r = subprocess.run([sys.executable, "-c", _MEASURE, str(address_space), str(timeout), str(out_path),
                        str(err_path), *cmd], capture_output=True, text=True, cwd=ROOT, timeout=timeout + 30)
    m = json.loads(r.stdout)
    return m["rc"], out_path.read_text(), err_path.read_text(), m["seconds"], m["maxrss"]


# ---------------------------------------------------------------- gzip bombs


@pytest.mark.parametrize("layers", [1, 2])
def test_gzip_bomb_feed_fails_fast_with_bounded_memory(file_server, data_dir, layers):
    good = file_server.add("/good.xml", feed_xml("Good Show", ["a", "b"]), content_type="application/rss+xml")
    assert run_cli("subscribe", good, data_dir=data_dir).returncode == 0
    before = cli_export(data_dir)

    bomb = gzip_bomb(10 << 30, layers)  # 10 GB of zeros once decoded
    url = file_server.add("/bomb.xml", bomb, content_type="application/rss+xml",
                          content_encoding=", ".join(["gzip"] * layers))
    rc, out, err, seconds, rss = peak_rss_of("subscribe", url, data_dir=data_dir)
    assert rc != 0
    assert seconds < 5, seconds
    assert rss < 200 * 1024 * 1024, f"peak RSS {rss / 1e6:.0f} MB"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "too large" in lines[0] and url in lines[0], err
    assert cli_export(data_dir) == before


def test_gzip_bomb_as_chapters_file_costs_only_the_chapters(file_server, core):
    ch_url = file_server.add("/ch.json", gzip_bomb(2 << 30, 2), content_type="application/json",
                             content_encoding="gzip, gzip")
    ns = ' xmlns:podcast="https://podcastindex.org/namespace/1.0"'
    feed = feed_xml("Bombed Chapters", ["x"], extra=f'<podcast:chapters url="{ch_url}" type="application/json+chapters"/>', ns=ns)
    t0 = time.monotonic()
    r = core.subscribe(file_server.add("/f.xml", feed))
    assert time.monotonic() - t0 < 5
    assert r.new == 1
    [ep] = core.library.episodes()
    assert "podcast-chapters" not in core.library.chapter_sets(ep.id)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "gzip, gzip"])
def test_compressed_feeds_still_read(file_server, core, encoding):
    body = feed_xml("Squeezed", ["a", "b", "c"])
    for enc in reversed(encoding.split(", ")):
        body = gzip.compress(body) if enc == "gzip" else zlib.compress(body)
    core.subscribe(file_server.add("/f.xml", body, content_encoding=encoding))
    assert sorted(e.guid for e in core.library.episodes()) == ["a", "b", "c"]
    assert file_server.requests_for("/f.xml")[0].headers["accept-encoding"] == "gzip, deflate"


# ---------------------------------------------------------------- slow and broken servers


def _subscribed(file_server, data_dir, **core_args) -> tuple[Core, str]:
    c = Core(data_dir, **core_args)
    c.subscribe(file_server.add("/good.xml", feed_xml("Good Show", ["a", "b"])))
    return c, snapshot(c)


HALF_FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>Slow'


@pytest.mark.parametrize("behaviour", [
    {"trickle_every": 0.3},  # slowloris: a byte every 0.3 s, forever
    {"stall_after": 20},  # a few bytes, then silence
    {"delay_headers": 30},  # silence before the status line
])
def test_slow_servers_fail_at_the_total_deadline(file_server, data_dir, behaviour):
    c, before = _subscribed(file_server, data_dir, timeout=30, deadline=2)
    try:
        url = file_server.add("/slow.xml", HALF_FEED, **behaviour)
        t0 = time.monotonic()
        with pytest.raises(FeedError) as err:
            c.subscribe(url)
        took = time.monotonic() - t0
        assert 1.9 < took < 3.5, took
        assert "too long" in str(err.value) and "\n" not in str(err.value)
        assert snapshot(c) == before
    finally:
        c.close()


def test_deadline_is_a_setting_defaulting_to_60_seconds(file_server, data_dir):
    with Core(data_dir) as c:
        assert c.deadline == 60
        c.library.set_setting("fetch_deadline", "2")
    with Core(data_dir, timeout=30) as c:
        url = file_server.add("/slow.xml", HALF_FEED, trickle_every=0.3)
        t0 = time.monotonic()
        with pytest.raises(FeedError, match="too long"):
            c.subscribe(url)
        assert time.monotonic() - t0 < 3.5
    for bad in ("soon", "1e999", "nan", "-5", "0"):
        with Core(data_dir) as c:
            c.library.set_setting("fetch_deadline", bad)
        with Core(data_dir) as c:
            assert c.deadline == 60


@pytest.mark.parametrize("behaviour, words", [
    ({"cut_after": 30, "cut_times": None}, "download failed"),
    ({"extra_length": 5000}, "download failed"),  # says more than it sends, then closes
])
def test_cut_and_lying_bodies_are_one_line_errors(file_server, core, behaviour, words):
    core.subscribe(file_server.add("/good.xml", feed_xml("Good Show", ["a", "b"])))
    before = snapshot(core)
    url = file_server.add("/bad.xml", feed_xml("Bad Show", ["c"]), **behaviour)
    with pytest.raises(FeedError, match=words) as err:
        core.subscribe(url)
    assert "\n" not in str(err.value)
    assert snapshot(core) == before


@pytest.mark.parametrize("target", ["javascript:alert(1)", "data:text/xml,<rss/>", "file:///etc/passwd",
                                    "ftp://127.0.0.1/feed.xml"])
def test_redirect_to_another_scheme_is_refused(file_server, core, target):
    url = file_server.add("/r.xml", redirect_to=target)
    with pytest.raises(FeedError, match="non-http") as err:
        core.subscribe(url)
    assert "\n" not in str(err.value)
    assert core.library.feeds() == []


def test_one_bad_feed_does_not_stop_the_refresh_of_the_others(file_server, data_dir):
    """Through the CLI: feeds turning hostile are recorded with their error;
    the feed after them still gets its new episode."""
    urls = [file_server.add(f"/{n}.xml", feed_xml(f"Show {n}", [f"{n}1"])) for n in ("a", "b", "c", "d")]
    for u in urls:
        assert run_cli("subscribe", u, data_dir=data_dir).returncode == 0
    file_server.add("/a.xml", redirect_to="javascript:alert(1)")
    file_server.add("/b.xml", redirect_to="data:text/xml,<rss/>")
    file_server.add("/c.xml", gzip_bomb(1 << 30, 2), content_encoding="gzip, gzip")
    file_server.add("/d.xml", feed_xml("Show d", ["d1", "d2"]))
    r = run_cli("refresh", data_dir=data_dir)
    assert r.returncode != 0
    assert "Show d: 1 new" in r.stdout, r.stdout + r.stderr
    feeds_out = run_cli("feeds", data_dir=data_dir).stdout
    assert feeds_out.count("last check:") == 3, feeds_out
    assert "non-http" in feeds_out and "too large" in feeds_out


# ---------------------------------------------------------------- where a feed may send us


PUBLIC = "http://93.184.215.14"  # a public address, reached only through the loopback proxy


@pytest.fixture
def via_proxy(file_server, monkeypatch):
    """The loopback server plays a proxy, so a feed can come from a public
    address while its chapter URLs point at this computer."""
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", file_server.url(""))
    monkeypatch.setenv("http_proxy", file_server.url(""))
    return file_server


def test_public_feed_cannot_make_us_call_the_users_own_network(via_proxy, core):
    srv = via_proxy
    assert not http.is_private_url(PUBLIC + "/feed.xml")
    secret = srv.url("/admin/ch.json")
    srv.add("/admin/ch.json", b'{"version": "1.2.0", "chapters": [{"startTime": 0, "title": "x"}]}')
    srv.add(PUBLIC + "/redirecting.json", redirect_to=secret)
    ns = ' xmlns:podcast="https://podcastindex.org/namespace/1.0"'
    one = feed_xml("Public", ["p1"], extra=f'<podcast:chapters url="{secret}" type="application/json"/>', ns=ns)
    two = feed_xml("Public", ["p2"], extra=f'<podcast:chapters url="{PUBLIC}/redirecting.json"/>', ns=ns)
    body = one.replace(b"</channel>", two[two.index(b"<item>"):two.index(b"</channel>")] + b"</channel>")
    srv.add(PUBLIC + "/feed.xml", body, content_type="application/rss+xml")
    r = core.subscribe(PUBLIC + "/feed.xml")
    assert r.new == 2
    assert srv.requests_for(PUBLIC + "/redirecting.json")  # asked the public address ...
    assert srv.requests_for("/admin/ch.json") == []  # ... but never followed it home
    for ep in core.library.episodes():
        assert "podcast-chapters" not in core.library.chapter_sets(ep.id)


def test_feed_from_this_computer_may_use_its_own_chapter_urls(file_server, core):
    ch = file_server.add("/ch.json", b'{"version": "1.2.0", "chapters": [{"startTime": 0, "title": "Hello"}]}')
    ns = ' xmlns:podcast="https://podcastindex.org/namespace/1.0"'
    core.subscribe(file_server.add("/f.xml", feed_xml("Home", ["h"], extra=f'<podcast:chapters url="{ch}"/>', ns=ns)))
    [ep] = core.library.episodes()
    assert [c.title for c in core.library.chapter_sets(ep.id)["podcast-chapters"]] == ["Hello"]


@pytest.mark.parametrize("url", ["http://127.0.0.1:1/x", "http://localhost/x", "http://10.1.2.3/x",
                                 "http://169.254.169.254/latest", "http://[::1]/x", "http://192.168.0.1/",
                                 "http://[::ffff:127.0.0.1]/x"])
def test_enrichment_fetch_refuses_private_targets_without_a_request(url):
    with pytest.raises(http.FetchError, match="refused"):
        http.fetch_bytes(url, 1000, 2)


def test_out_of_range_numbers_do_not_stop_the_refresh(file_server, data_dir):
    """Numbers SQLite cannot hold (an episode number, a length) once made
    the refresh stop at that feed: now they are dropped, and whatever goes
    wrong with one feed is its own last error."""
    a = file_server.add("/a.xml", feed_xml("Show a", ["a1"]))
    b = file_server.add("/b.xml", feed_xml("Show b", ["b1"]))
    for u in (a, b):
        assert run_cli("subscribe", u, data_dir=data_dir).returncode == 0
    huge = ('<itunes:episode>123456789012345678901234567890</itunes:episode>'
            '<enclosure url="http://127.0.0.1:9/x.mp3" type="audio/mpeg" length="99999999999999999999999"/>')
    ns = ' xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
    file_server.add("/a.xml", feed_xml("Show a", ["a1", "a2"], extra=huge, ns=ns))
    file_server.add("/b.xml", feed_xml("Show b", ["b1", "b2"]))
    r = run_cli("refresh", data_dir=data_dir)
    assert "Show a: 1 new" in r.stdout and "Show b: 1 new" in r.stdout, r.stdout + r.stderr
    assert r.returncode == 0, r.stderr


def test_deeply_nested_chapters_json_costs_only_the_chapters(file_server, core):
    """A RecursionError while reading a chapters file once aborted the whole subscribe."""
    ch = file_server.add("/deep.json", b'{"version": "1.2.0", "chapters": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
                         content_type="application/json")
    ns = ' xmlns:podcast="https://podcastindex.org/namespace/1.0"'
    r = core.subscribe(file_server.add("/f.xml", feed_xml("Deep", ["d1"], extra=f'<podcast:chapters url="{ch}"/>', ns=ns)))
    assert r.new == 1
    [ep] = core.library.episodes()
    assert "podcast-chapters" not in core.library.chapter_sets(ep.id)
    assert file_server.requests_for("/deep.json")
