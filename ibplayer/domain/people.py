"""Guests and hosts from episode titles, show notes and Podcasting 2.0 tags.

Pure Python (no Qt, no network).  Everything here runs once per episode during
a feed ingest, so it is written to be cheap: a handful of precompiled regexes
and short token scans, no per-call compilation.

Names are matched loosely: ``person_key`` folds case, diacritics, hyphens and
dots, so "Ravid Shwartz Ziv" and "Ravid Shwartz-Ziv" are one person.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from ibplayer.domain.models import Person

__all__ = [
    "episode_number",
    "guests_from_title",
    "topic_from_title",
    "guests_from_description",
    "hosts_from",
    "extract_guests",
    "same_person",
    "person_key",
    "contributor_persons",
    "MAX_PERSONS",
]

# At most this many people are read per episode (or per show for hosts): a
# hostile feed may list 20,000 <podcast:person> tags on one item.
MAX_PERSONS = 100

# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------

# Lower-case particles allowed inside a name ("Ludwig van Beethoven").
_PARTICLES = frozenset(
    "van von de der den del della di da das dos du la le ter ten zu bin ibn al el y".split()
)

# Capitalised words that make a phrase a topic, not a person.  Title Case
# topics ("Deep Learning Systems", "Open Problems") look like names, so any
# of these words rejects the candidate.  Keep to words that are not plausible
# given names or surnames.
_NOT_NAME_WORDS = frozenset(
    """
    the a an of and or for in on at to with from by into about over under vs
    part episode ep bonus special live rerun encore trailer intro interview
    ai ml llm llms agi gpu gpus
    learning models model language languages intelligence artificial machine
    machines deep neural network networks data science sciences system systems
    future world worlds open problems problem questions question theory
    reasoning scale scaling laws law agents agent robots robotics research
    generative diffusion transformers transformer vision computer computers
    memory compression benchmark benchmarks alignment safety inference
    training review peer economics economy jobs work health healthcare
    medicine biology physics chemistry math mathematics thermodynamics
    principles hidden engine inside outside beyond after before why what how
    when where who will can should is are was were our your my their its
    new old next last first second third final big small great hard easy
    thoughts takes notes dive reflections lessons update updates recap
    conversation conversations chat talk talks panel qa ama
    podcast show media network studios productions radio team inc llc ltd
    labs lab university institute company corp group
    information bottleneck
    fire ice
    today tonight hello hi welcome i'm i’m we're we’re you're you’re
    """.split()
)


def _strip_diacritics(s: str) -> str:
    nfkd = unicodedata.normalize("NFKD", s)
    return "".join(c for c in nfkd if not unicodedata.combining(c))


_FOLD_EXTRA = str.maketrans({"ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d",
                             "ı": "i", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe"})
_DASHES_RE = re.compile(r"[\-\u2010-\u2015\u2212]+")
_KEY_DROP_RE = re.compile(r"[.\u2019'`\"]")
_SPACES_RE = re.compile(r"\s+")


def person_key(name: str) -> str:
    """Normalised key for a person's name.

    Casefolds, strips diacritics, turns hyphens into spaces, drops dots and
    apostrophes and collapses whitespace: "Jürgen  Schmidhuber" and
    "jurgen schmidhuber" share a key, as do "Shwartz-Ziv" and "Shwartz Ziv".
    """
    if len(name) <= 200:
        return _cached_key(name)
    return _fold(name)


def _fold(text: str) -> str:
    s = _strip_diacritics(text.translate(_FOLD_EXTRA)).casefold()
    s = _DASHES_RE.sub(" ", s)
    s = _KEY_DROP_RE.sub("", s)
    return _SPACES_RE.sub(" ", s).strip()


# Names recur in every episode of a feed (hosts, regular guests): cache their keys.
_cached_key = lru_cache(maxsize=4096)(_fold)


_PAREN_RE = re.compile(r"\([^()]*\)")


def same_person(a: str, b: str) -> bool:
    """True when two spellings name the same person.

    Beyond ``person_key`` equality this ignores a parenthesised nickname and
    middle initials ("Chieh-Hsin (Jesse) Lai" is not folded, but
    "Yann A. LeCun" == "Yann LeCun") and spacing inside a hyphenated surname
    ("Shwartz-Ziv" == "ShwartzZiv").
    """
    ka, kb = person_key(a), person_key(b)
    if not ka or not kb:
        return False
    if ka == kb:
        return True
    la, lb = _loose_key(a), _loose_key(b)
    return bool(la) and la == lb


def _loose_key(s: str) -> str:
    """``person_key`` without a parenthesised nickname, initials and spaces."""
    return _cached_loose(s) if len(s) <= 200 else _loose(s)


def _loose(s: str) -> str:
    return "".join(w for w in person_key(_PAREN_RE.sub(" ", s)).split() if len(w) > 1)


_cached_loose = lru_cache(maxsize=4096)(_loose)


_TOKEN_OK_CHARS = frozenset("-'’.")


def _is_cap_word(tok: str) -> bool:
    """A capitalised name word: "Jürgen", "Shwartz-Ziv", "O'Brien", "LeCun"."""
    if len(tok) < 2 or not tok[0].isupper():
        return False
    if not any(c.islower() for c in tok):
        return False  # "AI", "NYU", "MIT"
    if tok.endswith(".") or tok.endswith("-"):
        return False
    if tok[-2:] in ("'m", "’m", "'s", "’s") or tok[-3:] in ("'re", "’re", "'ve", "’ve", "'ll", "’ll"):
        return False  # "I'm", "We're": not a name
    for c in tok:
        if not (c.isalpha() or c in _TOKEN_OK_CHARS):
            return False
    # Each hyphen part must itself be capitalised: "Shwartz-Ziv", not "Local-first".
    if "-" in tok:
        for part in tok.split("-"):
            if not part or not part[0].isupper():
                return False
    return True


# Titles that may stand without a period; the rest ("Hon.", "Gen.") need one
# ("Hon Weng Chong" is a name).
_HONORIFIC = r"(?:(?:Dr|Prof|Professor|Mr|Mrs|Ms|Mx|Sir|Dame)\.?|(?:Rev|Fr|Hon|Sen|Rep|Gen|Capt|Col|Lt)\.)"
_HONORIFIC_RE = re.compile(r"^\s*(?:" + _HONORIFIC + r"\s+)+")
_HONORIFIC_ANY_RE = re.compile(r"(?:^|[,&(]|\band)\s*" + _HONORIFIC + r"\s+(?=[A-Z])")


def _strip_honorific(name: str) -> str:
    """ "Dr. Hana Ito" -> "Hana Ito" (stored names carry no honorific)."""
    return _HONORIFIC_RE.sub("", name, count=1) if name[:1] in "DPMSRFHGCL " else name


def _is_initial(tok: str) -> bool:
    """ "J." or "J.R." style initials."""
    return len(tok) >= 2 and tok[0].isupper() and tok.endswith(".") and all(
        c.isupper() or c == "." for c in tok
    ) and tok.count(".") * 2 == len(tok)


def _is_name(s: str) -> bool:
    """2-4 capitalised words (plus particles and initials), no topic words."""
    toks = s.split()
    if not 2 <= len(toks) <= 6:
        return False
    caps = initials = 0
    for i, tok in enumerate(toks):
        low = tok.casefold().strip(".")
        if low in _NOT_NAME_WORDS:
            return False
        if _is_cap_word(tok):
            caps += 1
        elif _is_initial(tok):
            initials += 1
            if i == len(toks) - 1:
                return False
        elif tok in _PARTICLES:
            if i == 0 or i == len(toks) - 1:
                return False
        else:
            return False
    return caps >= 1 and 2 <= caps + initials <= 4


# ---------------------------------------------------------------------------
# Titles
# ---------------------------------------------------------------------------

_EPNUM_PREFIX_RE = re.compile(
    r"^\s*[\[(]?\s*(?:ep(?:isode)?\.?|#|no\.)\s*(\d{1,5})\s*[\])]?\s*(?:[:.|\-\u2013\u2014]\s*)?",
    re.IGNORECASE,
)
_EPNUM_ANY_RE = re.compile(
    r"(?:\b(?:ep(?:isode)?\.?|no\.)\s*|#)(\d{1,5})\b",
    re.IGNORECASE,
)
_EPNUM_SUFFIX_RE = re.compile(
    r"\s*(?:[|:\-\u2013\u2014]\s*)?[\[(]?\s*(?:ep(?:isode)?\.?|#)\s*\d{1,5}\s*[\])]?\s*$",
    re.IGNORECASE,
)
# Trailing / leading decoration that is neither topic nor guest.
_DECOR_RE = re.compile(
    r"""\s*(?:[\-\u2013\u2014|:,]\s*)?
        [\[(]\s*(?:part|pt\.?)\s*(?:\d+|[IVX]+\b)(?:\s*of\s*\d+)?\s*[\])]\s*$
      | \s*[\-\u2013\u2014|:,]\s*(?:part|pt\.?)\s*(?:\d+|[IVX]+\b)(?:\s*of\s*\d+)?\s*$
      | \s*[\[(]\s*(?:rerun|repost|replay|encore|bonus|live|video|audio|re-?release|best\ of[^)\]]*)\s*[\])]\s*$
    """,
    re.IGNORECASE | re.VERBOSE,
)
_DECOR_PREFIX_RE = re.compile(
    r"^\s*[\[(]\s*(?:rerun|repost|replay|encore|bonus|live|video|audio)\s*[\])]\s*",
    re.IGNORECASE,
)
_PART_ONLY_RE = re.compile(r"^\s*(?:part|pt\.?)\s*\d+\s*[:.\-\u2013\u2014]?\s*", re.IGNORECASE)
_AFFIL_NOT_RE = re.compile(
    r"^(?:part|pt\.?)\s*(?:\d+|[IVX]+\b)|^\d+$|^(?:rerun|repost|replay|encore|bonus|live|video|audio)$",
    re.IGNORECASE,
)

_WITH_RE = re.compile(r"(?<!\w)with\s+", re.IGNORECASE)
# Separator between the topic and a trailing guest, or a leading name and topic.
_SEP = r"(?:\s+[\-\u2013\u2014|]\s+|\s*[\u2013\u2014]\s*|[:?!]\s+|\s+-\s*(?=\S))"
_TAIL_SEP_RE = re.compile(_SEP)
_HEAD_NAME_RE = re.compile(r"^(?P<name>[^\-\u2013\u2014|:()]+?)\s*(?:\s[\-\u2013\u2014|]|[\u2013\u2014])\s*(?P<rest>\S.*)$")
_ON_RE = re.compile(r"(?:^|[:|]\s+|\s[\-\u2013\u2014]\s+)(?P<name>[^:|()\-\u2013\u2014]+?)\s+on\s+(?=\S)")
_LIST_SPLIT_RE = re.compile(r"\s*,\s*(?:and\s+|&\s*)?|\s+and\s+|\s*&\s*", re.IGNORECASE)
_AFFIL_SPLIT_RE = re.compile(r"\s*[/,;]\s*")


def episode_number(title: str) -> int | None:
    """Episode number from a title: "EP12: …", "Ep. 12", "#12", "Episode 12:"."""
    m = _EPNUM_PREFIX_RE.match(title)
    if m is None:
        m = _EPNUM_ANY_RE.search(title)
    return int(m.group(1)) if m else None


# "2.22: Title", "3.4 Title": season.episode numbering before the title.
_DOTTED_NUM_RE = re.compile(r"^\s*\d{1,4}(?:\.\d{1,4})+\s*(?:[:|\-\u2013\u2014]\s*|\s+)(?=\S)")
# "(Part I, with A)" / "(with A and B)": the guest clause inside brackets.
_PAREN_WITH_RE = re.compile(
    r"\s*[\[(]\s*(?:(?:part|pt\.?)\s*(?:\d+|[IVX]+)\s*[,;:\-\u2013\u2014]\s*)?(with\s+[^()\[\]]+?)\s*[\])]\s*$",
    re.IGNORECASE,
)


def _strip_decoration(title: str) -> str:
    s = title.strip()
    s = _DOTTED_NUM_RE.sub("", s, count=1)
    s = _EPNUM_PREFIX_RE.sub("", s, count=1)
    if "with" in s.lower() and s[-1:] in ")]":
        s = _PAREN_WITH_RE.sub(r" \1", s, count=1)
    s = _DECOR_PREFIX_RE.sub("", s, count=1)
    prev = None
    while prev != s:
        prev = s
        s = _DECOR_RE.sub("", s).strip()
        s = _EPNUM_SUFFIX_RE.sub("", s).strip()
    return s


def _split_top_level(s: str) -> list[str] | None:
    """Split a guest list on ",", "and", "&" outside parentheses."""
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return None
        elif depth == 0:
            m = _LIST_SPLIT_RE.match(s, i)
            if m and m.end() > i and (c in ",&" or c.isspace()):
                parts.append(s[start:i])
                start = i = m.end()
                continue
        i += 1
    if depth != 0:
        return None
    parts.append(s[start:])
    return [p.strip() for p in parts]


_ROLE_WORDS = frozenset(
    """
    ceo cto cfo coo cso cmo cpo cio vp svp evp founder co-founder cofounder founders co-founders
    president vice director professor prof assistant associate senior junior principal staff lead
    head chief manager partner managing general chair chairman chairwoman researcher research
    scientist engineer author writer editor journalist host co-host student postdoc fellow phd md
    candidate founding member advisor adviser investor owner executive officer analyst consultant
    designer developer lecturer former ex emeritus visiting technical product and & the a an
    """.split()
)
# A role that is held in an organisation ("CEO of Acme"); "Professor of
# Physics" names a field, so "of" only counts after these.
_ORG_ROLE_WORDS = frozenset(
    "ceo cto cfo coo cso cmo cpo cio vp svp evp founder co-founder cofounder president director "
    "head chief chair chairman chairwoman partner owner lead executive officer member".split()
)
_ROLE_AT_RE = re.compile(r"^(?P<role>.+?)\s+(?P<prep>at|of|@)\s+(?P<org>\S.*)$", re.IGNORECASE)


def _is_role(words: list[str]) -> bool:
    return bool(words) and all(w.casefold().strip(".,") in _ROLE_WORDS for w in words)


def _affiliations(inner: str) -> list[str]:
    """Organisations in "(Org A / Org B)"; roles are not organisations:
    "(co-founder, CEO)" gives none, "(CEO of Acme)" and "(researcher at
    Acme)" give Acme."""
    out = []
    for a in _AFFIL_SPLIT_RE.split(inner.strip()):
        a = a.strip(" .")
        if not a:
            continue
        words = a.split()
        if _is_role(words):
            continue
        m = _ROLE_AT_RE.match(a)
        if m:
            role = m.group("role").split()
            if _is_role(role) and (
                m.group("prep").lower() != "of" or any(w.casefold() in _ORG_ROLE_WORDS for w in role)
            ):
                a = m.group("org").strip(" .")
        if a and a not in out:
            out.append(a)
    return out


