"""One bad value in a feed (issue 12): non-finite durations, control
characters, huge notes, thousands of persons, deeply nested HTML, and parse
workers outliving a killed refresh."""

from __future__ import annotations

import json
import logging
import time

import pytest
from conftest import run_cli

from ibplayer.domain.text import limit_nesting, sanitize_html
from ibplayer.infra import feeds

try:
    from tests.httpfixtures import file_server  # noqa: F401
except ImportError:  # tests/ not importable as a package
    from httpfixtures import file_server  # noqa: F401

NS = (' xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
      ' xmlns:podcast="https://podcastindex.org/namespace/1.0"')


def item(guid: str, title: str = "", extra: str = "", notes: str = "A chat.") -> str:
    return (f"<item><title>{title or 'Episode ' + guid}</title><guid>{guid}</guid>"
            f'<enclosure url="http://127.0.0.1:9/{guid}.mp3" type="audio/mpeg" length="1000"/>'
            f"<description>{notes}</description>{extra}</item>")


def feed(*items: str, title: str = "Value Show", head: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"{NS}><channel><title>{title}</title>'
            f"{head}{''.join(items)}</channel></rss>").encode()


def _no_nonfinite(text: str):
    def refuse(name):
        raise AssertionError(f"non-standard JSON number {name}")
    return json.loads(text, parse_constant=refuse)


# ---------------------------------------------------------------- durations


BAD_DURATIONS = ["inf", "infinity", "-Infinity", "nan", "1e999", "-30", "99999999", "9999:00:00", "0:00:00"]


def test_non_finite_and_absurd_durations_are_dropped(file_server, data_dir):
    items = [item(f"d{i}", extra=f"<itunes:duration>{v}</itunes:duration>") for i, v in enumerate(BAD_DURATIONS)]
    items.append(item("ok", extra="<itunes:duration>1:02:03</itunes:duration>"))
    url = file_server.add("/f.xml", feed(*items))
    assert run_cli("subscribe", url, data_dir=data_dir).returncode == 0
    eps = run_cli("episodes", data_dir=data_dir)
    assert eps.returncode == 0, eps.stderr
    assert "Traceback" not in eps.stderr and eps.stdout.count("Episode d") == len(BAD_DURATIONS)
    export = run_cli("export", "--json", data_dir=data_dir)
    assert export.returncode == 0, export.stderr
    [f] = _no_nonfinite(export.stdout)["feeds"]
    durations = {e["guid"]: e["duration"] for e in f["episodes"]}
    assert durations.pop("ok") == 3723
    assert set(durations.values()) == {None}
    for e in f["episodes"]:
        shown = run_cli("show", e["id"], data_dir=data_dir)
        assert shown.returncode == 0, shown.stderr


@pytest.mark.parametrize("value, seconds", [("3723", 3723), ("62:03", 3723), ("1:02:03", 3723), ("90.5", 90.5),
                                            ("inf", None), ("NaN", None), ("", None), ("abc", None),
                                            ("1e308", None), ("8 days", None), (str(8 * 86400), None)])
def test_parse_duration(value, seconds):
    assert feeds.parse_duration(value) == seconds


# ---------------------------------------------------------------- control characters


