"""Chapters from show notes, Podlove Simple Chapters and Podcasting 2.0 JSON.

Every shape of timeline the spec lists has its own example here, plus the real
feed's 19 audio episodes, checked against the text of the feed itself.
"""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path

import feedparser
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ibplayer.domain.chapters import (
    best_source,
    chapters_from_json,
    chapters_from_notes,
    chapters_from_psc,
    finalize,
    parse_npt,
    parse_timestamp,
    sources_disagree,
    timestamp_mentions,
)
from ibplayer.domain.models import Chapter

REAL_FEED = Path(__file__).resolve().parent / "information-bottleneck.rss"


def starts_titles(chapters):
    return [(c.start, c.title) for c in chapters]


# --------------------------------------------------------------------------
# Time parsing
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("75:10", 4510.0),
        ("1:02:03", 3723.0),
        ("00:00:00", 0.0),
        ("01:35:52.250", 5752.25),
        ("0:12", 12.0),
        ("59:59", 3599.0),
        (" 05:10 ", 310.0),
    ],
)
def test_parse_timestamp(text, seconds):
    assert parse_timestamp(text) == seconds


@pytest.mark.parametrize("text", ["", "12", "abc", "7:5", "1:60:00", "12:345", "1:02:03:04", "12:61", "-1:00"])
def test_parse_timestamp_rejects_non_times(text):
    assert parse_timestamp(text) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("37", 37.0), ("37.5", 37.5), ("7:48", 468.0), ("01:35:52.250", 5752.25), ("0", 0.0), ("1:00:00", 3600.0)],
)
def test_parse_npt(text, seconds):
    assert parse_npt(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "-5", "7:60", "1:61:00", "1:2:3:4", "1.2.3"])
def test_parse_npt_rejects_garbage(text):
    assert parse_npt(text) is None


# --------------------------------------------------------------------------
# One chapter per line: separators, wrappers, bullets
# --------------------------------------------------------------------------

TWO = [(12.0, "Intro"), (310.0, "Main topic")]


@pytest.mark.parametrize(
    "notes",
    [
        "00:12 — Intro\n05:10 — Main topic",
        "0:12 – Intro\n5:10 – Main topic",
        "00:12 - Intro\n05:10 - Main topic",
        "00:12-Intro\n05:10-Main topic",
        "00:12 Intro\n05:10 Main topic",
        "00:12  Intro\n05:10  Main topic",  # two spaces
        "00:12: Intro\n05:10: Main topic",
        "(00:12) Intro\n(05:10) Main topic",
        "[00:00:12] Intro\n[00:05:10] Main topic",
        "* 00:12 — Intro\n* 05:10 — Main topic",
        "• (00:12) Intro\n• (05:10) Main topic",
        "- 00:12 Intro\n- 05:10 Main topic",
        "1. 00:12 Intro\n2. 05:10 Main topic",
        "<p><strong>00:12</strong> Intro</p><p><strong>05:10</strong> Main topic</p>",
        '<p><a href="#t=00:12">00:12</a> Intro</p><p><a href="#t=05:10">05:10</a> Main topic</p>',
        "<ul><li>00:12 Intro</li><li>05:10 Main topic</li></ul>",
        "<p>Timeline<br>00:12 Intro<br>05:10 Main topic<br></p>",
        # the real feed's markup: nested inline tags, entity dash, trailing ";"
        "<ul><li><p><strong><span>00:12</span></strong> &#8212; Intro;</p></li>"
        "<li><p><strong><span>05:10</span></strong> &#8212; Main topic</p></li></ul>",
        "<p>00:12 &nbsp;Intro<br>05:10 &nbsp;Main topic</p>",
        "<P><B>00:12</B> Intro<BR>05:10 Main topic</P>",
        "Our timeline:\r\n00:12 — Intro\r\n05:10 — Main topic\r\n",
    ],
)
def test_one_chapter_per_line_shapes(notes):
    assert starts_titles(chapters_from_notes(notes)) == TWO


