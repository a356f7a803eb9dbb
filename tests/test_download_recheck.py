"""After a download the file's real duration decides which feed chapters
stand: notes chapters a wrong itunes:duration held back come back, explicit
chapters past the file's end are dropped, and the CLI says so."""

from __future__ import annotations

from pathlib import Path

from conftest import run_cli
from httpfixtures import file_server  # noqa: F401 - fixture

SAMPLE = (Path(__file__).resolve().parents[1] / "resources" / "sample-episode.mp3").read_bytes()  # 40 s


def test_download_rechecks_chapters_against_the_real_duration(file_server, data_dir):  # noqa: F811
    audio = file_server.add("/a.mp3", SAMPLE)
    feed = f"""<?xml version="1.0"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" xmlns:psc="http://podlove.org/simple-chapters">
<channel><title>Recheck Show</title>
<item><title>Short stated</title><guid>r1</guid>
<enclosure url="{audio}" length="{len(SAMPLE)}" type="audio/mpeg"/>
<itunes:duration>0:20</itunes:duration>
<psc:chapters version="1.2"><psc:chapter start="0" title="Hello"/><psc:chapter start="00:00:50" title="After the end"/></psc:chapters>
<description><![CDATA[<p>00:00 Start<br>00:08 Middle<br>00:30 Late but real</p>]]></description>
</item></channel></rss>""".encode()
    r = run_cli("subscribe", file_server.add("/f.xml", feed, content_type="application/rss+xml"), data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    before = run_cli("show", "r1", "--source", "notes", data_dir=data_dir).stdout
    assert "Late but real" not in before  # held back: past the stated 20 s
    r = run_cli("download", "r1", data_dir=data_dir)
    assert r.returncode == 0, r.stderr
    assert "After the end" in r.stdout and "dropped" in r.stdout  # the user is told
    notes = run_cli("show", "r1", "--source", "notes", data_dir=data_dir).stdout
    assert "00:30  Late but real" in notes
    psc = run_cli("show", "r1", "--source", "psc", data_dir=data_dir).stdout
    assert "Hello" in psc and "After the end" not in psc