_ONE_PERSON_RE = re.compile(r"^(?P<name>[^()]+?)\s*(?:\((?P<aff>[^()]*)\))?$")


_POSTNOMINAL_RE = re.compile(
    r",?\s+(?:Ph\.?\s?D\.?|M\.?D\.?|D\.?Phil\.?|MBA|M\.?Sc\.?|J\.?D\.?|Esq\.?)(?=\s*(?:[,()&]|\band\b|$))"
)


def _parse_people(s: str) -> list[Person] | None:
    """Parse "A (X), B and C (Y/Z)" completely, or return None."""
    if "D" in s or "MBA" in s or "Sc" in s or "Esq" in s:
        s = _POSTNOMINAL_RE.sub("", s)
    s = s.strip().rstrip(".!?")
    if not s:
        return None
    parts = _split_top_level(s)
    if not parts:
        return None
    people: list[Person] = []
    for part in parts:
        m = _ONE_PERSON_RE.match(part)
        if m is None:
            return None
        name = _strip_honorific(m.group("name").strip())
        if not _is_name(name):
            return None
        aff = m.group("aff")
        affs = [] if aff is None or _AFFIL_NOT_RE.match(aff.strip()) else _affiliations(aff)
        people.append(Person(name=name, affiliations=affs, role="guest"))
    # "with A and B (X)": a single trailing affiliation is shared.
    if len(people) > 1 and people[-1].affiliations and not any(
        p.affiliations for p in people[:-1]
    ):
        for p in people[:-1]:
            p.affiliations = list(people[-1].affiliations)
    return people