def test_ends_are_next_start_and_duration():
    chs = chapters_from_notes("00:00 Intro\n10:00 Middle\n20:00 End", duration=1800)
    assert [(c.start, c.end) for c in chs] == [(0, 600), (600, 1200), (1200, 1800)]
    assert all(c.source == "notes" for c in chs)
    chs = chapters_from_notes("00:00 Intro\n10:00 Middle")
    assert chs[-1].end is None


def test_mm_ss_switching_to_h_mm_ss_and_minutes_over_59():
    notes = "00:00 Intro\n59:30 Almost an hour\n1:00:05 Past the hour\n1:59:59 Nearly two"
    assert [c.start for c in chapters_from_notes(notes)] == [0, 3570, 3605, 7199]
    notes = "00:00:00 Intro\n00:45:10 Middle\n01:35:52 Late"
    assert [c.start for c in chapters_from_notes(notes)] == [0, 2710, 5752]
    notes = "00:00 Intro\n45:00 Middle\n75:10 Over the hour\n99:00 Late"
    assert [c.start for c in chapters_from_notes(notes)] == [0, 2700, 4510, 5940]


def test_time_range_at_line_start_uses_first_time_as_start():
    chs = chapters_from_notes("00:00 - 04:30 Intro\n05:00 - 10:00 Middle\n10:00 - 20:00 End")
    assert starts_titles(chs) == [(0, "Intro"), (300, "Middle"), (600, "End")]


# --------------------------------------------------------------------------
# Other layouts
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "notes",
    [
        "Intro (00:00)\nThe main part (12:30)\nWrap-up (1:01:00)",
        "Intro [00:00]\nThe main part [12:30]\nWrap-up [1:01:00]",
        "Intro - 00:00:00\nThe main part - 00:12:30\nWrap-up - 01:01:00",
        "<ul><li>Intro — 00:00</li><li>The main part — 12:30</li><li>Wrap-up — 1:01:00</li></ul>",
    ],
)
def test_title_first(notes):
    assert starts_titles(chapters_from_notes(notes)) == [(0, "Intro"), (750, "The main part"), (3660, "Wrap-up")]


@pytest.mark.parametrize(
    "notes",
    [
        "<p><strong>00:00</strong></p><p>Intro and welcome</p>"
        "<p><strong>04:12</strong></p><p>Why it matters</p>"
        "<p><strong>1:02:00</strong></p><p>Goodbye</p>",
        "00:00\n\nIntro and welcome\n\n04:12\n\nWhy it matters\n\n1:02:00\n\nGoodbye\n",
        "00:00\nIntro and welcome\n04:12\nWhy it matters\n1:02:00\nGoodbye",
    ],
)
def test_timestamp_alone_then_title_on_next_line(notes):
    assert starts_titles(chapters_from_notes(notes)) == [
        (0, "Intro and welcome"),
        (252, "Why it matters"),
        (3720, "Goodbye"),
    ]


TABLE_HTML = (
    "<table><thead><tr><th>#</th><th>Start</th><th>Title</th><th>Duration</th></tr></thead><tbody>"
    "<tr><td>1</td><td>00:00</td><td>Cold open</td><td>03:05</td></tr>"
    "<tr><td>2</td><td>03:05</td><td>The interview</td><td>41:55</td></tr>"
    "<tr><td>3</td><td>45:00</td><td>Listener mail</td><td>12:30</td></tr>"
    "</tbody></table>"
)
TABLE_MD = (
    "| # | Start | Title | Duration |\n|---|-------|-------|----------|\n"
    "| 1 | 00:00 | Cold open | 03:05 |\n| 2 | 03:05 | The interview | 41:55 |\n"
    "| 3 | 45:00 | Listener mail | 12:30 |\n"
)


