"""Hostile chapter data (issue 12): a bad enrichment file costs only that
enrichment, and impossible times drop only the chapters that carry them."""

from __future__ import annotations

import math

import pytest

from ibplayer.domain.chapters import MAX_SECONDS, chapters_from_json, chapters_from_psc, parse_npt


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