def _parse_people_prefix(s: str) -> tuple[list[Person], int] | None:
    """A guest list at the start of ``s``, ending at end or a separator."""
    whole = _parse_people(s)
    if whole is not None:
        return whole, len(s)
    for m in _TAIL_SEP_RE.finditer(s):
        people = _parse_people(s[: m.start()])
        if people is not None:
            return people, m.start()
    return None


_TOPIC_TRIM_RE = re.compile(r"^[\s\-\u2013\u2014|:,;]+|[\s\-\u2013\u2014|:,;]+$")
_JOIN_TRIM_RE = re.compile(r"[\s\-\u2013\u2014|:,;]+$")


def _join_topic(before: str, after: str) -> str:
    """Glue the topic text on both sides of a removed guest clause."""
    before = before.strip()
    after = _TOPIC_TRIM_RE.sub("", after)
    if not after:
        return before
    if not before:
        return after
    head = _JOIN_TRIM_RE.sub("", before)
    return f"{head}: {after}" if head else after


# A parsed title: (guests, strong, topic_start, topic_end) where topic is the
# part of the cleaned title outside the guest clause.
def _analyse_title(title: str) -> tuple[list[Person], bool, str]:
    s = _strip_decoration(title)
    if not s:
        return [], True, ""

    # 1. "… with A (X)" — try the last "with" first ("Playing with Fire with …").
    withs = list(_WITH_RE.finditer(s))
    for m in reversed(withs):
        got = _parse_people_prefix(s[m.end():])
        if got is None:
            continue
        people, end = got
        return people, True, _join_topic(s[: m.start()], s[m.end() + end:])

    # 2. "Topic - A (X)" with no "with": the guest needs an affiliation.
    seps = list(_TAIL_SEP_RE.finditer(s))
    for m in reversed(seps):
        tail = s[m.end():]
        people = _parse_people(tail)
        if people is not None:
            strong = any(p.affiliations for p in people) or bool(_HONORIFIC_ANY_RE.search(tail))
            return people, strong, s[: m.start()]

    # 3. "A (X) - Topic" / "Jürgen Schmidhuber - Part 2: Topic".
    m = _HEAD_NAME_RE.match(s)
    if m:
        people = _parse_people(m.group("name"))
        if people is not None:
            rest = _PART_ONLY_RE.sub("", m.group("rest"), count=1)
            return people, False, rest
    # "A (X): Topic" — colon only when an affiliation makes it a person.
    if ":" in s:
        head, _, rest = s.partition(":")
        people = _parse_people(head)
        if people is not None and (any(p.affiliations for p in people) or _HONORIFIC_ANY_RE.search(head)):
            return people, True, rest.strip()
    # "Prof. A (X / Y)" alone: a title that is only a person.
    if _HONORIFIC_ANY_RE.match(s):
        people = _parse_people(s)
        if people is not None:
            return people, True, ""

    # 4. "Topic: A on Topic" / "A on Topic".
    for m in _ON_RE.finditer(s):
        people = _parse_people(m.group("name"))
        if people is not None:
            return people, False, _join_topic(s[: m.start()], s[m.end():])

    return [], True, s


