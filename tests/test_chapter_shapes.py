"""Chapter shapes from issue 9 that the notes parser used to miss, and the
schedules it must not mistake for chapters.  All examples are made up."""

from __future__ import annotations

import pytest

from ibplayer.domain.chapters import chapters_from_notes


def st(chapters):
    return [(c.start, c.title) for c in chapters]


# --------------------------------------------------------------------------
# Open Shownotes / Podlove markup
# --------------------------------------------------------------------------

LINKS = " ".join(f'<a href="https://example.org/{i}">Further link number {i}</a>' for i in range(40))


def test_podlove_heading_with_time_beside_it_and_links_below():
    notes = (
        '<div class="shownotes">'
        '<div class="chapter"><h3>Hello and housekeeping</h3><span class="time">00:00:00</span>'
        '<p><a href="https://example.org/a">A blog post</a> <a href="https://example.org/b">Our mailbag</a></p></div>'
        '<div class="chapter"><h3>Sourdough starters</h3><span class="time">00:04:31</span>'
        f"<p>{LINKS}</p></div>"
        '<div class="chapter"><h3>Listener questions</h3><span class="time">00:31:07</span>'
        '<p><a href="https://example.org/c">The question form</a></p></div>'
        "</div>"
    )
    assert st(chapters_from_notes(notes)) == [
        (0, "Hello and housekeeping"),
        (271, "Sourdough starters"),
        (1867, "Listener questions"),
    ]


def test_open_shownotes_time_before_the_heading_and_long_link_paragraphs():
    notes = (
        '<div class="osf"><span class="osf-time">00:00:00</span><h2>Welcome</h2>'
        f"<p>{LINKS}</p>"
        '<span class="osf-time">00:12:45</span><h2>The kiln build</h2>'
        f"<p>{LINKS}</p>"
        '<span class="osf-time">00:40:02</span><h2>Glazes that failed</h2>'
        f"<p>{LINKS}</p></div>"
    )
    assert st(chapters_from_notes(notes)) == [(0, "Welcome"), (765, "The kiln build"), (2402, "Glazes that failed")]


# --------------------------------------------------------------------------
# Row shapes
# --------------------------------------------------------------------------


def test_numbered_rows_with_a_trailing_length():
    notes = "1  00:00  Cold open  02:10\n2  02:10  Catching up  03:03\n3  05:13  Meet the guest  00:45\n4  05:58  Field report  12:30"
    assert st(chapters_from_notes(notes)) == [
        (0, "Cold open"),
        (130, "Catching up"),
        (313, "Meet the guest"),
        (358, "Field report"),
    ]


def test_title_first_then_time_then_a_short_note():
    notes = "Opening remarks 0:00 (live)\nThe bake-off 3:05 (live)\nJudging 14:20 [recorded]\nFarewell 31:50"
    assert st(chapters_from_notes(notes)) == [
        (0, "Opening remarks (live)"),
        (185, "The bake-off (live)"),
        (860, "Judging [recorded]"),
        (1910, "Farewell"),
    ]


@pytest.mark.parametrize("sep", ["\uff0d", "\u2212", "\u2015", "\u2e3a", "\u2e3b", "\u2012", "\ufe63", ":", "|", "\u2022", "\u00b7"])
def test_any_dash_like_separator_after_the_time(sep):
    notes = f"00:00 {sep} Setting the scene\n04:40 {sep} Tools of the trade\n19:02 {sep} What went wrong"
    assert st(chapters_from_notes(notes)) == [(0, "Setting the scene"), (280, "Tools of the trade"), (1142, "What went wrong")]


@pytest.mark.parametrize("sep", ["\uff0d", "\u2212", "\u2015", "\u2e3a", "|", "\u2022"])
def test_dash_like_separators_in_a_flattened_timeline(sep):
    notes = f"Chapters 00:00 {sep} Setting the scene 04:40 {sep} Tools of the trade 19:02 {sep} What went wrong"
    assert st(chapters_from_notes(notes)) == [(0, "Setting the scene"), (280, "Tools of the trade"), (1142, "What went wrong")]


