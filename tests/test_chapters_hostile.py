"""Hostile chapter data (issue 12): a bad enrichment file costs only that
enrichment, and impossible times drop only the chapters that carry them."""

from __future__ import annotations

import logging
import math
import time

import pytest

from ibplayer.domain.chapters import MAX_SECONDS, chapters_from_json, chapters_from_notes, chapters_from_psc, parse_npt


def _spans(chs):
    return [(c.start, c.end, c.title) for c in chs]


@pytest.mark.parametrize("depth", [5_000, 200_000])
def test_deeply_nested_chapters_json_is_a_one_line_value_error(depth):
    # a hostile file nests arrays far past the interpreter's recursion limit
    doc = '{"chapters": [{"startTime": 0, "title": "Hi"}], "extra": ' + "[" * depth + "]" * depth + "}"
    for data in (doc, doc.encode()):
        with pytest.raises(ValueError) as exc:
            chapters_from_json(data)
        msg = str(exc.value)
        assert "chapters JSON" in msg and "\n" not in msg and "nested" in msg


def test_nested_title_object_does_not_blow_up_and_keeps_the_other_chapters():
    deep: list = []
    for _ in range(600):
        deep = [deep]
    doc = {"chapters": [{"startTime": 0, "title": deep}, {"startTime": 30, "title": "Second"}]}
    chs = chapters_from_json(doc, duration=60)
    assert _spans(chs) == [(0, 30, ""), (30, 60, "Second")]


def test_json_nan_infinite_negative_and_absurd_times_drop_only_those_chapters():
    doc = (
        '{"chapters": ['
        '{"startTime": 0, "title": "Welcome"},'
        '{"startTime": NaN, "title": "not a number"},'
        '{"startTime": Infinity, "title": "forever"},'
        '{"startTime": -Infinity, "title": "before time"},'
        '{"startTime": -12, "title": "negative"},'
        '{"startTime": "1e999", "title": "overflowing string"},'
        '{"startTime": 1' + "0" * 400 + ', "title": "a 401-digit integer"},'
        '{"startTime": 1e300, "title": "absurdly late"},'
        '{"startTime": 90, "endTime": NaN, "title": "Main part"},'
        '{"startTime": 200, "endTime": Infinity, "title": "Wrap up"}'
        "]}"
    )
    chs = chapters_from_json(doc, duration=300)
    assert _spans(chs) == [(0, 90, "Welcome"), (90, 200, "Main part"), (200, 300, "Wrap up")]
    # without a known duration the last end stays open rather than infinite
    chs = chapters_from_json(doc)
    assert [c.title for c in chs] == ["Welcome", "Main part", "Wrap up"]
    assert all(c.end is None or math.isfinite(c.end) for c in chs)


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), float("-inf"), -3, -0.5, "-00:10", "9" * 400, "nan", "inf", "1e999", MAX_SECONDS + 1],
)
def test_parse_npt_refuses_impossible_times(value):
    assert parse_npt(value) is None


def test_psc_drops_impossible_and_missing_starts_but_keeps_the_rest():
    chs = chapters_from_psc(
        [
            {"start": "00:00:00", "title": "Opening"},
            {"title": "no start at all"},
            {"start": None, "title": "start is empty"},
            {"start": "", "title": "blank start"},
            {"start": float("nan"), "title": "nan"},
            {"start": float("inf"), "title": "inf"},
            {"start": -4.0, "title": "negative"},
            {"start": "9" * 400, "title": "overflow"},
            {"start": "00:02:30", "title": "Closing"},
        ]
    )
    assert _spans(chs) == [(0, 150, "Opening"), (150, None, "Closing")]
    # a feed whose only chapter lacks a start yields no chapters, not an error
    assert chapters_from_psc([{"title": "lonely"}]) == []


def test_huge_show_notes_are_capped_with_a_warning_and_stay_fast(caplog):
    head = "<p>00:00 Hello</p><p>04:10 The main event</p><p>30:00 Goodbye</p>"
    # megabytes of glued pseudo-times after a real list: the worst line shape
    notes = head + "<p>" + "word00:01 " * 200_000 + "</p>"
    t0 = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="ibplayer.domain.chapters"):
        chs = chapters_from_notes(notes)
    elapsed = time.perf_counter() - t0
    assert _spans(chs) == [(0, 250, "Hello"), (250, 1800, "The main event"), (1800, None, "Goodbye")]
    assert any("searched for chapters" in r.getMessage() for r in caplog.records)
    assert elapsed < 0.5  # 0.05 s here; uncapped it took 1.1 s (18 s before glued times were bounded)


def test_deeply_nested_html_notes_do_not_blow_up():
    notes = "<div>" * 100_000 + "<p>00:00 Hello</p><p>04:10 Main</p>" + "</div>" * 100_000
    t0 = time.perf_counter()
    chapters_from_notes(notes)  # capped: the list may be cut off, but no error and no hang
    assert time.perf_counter() - t0 < 2.0
