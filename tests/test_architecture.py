"""The folders' contract (docs/architecture.md): who may import whom, and files kept short."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Learning and releasing never reach into serving code, and serving code never reaches into
# them: the exported model.pt is the only thing that crosses. htr/ is shared by all.
TRAINING_SIDE = ("recognizer", "training", "release")
SERVING_SIDE = ("serving", "space", "lambda")
ALLOWED = {
    "htr": set(),
    "recognizer": {"htr"},
    "training": {"htr", "recognizer"},
    "release": {"htr", "recognizer", "training"},
    "serving": {"htr"},
    "space": {"htr", "serving"},
    "lambda": {"htr", "serving"},
}
OURS = set(ALLOWED) | {"bench", "experiments", "tests"}
# The one exception: htr/__main__.py is the user's command (`python -m htr read`, a folder of
# scans into text, PAGE-XML and ALTO), which only dispatches to serving.folder; nothing imports
# it, so the shared package itself still reaches no side.
EXCEPTIONS = {"htr/__main__.py": {"serving"}}


def _sources(folder: str) -> list[Path]:
    return sorted(p for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts)


def _imported_packages(path: Path) -> set[str]:
    """Top-level packages of this project that `path` imports, at any depth of the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module.split(".")[0])
    return found & OURS


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_each_folder_imports_only_what_it_may(folder):
    wrong = {}
    for p in _sources(folder):
        rel = p.relative_to(ROOT).as_posix()
        bad = _imported_packages(p) - ALLOWED[folder] - {folder} - EXCEPTIONS.get(rel, set())
        if bad:
            wrong[rel] = sorted(bad)
    assert not wrong, f"imports across the model-file boundary: {wrong}"


def test_the_sides_are_the_ones_the_rule_names():
    for side, other in ((TRAINING_SIDE, SERVING_SIDE), (SERVING_SIDE, TRAINING_SIDE)):
        for folder in side:
            assert not ALLOWED[folder] & set(other), folder


def test_no_test_module_imports_another():
    wrong = [
        str(p.relative_to(ROOT)) for p in _sources("tests") if "tests" in _imported_packages(p)
    ]
    assert not wrong, f"shared test helpers belong in conftest.py fixtures: {wrong}"


@pytest.mark.parametrize("folder", sorted(OURS))
def test_no_source_file_is_over_300_lines(folder):
    long = {
        str(p.relative_to(ROOT)): n
        for p in _sources(folder)
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 300
    }
    assert not long, f"split these by concern: {long}"