@pytest.mark.parametrize("sep", ["\uff0d", "\u2212", "\u2015", "\u2e3a", "|", "\u2022"])
def test_dash_like_separators_title_first(sep):
    notes = f"Setting the scene {sep} 00:00\nTools of the trade {sep} 04:40\nWhat went wrong {sep} 19:02"
    assert st(chapters_from_notes(notes)) == [(0, "Setting the scene"), (280, "Tools of the trade"), (1142, "What went wrong")]


# --------------------------------------------------------------------------
# Flattened timelines
# --------------------------------------------------------------------------

FLAT = "Chapters: 00:00 Intro 03:30 Why bees dance 11:15 Mapping a hive 25:40 Closing chat "


@pytest.mark.parametrize(
    "tail",
    [
        "Disclaimer This show is not veterinary advice.",
        "Learn more about your ad choices. Visit example.com/adchoices",
        "Sponsors Acme Hives and the Pollen Co.",
        "Links https://example.org/bees",
        "https://example.org/bees and more",
        "www.example.org/bees",
        "Follow us on the fediverse at @bees@example.social",
        "Follow Us Everywhere",
        "Subscribe wherever you get podcasts",
    ],
)
def test_last_flattened_title_ends_at_boilerplate_without_a_colon(tail):
    assert st(chapters_from_notes(FLAT + tail)) == [
        (0, "Intro"),
        (210, "Why bees dance"),
        (675, "Mapping a hive"),
        (1540, "Closing chat"),
    ]


def test_boilerplate_words_inside_a_title_case_title_stay():
    chs = chapters_from_notes("Chapters: 00:00 Intro 03:30 How Links Rot Over Time")
    assert st(chs) == [(0, "Intro"), (210, "How Links Rot Over Time")]


def test_flattened_title_ending_in_a_number_keeps_it():
    notes = "Timeline: 0:00 – Welcome back 1:02 – The language models in 2019 3:13 – Why 3 of them stuck 9:40 – Top 10 tools"
    assert st(chapters_from_notes(notes)) == [
        (0, "Welcome back"),
        (62, "The language models in 2019"),
        (193, "Why 3 of them stuck"),
        (580, "Top 10 tools"),
    ]
    notes = "Timeline: 0:00 – Welcome back 1:02 – Counting to 42 3:13 – The year 1999 7:30 – Goodbye"
    assert st(chapters_from_notes(notes)) == [
        (0, "Welcome back"),
        (62, "Counting to 42"),
        (193, "The year 1999"),
        (450, "Goodbye"),
    ]


def test_a_time_glued_to_the_word_before_it():
    notes = "00:00:00 Opening words on the first topic00:01:03 Second topic here00:17:40 Third and last topic"
    assert st(chapters_from_notes(notes)) == [
        (0, "Opening words on the first topic"),
        (63, "Second topic here"),
        (1060, "Third and last topic"),
    ]


def test_real_dates_with_a_year_before_a_time_are_still_not_chapters():
    assert chapters_from_notes("Recorded on March 3, 2021 10:30 and aired June 5, 2021 11:45.") == []
    assert chapters_from_notes("Recorded 3 March 2021 10:30\nAired 5 June 2021 11:45") == []


# --------------------------------------------------------------------------
# Not chapters: clock ranges and agendas
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "notes",
    [
        "10:30 - 10:45am Welcome\n10:45 - 11:30am First panel\n11:30 - 12:15pm Second panel",
        "9:00–9:20 AM Coffee\n9:20–10:00 AM Keynote\n10:00–10:30 AM Q and A",
        "10:30am - 10:45 Welcome\n10:45am - 11:30 Panel\n11:30am - 12:15 Closing",
        "1:00 to 2:30pm Workshop one\n2:30 to 4:00pm Workshop two",
    ],
)
def test_clock_ranges_are_not_chapters(notes):
    assert chapters_from_notes(notes) == []