@pytest.mark.parametrize("notes", [TABLE_HTML, TABLE_MD])
def test_table_only_start_column_starts_chapters(notes):
    chs = chapters_from_notes(notes, duration=3600)
    assert starts_titles(chs) == [(0, "Cold open"), (185, "The interview"), (2700, "Listener mail")]
    assert [c.end for c in chs] == [185, 2700, 3600]


def test_table_with_unique_durations_creates_no_duration_chapters():
    notes = (
        "<table><tr><td>1</td><td>00:00</td><td>A</td><td>7:07</td></tr>"
        "<tr><td>2</td><td>10:00</td><td>B</td><td>8:08</td></tr></table>"
    )
    assert starts_titles(chapters_from_notes(notes)) == [(0, "A"), (600, "B")]


def test_pipes_that_are_not_a_table_are_read_as_text():
    chs = chapters_from_notes("Timeline: 00:00 Intro | 05:00 Next | 10:00 End")
    assert starts_titles(chs) == [(0, "Intro"), (300, "Next"), (600, "End")]


# --------------------------------------------------------------------------
# A whole timeline flattened into one paragraph
# --------------------------------------------------------------------------

FLAT = (
    "In this episode we talk batteries. Timeline 00:13 — Intro and welcome 01:19 — Shovel vs. gold "
    "05:18 — Why the world’s smartest scientist doesn’t automatically give you a better battery "
    "20:29 — From hypothesis to ~400 formulations in 2-3 weeks "
    "41:47 — Scaling by 100–1000x: the 30×30 maze, GPT-4 and Opus 4.7 at 10:1 odds "
    "1:00:37 — Closing thoughts and wrap "
)


@pytest.mark.parametrize(
    "tail",
    [
        'Music: “Kid Kodi” - Blue Dot Sessions - via Free Music Archive - CC BY-NC 4.0. About: The show is hosted by two people.',
        "About: The Information Bottleneck is hosted by Ravid Shwartz-Ziv and Allen Roush.",
        "Takeaways: data beats tricks. 12:40 is when it gets good.",
        "Links: https://example.com/paper",
        "Resources: the paper, the code.",
        "Sponsors: nobody, really.",
        "---- Subscribe for more",
        "",
    ],
)
def test_flattened_timeline_last_title_stops_at_section(tail):
    chs = chapters_from_notes(FLAT + tail)
    assert starts_titles(chs) == [
        (13, "Intro and welcome"),
        (79, "Shovel vs. gold"),
        (318, "Why the world’s smartest scientist doesn’t automatically give you a better battery"),
        (1229, "From hypothesis to ~400 formulations in 2-3 weeks"),
        (2507, "Scaling by 100–1000x: the 30×30 maze, GPT-4 and Opus 4.7 at 10:1 odds"),
        (3637, "Closing thoughts and wrap"),
    ]


def test_flattened_timeline_last_title_stops_at_sentence_break():
    chs = chapters_from_notes("Chapters: 00:00 Intro 05:00 Main part 10:00 Wrap-up. Thanks for listening to the show!")
    assert starts_titles(chs) == [(0, "Intro"), (300, "Main part"), (600, "Wrap-up")]
    chs = chapters_from_notes("Timeline 00:00 — Intro 05:00 — Will he see AGI in his lifetime? Thanks for listening!")
    assert chs[-1].title == "Will he see AGI in his lifetime?"


def test_flattened_with_parenthesised_times_and_no_separator():
    chs = chapters_from_notes("Timeline: (00:12) Intros (01:32) Defining reasoning (04:12) Blocksworld vs Sokoban")
    assert starts_titles(chs) == [(12, "Intros"), (92, "Defining reasoning"), (252, "Blocksworld vs Sokoban")]


