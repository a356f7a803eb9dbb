"""Guest shapes from issue 9 (names and organisations invented) and the
per-item bounds from issue 12."""

from __future__ import annotations

import time

import pytest

from ibplayer.domain.models import Person
from ibplayer.domain.people import (
    contributor_persons,
    extract_guests,
    guests_from_description,
    guests_from_title,
    hosts_from,
    topic_from_title,
)


def g(title: str) -> list[tuple[str, list[str]]]:
    return [(p.name, p.affiliations) for p in guests_from_title(title)]


def d(text: str) -> list[tuple[str, list[str]]]:
    return [(p.name, p.affiliations) for p in guests_from_description(text)]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Sleep and Memory | Dr. Hana Ito", [("Hana Ito", [])]),
        ("Sleep and Memory | Dr Hana Ito", [("Hana Ito", [])]),
        ("Sleep and Memory | Dr. Hana Ito, PhD", [("Hana Ito", [])]),
        ("Sleep with Hana Ito PhD and Bo Kim, MD (North University)", [("Hana Ito", ["North University"]), ("Bo Kim", ["North University"])]),
        ("Dr. Hana Ito: Sleep and Memory", [("Hana Ito", [])]),
        ("Professor Hana Ito: Sleep and Memory", [("Hana Ito", [])]),
        ("Why Tides Matter with Prof. Lars Berg (Ocean Lab / North University)", [("Lars Berg", ["Ocean Lab", "North University"])]),
        ("Prof. Lars Berg (Ocean Lab / North University)", [("Lars Berg", ["Ocean Lab", "North University"])]),
        ("Tides - Prof. Lars Berg (Ocean Lab / North University)", [("Lars Berg", ["Ocean Lab", "North University"])]),
    ],
)
def test_honorifics_are_stripped_and_affiliations_kept(title, expected):
    assert g(title) == expected


def test_topic_of_an_honorific_title():
    assert topic_from_title("Sleep and Memory | Dr. Hana Ito") == "Sleep and Memory"
    assert topic_from_title("Dr. Hana Ito: Sleep and Memory") == "Sleep and Memory"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Founding a Bakery with Mia Roth (co-founder, CEO)", [("Mia Roth", [])]),
        ("Founding a Bakery with Mia Roth (Co-Founder & Chief Executive)", [("Mia Roth", [])]),
        ("Founding a Bakery with Mia Roth (CEO of Crumb Co)", [("Mia Roth", ["Crumb Co"])]),
        ("Founding a Bakery with Mia Roth (researcher at Flour Labs)", [("Mia Roth", ["Flour Labs"])]),
        ("Founding a Bakery with Mia Roth (founder, Crumb Co)", [("Mia Roth", ["Crumb Co"])]),
    ],
)
def test_roles_are_not_affiliations(title, expected):
    assert g(title) == expected


@pytest.mark.parametrize(
    "title",
    [
        "Soil Health with Ana Lee and Bo Kim",
        "Soil Health with Ana Lee & Bo Kim",
        "Soil Health with Ana Lee, Bo Kim and Cy Oduya",
        "Soil Health with Ana Lee, Bo Kim, and Cy Oduya",
    ],
)
def test_several_guests_are_each_a_person(title):
    names = [n for n, _ in g(title)]
    assert names[:2] == ["Ana Lee", "Bo Kim"]
    assert len(names) == (3 if "Cy" in title else 2)
    assert all(p.role == "guest" for p in guests_from_title(title))


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("2.22: Garden Planning (Part I, with Ana Lee)", [("Ana Lee", [])]),
        ("3.4 Garden Planning (Part II, with Ana Lee)", [("Ana Lee", [])]),
        ("12.1: Garden Planning (with Ana Lee and Bo Kim)", [("Ana Lee", []), ("Bo Kim", [])]),
        ("2.22: Garden Planning (Part I)", []),
    ],
)
def test_episode_numbering_makes_no_false_guest(title, expected):
    assert g(title) == expected


def test_episode_numbering_is_not_in_the_topic():
    assert topic_from_title("2.22: Garden Planning (Part I, with Ana Lee)") == "Garden Planning"


def test_possessive_title_names_a_guest_only_when_the_description_confirms():
    title = "Jane Doe's Quest to Build a Better Kite"
    got = extract_guests(title, "Jane Doe has flown kites for thirty years and now builds them.", [], [])
    assert [p.name for p in got] == ["Jane Doe"]
    got = extract_guests(title, "We talk about wind, fabric and string.", [], [])
    assert got == []
    # a possessive topic phrase is not a person even when the notes repeat it
    assert extract_guests("Nature's Quest to Build Coral", "Nature's quest to build coral is slow.", [], []) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("My guest is Dr. Omar Haddad, a marine biologist at the Coastal Institute, who studies reefs.",
         [("Omar Haddad", ["Coastal Institute"])]),
        ("My guest this week is Omar Haddad. We talk reefs.", [("Omar Haddad", [])]),
        ("Today I'm joined by Priya Nair to talk about compilers.", [("Priya Nair", [])]),
        ("Today I’m joined by Dr. Priya Nair, who builds compilers.", [("Priya Nair", [])]),
        ("This week we are joined by Priya Nair of Loop Systems.", [("Priya Nair", ["Loop Systems"])]),
        ("Kofi Mensah is a professor at Lakeside University. We discuss rivers.",
         [("Kofi Mensah", ["Lakeside University"])]),
        ("Dr. Kofi Mensah is a professor at Lakeside University.", [("Kofi Mensah", ["Lakeside University"])]),
    ],
)
def test_description_openings(text, expected):
    assert d(text) == expected


