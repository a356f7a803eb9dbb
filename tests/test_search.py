"""Library.search on a real SQLite library: what is found, in what order,
with which snippet (the ranking is cut inside FTS5 before any join)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ibplayer.domain.models import Chapter, ParsedEpisode, ParsedFeed, Person
from ibplayer.infra.store import Library

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _ep(i: int, title: str, *, guests=(), chapters=(), notes="") -> ParsedEpisode:
    return ParsedEpisode(
        guid=f"g{i}", title=title, audio_url=f"http://127.0.0.1:9/{i}.mp3", published=T0 + timedelta(days=i),
        notes_text=notes, guests=[Person(name=g) for g in guests],
        chapters={"notes": [Chapter(start=s, title=t) for s, t in chapters]} if chapters else {},
    )


@pytest.fixture
def lib(tmp_path):
    eps = [_ep(i, f"Talk number {i} about owls", guests=["Ada Quillfeather"], chapters=[(0, "Hello"), (30, "Owls")])
           for i in range(7)]
    eps += [
        _ep(10, "Gradient descent, slowly", chapters=[(0, "Intro"), (120, "Why gradient descent works"),
                                                      (300, "Gradient noise and the loss surface")],
            notes="A long talk on optimisation; gradient descent returns again and again."),
        _ep(11, "Compilers for tensors", chapters=[(0, "Intro"), (60, "Tensor compilers today")],
            notes="We touch on gradient checkpointing only briefly."),
    ]
    lib = Library(tmp_path)
    fid = lib.add_feed("http://127.0.0.1:9/f.xml", "Owl Radio")
    lib.store_feed(fid, ParsedFeed(title="Owl Radio", episodes=eps))
    # the same chapter from a second source: one hit, not two
    eid = lib.resolve_episode("#" + str(lib.episodes(fid)[1].id)).id
    lib.replace_chapters(eid, "psc", [Chapter(start=120, title="Why gradient descent works", source="psc")])
    yield lib
    lib.close()


def test_chapter_hits_best_first_with_snippets_and_no_duplicates(lib):
    hits = lib.search("gradient descent", kinds=("chapter",))
    assert [h.title for h in hits] == ["Why gradient descent works"]
    [h] = hits
    assert h.start == 120 and h.episode_title == "Gradient descent, slowly" and h.feed_title == "Owl Radio"
    assert h.snippet == "Why [gradient] [descent] works"
    hits = lib.search("gradient", kinds=("chapter",))
    assert [h.title for h in hits] == ["Why gradient descent works", "Gradient noise and the loss surface"]


def test_episode_hits_rank_titles_over_notes(lib):
    hits = lib.search("gradient", kinds=("episode",))
    assert [h.title for h in hits] == ["Gradient descent, slowly", "Compilers for tensors"]
    assert "[gradient]" in hits[1].snippet.lower()
    assert hits[0].score < hits[1].score


def test_guest_hits_are_the_five_newest_episodes(lib):
    hits = lib.search("Quillfeather", kinds=("guest",))
    assert [h.episode_title for h in hits] == [f"Talk number {i} about owls" for i in (6, 5, 4, 3, 2)]
    assert {h.title for h in hits} == {"Ada Quillfeather"}
    assert hits[0].person_id == lib.person_id("Ada Quillfeather")


def test_limit_and_prefix_while_typing(lib):
    assert len(lib.search("owl", limit=3)) == 3
    assert lib.search("compil", kinds=("chapter",))[0].title == "Tensor compilers today"
    assert lib.search("") == [] and lib.search("  ;; ") == []


# ---------------------------------------------------------------- search that understands the field


@pytest.fixture
def field_lib(tmp_path):
    lib = Library(tmp_path)
    a = lib.add_feed("http://127.0.0.1:9/a.xml", "Show A")
    b = lib.add_feed("http://127.0.0.1:9/b.xml", "Show A (mirror)")
    eps = [
        _ep(1, "Robots that learn", chapters=[(0, "Hello"), (95, "RL from scratch"), (400, "Why CoT helps")],
            guests=["Marguerite Okonkwo-Hale"]),
        _ep(2, "Scaling laws", chapters=[(0, "Hello"), (50, "Large language models and their limits"),
                                         (300, "Reinforcement learning for fine control")]),
        _ep(3, "Reinforcement learning, explained", chapters=[(0, "Hello"), (60, "Bandits first")]),
        _ep(4, "AGI timelines", chapters=[(0, "Artificial general intelligence, defined")]),
    ]
    lib.store_feed(a, ParsedFeed(title="Show A", episodes=eps))
    lib.store_feed(b, ParsedFeed(title="Show A (mirror)", episodes=eps[:1]))  # the same episode, same guid
    yield lib
    lib.close()


def test_abbreviations_and_spelled_out_forms_find_each_other(field_lib):
    found = {h.title for h in field_lib.search("reinforcement learning", kinds=("chapter",))}
    assert {"RL from scratch", "Reinforcement learning for fine control"} <= found
    found = {h.title for h in field_lib.search("RL", kinds=("chapter",))}
    assert {"RL from scratch", "Reinforcement learning for fine control"} <= found
    assert "Large language models and their limits" in {h.title for h in field_lib.search("LLM")}
    assert "Why CoT helps" in {h.title for h in field_lib.search("chain of thought")}
    assert "Artificial general intelligence, defined" in {h.title for h in field_lib.search("agi")}
    # an ordinary word is not widened
    assert field_lib.search("bandits", kinds=("chapter",))[0].title == "Bandits first"


def test_an_episode_whose_title_matches_comes_first(field_lib):
    hits = field_lib.search("reinforcement learning")
    assert (hits[0].kind, hits[0].title) == ("episode", "Reinforcement learning, explained")


def test_misspelt_and_partial_guest_names_find_the_guest(field_lib):
    for typed in ("Okonkwo Hale", "Margerite Okonkwo", "Okonkow-Hale", "Okonk"):
        hits = field_lib.search(typed, kinds=("guest",))
        assert hits and hits[0].title == "Marguerite Okonkwo-Hale", typed
    assert field_lib.search("Zebedee Plunkett", kinds=("guest",)) == []


def test_the_same_episode_subscribed_twice_is_listed_once_with_its_feed(field_lib):
    hits = field_lib.search("RL from scratch", kinds=("chapter",))
    assert len([h for h in hits if h.title == "RL from scratch"]) == 1
    hits = field_lib.search("Robots that learn", kinds=("episode",))
    assert len(hits) == 1 and hits[0].feed_title in ("Show A", "Show A (mirror)")
    assert all(h.feed_title for h in field_lib.search("hello"))