def test_numbers_inside_titles_are_not_timestamps_in_a_line_list():
    notes = (
        "00:00 — Intro\n"
        "02:10 — Gauss formalizes a theorem in 2-3 weeks\n"
        "05:30 — Scaling Mathlib by 100–1000x\n"
        "09:00 — The 30×30 maze experiment\n"
        "12:00 — GPT-4 vs. Opus 4.7 at 10:1 odds\n"
        "15:00 — Why 24:00 is midnight\n"
    )
    assert starts_titles(chapters_from_notes(notes)) == [
        (0, "Intro"),
        (130, "Gauss formalizes a theorem in 2-3 weeks"),
        (330, "Scaling Mathlib by 100–1000x"),
        (540, "The 30×30 maze experiment"),
        (720, "GPT-4 vs. Opus 4.7 at 10:1 odds"),
        (900, "Why 24:00 is midnight"),
    ]


# --------------------------------------------------------------------------
# Titles are kept exactly
# --------------------------------------------------------------------------


def test_titles_keep_their_text():
    notes = (
        "<ul>"
        "<li>00:00 — 🎙️ Intro &amp; welcome!</li>"
        "<li>03:00 — &#8220;A foundation model for everything&#8221; &#8212; and the black box</li>"
        "<li>07:00 – Is it “real”? — yes, and it’s fine</li>"
        "<li>09:00 - Does   whitespace\n collapse?</li>"
        "<li>12:00 — Q&amp;A: what’s next?</li>"
        "</ul>"
    )
    assert [c.title for c in chapters_from_notes(notes)] == [
        "🎙️ Intro & welcome!",
        "“A foundation model for everything” — and the black box",
        "Is it “real”? — yes, and it’s fine",
        "Does whitespace collapse?",
        "Q&A: what’s next?",
    ]


def test_trailing_list_punctuation_is_dropped():
    notes = "<ul><li>00:00 — Intro;</li><li>05:00 — Middle,</li><li>10:00 — End.</li></ul>"
    assert [c.title for c in chapters_from_notes(notes)] == ["Intro", "Middle", "End."]


# --------------------------------------------------------------------------
# Not chapters
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "notes",
    [
        "",
        "No timestamps here at all, just words: a ratio 3:2 and a note.",
        "<p>As I said at around 12:40, the thing is great. Later at 15:30 we discuss more, and at 20:00 we stop.</p>",
        "<p>The game-winner (7:15) was great, and the replay (9:20) was even better (11:05).</p>",
        "<p>We covered the homer (3:10), the catch (5:20), and the walk-off (7:15).</p>",
        "<p>Doors open 7:30 PM.</p><p>The show starts 8:15 pm.</p><p>Bar closes 11:45 p.m.</p>",
        "2024-05-01 09:14:55\n2024-05-02 10:14:55\n2024-05-03 11:14:55",
        "Recorded 2024-05-01T09:14:55Z, published 2024-05-02T10:14:55Z.",
        "I bought a 21:9 monitor, then a 32:9 one, at 10:1 odds.",
        "Our 16:10 monitor\nand the 21:10 monitor",
        "00:00 Intro",  # a single entry is not a list
        "10:00 Late part\n05:00 Earlier part",  # not ascending
        "05:00 Same\n05:00 Same again",
        "Watch at 12:40\nThen from 15:40",
        "The meetup is on Monday 18:30\nand Tuesday 19:30",
    ],
)
def test_not_chapters(notes):
    assert chapters_from_notes(notes) == []


def test_prose_mention_next_to_a_real_list_is_not_a_chapter():
    notes = (
        "<p>The best bit starts at around 45:10, trust me.</p>"
        "<p>00:00 Intro</p><p>05:00 Guest background</p><p>30:00 The big debate</p>"
    )
    assert [c.start for c in chapters_from_notes(notes)] == [0, 300, 1800]


def test_starts_beyond_known_duration_are_rejected():
    notes = "00:00 Intro\n10:00 Middle\n50:00 Bonus after the end"
    chs = chapters_from_notes(notes, duration=1800)
    assert starts_titles(chs) == [(0, "Intro"), (600, "Middle")]
    assert chs[-1].end == 1800
    # nothing left that makes a list
    assert chapters_from_notes("00:00 Intro\n50:00 After the end", duration=1800) == []
    # unknown duration: everything kept
    assert len(chapters_from_notes(notes)) == 3


