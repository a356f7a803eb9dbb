"""OPML import and export with bad outlines and bad titles (issue 12), through the CLI."""

from __future__ import annotations

import sqlite3

from conftest import run_cli

try:
    from tests.httpfixtures import file_server  # noqa: F401
except ImportError:  # tests/ not importable as a package
    from httpfixtures import file_server  # noqa: F401


def feed(title: str, guid: str) -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
            f'<item><title>Ep {guid}</title><guid>{guid}</guid>'
            f'<enclosure url="http://127.0.0.1:9/{guid}.mp3" type="audio/mpeg"/></item></channel></rss>').encode()


def opml(*urls: str) -> str:
    outlines = "".join(f'<outline type="rss" text="x" xmlUrl="{u}"/>' for u in urls)
    return f'<?xml version="1.0"?><opml version="2.0"><head/><body>{outlines}</body></opml>'


def test_import_goes_past_bad_outlines_and_reports_each(file_server, data_dir, tmp_path):
    good1 = file_server.add("/one.xml", feed("One", "a"))
    good2 = file_server.add("/two.xml", feed("Two", "b"))
    redirecting = file_server.add("/js.xml", redirect_to="javascript:alert(1)")
    path = tmp_path / "subs.opml"
    path.write_text(opml(good1, "http://[::1", "ftp://example.org/feed", redirecting, good2))
    r = run_cli("opml", "import", str(path), data_dir=data_dir)
    assert r.returncode != 0  # some failed ...
    assert r.stdout.count("subscribed:") == 2, r.stdout + r.stderr  # ... the good ones are in
    errors = r.stderr.strip().splitlines()
    assert len(errors) == 3, errors
    assert errors[0].startswith("http://[::1") and "not an http" in errors[0]
    assert "Traceback" not in r.stderr
    titles = run_cli("feeds", data_dir=data_dir).stdout
    assert "One" in titles and "Two" in titles


def test_export_with_control_characters_reimports(file_server, data_dir, tmp_path):
    urls = [file_server.add(f"/{n}.xml", feed(f"Show {n}", n)) for n in ("a", "b", "c")]
    for u in urls:
        assert run_cli("subscribe", u, data_dir=data_dir).returncode == 0
    # A library written before titles were cleaned at ingest.
    db = sqlite3.connect(data_dir / "library.sqlite3")
    db.execute("UPDATE feeds SET title = 'Bell\x07 and \x1b[2J escape\x0c' WHERE url=?", (urls[1],))
    db.commit()
    db.close()
    out = tmp_path / "subs.opml"
    r = run_cli("opml", "export", str(out), data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    text = out.read_text("utf-8")
    assert "\x07" not in text and "\x1b" not in text and "Bell and [2J escape" in text
    other = tmp_path / "other"
    other.mkdir()
    r = run_cli("opml", "import", str(out), data_dir=other)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("subscribed:") == 3


def test_import_by_url(file_server, data_dir):
    one = file_server.add("/one.xml", feed("One", "a"))
    listing = file_server.add("/subs.opml", opml(one).encode(), content_type="text/x-opml")
    r = run_cli("opml", "import", listing, data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    assert "subscribed: One" in r.stdout
    assert file_server.requests_for("/subs.opml")[0].headers["user-agent"].startswith("ibplayer/")
