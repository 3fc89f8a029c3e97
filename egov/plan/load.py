"""Find and load a plan profile, turning every YAML or schema mistake into one line.

Profiles are given by name (``lab`` -> ``inventory/lab.yaml``) or by path.
Errors name the file, the line, the field and the fix; pydantic's tracebacks
never reach an operator.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from egov.errors import EgovError, Problem
from egov.paths import project_root as project_root  # re-exported for older imports
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
    source: SourceMap = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", SourceMap(self.text))

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.stem + ".lock.json")

    def where(self, field_path: str) -> str:
        """``file:line`` of a field (``root.city[0].county[1]``), or the file if the line is unknown."""
        line = self.source.line(field_path)
        return f"{self.shown}:{line}" if line else self.shown


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


_LOC_RE = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_field_path(path: str) -> tuple[str | int, ...]:
    """``root.city[0].name`` -> ("root", "city", 0, "name"): the inverse of the paths in messages."""
    return tuple(int(i) if i else n for n, i in _LOC_RE.findall(path))


class SourceMap:
    """Field paths -> lines of the YAML text, composed once (messages name the line of each problem)."""

    def __init__(self, text: str):
        self._text = text
        self._root: Any = None
        self._composed = False

    def _tree(self) -> Any:
        if not self._composed:
            self._composed = True
            try:
                self._root = yaml.compose(self._text, Loader=_SafeLoader)
            except yaml.YAMLError:
                self._root = None
        return self._root

    def line(self, loc: tuple[Any, ...] | str) -> int | None:
        """Line (1-based) of the deepest YAML node on ``loc`` (a pydantic location or a field path)."""
        if isinstance(loc, str):
            loc = parse_field_path(loc)
        node = self._tree()
        if node is None:
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


#: an upper bound on the values a profile may expand to once YAML aliases are resolved. The largest
#: real profile (shaanxi) has about 600; a few nested aliases in a 4 KB file can reach billions
#: ("billion laughs"), which would tie up validation for minutes.
MAX_VALUES = 200_000
MAX_BYTES = 4 * 1024 * 1024


def _expanded_size(data: Any, limit: int) -> int | None:
    """Values in ``data`` counted as a tree (aliases expanded), or None past ``limit`` or on a cycle.

    Aliases make the loaded data a DAG with shared nodes; counting each distinct node once, with its
    subtree size memoised, keeps this linear in the file while measuring the expanded size."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(x: Any) -> int | None:
        if not isinstance(x, (dict, list)):
            return 1
        key = id(x)
        if key in sizes:
            return sizes[key]
        if key in active:
            return None  # an alias inside its own anchor
        active.add(key)
        total = 1
        for child in (x.items() if isinstance(x, dict) else x):
            parts = child if isinstance(x, dict) else (child,)
            for part in parts:
                n = size(part)
                if n is None:
                    return None
                total += n
                if total > limit:
                    return None
        active.discard(key)
        sizes[key] = total
        return total

    return size(data)


_FIXES = {
    "extra_forbidden": "remove it or check its spelling against the profile schema",
    "missing": "add it",
    "literal_error": "use one of the allowed values",
    "string_pattern_mismatch": "use only the allowed characters",
    "string_too_long": "shorten it",
    "ip_v4_network": "give an IPv4 prefix with host bits zero, like 10.61.0.0/16",
    "ip_v6_network": "give an IPv6 prefix with host bits zero, like fd61::/48",
    "greater_than_equal": "use a number in the allowed range",
    "less_than_equal": "use a number in the allowed range",
    "int_parsing": "write a whole number",
    "int_type": "write a whole number",
}

#: fixes for particular fields, where the generic one would not say enough
_FIELD_FIXES = {
    "services.mgmt_acl": "list the prefixes that may reach SSH and SNMP, e.g. [172.30.0.0/16, fd00:30::/64]; "
                         "an empty or missing list would lock everyone out",
    "services.domain": "give a DNS domain like egov.local (letters, digits, hyphens, dots)",
}


def _fix_for(err: Any, field: str) -> str:
    for prefix, fix in _FIELD_FIXES.items():
        if field == prefix or field.startswith(prefix + "["):
            return fix
    msg = err["msg"]
    if "free text must be one printable line" in msg:
        return "remove the control character (write the value on one line)"
    if msg.endswith("is not a string"):
        return "write the value as a quoted string, like \"10.0.0.0/24\""
    return _FIXES.get(err["type"], "correct the value")


def load_profile(ref: str) -> LoadedProfile:
    """Read, parse and schema-check one profile; raise EgovError with every schema problem."""
    path = resolve_profile(ref)
    shown = display_path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise EgovError.one(shown, "", f"profile is over {MAX_BYTES // 1024 // 1024} MiB",
                                "split it, or use count: blocks instead of listing every site")
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
    if _expanded_size(data, MAX_VALUES) is None:
        raise EgovError.one(shown, "(top)", f"YAML aliases expand to more than {MAX_VALUES:,} values, or refer to "
                            "themselves", "write the repeated parts out, or use fewer nested aliases (*name)")
    source = SourceMap(text)
    try:
        profile = Profile.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = tuple(err["loc"])
            line = source.line(loc)
            where = f"{shown}:{line}" if line else shown
            field_path = _field_path(loc) or "(top)"
            msg = err["msg"].replace("Value error, ", "")
            if err["type"] == "extra_forbidden":
                msg = "unknown field"
            problems.append(Problem(where, field_path, msg, _fix_for(err, field_path)))
        raise EgovError(problems) from None
    loaded = LoadedProfile(path=path, shown=shown, text=text, profile=profile)
    object.__setattr__(loaded, "source", source)  # reuse the tree composed for the messages above
    return loaded