def test_control_characters_never_reach_the_terminal(file_server, data_dir):
    """An undefined entity sends feedparser down its loose path, which keeps
    raw control characters: title changes, screen clears, CSI."""
    evil_title = "Evil &nbsp;\x1b]0;owned\x07 \x1b[2JEpisode\u009b31m one"
    notes = "Guest\x1b[5m talk &nbsp; with\x0b\x0c\x7f tabs\tand\nlines"
    body = feed(item("e1", title=evil_title, notes=notes), title="Sh\x1bcow &nbsp;",
                head="<itunes:author>Host\x1b[8m Name</itunes:author>")
    url = file_server.add("/f.xml", body)
    r = run_cli("subscribe", url, data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    outputs = [run_cli(*cmd, data_dir=data_dir) for cmd in
               (("episodes",), ("feeds",), ("search", "episode"), ("export", "--json"))]
    for out in outputs:
        assert out.returncode == 0, out.stderr
        bad = [c for c in out.stdout if (ord(c) < 32 and c not in "\t\n") or 0x7F <= ord(c) < 0xA0]
        assert not bad, (bad, out.stdout)
    assert "Episode" in outputs[0].stdout and "one" in outputs[0].stdout
    [f] = json.loads(outputs[3].stdout)["feeds"]
    words = f["episodes"][0]["title"].split()
    assert words[:2] == ["Evil", "]0;owned"] and words[-1] == "one"  # the text stays, the controls go


# ---------------------------------------------------------------- sizes


def test_huge_show_notes_are_capped_with_a_warning(file_server, core, caplog):
    notes = "<p>" + "All work and no play. " * 200_000 + "</p>"  # 4.4 MB
    url = file_server.add("/f.xml", feed(item("big", notes=notes.replace("<", "&lt;")), item("small")))
    t0 = time.monotonic()
    with caplog.at_level(logging.WARNING):
        r = core.subscribe(url)
    took = time.monotonic() - t0
    assert r.new == 2 and took < 5, took
    big = core.library.resolve_episode("big")
    assert 100_000 < len(core.library.notes_html(big.id)) <= 300_000
    assert any("show notes" in m and "Episode big" in m for m in caplog.messages), caplog.messages


def test_twenty_thousand_persons_are_linear_and_capped(file_server, core):
    persons = "".join(f'<podcast:person role="guest" href="https://example.org/p{i}">Person Number{i}</podcast:person>'
                      for i in range(20_000))
    unclosed = '<podcast:person role="guest" name="Self Closed"/>' * 20_000
    url = file_server.add("/f.xml", feed(item("many", extra=persons), item("open", extra=unclosed), item("after")))
    t0 = time.monotonic()
    r = core.subscribe(url)
    took = time.monotonic() - t0
    assert r.new == 3 and took < 8, took
    guests = core.library.guests(core.library.resolve_episode("many").id)
    assert 1 <= len(guests) <= feeds.MAX_PERSONS
    assert guests[0].name == "Person Number0"


def test_deeply_nested_notes_are_cleaned_fast():
    for n in (20_000, 100_000):
        raw = "<div>" * n + "deep text" + "</div>" * n
        t0 = time.perf_counter()
        out = sanitize_html(raw)
        assert time.perf_counter() - t0 < 1.0
        assert out.count("<div>") <= 64
    # Reasonable depth keeps its structure and every word.
    raw = "<ul>" + "<li><b>x</b> <i>y" * 20 + "</i></li>" * 20 + "</ul>"
    assert limit_nesting(raw) == raw
    capped = limit_nesting("<div>" * 100 + "<p>words</p>" + "</div>" * 100, 10)
    assert capped.count("<div>") == 10 and "words" in capped


def test_deeply_nested_notes_in_a_feed(file_server, core):
    notes = ("<div>" * 20_000 + "<p>Hello there</p>" + "</div>" * 20_000).replace("<", "&lt;")
    url = file_server.add("/f.xml", feed(item("deep", notes=notes)))
    t0 = time.monotonic()
    core.subscribe(url)
    assert time.monotonic() - t0 < 3
    ep = core.library.resolve_episode("deep")
    assert "Hello there" in core.library.notes_text(ep.id)


# ---------------------------------------------------------------- killed refresh


def test_nesting_quick_check_keeps_the_same_output():
    """The quick check that skips the full nesting pass must never change
    what the notes become: over well-formed, broken, self-closed and
    upper-case tag soup, limit_nesting gives what the full pass gives."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from ibplayer.domain import text

    tag = st.sampled_from(["<p>", "</p>", "<div class='a'>", "</div>", "<LI>", "</li>", "<br>", "<br/>",
                           "<img src='x'/>", "<b>", "</B>", "</i>", "<ul>", "</ul>", "words ", "a < b ", "<a href='h'>", "</a>"])

    @settings(max_examples=300, deadline=None)
    @given(st.lists(tag, max_size=60), st.integers(min_value=1, max_value=6))
    def check(parts, depth):
        raw = "".join(parts)
        full = raw if raw.count("<") <= depth else text._drop_deep_tags(raw, depth)
        assert text.limit_nesting(raw, depth) == full

    check()
    nested = "<div>" * 60 + "x" + "</div>" * 60
    assert text.limit_nesting(nested).count("<div>") == text.MAX_DEPTH
