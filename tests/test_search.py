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


# ---------------------------------------------------------------- common words: bounded ranking


@pytest.fixture
def wordy_lib(tmp_path):
    """Forty episodes whose chapter titles all say "the", a few with a rarer
    word; ranking caps small enough that "the" is past them."""
    lib = Library(tmp_path)
    fid = lib.add_feed("http://127.0.0.1:9/w.xml", "Wordy Hour")
    eps = []
    for i in range(40):
        chapters = [(0, f"The opening of part {i}"), (60, "Down the river and over the hill")]
        if i % 10 == 3:
            chapters.append((200, f"The lighthouse keeper's logbook {i}"))
        eps.append(_ep(i, f"Part {i}: the long road", chapters=chapters,
                       notes="Notes on the road, the weather and the company."))
    lib.store_feed(fid, ParsedFeed(title="Wordy Hour", episodes=eps))
    yield lib
    lib.close()


def _words(text):
    return text.casefold().replace(":", " ").split()


def _keys(hits):
    return [(h.kind, h.episode_id, h.start, h.title, h.snippet, h.score) for h in hits]


def test_a_word_in_most_chapters_still_finds_chapters_that_have_it(wordy_lib):
    wordy_lib.rank_caps = {"chapters_fts": 12, "episodes_fts": 6}
    hits = wordy_lib.search("the", limit=10)
    assert len(hits) == 10
    assert all("the" in _words(h.title) or "[the]" in h.snippet.casefold() for h in hits)
    chapters = wordy_lib.search("the", kinds=("chapter",), limit=50)
    assert chapters and all("the" in _words(h.title) and "[the]" in h.snippet.casefold() for h in chapters)
    # only the matches stored last were ranked, best (bm25) first
    newest = {ep.id for ep in wordy_lib.episodes()[:6]}
    assert {h.episode_id for h in chapters} <= newest
    assert [h.score for h in chapters] == sorted(h.score for h in chapters)
    episodes = wordy_lib.search("the", kinds=("episode",))
    assert episodes and all(h.kind == "episode" for h in episodes)


def test_a_rare_word_ranks_exactly_as_without_caps(wordy_lib):
    uncapped = {q: wordy_lib.search(q) for q in ("lighthouse", "logbook keeper", "lightho", "river hill")}
    wordy_lib.rank_caps = {"chapters_fts": 12, "episodes_fts": 6}
    assert _keys(wordy_lib.search("lighthouse")) == _keys(uncapped["lighthouse"])
    assert [h.title for h in uncapped["lighthouse"]] == [
        f"The lighthouse keeper's logbook {i}" for i in (3, 13, 23, 33)]
    for q, hits in uncapped.items():
        if q != "river hill":  # in every episode: past the chapter cap
            assert _keys(wordy_lib.search(q)) == _keys(hits), q


def test_a_common_word_typed_last_still_matches_as_typed_past_the_cap(wordy_lib):
    wordy_lib.rank_caps = {"chapters_fts": 12, "episodes_fts": 6}
    hits = wordy_lib.search("river the", kinds=("chapter",))
    assert hits and {h.title for h in hits} == {"Down the river and over the hill"}
    assert all("[river]" in h.snippet and "[the]" in h.snippet for h in hits)


def test_tied_chapters_keep_one_order_whether_or_not_the_cap_cuts(wordy_lib):
    # the same chapter title in all forty episodes: every match scores the same
    uncapped = wordy_lib.search("river hill", kinds=("chapter",), limit=100)
    assert len(uncapped) == 40 and len({h.score for h in uncapped}) == 1
    wordy_lib.rank_caps = {"chapters_fts": 12, "episodes_fts": 6}
    capped = wordy_lib.search("river hill", kinds=("chapter",), limit=100)
    assert len(capped) == 12 and len({h.score for h in capped}) == 1
    kept = {h.episode_id for h in capped}
    assert [h.episode_id for h in capped] == [h.episode_id for h in uncapped if h.episode_id in kept]
    assert all(h.snippet == "Down the [river] and over the [hill]" for h in capped + uncapped)


def test_each_synonym_group_is_searched_once_per_distinct_stemmed_phrase():
    # A plural alias ("LLMs") stems to its singular: as a second phrase it
    # would find nothing more and count the group twice in the ranking.
    import re
    import sqlite3

    from ibplayer.infra.store import _synonym_groups, fts_query

    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize='porter unicode61 remove_diacritics 2')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)")

    def tokens(text):
        db.execute("DELETE FROM t")
        db.execute("INSERT INTO t(rowid, x) VALUES (1, ?)", (text,))
        return tuple(term for (term,) in db.execute("SELECT term FROM v ORDER BY offset"))

    groups = _synonym_groups()
    assert any(len({tokens(a) for a in aliases}) < len(aliases) for aliases in groups.values())  # plurals exist
    for key, aliases in groups.items():
        phrases = re.findall(r'"([^"]*)"', fts_query(" ".join(key), synonyms=True, prefix=False))
        assert len(phrases) == len(set(map(tokens, phrases))), key  # none twice
        assert set(map(tokens, phrases)) == set(map(tokens, aliases)), key  # none lost