def test_longest_ascending_run_wins():
    notes = (
        "<p>Part one</p><p>00:00 A</p><p>01:00 B</p>"
        "<p>Part two</p><p>00:00 C</p><p>02:00 D</p><p>03:00 E</p><p>04:00 F</p>"
    )
    assert [c.title for c in chapters_from_notes(notes)] == ["C", "D", "E", "F"]


def test_script_style_and_comments_are_ignored():
    notes = (
        "<script>var x = '00:00 Fake';</script><style>.a{}</style><!-- 00:30 hidden -->"
        "<p>00:00 Intro</p><p>05:00 Next</p>"
    )
    assert starts_titles(chapters_from_notes(notes)) == [(0, "Intro"), (300, "Next")]


# --------------------------------------------------------------------------
# Timestamp mentions (clickable times in the notes view)
# --------------------------------------------------------------------------


def test_timestamp_mentions_include_prose_but_not_clocks_dates_ratios():
    text = (
        "As I said at around 12:40, doors open 7:30 PM; recorded 2024-05-01 09:14:55; "
        "a 21:9 monitor; the replay (1:02:03) and 75:10."
    )
    found = timestamp_mentions(text)
    assert [text[a:b] for a, b, _ in found] == ["12:40", "1:02:03", "75:10"]
    assert [s for _, _, s in found] == [760, 3723, 4510]
    assert timestamp_mentions(text, duration=4000) == found[:2]
    assert timestamp_mentions("nothing here") == []
    iso = "Recorded 09:14:55+02:00, published 2024-05-01T09:14:55-05:00; see 12:40."
    assert [iso[a:b] for a, b, _ in timestamp_mentions(iso)] == ["12:40"]


def test_range_without_spaces_and_tilde_in_title():
    chs = chapters_from_notes("00:00-05:00 Intro\n05:00-10:00 Next\n10:00 — ~400 formulations")
    assert starts_titles(chs) == [(0, "Intro"), (300, "Next"), (600, "~400 formulations")]


# --------------------------------------------------------------------------
# The real feed
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_items():
    d = feedparser.parse(str(REAL_FEED), sanitize_html=False, resolve_relative_uris=False)
    items = {}
    for e in d.entries:
        if not any((enc.get("type") or "").startswith("audio/") for enc in e.get("enclosures", [])):
            continue
        items[e.title] = e.content[0].value
    return items


def item(real_items, needle):
    (notes,) = [v for k, v in real_items.items() if needle in k]
    return notes


def test_real_feed_has_19_audio_episodes_with_chapters(real_items):
    assert len(real_items) == 19
    for title, notes in real_items.items():
        chs = chapters_from_notes(notes)
        assert len(chs) >= 10, title
        starts = [c.start for c in chs]
        assert starts == sorted(set(starts)), title
        assert all(c.title and len(c.title) < 200 for c in chs), title


def test_real_feed_qichao_hu(real_items):
    chs = chapters_from_notes(item(real_items, "Qichao Hu"))
    assert len(chs) == 19
    assert (chs[0].start, chs[0].title) == (13.0, "Intro and welcome")
    assert (chs[1].start, chs[1].title) == (79.0, "Shovel vs. gold")
    assert (chs[-1].start, chs[-1].title) == (3637.0, "Closing thoughts and wrap")
    by_start = {c.start: c.title for c in chs}
    assert by_start[26 * 60 + 37] == (
        "\u201cA foundation model for everything\u201d \u2014 and the black box between "
        "molecular properties and device performance"
    )
    assert by_start[5 * 60 + 18] == (
        "Why the world\u2019s smartest scientist doesn\u2019t automatically give you a better battery"
    )
    assert chs[0].end == 79.0 and chs[-1].end is None
    assert not any("Music" in c.title or "Kid Kodi" in c.title for c in chs)