def guests_from_title(title: str) -> list[Person]:
    """Guests named in an episode title (see module tests for the shapes)."""
    return _analyse_title(title)[0]


def topic_from_title(title: str) -> str:
    """The title without episode number, guest clause and "(Part N)" decoration."""
    topic = _analyse_title(title)[2]
    topic = _SPACES_RE.sub(" ", topic)
    topic = _TOPIC_TRIM_RE.sub("", topic)
    # "Topic: " left over from "EP9: Topic: Maria Gomez on …" keeps its text.
    return topic or _strip_decoration(title)


# ---------------------------------------------------------------------------
# Descriptions
# ---------------------------------------------------------------------------

_NAME_WORD = r"(?:[^\W\d_][\w'’.\-]*)"
_NAME_RUN = rf"{_NAME_WORD}(?:\s+{_NAME_WORD}){{1,5}}"
# Openings that introduce the guest.
_DESC_INTRO_RE = re.compile(
    rf"""(?:
        \b(?:talk(?:ed|s|ing)?|spoke|speak(?:s|ing)?|chat(?:ted|s)?|sit(?:s)?\ down|sat\ down|
           sit|sat|conversation|interview(?:ed)?|joined|joins|catch(?:es)?\ up|caught\ up)
           (?:\s+(?:today|again|this\ week|here))?\s+(?:with|by)\s+
      | \b(?:we|I)\s+(?:host(?:ed)?|welcome[ds]?|interview(?:ed)?|have|had)\s+
      | \b(?:[Oo]ur|[Mm]y)\s+guests?(?:\s+(?:today|tonight|this\ week|on\ this\ episode))?(?:\s+(?:is|are))?\s*:?\s+
      | \bguest[:\s]\s*
    )(?:{_HONORIFIC}\s+)?(?P<name>{_NAME_RUN})""",
    re.VERBOSE,
)
_DESC_LEAD_RE = re.compile(rf"^\s*(?:{_HONORIFIC}\s+)?(?P<name>{_NAME_RUN})")
# "Priya Nair of Loop Systems", "… from Loop Systems": right after the name.
_OF_ORG_RE = re.compile(r"\s+(?:of|from)\s+(?:the\s+)?(?P<org>[A-Z0-9][\w&.'’\-]*(?:\s+(?:(?:of|for|&)\s+)?[A-Z0-9][\w&.'’\-]*)*)")
_LEAD_FOLLOW_RE = re.compile(
    r"\s*,|\s+(?:is|was|has|helped|joins|joined|returns|leads|runs|founded|co-founded)\b"
)
# "at ORG" always names an organisation; "of ORG" only after a role that is
# held in an organisation ("CEO of X"), not a field ("Professor of Physics").
_ORG_AFTER_RE = re.compile(
    r"(?:\bat|(?P<role>\b(?:[Cc]o-?)?[Ff]ounders?|\bC[EOTS]O|\b[Pp]resident|\b[Cc]hair(?:man|woman)?"
    r"|\b[Pp]artner|\b[Oo]wner|\b[Ll]eads?)(?:\s+(?:and|&)\s+\S+)*\s+of)"
    r"\s+(?:the\s+)?(?P<org>[A-Z0-9][\w&.'’\-]*(?:\s+(?:(?:of|for|&|de|du)\s+)?[A-Z0-9][\w&.'’\-]*)*)"
)
_FORMERLY_RE = re.compile(r"\(\s*(?:formerly|previously|ex\.?|née)\b[^)]*\)", re.IGNORECASE)
_CLAUSE_END_RE = re.compile(
    r"\b(?:joins|joined|join|talks|talked|discusses|discussed|explains|shares|walks|tells|"
    r"about|to\s+talk|to\s+discuss|for\s+a)\b|[.;!?](?:\s|$)|\s[\-\u2013\u2014]\s"
)
_ORG_STOP = frozenset("The A An This That His Her Their Our We He She It In On".split())


