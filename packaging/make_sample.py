#!/usr/bin/env python3
"""Generate ``resources/sample-episode.mp3``: the small sample episode that the
selftest, the tests and the bundles ship.

A real MP3 (~40 s, mono, 22.05 kHz, 24 kbit/s CBR, ~120 KB) made by ffmpeg from
synthetic tones, one distinct sound per chapter, tagged with mutagen:
TIT2/TPE1/TALB plus ID3v2 chapters (CTOC + 4 CHAP frames, each with a TIT2
sub-frame).

Usage:  python packaging/make_sample.py [--output PATH]
Needs ffmpeg on PATH and mutagen.  The output is deterministic for a given
ffmpeg build (bit-exact flags, ffmpeg's own tags stripped).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "resources" / "sample-episode.mp3"

DURATION = 40.0  # seconds
SAMPLE_RATE = 22050
BITRATE = "24k"

# (start seconds, title); each chapter ends where the next starts.
CHAPTERS: list[tuple[float, str]] = [
    (0.0, "Cold open"),
    (8.0, "Introductions"),
    (18.0, "The main idea"),
    (30.0, "Wrap-up"),
]

TITLE = "ibplayer sample episode"
ARTIST = "ibplayer"
ALBUM = "ibplayer samples"

# One distinct sound per chapter, as an ffmpeg aevalsrc expression of t:
#   0-8   a plain 440 Hz tone
#   8-18  a two-tone chord (330 + 495 Hz)
#   18-30 262 Hz with a 2 Hz tremolo
#   30-40 587 Hz with a slow fade-out over the last 10 s
_EXPR = (
    "0.3*if(lt(t,8),sin(2*PI*440*t),"
    "if(lt(t,18),0.5*sin(2*PI*330*t)+0.5*sin(2*PI*495*t),"
    "if(lt(t,30),sin(2*PI*262*t)*(0.6+0.4*sin(2*PI*2*t)),"
    "sin(2*PI*587*t)*(1-(t-30)/10.5))))"
)


def encode(ffmpeg: str, out: Path) -> None:
    cmd = [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi",
        "-i", f"aevalsrc='{_EXPR}':s={SAMPLE_RATE}:c=mono:d={DURATION}",
        "-map_metadata", "-1",
        "-fflags", "+bitexact", "-flags:a", "+bitexact",
        "-ac", "1", "-ar", str(SAMPLE_RATE),
        "-c:a", "libmp3lame", "-b:a", BITRATE,
        # no Xing/Info header: VLC 3 misreads a LAME "Info" header on MPEG-2
        # (22.05 kHz) files and first reports ~17 s instead of 40 s.  The
        # file is CBR, so VLC estimates the length from the bitrate exactly.
        "-write_xing", "0",
        "-id3v2_version", "0", "-write_id3v1", "0",
        str(out),
    ]
    subprocess.run(cmd, check=True)


def tag(path: Path) -> None:
    from mutagen.id3 import CHAP, CTOC, ID3, TALB, TIT2, TPE1, CTOCFlags

    tags = ID3()
    tags.add(TIT2(encoding=3, text=[TITLE]))
    tags.add(TPE1(encoding=3, text=[ARTIST]))
    tags.add(TALB(encoding=3, text=[ALBUM]))
    ids = [f"chp{i}" for i in range(len(CHAPTERS))]
    tags.add(
        CTOC(
            element_id="toc",
            flags=CTOCFlags.TOP_LEVEL | CTOCFlags.ORDERED,
            child_element_ids=ids,
            sub_frames=[TIT2(encoding=3, text=["Chapters"])],
        )
    )
    for i, (start, title) in enumerate(CHAPTERS):
        end = CHAPTERS[i + 1][0] if i + 1 < len(CHAPTERS) else DURATION
        tags.add(
            CHAP(
                element_id=ids[i],
                start_time=int(start * 1000),
                end_time=int(end * 1000),
                start_offset=0xFFFFFFFF,
                end_offset=0xFFFFFFFF,
                sub_frames=[TIT2(encoding=3, text=[title])],
            )
        )
    tags.save(str(path), v2_version=3)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = ap.parse_args(argv)

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        print("make_sample: ffmpeg not found on PATH (install it, e.g. `sudo apt install ffmpeg`)")
        return 1

    out: Path = args.output
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_mp3 = Path(tmp) / "sample.mp3"
        encode(ffmpeg, tmp_mp3)
        tag(tmp_mp3)
        shutil.copyfile(tmp_mp3, out)
    print(f"wrote {out} ({out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