def test_real_feed_other_layouts(real_items):
    # "(00:12) Intros" in <li>
    chs = chapters_from_notes(item(real_items, "Rao Kambhampati"))
    assert (chs[0].start, chs[0].title) == (12.0, "Intros")
    assert (chs[-1].start, chs[-1].title) == (4197.0, "Closing thoughts: the bridge analogy")
    assert 1572.0 in {c.start for c in chs}
    assert {c.start: c.title for c in chs}[1572.0] == "The 30×30 maze experiment"
    # "<strong>(00:00)</strong> Intro" paragraphs, titles with inner dashes
    chs = chapters_from_notes(item(real_items, "Kyunghyun Cho"))
    assert len(chs) == 20
    assert (chs[0].start, chs[0].title) == (0.0, "Intro and welcome")
    assert chs[2].title == (
        "Who owns your medical records? \u2014 The case for patient-controlled data "
        "and tapping your phone at the doctor's office"
    )
    # "00:00 &nbsp;Intro<br>" lines
    chs = chapters_from_notes(item(real_items, "(Part 1)"))
    assert len(chs) == 18
    assert chs[2].title == "\"I'm not very smart\" and why compute getting 10\u00d7 cheaper every 5 years changed everything"
    assert (chs[-1].start, chs[-1].title) == (5642.0, "Closing: who really invented deep learning?")
    # "<strong>00:00</strong> Intro<br>" lines
    chs = chapters_from_notes(item(real_items, "Sasha Rush"))
    assert len(chs) == 18
    assert chs[1].title == "What \u201ccoding agents\u201d actually mean"
    # "0:00 Intro" m:ss, with "Opus 4.7" style numbers in the Fireworks titles
    chs = chapters_from_notes(item(real_items, "Peyman Milanfar"))
    assert (chs[0].start, chs[-1].start) == (0.0, 4948.0)
    chs = chapters_from_notes(item(real_items, "Benny Chen"))
    assert "Are we plateauing? Opus 4.7 vs. 4.6 and the coming data wars" in [c.title for c in chs]


def test_real_feed_timelines_flattened_into_one_paragraph(real_items):
    """Directory pages print the same timelines as one paragraph; the result
    must be identical, including where the last title stops."""
    for title, notes in real_items.items():
        flat = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", notes)).split())
        assert starts_titles(chapters_from_notes(flat)) == starts_titles(chapters_from_notes(notes)), title


def test_real_feed_duration_rejects_late_starts(real_items):
    notes = item(real_items, "Qichao Hu")
    chs = chapters_from_notes(notes, duration=3000)
    assert [c.start for c in chs][-1] == 2630.0
    assert chs[-1].end == 3000


def test_speed_on_real_notes(real_items):
    """Loose guard against pathological slowness (the real budget is ~0.3 ms)."""
    notes = list(real_items.values())
    t0 = time.process_time()
    for _ in range(5):
        for n in notes:
            chapters_from_notes(n)
    per_note = (time.process_time() - t0) / (5 * len(notes))
    assert per_note < 0.005
    plain = "<p>" + "Just a note about things, with no times at all. https://example.com " * 80 + "</p>"
    t0 = time.process_time()
    for _ in range(200):
        assert chapters_from_notes(plain) == []
    assert (time.process_time() - t0) / 200 < 0.0005


@pytest.mark.parametrize(
    "notes",
    [
        "<a" * 20000 + " 00:00 x",
        '<a href="' * 20000 + " 01:00",
        "1:" * 50000 + "00",
        "- " * 50000 + "00:00 x\n01:00 y",
    ],
)
def test_no_catastrophic_backtracking(notes):
    t0 = time.process_time()
    chapters_from_notes(notes)
    assert time.process_time() - t0 < 2.0


# --------------------------------------------------------------------------
# Explicit chapter data
# --------------------------------------------------------------------------