def _trim_name_run(run: str) -> str | None:
    """Longest leading sub-run of ``run`` that is a name (2+ words)."""
    toks = run.split()
    # Cut trailing punctuation on the last token we keep.
    for n in range(min(len(toks), 6), 1, -1):
        cand = " ".join(toks[:n]).rstrip(",.;:'’")
        if cand.endswith("'s") or cand.endswith("’s"):
            cand = cand[:-2]
        if _is_name(cand):
            # Do not cut a name in the middle: the next word must not extend it.
            return cand
    return None


def _orgs_in(clause: str) -> list[str]:
    out: list[str] = []
    for m in _ORG_AFTER_RE.finditer(clause):
        org = re.split(r"['’]s\b", m.group("org"), maxsplit=1)[0].strip(" .,'’")
        words = org.split()
        while words and words[-1] in ("of", "for", "&", "de", "du"):
            words.pop()
        org = " ".join(words)
        if not org or org in _ORG_STOP or org.split()[0] in _ORG_STOP:
            continue
        if org not in out:
            out.append(org)
    return out


def guests_from_description(text: str) -> list[Person]:
    """The guest introduced in the opening of the show notes, if any.

    Handles "Sam Ito, Co-Founder and CEO of Example Labs (formerly X), joins
    us…", "Oded Rechavi is a biologist at Tel Aviv University…" and "we sit down
    with Wenhu Chen, research scientist at Meta…".  Only full names (2+ words)
    count: "we talk with Qichao, the founder…" yields nothing.
    """
    if not text:
        return []
    head = _SPACES_RE.sub(" ", text[:700]).strip()
    head = _FORMERLY_RE.sub("", head)
    candidates: list[tuple[int, str]] = []
    m = _DESC_LEAD_RE.match(head)
    if m:
        name = _trim_name_run(m.group("name"))
        at = m.start("name")
        # A text that opens with a name must go on to describe them.
        if name and head.startswith(name, at) and _LEAD_FOLLOW_RE.match(head, at + len(name)):
            candidates.append((at, name))
    for m in _DESC_INTRO_RE.finditer(head):
        name = _trim_name_run(m.group("name"))
        if name:
            candidates.append((m.start("name"), name))
    if not candidates:
        return []
    candidates.sort()
    pos, name = candidates[0]
    rest = head[pos + len(name):]
    end = _CLAUSE_END_RE.search(rest)
    # The appositive / predicate clause describing the guest.
    clause = rest[: end.start()] if end and end.start() > 0 else rest[:200]
    affs = _orgs_in(clause)
    om = _OF_ORG_RE.match(rest)
    if om:
        org = om.group("org").strip(" .,'’")
        if org and org.split()[0] not in _ORG_STOP and org not in affs:
            affs.insert(0, org)
    out = [Person(name=name, affiliations=affs, role="guest")]
    # "My guests are Ana Lee and Bo Kim": the names listed right after.
    more = rest
    while len(out) < 4:
        mm = _MORE_NAME_RE.match(more)
        if not mm:
            break
        other = _trim_name_run(mm.group("name"))
        if not other or not mm.group("name").startswith(other):
            break
        if any(w.casefold() in _ROLE_WORDS for w in other.split()):
            break  # "Ana Lee, Chief Scientist at Acme": a role, not a second guest
        if "," in more[: mm.start("name")] and not re.match(
            r"\s*(?:,\s*(?:and\s+)?|\s+and\s+|\s*&\s*)[A-Z]", more[mm.start("name") + len(other) :]
        ):
            break  # "A, B" only in a list that goes on ("A, B and C")
        out.append(Person(name=other, role="guest"))
        more = more[mm.start("name") + len(other) :]
    return out