@pytest.mark.parametrize(
    "notes",
    [
        # a live show listing
        "<p>Saturday, 14 June — The Old Mill, Harbour Street</p>"
        "<ul><li>Doors 7:30</li><li>Support act 8:00</li><li>Live recording 8:45</li><li>Signing 10:15</li></ul>",
        # a meetup schedule under a weekday
        "Tuesday\n9:00 Registration\n9:30 Opening talk\n10:15 Break\n10:30 Lightning talks\n12:00 Lunch",
        # times only, with typical agenda words
        "08:30 Breakfast\n09:00 Welcome\n10:30 Coffee break\n12:00 Lunch\n13:30 Workshops",
        # a venue line and a clock-hour start
        "Venue: Riverside Hall\n6:00 Arrivals\n6:30 Talks begin\n8:00 Drinks",
        # flattened agenda under a date
        "Schedule for 2026-03-14: 9:00 Registration 9:30 Keynote 11:00 Panel 12:30 Lunch",
    ],
)
def test_agendas_are_not_chapters(notes):
    assert chapters_from_notes(notes) == []


def test_a_real_chapter_list_that_does_not_start_at_zero_is_kept():
    notes = "01:15 Intro after the ad\n06:40 The interview\n31:05 Listener mail"
    assert st(chapters_from_notes(notes)) == [(75, "Intro after the ad"), (400, "The interview"), (1865, "Listener mail")]
    # round minutes near the start of an episode are still chapters
    notes = "0:00 Welcome\n5:00 News\n10:00 Interview\n15:00 Lunch recipes"
    assert st(chapters_from_notes(notes)) == [(0, "Welcome"), (300, "News"), (600, "Interview"), (900, "Lunch recipes")]


def test_an_early_clock_hour_agenda_needs_words_and_a_date_to_be_dropped():
    agenda = "Friday 3 May at the library\n1:00 Lunch\n2:00 Workshops\n3:30 Coffee break"
    assert chapters_from_notes(agenda) == []
    # the same times with chapter-like titles and no date above stay chapters
    chs = chapters_from_notes("1:00 The cold open\n2:00 A word from the editor\n3:30 The main story")
    assert [c.start for c in chs] == [60, 120, 210]


def test_a_heading_above_a_plain_list_of_lone_times_is_not_a_title():
    notes = "<h3>Chapters</h3><p>00:00</p><p>Cold open</p><p>06:10</p><p>The long middle</p><p>21:45</p><p>Outro</p>"
    assert st(chapters_from_notes(notes)) == [(0, "Cold open"), (370, "The long middle"), (1305, "Outro")]
    notes = "<h3>In the first part</h3><p>00:00</p><p>Cold open</p><h3>Later on</h3><p>06:10</p><p>The long middle</p>"
    assert st(chapters_from_notes(notes)) == [(0, "Cold open"), (370, "The long middle")]


def test_headings_and_lone_times_without_links_in_either_order():
    above = "<h3>Arrival</h3><span>00:00</span><h3>The climb</h3><span>08:20</span><h3>Summit</h3><span>40:00</span>"
    below = "<span>00:00</span><h3>Arrival</h3><span>08:20</span><h3>The climb</h3><span>40:00</span><h3>Summit</h3>"
    expected = [(0, "Arrival"), (500, "The climb"), (2400, "Summit")]
    assert st(chapters_from_notes(above)) == expected
    assert st(chapters_from_notes(below)) == expected


def test_times_written_with_hours_are_never_an_agenda():
    notes = "00:09:00 Late start after the ads\n00:15:00 The interview\n00:20:00 Listener mail"
    assert st(chapters_from_notes(notes)) == [(540, "Late start after the ads"), (900, "The interview"), (1200, "Listener mail")]


def test_podlove_layout_with_a_single_link_under_each_heading():
    notes = (
        '<h4>Warm-up</h4><span>00:00:00</span><p><a href="https://example.org/1">Event page</a></p>'
        '<h4>Rigging the sails</h4><span>00:09:12</span><p><a href="https://example.org/2">Knot guide</a></p>'
        '<h4>Open water</h4><span>00:27:50</span><p><a href="https://example.org/3">Tide tables</a></p>'
    )
    assert st(chapters_from_notes(notes)) == [(0, "Warm-up"), (552, "Rigging the sails"), (1670, "Open water")]