def test_chapters_from_psc():
    chs = chapters_from_psc(
        [
            {"start": "7:48", "title": "Second", "href": "https://example.com/2", "image": "https://example.com/2.png"},
            {"start": "00:00:00.000", "title": "First"},
            {"start": "01:35:52.250", "title": "Third"},
            {"start": "bogus", "title": "Dropped"},
        ]
    )
    assert [(c.start, c.end, c.title) for c in chs] == [
        (0.0, 468.0, "First"),
        (468.0, 5752.25, "Second"),
        (5752.25, None, "Third"),
    ]
    assert chs[1].url == "https://example.com/2" and chs[1].image == "https://example.com/2.png"
    assert all(c.source == "psc" for c in chs)


CHAPTERS_JSON = {
    "version": "1.2.0",
    "chapters": [
        {"startTime": 0, "title": "Intro", "img": "https://example.com/i.jpg"},
        {"startTime": 95.5, "title": "Sponsor", "toc": False, "endTime": 125},
        {"startTime": 125, "title": "Interview", "url": "https://example.com"},
        {"startTime": 4000, "title": "After the end"},
    ],
}


@pytest.mark.parametrize(
    "data", [CHAPTERS_JSON, json.dumps(CHAPTERS_JSON), json.dumps(CHAPTERS_JSON).encode(), b"\xef\xbb\xbf" + json.dumps(CHAPTERS_JSON).encode()]
)
def test_chapters_from_json(data):
    chs = chapters_from_json(data, duration=3600)
    assert [(c.start, c.end, c.title, c.hidden) for c in chs] == [
        (0.0, 95.5, "Intro", False),
        (95.5, 125.0, "Sponsor", True),
        (125.0, 3600.0, "Interview", False),
    ]
    assert chs[0].image == "https://example.com/i.jpg" and chs[2].url == "https://example.com"
    assert all(c.source == "podcast-chapters" for c in chs)


def test_chapters_from_json_unsorted_and_explicit_end_kept():
    chs = chapters_from_json({"chapters": [{"startTime": 60, "title": "B", "endTime": 90}, {"startTime": 0, "title": "A"}]})
    assert [(c.start, c.end, c.title) for c in chs] == [(0, 60, "A"), (60, 90, "B")]


@pytest.mark.parametrize(
    "data",
    [b"{not json", "", "[1, 2]", '{"version": "1.2.0"}', '{"chapters": "nope"}', b"\xff\xfe\x00garbage"],
)
def test_chapters_from_json_malformed_raises_one_line_value_error(data):
    with pytest.raises(ValueError) as exc:
        chapters_from_json(data)
    msg = str(exc.value)
    assert msg and "\n" not in msg and "chapters JSON" in msg


def test_finalize():
    raw = [
        Chapter(start=600, title="C"),
        Chapter(start=0, end=0, title="A"),  # insane end: replaced
        Chapter(start=300, end=400, title="B"),  # sane explicit end: kept
        Chapter.model_construct(start=-5.0, end=None, title="negative", source="notes"),
        Chapter(start=5000, title="after the end"),
    ]
    out = finalize(raw, 3600)
    assert [(c.start, c.end, c.title) for c in out] == [(0, 300, "A"), (300, 400, "B"), (600, 3600, "C")]
    assert raw[1].end == 0  # inputs are not modified
    assert [c.end for c in finalize([Chapter(start=0, title="A"), Chapter(start=10, title="B")], None)] == [10, None]
    # an explicit end past the duration is clamped
    assert finalize([Chapter(start=0, end=9999, title="A")], 100)[0].end == 100


def test_best_source_prefers_explicit_data():
    notes = [Chapter(start=0, title="n")]
    psc = [Chapter(start=0, title="p", source="psc")]
    p20 = [Chapter(start=0, title="j", source="podcast-chapters")]
    assert best_source({"notes": notes}) == "notes"
    assert best_source({"notes": notes, "psc": psc}) == "psc"
    assert best_source({"psc": psc, "notes": notes, "podcast-chapters": p20}) == "podcast-chapters"
    assert best_source({"podcast-chapters": [], "notes": notes}) == "notes"
    assert best_source({}) is None


