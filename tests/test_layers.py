"""The layers hold: the core (domain, infra, services, cli) never loads Qt or
the window, and nothing outside ui/ imports ui (but the entry point)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "ibplayer"
CORE_LAYERS = ("domain", "infra", "services", "cli")


def _modules(layer: str) -> list[str]:
    return sorted(
        "ibplayer." + ".".join(p.relative_to(PKG).with_suffix("").parts).removesuffix(".__init__")
        for p in (PKG / layer).rglob("*.py")
    )


@pytest.mark.parametrize("layer", CORE_LAYERS)
def test_core_layers_load_no_qt(layer):
    mods = _modules(layer)
    assert mods, f"no modules found in {layer}/"
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'shiboken6')"
        " or m.startswith('ibplayer.ui'))\n"
        "print(','.join(bad))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"importing {layer}/ loaded {r.stdout.strip()}"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:  # relative: resolve against the file's package
                base = list(path.relative_to(PKG.parent).with_suffix("").parts[:-node.level])
                found.add(".".join([*base, node.module]))
            else:
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def test_nothing_outside_ui_imports_ui_or_qt():
    offenders = []
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG)
        if rel.parts[0] == "ui" or rel.as_posix() == "main.py":
            continue
        for mod in _imports(path):
            if mod.startswith(("ibplayer.ui", "PySide6", "shiboken6")):
                offenders.append(f"{rel}: {mod}")
    assert offenders == []


def test_domain_does_no_io():
    """domain/ is pure: it imports nothing from infra, services, cli or ui."""
    offenders = []
    for path in (PKG / "domain").rglob("*.py"):
        for mod in _imports(path):
            if mod.startswith(("ibplayer.infra", "ibplayer.services", "ibplayer.cli", "ibplayer.ui",
                               "httpx", "sqlite3", "vlc")):
                offenders.append(f"{path.name}: {mod}")
    assert offenders == []