_MORE_NAME_RE = re.compile(rf"(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*)(?:{_HONORIFIC}\s+)?(?P<name>{_NAME_RUN})")


# ---------------------------------------------------------------------------
# Hosts and the combined guest extraction
# ---------------------------------------------------------------------------

_HOST_ROLES = frozenset({"host", "co-host", "cohost", "guest host", "guest-host"})
_GUEST_ROLES = frozenset({"guest"})
_AUTHOR_SPLIT_RE = re.compile(r"\s*(?:,|;|&|\+|\band\b|\bwith\b)\s*", re.IGNORECASE)
_HOSTED_BY_RE = re.compile(r"\b(?:hosted|presented|co-?hosted)\s+by\s+", re.IGNORECASE)
_NAME_SCAN_RE = re.compile(r"[^\s,;&]+|,|;|&")


def contributor_persons(item: Iterable[dict], channel: Iterable[dict] = ()) -> list[dict]:
    """Podlove ``<atom:contributor>`` entries (as feedparser gives them:
    ``name``, ``href``, maybe ``img``) as ``<podcast:person>``-style dicts.

    The channel's contributors are the show's team: on an item they are
    hosts; everyone else on the item is a guest.  ``href``/``uri`` and
    ``img``/``image`` are kept for the guest card."""
    team = [(c.get("name") or "").strip() for c in list(channel or ())[:MAX_PERSONS]]
    team = [t for t in team if t]
    out: list[dict] = []
    for c in list(item or ())[:MAX_PERSONS]:
        name = (c.get("name") or "").strip()
        if not name:
            continue
        d = {"name": name, "role": "host" if any(same_person(name, t) for t in team) else "guest"}
        href = c.get("href") or c.get("uri")
        img = c.get("img") or c.get("image")
        if href:
            d["href"] = str(href)
        if img:
            d["img"] = str(img)
        out.append(d)
    return out


