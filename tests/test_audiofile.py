"""Embedded chapters and durations, read from real small files made by ffmpeg."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from mutagen.id3 import CHAP, ID3, TIT2
from mutagen.mp4 import MP4
from mutagen.oggopus import OggOpus
from mutagen.oggvorbis import OggVorbis

from ibplayer.infra.audiofile import AudioInfo, read_audio_info, write_id3_chapters

FFMPEG = shutil.which("ffmpeg")


@pytest.fixture(autouse=True)
def _need_ffmpeg():
    # a failure, not a skip: the CI installs ffmpeg to make the test audio
    assert FFMPEG, "ffmpeg is required to make the test audio"

SINE = ["-f", "lavfi", "-i", "sine=frequency=440:duration=6"]
CHAPTERS = [(0.0, 1.5, "Intro"), (1.5, 4.25, "Information theory 🧠"), (4.25, 6.0, "Outro")]


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-v", "error", "-y", *args], check=True, timeout=30)


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("media")
    out = {
        "mp3": d / "ep.mp3",
        "m4a": d / "ep.m4a",
        "ogg": d / "ep.ogg",
        "opus": d / "ep.opus",
    }
    ffmpeg(*SINE, "-ac", "1", "-ar", "8000", "-b:a", "16k", str(out["mp3"]))
    meta = d / "chapters.txt"
    meta.write_text(
        ";FFMETADATA1\n"
        + "".join(
            f"[CHAPTER]\nTIMEBASE=1/1000\nSTART={int(s * 1000)}\nEND={int(e * 1000)}\ntitle={t}\n"
            for s, e, t in CHAPTERS
        ),
        encoding="utf-8",
    )
    # the mp4 muxer writes Nero "chpl" chapters (what mutagen reads) by default
    ffmpeg(*SINE, "-i", str(meta), "-map", "0:a", "-map_chapters", "1",
           "-ac", "1", "-ar", "8000", "-c:a", "aac", "-b:a", "16k", str(out["m4a"]))
    ffmpeg(*SINE, "-ac", "1", "-ar", "8000", "-c:a", "libvorbis", str(out["ogg"]))
    ffmpeg(*SINE, "-ac", "1", "-ar", "48000", "-c:a", "libopus", "-b:a", "16k", str(out["opus"]))
    return out


def copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copy(src, dst)
    return dst


def spans(info: AudioInfo) -> list[tuple[float, float | None, str]]:
    return [(round(c.start, 3), None if c.end is None else round(c.end, 3), c.title)
            for c in info.chapters]


def test_mp3_id3_chapters(media, tmp_path):
    mp3 = copy(media["mp3"], tmp_path)
    write_id3_chapters(mp3, CHAPTERS)
    info = read_audio_info(mp3)
    assert info.source == "id3"
    assert spans(info) == CHAPTERS
    assert all(c.source == "id3" for c in info.chapters)
    assert info.duration == pytest.approx(6.0, abs=0.3)


def test_mp3_chapter_order_follows_ctoc_else_start_time(media, tmp_path):
    mp3 = copy(media["mp3"], tmp_path)
    # CTOC lists a deliberate order that is not the start order
    write_id3_chapters(mp3, [(3.0, 6.0, "Second half"), (0.0, 3.0, "First half")])
    assert [c.title for c in read_audio_info(mp3).chapters] == ["Second half", "First half"]

    # without a CTOC: by start time; a CHAP without TIT2 gets a fallback title
    tags = ID3(mp3)
    tags.delall("CTOC")
    tags.delall("CHAP")
    tags.add(CHAP(element_id="b", start_time=4000, end_time=6000, start_offset=0xFFFFFFFF,
                  end_offset=0xFFFFFFFF, sub_frames=[TIT2(encoding=3, text=["Late"])]))
    tags.add(CHAP(element_id="a", start_time=0, end_time=4000, start_offset=0xFFFFFFFF,
                  end_offset=0xFFFFFFFF, sub_frames=[]))
    tags.save(mp3)
    assert spans(read_audio_info(mp3)) == [(0.0, 4.0, "Chapter 1"), (4.0, 6.0, "Late")]


def test_mp3_without_chapters(media):
    info = read_audio_info(media["mp3"])
    assert info.chapters == [] and info.source is None
    assert info.duration == pytest.approx(6.0, abs=0.3)


def test_m4a_nero_chapters(media):
    info = read_audio_info(media["m4a"])
    assert info.source == "mp4"
    assert [(c.start, c.title) for c in info.chapters] == [(s, t) for s, _, t in CHAPTERS]
    # chpl has no end times: each ends where the next starts, the last at the end
    assert [c.end for c in info.chapters[:-1]] == [1.5, 4.25]
    assert info.chapters[-1].end == pytest.approx(info.duration)
    assert info.duration == pytest.approx(6.0, abs=0.3)


@pytest.mark.parametrize("kind,cls", [("ogg", OggVorbis), ("opus", OggOpus)])
def test_ogg_vorbis_comment_chapters(media, tmp_path, kind, cls):
    path = copy(media[kind], tmp_path)
    f = cls(path)
    for i, (start, _, title) in enumerate(CHAPTERS, 1):
        h, rem = divmod(start, 3600)
        m, s = divmod(rem, 60)
        f[f"CHAPTER{i:03d}"] = f"{int(h):02d}:{int(m):02d}:{s:06.3f}"
        f[f"CHAPTER{i:03d}NAME"] = title
    f["CHAPTER002URL"] = "https://example.com/it"
    f.save()
    info = read_audio_info(path)
    assert info.source == "vorbis"
    assert spans(info) == [(0.0, 1.5, "Intro"), (1.5, 4.25, "Information theory 🧠"),
                           (4.25, round(info.duration, 3), "Outro")]
    assert info.chapters[1].url == "https://example.com/it"
    assert info.duration == pytest.approx(6.0, abs=0.1)


def test_bad_files_never_raise(media, tmp_path, caplog):
    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(b"\x00\xffnot audio at all" * 100)
    truncated = tmp_path / "cut.m4a"
    truncated.write_bytes(media["m4a"].read_bytes()[:300])
    empty = tmp_path / "empty.ogg"
    empty.write_bytes(b"")
    for p in (garbage, truncated, empty, tmp_path / "missing.mp3", tmp_path):
        info = read_audio_info(p)
        assert info.chapters == [] and info.source is None
    assert read_audio_info(tmp_path / "missing.mp3").duration is None


def test_corrupt_chapter_frames_keep_duration(media, tmp_path):
    ogg = copy(media["ogg"], tmp_path)
    f = OggVorbis(ogg)
    f["CHAPTER001"] = "not a time"
    f["CHAPTER001NAME"] = "Broken"
    f.save()
    info = read_audio_info(ogg)
    assert info.chapters == [] and info.source is None
    assert info.duration == pytest.approx(6.0, abs=0.1)


def test_absurd_duration_from_a_lying_header_is_unknown(media, tmp_path):
    # an MP3 whose Info header claims 4 billion frames: mutagen reports ~10 years
    bad = tmp_path / "liar.mp3"
    data = bytearray(media["mp3"].read_bytes())
    i = data.find(b"Info")
    if i < 0:
        i = data.find(b"Xing")
    assert i > 0 and data[i + 7] & 1  # the frame-count field is present
    data[i + 8 : i + 12] = b"\xff\xff\xff\xff"
    bad.write_bytes(bytes(data))
    info = read_audio_info(bad)
    assert info.duration is None
    assert info.chapters == []


def test_absurd_chapter_starts_in_the_file_are_dropped(media, tmp_path):
    mp3 = copy(media["mp3"], tmp_path)
    # one CHAP claims to start 46 days in (its end is the 32-bit "unset" value)
    write_id3_chapters(mp3, [(0.0, 3.0, "Real start"), (3.0, 6.0, "Real end"), (4_000_000.0, 4_000_001.0, "Bogus")])
    info = read_audio_info(mp3)
    assert [c.title for c in info.chapters] == ["Real start", "Real end"]
    assert info.chapters[-1].end == 6.0


def _m4a_with_chapter_track(tmp_path: Path, *movflags: str) -> Path:
    """An M4A whose chapters live only in a QuickTime text track (no Nero chpl),
    the layout Auphonic and GarageBand produce."""
    meta = tmp_path / "chapters.txt"
    meta.write_text(
        ";FFMETADATA1\n"
        + "".join(
            f"[CHAPTER]\nTIMEBASE=1/1000\nSTART={int(s * 1000)}\nEND={int(e * 1000)}\ntitle={t}\n"
            for s, e, t in CHAPTERS
        ),
        encoding="utf-8",
    )
    out = tmp_path / f"qt{'-'.join(movflags)}.m4a"
    ffmpeg(*SINE, "-i", str(meta), "-map", "0:a", "-map_chapters", "1", "-ac", "1", "-ar", "8000",
           "-c:a", "aac", "-b:a", "16k", "-movflags", "+disable_chpl" + "".join(f"+{f}" for f in movflags),
           str(out))
    return out


@pytest.mark.parametrize("movflags", [(), ("faststart",)])
def test_m4a_quicktime_chapter_track(tmp_path, movflags):
    path = _m4a_with_chapter_track(tmp_path, *movflags)
    assert not MP4(path).chapters  # mutagen alone sees no chapters here
    info = read_audio_info(path)
    assert info.source == "mp4"
    assert [(c.start, c.title) for c in info.chapters] == [(s, t) for s, _, t in CHAPTERS]
    assert [c.end for c in info.chapters[:-1]] == [1.5, 4.25]
    assert info.chapters[-1].end == pytest.approx(info.duration)
    assert all(c.source == "mp4" for c in info.chapters)


def test_damaged_quicktime_chapter_track_never_raises(tmp_path):
    path = _m4a_with_chapter_track(tmp_path)
    good = path.read_bytes()
    moov = good.find(b"moov") - 4
    assert moov > 0
    text_stco = good.rfind(b"stco") + 12  # the chapter track's first chunk offset
    cases = {
        # a chapter box size that runs past its parent
        "chap.m4a": good.replace(b"\x00\x00\x00\x0cchap", b"\x7f\xff\xff\xf0chap", 1),
        # the text samples are said to lie past the end of the file
        "stco.m4a": good[:text_stco] + b"\xff\xff\xff\x00" + good[text_stco + 4 :],
        # the moov box claims to be enormous
        "moov.m4a": good[:moov] + b"\xff\xff\xff\xf0" + good[moov + 4 :],
    }
    for name, data in cases.items():
        assert data != good, name
        bad = tmp_path / name
        bad.write_bytes(data)
        info = read_audio_info(bad)  # must not raise
        assert all(c.title and c.start >= 0 for c in info.chapters), name
        if name != "moov.m4a":  # the audio itself is intact
            assert info.duration == pytest.approx(6.0, abs=0.3), name


def test_impossible_vorbis_chapter_times_drop_only_those_chapters(media, tmp_path):
    ogg = copy(media["ogg"], tmp_path)
    f = OggVorbis(ogg)
    for i, (value, title) in enumerate(
        [("00:00:00.000", "Start"), ("nan", "Not a number"), ("inf", "Forever"), ("-5", "Before"),
         ("1e308", "Absurd"), ("00:00:03.000", "Later")], 1
    ):
        f[f"CHAPTER{i:03d}"] = value
        f[f"CHAPTER{i:03d}NAME"] = title
    f.save()
    info = read_audio_info(ogg)
    assert info.source == "vorbis"
    assert [(c.start, c.title) for c in info.chapters] == [(0.0, "Start"), (3.0, "Later")]