def test_podcast_person_guests_keep_img_and_href_and_hosts_stay_hosts():
    persons = [
        {"name": "Rosa Vidal", "role": "host", "img": "https://example.org/rosa.jpg"},
        {"name": "Tomas Lind", "role": "guest", "img": "https://example.org/tomas.jpg", "href": "https://example.org/tomas"},
        {"name": "Ines Moreau", "role": "Guest", "href": "https://example.org/ines"},
    ]
    got = extract_guests("A chat with Rosa Vidal and Tomas Lind", "", [], persons)
    assert [(p.name, p.role, p.image, p.href) for p in got] == [
        ("Tomas Lind", "guest", "https://example.org/tomas.jpg", "https://example.org/tomas"),
        ("Ines Moreau", "guest", None, "https://example.org/ines"),
    ]
    hosts = hosts_from(None, persons, "")
    assert [(p.name, p.role, p.image) for p in hosts] == [("Rosa Vidal", "host", "https://example.org/rosa.jpg")]


def test_item_level_host_is_never_a_guest_from_the_title():
    persons = [{"name": "Rosa Vidal", "role": "host"}]
    got = extract_guests("Kites with Rosa Vidal and Tomas Lind", "", [], persons)
    assert [p.name for p in got] == ["Tomas Lind"]


def test_podlove_contributors_hosts_stay_hosts_guests_become_guests():
    # what feedparser gives for <atom:contributor> (channel: the show's team)
    channel = [{"name": "Rosa Vidal", "href": "https://example.org/rosa"}]
    item = [
        {"name": "Rosa Vidal", "href": "https://example.org/rosa"},
        {"name": "Tomas Lind", "href": "https://example.org/tomas", "img": "https://example.org/t.png"},
        {"name": ""},
    ]
    persons = contributor_persons(item, channel)
    assert persons == [
        {"name": "Rosa Vidal", "role": "host", "href": "https://example.org/rosa"},
        {"name": "Tomas Lind", "role": "guest", "href": "https://example.org/tomas", "img": "https://example.org/t.png"},
    ]
    guests = extract_guests("Episode 4", "", hosts_from(None, contributor_persons(channel, channel), ""), persons)
    assert [(p.name, p.role, p.href, p.image) for p in guests] == [
        ("Tomas Lind", "guest", "https://example.org/tomas", "https://example.org/t.png")
    ]


def test_twenty_thousand_person_tags_are_bounded_and_linear():
    persons = [{"name": f"Guest Number{i:05d}", "role": "guest"} for i in range(20_000)]
    hosts = [Person(name="Rosa Vidal", role="host")]
    t0 = time.perf_counter()
    got = extract_guests("Episode 9", "", hosts, persons)
    host_list = hosts_from(None, [dict(p, role="host") for p in persons], "")
    elapsed = time.perf_counter() - t0
    assert 0 < len(got) <= 100 and 0 < len(host_list) <= 100
    assert elapsed < 1.0


def test_description_lists_several_guests():
    assert d("My guests are Ana Lee and Dr. Bo Kim, who run a bakery together.") == [("Ana Lee", []), ("Bo Kim", [])]
    assert d("I'm joined today by Priya Nair of Loop Systems.") == [("Priya Nair", ["Loop Systems"])]
    # a name followed by prose is one guest
    assert d("Today I'm joined by Priya Nair, and we talk about compilers.") == [("Priya Nair", [])]


def test_an_appositive_after_the_guest_is_not_a_second_guest():
    assert d("Today I'm joined by Ana Lee, Chief Scientist at Acme Mills.") == [("Ana Lee", ["Acme Mills"])]
    assert d("Today I'm joined by Ana Lee, Bo Kim and Cy Oduya.") == [("Ana Lee", []), ("Bo Kim", []), ("Cy Oduya", [])]


def test_a_given_name_that_looks_like_an_abbreviated_title_is_kept():
    assert g("Ocean Data with Hon Weng Chong (Tidal Works)") == [("Hon Weng Chong", ["Tidal Works"])]
    assert g("Ocean Data with Gen. Hana Ito (Navy)") == [("Hana Ito", ["Navy"])]