def _role_of(p: dict) -> str:
    """Podcasting 2.0: a <podcast:person> without role is a host."""
    role = (p.get("role") or "host").strip().casefold()
    return role


def _names_after(text: str) -> list[str]:
    """Names listed at the start of ``text``: "A, B and C, featuring …" -> [A, B, C]."""
    names: list[str] = []
    cur: list[str] = []
    for tok in _NAME_SCAN_RE.findall(text[:300]):
        if tok in (",", ";", "&") or tok.casefold() == "and":
            if cur:
                names.append(" ".join(cur))
                cur = []
            if tok in (";",):
                break
            continue
        clean = tok.rstrip(".!?:)")
        ends = clean != tok and not _is_initial(tok)
        if _is_cap_word(clean) or _is_initial(tok) or (cur and clean in _PARTICLES):
            cur.append(clean)
            if ends:
                break
        else:
            break
    if cur:
        names.append(" ".join(cur))
    return [n for n in names if _is_name(n)]


def _add_person(out: list[Person], person: Person) -> None:
    for p in out:
        if same_person(p.name, person.name):
            p.href = p.href or person.href
            p.image = p.image or person.image
            for a in person.affiliations:
                if a not in p.affiliations:
                    p.affiliations.append(a)
            return
    out.append(person)


def hosts_from(author: str | None, persons: Iterable[dict], notes_text: str) -> list[Person]:
    """Hosts from ``itunes:author``, host ``<podcast:person>`` tags and "hosted by …".

    ``author`` may list several people ("A and B", "A, B & C"); parts that are
    not person names (a network, the show title) are ignored.
    """
    out: list[Person] = []
    for p in _capped(persons):
        if len(out) >= MAX_PERSONS:
            break
        name = (p.get("name") or "").strip()
        if name and _role_of(p) in _HOST_ROLES:
            _add_person(out, Person(name=name, role="host", href=p.get("href") or None,
                                    image=p.get("img") or p.get("image") or None))
    if author:
        for part in _AUTHOR_SPLIT_RE.split(author):
            part = part.strip()
            if _is_name(part):
                _add_person(out, Person(name=part, role="host"))
    if notes_text:
        for m in _HOSTED_BY_RE.finditer(notes_text):
            for name in _names_after(notes_text[m.end():]):
                _add_person(out, Person(name=name, role="host"))
    return out


