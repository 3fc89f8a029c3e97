"""Find and load a plan profile, turning every YAML or schema mistake into one line.

Profiles are given by name (``lab`` -> ``inventory/lab.yaml``) or by path.
Errors name the file, the line, the field and the fix; pydantic's tracebacks
never reach an operator.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from egov.errors import EgovError, Problem
from egov.plan.schema import Profile

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _DupKey(Exception):
    def __init__(self, key: Any, mark: Any):
        self.key, self.mark = key, mark


class _StrictLoader(_SafeLoader):  # type: ignore[misc,valid-type]
    """Safe loader that refuses duplicate mapping keys (YAML would silently keep the last)."""


def _construct_mapping(loader: Any, node: Any, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise _DupKey(key, key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def project_root() -> Path:
    """The folder holding inventory/ and templates/: $EGOV_HOME, the cwd, or the source checkout."""
    env = os.environ.get("EGOV_HOME")
    if env:
        return Path(env)
    cwd = Path.cwd()
    if (cwd / "inventory").is_dir() and (cwd / "templates").is_dir():
        return cwd
    return Path(__file__).resolve().parents[2]


def resolve_profile(ref: str) -> Path:
    """A profile name (looked up in inventory/) or a path to a YAML file."""
    p = Path(ref)
    if p.suffix in (".yaml", ".yml") or os.sep in ref or p.exists():
        if not p.is_file():
            raise EgovError.one(ref, "", "profile file not found", "give an existing .yaml path or a profile name")
        return p
    candidate = project_root() / "inventory" / f"{ref}.yaml"
    if not candidate.is_file():
        known = sorted(x.stem for x in (project_root() / "inventory").glob("*.yaml"))
        raise EgovError.one(
            f"inventory/{ref}.yaml", "", f"no profile named {ref!r}",
            f"use one of: {', '.join(known) or '(none)'} or a path to a YAML file",
        )
    return candidate


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@dataclass(frozen=True, slots=True)
class LoadedProfile:
    path: Path
    shown: str
    text: str
    profile: Profile

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.stem + ".lock.json")


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if part in ("children", "list", "block"):
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """Line (1-based) of the deepest YAML node on ``loc``; pydantic's path, mapped back to the file."""
    try:
        node = yaml.compose(text, Loader=_SafeLoader)
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == str(part)), None)
            if nxt is None and part in ("children", "list", "block"):
                continue
            if nxt is None:
                break
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        elif part in ("list", "block", "count"):
            continue
        else:
            break
    if node is not None:
        line = node.start_mark.line + 1
    return line


_FIXES = {
    "extra_forbidden": "remove it or check its spelling against the profile schema",
    "missing": "add it",
    "literal_error": "use one of the allowed values",
    "string_pattern_mismatch": "use only the allowed characters",
    "ip_v4_network": "give an IPv4 prefix with host bits zero, like 10.61.0.0/16",
    "ip_v6_network": "give an IPv6 prefix with host bits zero, like fd61::/48",
}


def load_profile(ref: str) -> LoadedProfile:
    """Read, parse and schema-check one profile; raise EgovError with every schema problem."""
    path = resolve_profile(ref)
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EgovError.one(shown, "", f"cannot read profile ({exc.__class__.__name__})", "check the file") from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - strict *safe* loader
    except _DupKey as exc:
        raise EgovError.one(
            f"{shown}:{exc.mark.line + 1}", str(exc.key), "duplicate key", "keep one of the two entries"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{shown}:{mark.line + 1}:{mark.column + 1}" if mark else shown
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise EgovError.one(where, "", f"malformed YAML ({problem})", "fix the YAML syntax at that line") from None
    if not isinstance(data, dict):
        raise EgovError.one(shown, "", "profile is not a YAML mapping", "start from inventory/lab.yaml")
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            line = _line_of(text, loc)
            where = f"{shown}:{line}" if line else shown
            msg = err["msg"].replace("Value error, ", "")
            fix = _FIXES.get(err["type"], "correct the value")
            if err["type"] == "extra_forbidden":
                msg = "unknown field"
            problems.append(Problem(where, _field_path(loc) or "(top)", msg, fix))
        raise EgovError(problems) from None
    return LoadedProfile(path=path, shown=shown, text=text, profile=profile)
