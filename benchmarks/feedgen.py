"""Build a big feed from the real one: its episodes repeated with unique guids."""

from __future__ import annotations

import re
from pathlib import Path

REAL = Path(__file__).resolve().parent.parent / "tests" / "information-bottleneck.rss"


def big_feed(n_items: int = 2000) -> bytes:
    text = REAL.read_text(encoding="utf-8")
    head, _, rest = text.partition("<item>")
    items = ["<item>" + part.split("</item>")[0] + "</item>" for part in ("<item>" + rest).split("<item>")[1:]]
    audio = [it for it in items if 'type="audio/' in it]
    out = []
    for i in range(n_items):
        it = audio[i % len(audio)]
        k = i // len(audio)
        it = re.sub(r"(<guid[^>]*>)(.*?)(</guid>)", lambda m: f"{m.group(1)}{m.group(2)}#{i}{m.group(3)}", it, count=1)
        it = re.sub(r'(<enclosure url="[^"]*?)(")', lambda m: f"{m.group(1)}?copy={i}{m.group(2)}", it, count=1)
        if k:
            it = it.replace("<title><![CDATA[", f"<title><![CDATA[[{k}] ", 1)
        out.append(it)
    return (head + "".join(out) + "</channel></rss>").encode("utf-8")


if __name__ == "__main__":
    import sys

    data = big_feed(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
    sys.stdout.buffer.write(data)