def _mentions(text: str, name: str) -> bool:
    """Loose check that ``text`` mentions ``name`` (full name or surname)."""
    if name in text:
        return True
    key = person_key(name)
    tkey = _fold(text[:5000])
    if key in tkey:
        return True
    last = key.split()[-1]
    return len(last) > 2 and re.search(rf"\b{re.escape(last)}\b", tkey) is not None


_POSSESSIVE_RE = re.compile(r"^(?P<name>[^'’:|()\-\u2013\u2014]{3,60}?)['’]s\s+\S")


def _capped(persons: Iterable[dict] | None) -> list[dict]:
    """At most 20 × MAX_PERSONS person dicts are looked at (linear, bounded)."""
    out = []
    for p in persons or ():
        if len(out) >= 20 * MAX_PERSONS:
            break
        if isinstance(p, dict):
            out.append(p)
    return out


def extract_guests(
    title: str,
    description_text: str,
    hosts: Iterable[Person],
    persons: Iterable[dict],
) -> list[Person]:
    """Guests of one episode, best source first, never a host, deduplicated.

    1. ``<podcast:person>`` tags with a guest role (a tag without role is a
       host, per the Podcasting 2.0 spec);
    2. the title;
    3. the opening of the description.
    """
    persons = _capped(persons)
    # Hosts of the show, and people tagged as hosts on this item, are never
    # guests.  Matching is by cached keys (no per-pair work per episode).
    host_keys: set[str] = set()
    for name in [h.name for h in hosts or ()] + [
        (p.get("name") or "") for p in persons if _role_of(p) in _HOST_ROLES
    ]:
        if name.strip():
            host_keys.add(person_key(name))
            host_keys.add(_loose_key(name))
    host_keys.discard("")

    def is_host(name: str) -> bool:
        return person_key(name) in host_keys or _loose_key(name) in host_keys

    out: list[Person] = []
    for p in persons:
        if len(out) >= MAX_PERSONS:
            break
        name = (p.get("name") or "").strip()
        if name and _role_of(p) in _GUEST_ROLES and not is_host(name):
            _add_person(out, Person(name=name, role="guest", href=p.get("href") or None,
                                    image=p.get("img") or p.get("image") or None))
    if out:
        # Fill in affiliations from the title when it names the same people.
        for g in guests_from_title(title):
            for p in out:
                if same_person(p.name, g.name) and not p.affiliations:
                    p.affiliations = list(g.affiliations)
        return out

    people, strong, _ = _analyse_title(title)
    if not people and description_text:
        # "Jane Doe's Quest to Build…": a guest only when the notes name them.
        m = _POSSESSIVE_RE.match(_strip_decoration(title))
        if m:
            name = _strip_honorific(m.group("name"))
            if _is_name(name) and person_key(name) in _fold(description_text[:2000]):
                people, strong = [Person(name=name, role="guest")], True
    if people and not strong and description_text:
        # Weak title shapes ("Name - Topic", "Name on Topic") must be confirmed
        # by the notes, which keeps Title Case topic phrases out.
        people = [p for p in people if _mentions(description_text, p.name)]
    for p in people:
        if not is_host(p.name):
            _add_person(out, p)
    if out:
        return out
    for p in guests_from_description(description_text):
        if not is_host(p.name):
            _add_person(out, p)
    return out
