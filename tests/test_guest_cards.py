"""The guest card (issue 9, Guests, last bullet): a guest's page (href) and
picture (img) from <podcast:person> or a Podlove contributor reach the
store (schema v8), the views, `ibplayer show` and the window's episode pane.
All feed data is made up."""

from __future__ import annotations

import sqlite3
import struct
import zlib

import pytest
from conftest import run_cli

from ibplayer.infra.store import DB_NAME, SCHEMA_VERSION
from ibplayer.services.core import Core
from ibplayer.services.views import episode_details, guest_cards

try:
    from tests.httpfixtures import file_server  # noqa: F401
except ImportError:  # tests/ not importable as a package
    from httpfixtures import file_server  # noqa: F401

NS = (' xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"'
      ' xmlns:podcast="https://podcastindex.org/namespace/1.0"'
      ' xmlns:atom="http://www.w3.org/2005/Atom"')


def png(width: int = 24, height: int = 24, rgb: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A real (decodable) PNG of one colour."""
    raw = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def feed(items: str) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"{NS}><channel><title>Orchard Hour</title>'
            '<podcast:person role="host" href="https://orchard.example/lena">Lena Voss</podcast:person>'
            f"{items}</channel></rss>").encode()


def item(guid: str, title: str, people: str) -> str:
    return (f"<item><title>{title}</title><guid>{guid}</guid>"
            f'<enclosure url="http://127.0.0.1:9/{guid}.mp3" type="audio/mpeg" length="1000"/>'
            f"<pubDate>Mon, 02 Mar 2026 10:00:00 +0000</pubDate>{people}"
            "<description>Pruning, grafting and the cold months.</description></item>")


def person(name: str, *, href: str | None = None, img: str | None = None, role: str = "guest") -> str:
    attrs = f' role="{role}"' + (f' href="{href}"' if href else "") + (f' img="{img}"' if img else "")
    return f"<podcast:person{attrs}>{name}</podcast:person>"


def subscribed(core, srv, body: bytes) -> int:
    srv.add("/feed.xml", body, content_type="application/rss+xml")
    return core.subscribe(srv.url("/feed.xml")).feed_id


def test_guest_page_and_picture_are_stored_shown_and_printed(data_dir, file_server):  # noqa: F811
    pic = file_server.add("/people/tomas.png", png(), content_type="image/png")
    body = feed(
        item("g1", "Grafting old trees",
             person("Tomas Lind", href="https://tomas.example/about", img=pic)
             + person("Lena Voss", role="host"))
        + item("g2", "Bees in the orchard",
               "<atom:contributor><atom:name>Ines Moreau</atom:name>"
               "<atom:uri>https://ines.example</atom:uri></atom:contributor>")
        + item("g3", "Frost nights",
               person("Omar Haddad", href="javascript:alert(1)", img="file:///etc/passwd")))
    with Core(data_dir, timeout=5) as core:
        subscribed(core, file_server, body)
        lib = core.library
        g1, g2, g3 = (lib.resolve_episode(g) for g in ("g1", "g2", "g3"))
        # the store keeps them; hosts stay hosts
        assert [(g.name, g.href, g.image) for g in lib.guests(g1.id)] == [
            ("Tomas Lind", "https://tomas.example/about", pic)]
        assert [(g.name, g.href) for g in lib.guests(g2.id)] == [("Ines Moreau", "https://ines.example")]
        # the view: the page, and the picture cached by the refresh (loopback feed: loopback images allowed)
        [card] = episode_details(lib, g1.id).guests
        assert (card.name, card.page, card.image_url) == ("Tomas Lind", "https://tomas.example/about", pic)
        assert card.picture and open(card.picture, "rb").read() == png()
        assert [(c.name, c.page, c.picture) for c in guest_cards(lib, lib.episode(g2.id))] == [
            ("Ines Moreau", "https://ines.example", None)]
        # only http(s) pages and pictures are offered
        [odd] = guest_cards(lib, lib.episode(g3.id))
        assert (odd.name, odd.page, odd.image_url, odd.picture) == ("Omar Haddad", None, None, None)
        short = {e.guid: e.short_id for e in (g1, g2, g3)}
    out = run_cli("show", short["g1"], data_dir=data_dir)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    at = lines.index("Guest: Tomas Lind")
    assert lines[at + 1].split() == ["page:", "https://tomas.example/about"]
    assert lines[at + 2].split() == ["picture:", pic]
    out = run_cli("show", short["g3"], data_dir=data_dir)
    assert "Guest: Omar Haddad" in out.stdout and "javascript" not in out.stdout and "passwd" not in out.stdout


def test_a_refresh_updates_a_new_page_and_keeps_a_known_one_when_the_feed_drops_it(data_dir, file_server):  # noqa: F811
    with Core(data_dir, timeout=5) as core:
        fid = subscribed(core, file_server, feed(
            item("a1", "Apples", person("Tomas Lind", href="https://old.example/tomas", img="https://old.example/t.png"))))
        lib = core.library
        a1 = lib.resolve_episode("a1").id
        assert [(g.href, g.image) for g in lib.guests(a1)] == [("https://old.example/tomas", "https://old.example/t.png")]
        # the page moved (the picture is not given any more: the known one stays)
        file_server.add("/feed.xml", feed(item("a1", "Apples", person("Tomas Lind", href="https://new.example/tomas"))),
                        content_type="application/rss+xml")
        core.refresh([fid])
        assert [(g.href, g.image) for g in lib.guests(a1)] == [("https://new.example/tomas", "https://old.example/t.png")]
        # a new episode names him with no page at all: nothing is wiped
        file_server.add("/feed.xml", feed(item("a2", "Pears", person("Tomas Lind"))
                                          + item("a1", "Apples", person("Tomas Lind", href="https://new.example/tomas"))),
                        content_type="application/rss+xml")
        core.refresh([fid])
        a2 = lib.resolve_episode("a2").id
        for eid in (a1, a2):
            assert [(g.name, g.href, g.image) for g in lib.guests(eid)] == [
                ("Tomas Lind", "https://new.example/tomas", "https://old.example/t.png")]


def test_a_v7_library_keeps_its_people_and_gains_pages_on_the_next_refresh(data_dir, file_server):  # noqa: F811
    from conftest import make_old_library

    ids = make_old_library(data_dir, 7)
    db = sqlite3.connect(data_dir / DB_NAME)
    db.execute("INSERT INTO people(id, key, name) VALUES (5, 'tomas lind', 'Tomas Lind')")
    db.execute("INSERT INTO episode_people(episode_id, person_id, role, affiliations, pos) "
               "VALUES (?, 5, 'guest', '[\"Orchard Lab\"]', 0)", (ids["old-1"],))
    db.commit()
    db.close()
    with Core(data_dir, timeout=5) as core:
        lib = core.library
        assert lib.schema_version() == SCHEMA_VERSION
        assert [(g.name, g.affiliations, g.href, g.image) for g in lib.guests(ids["old-1"])] == [
            ("Tomas Lind", ["Orchard Lab"], None, None)]
        assert lib.episode(ids["old-1"]).position == 5.0  # nothing else lost
        # the same person, named with a page in a feed: the existing row gains it
        subscribed(core, file_server, feed(item("n1", "Cider", person("Tomas Lind", href="https://tomas.example"))))
        assert [(g.name, g.href) for g in lib.guests(ids["old-1"])] == [("Tomas Lind", "https://tomas.example")]
        assert lib.person_id("Tomas Lind") == 5


# ------------------------------------------------------------------ the window


@pytest.fixture
def browser(qtbot):
    """Stands in for the system browser: records the links the window opens
    (http, https, and the schemes it must refuse to open)."""
    from PySide6.QtCore import QObject, QUrl, Slot
    from PySide6.QtGui import QDesktopServices

    class Browser(QObject):
        def __init__(self):
            super().__init__()
            self.opened: list[str] = []

        @Slot(QUrl)
        def open(self, url):
            self.opened.append(url.toString())

    b = Browser()
    schemes = ("http", "https", "javascript", "file")
    for scheme in schemes:
        QDesktopServices.setUrlHandler(scheme, b, "open")
    yield b
    for scheme in schemes:
        QDesktopServices.unsetUrlHandler(scheme)


def test_the_guest_card_shows_the_page_link_and_the_picture(qtbot, browser, file_server, data_dir):  # noqa: F811
    from PySide6.QtGui import QColor
    from ui_helpers import wait_until

    from ibplayer.infra import vlcloader
    from ibplayer.ui.mainwindow import build_main_window

    pic = file_server.add("/people/tomas.png", png(rgb=(200, 40, 40)), content_type="image/png")
    late = file_server.add("/people/ines.png", b"gone", status=404)
    body = feed(item("g1", "Grafting old trees", person("Tomas Lind", href="https://tomas.example/about", img=pic))
                + item("g2", "Bees in the orchard", person("Ines Moreau", img=late)))
    with Core(data_dir, timeout=5) as core:
        fid = subscribed(core, file_server, body)
        ids = {e.guid: e.id for e in core.library.episodes(fid)}
    # Ines's picture is there now (the refresh could not get it): opening her episode fetches it
    file_server.add("/people/ines.png", png(rgb=(40, 40, 200)), content_type="image/png")

    assert vlcloader.load_vlc() is not None
    w = build_main_window(data_dir, backend_args=("--aout=dummy",))
    qtbot.addWidget(w)
    try:
        wait_until(qtbot, lambda: w.episodes_model.rowCount() == 2, msg="episode list never loaded")
        pane = w.pane

        def colour_shown(row: int) -> QColor | None:
            pic_label = pane.guest_rows[row][0] if len(pane.guest_rows) > row else None
            if pic_label is None or not pic_label.isVisible() or pic_label.pixmap().isNull():
                return None
            img = pic_label.pixmap().toImage()
            return img.pixelColor(img.width() // 2, img.height() // 2)

        assert w.select_episode(ids["g1"])
        wait_until(qtbot, lambda: pane.details_id == ids["g1"] and colour_shown(0) is not None,
                   msg="Tomas's picture never showed")
        assert pane.guest_card.isVisible()
        assert colour_shown(0).getRgb()[:3] == (200, 40, 40)
        [(_pic, text)] = pane.guest_rows
        assert "Tomas Lind" in text.text() and "tomas.example/about" in text.text()
        assert 'href="https://tomas.example/about"' in text.text()
        text.linkActivated.emit("https://tomas.example/about")  # what a click on the link sends
        assert browser.opened == ["https://tomas.example/about"]
        for odd in ("javascript:alert(1)", "file:///etc/passwd"):
            text.linkActivated.emit(odd)
        assert browser.opened == ["https://tomas.example/about"]
        # the name still lists the guest's episodes
        text.linkActivated.emit("guest:Tomas Lind")
        wait_until(qtbot, lambda: w.episodes_model.rowCount() == 1, msg="the guest filter did not apply")
        w.clear_guest_filter()
        wait_until(qtbot, lambda: w.episodes_model.rowCount() == 2)
        # Ines: no page (no link), her picture fetched now, through the artwork cache
        assert w.select_episode(ids["g2"])
        wait_until(qtbot, lambda: pane.details_id == ids["g2"] and colour_shown(0) is not None, timeout=15,
                   msg="Ines's picture was not fetched on demand")
        assert colour_shown(0).getRgb()[:3] == (40, 40, 200)
        [(_pic, text)] = pane.guest_rows
        assert "Ines Moreau" in text.text() and "http" not in text.text()
        assert len(file_server.requests_for("/people/ines.png")) == 2  # the refresh's try and the card's
    finally:
        w.close()


def test_the_guest_page_link_is_reached_with_tab_and_opened_with_enter(qtbot, browser, file_server, data_dir):  # noqa: F811
    """A keyboard user reaches the guest card's page link with Tab (from the
    window's own focus chain, no mouse) and opens it with Enter."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication
    from ui_helpers import wait_until

    from ibplayer.infra import vlcloader
    from ibplayer.ui.mainwindow import build_main_window

    body = feed(item("k1", "Cider from windfalls", person("Marta Ekholm", href="https://marta.example/cider")))
    with Core(data_dir, timeout=5) as core:
        fid = subscribed(core, file_server, body)
        [eid] = [e.id for e in core.library.episodes(fid)]

    assert vlcloader.load_vlc() is not None
    w = build_main_window(data_dir, backend_args=("--aout=dummy",))
    qtbot.addWidget(w)
    try:
        wait_until(qtbot, lambda: w.episodes_model.rowCount() == 1, msg="episode list never loaded")
        assert w.select_episode(eid)
        wait_until(qtbot, lambda: w.pane.details_id == eid and len(w.pane.guest_rows) == 1,
                   msg="the guest card never showed")
        [(_pic, card)] = w.pane.guest_rows
        w.activateWindow()
        wait_until(qtbot, lambda: QApplication.focusWidget() is not None, msg="the window never took focus")
        # Tab through the window's focus chain until the card has the focus
        for _ in range(80):
            if QApplication.focusWidget() is card:
                break
            qtbot.keyClick(QApplication.focusWidget(), Qt.Key_Tab)
        assert QApplication.focusWidget() is card, (
            f"Tab never reached the guest card (stuck at {QApplication.focusWidget()!r})")
        # within the card, Tab moves from link to link: Enter on the page link opens it
        for _ in range(4):
            if "marta.example/cider" in card.selectedText():
                break
            qtbot.keyClick(card, Qt.Key_Tab)
        assert "marta.example/cider" in card.selectedText(), f"the page link never got the focus: {card.selectedText()!r}"
        qtbot.keyClick(card, Qt.Key_Return)
        wait_until(qtbot, lambda: browser.opened == ["https://marta.example/cider"], msg=repr(browser.opened))
    finally:
        w.close()


def test_a_guests_episode_list_narrows_by_text_unplayed_and_downloaded(data_dir, file_server):  # noqa: F811
    """The list a click on a guest's name shows (the window's guest filter):
    only that guest's episodes, narrowed by the filter box and the two
    checkboxes like any other list."""
    from ibplayer.services.views import episode_list

    body = feed(item("p1", "Grafting old trees", person("Tomas Lind"))
                + item("p2", "Bees in the orchard", person("Tomas Lind") + person("Ines Moreau"))
                + item("p3", "Cider presses", person("Ines Moreau")))
    with Core(data_dir, timeout=5) as core:
        fid = subscribed(core, file_server, body)
        ids = {e.guid: e.id for e in core.library.episodes(fid)}
        core.set_played(ids["p1"])
        lib = core.library
        tomas = lib.db.execute("SELECT id FROM people WHERE name='Tomas Lind'").fetchone()[0]

        def titles(**kw):
            return sorted(e.title for e in episode_list(lib, fid, person_id=tomas, **kw))

        assert titles() == ["Bees in the orchard", "Grafting old trees"]
        assert titles(text="bees") == ["Bees in the orchard"]
        assert titles(text="ines") == ["Bees in the orchard"]  # a guest's name matches too
        assert titles(unplayed=True) == ["Bees in the orchard"]
        assert titles(downloaded=True) == []
        # without a guest: the feed's list, filtered the same way
        assert sorted(e.title for e in episode_list(lib, fid, text="cider")) == ["Cider presses"]