def test_sources_disagree():
    a = [Chapter(start=0, title="a"), Chapter(start=100, title="b")]
    assert not sources_disagree(a, [Chapter(start=2, title="x"), Chapter(start=104, title="y")])
    assert sources_disagree(a, [Chapter(start=0, title="x"), Chapter(start=106, title="y")])
    assert sources_disagree(a, a[:1])
    assert not sources_disagree(a, [Chapter(start=0, title="x"), Chapter(start=109, title="y")], tolerance=10)


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

FRAGMENTS = st.sampled_from(
    [
        "00:00", "0:12", "05:10", "75:10", "1:02:03", "01:35:52.250", "12:40", "7:30 PM", "2024-05-01 09:14:55",
        "21:9", "10:1", "(", ")", "[", "]", " — ", " – ", " - ", ":", "*", "•", "\n", "<br>", "<p>", "</p>",
        "<li>", "</li>", "<strong>", "</strong>", "<td>", "<tr>", "|", "\t", "Intro", "Music:", "About:", "----",
        ". ", "Why?", "at around", "&#8212;", "&nbsp;", "2-3 weeks", "GPT-4", " ", "  ", "🎙️", "“", "”",
        '<a href="#t=05:10">', "</a>", "Timeline", "\r\n",
    ]
)
durations = st.one_of(st.none(), st.floats(min_value=0, max_value=20000, allow_nan=False))


def check_invariants(chs, duration):
    starts = [c.start for c in chs]
    assert starts == sorted(starts)
    assert len(set(starts)) == len(starts)
    assert chs == [] or len(chs) >= 2
    for i, c in enumerate(chs):
        assert c.start >= 0
        assert c.title and c.title == c.title.strip()
        if duration:
            assert c.start <= duration
        if i + 1 < len(chs):
            assert c.end is not None and c.start < c.end <= chs[i + 1].start


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(), durations)
def test_notes_never_raise_on_arbitrary_text(text, duration):
    check_invariants(chapters_from_notes(text, duration), duration)
    for a, b, sec in timestamp_mentions(text, duration):
        assert 0 <= a < b <= len(text) and parse_timestamp(text[a:b]) == sec


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FRAGMENTS, max_size=60).map("".join), durations)
def test_notes_invariants_on_timestamp_fragments(text, duration):
    check_invariants(chapters_from_notes(text, duration), duration)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=5 * 3600), min_size=2, max_size=30, unique=True),
    st.sampled_from([" — ", " – ", " - ", " ", ": "]),
    st.sampled_from(["{t}{sep}Chapter {i}", "({t}) Chapter {i}", "[{t}] Chapter {i}", "* {t}{sep}Chapter {i}"]),
    st.sampled_from(["\n", "<br>", "</p><p>", "</li><li>"]),
)
def test_generated_lists_round_trip(seconds, sep, fmt, joiner):
    seconds = sorted(seconds)
    # Read as h:mm, a list that starts at a clock hour with every time on a
    # 5-minute grid is a day's agenda, which is deliberately not chapters.
    assume(not (seconds[0] >= 360 and all(s // 60 <= 23 and s % 60 % 5 == 0 for s in seconds)))

    def fmt_t(s):
        h, r = divmod(s, 3600)
        return f"{h}:{r // 60:02d}:{r % 60:02d}" if h else f"{r // 60:02d}:{r % 60:02d}"

    notes = joiner.join(fmt.format(t=fmt_t(s), sep=sep, i=i) for i, s in enumerate(seconds))
    chs = chapters_from_notes(notes)
    assert starts_titles(chs) == [(float(s), f"Chapter {i}") for i, s in enumerate(seconds)]
