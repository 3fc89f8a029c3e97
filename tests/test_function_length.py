"""House rule: no function is longer than 60 lines (``end_lineno - lineno + 1`` of the def, docstring
included), in the package and the drivers. A longer one is split into helpers with one job each."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("egov", "napalm_frr", "napalm_huawei_vrp8", "napalm_h3c_comware7")
MAX_LINES = 60


def too_long() -> list[tuple[str, str, int, int]]:
    """(file, function, line, length) of every function or method over MAX_LINES, nested ones included."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    assert node.end_lineno is not None
                    length = node.end_lineno - node.lineno + 1
                    if length > MAX_LINES:
                        found.append((rel, node.name, node.lineno, length))
    return found


def test_the_packages_are_there():
    for package in PACKAGES:
        assert (ROOT / package / "__init__.py").is_file(), package


def test_no_function_is_longer_than_60_lines():
    over = [f"{rel}:{line} {name}: {length} lines" for rel, name, line, length in too_long()]
    assert not over, (f"functions over {MAX_LINES} lines (split each into helpers with one job each):\n"
                      + "\n".join(over))

