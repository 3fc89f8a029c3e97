"""Render every router's configuration from ``templates/<platform>/``.

Convention: ``device.j2`` (or ``frr.conf.j2`` for FRR) becomes ``<hostname>.cfg``;
every other ``X.j2`` becomes ``<hostname>.d/X`` (host services of a Linux
white-box, say) unless it renders empty (a service that router does not use);
files starting with ``_`` are macros. All configs are
rendered in memory first, so a template error writes nothing; then each file
is moved into place atomically, and files this tool wrote earlier for routers
that have left the plan are removed (tracked in a manifest).
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from egov.atomic import write_atomic
from egov.errors import EgovError
from egov.plan.load import project_root
from egov.platforms import PLATFORMS
from egov.render.context import ContextBuilder
from egov.render.secrets import Secrets
from egov.topology.model import Node
from egov.topology.validate import Plan

#: every platform's main template name (egov.platforms.Platform.main_template)
MAIN_TEMPLATES = tuple(sorted({p.main_template for p in PLATFORMS.values()}))


def _main_template(platform: str) -> str:
    return PLATFORMS[platform].main_template if platform in PLATFORMS else "device.j2"
MANIFEST = ".egov-render.json"


def templates_dir() -> Path:
    return project_root() / "templates"


@dataclass(slots=True)
class RenderResult:
    files: dict[str, str] = field(default_factory=dict)
    per_platform: Counter[str] = field(default_factory=Counter)
    routers: int = 0
    seconds: float = 0.0


class Renderer:
    """Compiled templates for every platform, ready to render routers of one plan."""

    def __init__(self, plan: Plan, secrets: Secrets, tdir: Path | None = None):
        self.plan = plan
        self.secrets = secrets
        self.tdir = tdir or templates_dir()
        self._templates: dict[str, list[tuple[str, jinja2.Template]]] = {}
        self.contexts = ContextBuilder(plan, secrets)

    def templates_for(self, platform: str) -> list[tuple[str, jinja2.Template]]:
        """(output suffix, template) pairs for one platform; compiled once."""
        if platform not in self._templates:
            pdir = self.tdir / platform
            names = sorted(p.name for p in pdir.glob("*.j2") if not p.name.startswith("_")) if pdir.is_dir() else []
            main = [n for n in names if n == _main_template(platform)]
            if len(main) != 1:
                raise EgovError.one(f"templates/{platform}", "", "no device.j2 (or frr.conf.j2) template",
                                    f"add templates/{platform}/device.j2")
            # one environment per platform, searching its own folder: `{% import '_macros.j2' %}`
            # then resolves the same way here and in Ansible's template module
            env = jinja2.Environment(
                loader=jinja2.FileSystemLoader(str(pdir)),
                undefined=jinja2.StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
                keep_trailing_newline=True,
                autoescape=False,
                auto_reload=False,
            )
            out = []
            for name in names:
                suffix = ".cfg" if name == _main_template(platform) else f".d/{name[:-3]}"
                try:
                    out.append((suffix, env.get_template(name)))
                except jinja2.TemplateSyntaxError as exc:
                    raise EgovError.one(f"templates/{platform}/{name}:{exc.lineno}", "", f"template error ({exc.message})",
                                        "fix the Jinja2 syntax at that line") from None
            self._templates[platform] = out
        return self._templates[platform]

    def render_node(self, node: Node) -> dict[str, str]:
        """{relative path: text} for one router."""
        ctx = self.contexts.context(node)
        out = {}
        for suffix, tpl in self.templates_for(node.platform):
            try:
                text = tpl.render(ctx)
            except jinja2.UndefinedError as exc:
                raise EgovError.one(f"{tpl.filename}", "", f"{exc.message} while rendering {node.hostname}",
                                    "fix the template or add the missing value to the profile") from None
            if suffix.startswith(".d/") and not text.strip():
                continue  # a host service this router does not use (e.g. no management VRF)
            out[f"{node.hostname}{suffix}"] = text
        return out

    def render(self, nodes: Iterable[Node], progress: Callable[[int], None] | None = None,
               workers: int | None = None) -> RenderResult:
        """Render ``nodes``; large plans are split over the CPU cores (forked workers share the plan)."""
        global _ACTIVE
        res = RenderResult()
        t0 = time.perf_counter()
        todo = list(nodes)
        for platform in {n.platform for n in todo}:
            self.templates_for(platform)  # compile (and report template errors) once, before any fork
        workers = workers if workers is not None else (os.cpu_count() or 1)
        if workers > 1 and len(todo) >= PARALLEL_MIN and "fork" in mp.get_all_start_methods():
            chunks = [[n.hostname for n in todo[i::workers * 4]] for i in range(workers * 4)]
            _ACTIVE = self
            try:
                with mp.get_context("fork").Pool(workers) as pool:
                    for files, count in pool.imap_unordered(_render_chunk, chunks):
                        res.files.update(files)
                        if progress:
                            progress(count)
            finally:
                _ACTIVE = None
            res.files = dict(sorted(res.files.items()))
        else:
            for node in todo:
                res.files.update(self.render_node(node))
                if progress:
                    progress(1)
        for node in todo:
            res.per_platform[node.platform] += 1
        res.routers = len(todo)
        res.seconds = time.perf_counter() - t0
        return res


PARALLEL_MIN = 400
_ACTIVE: Renderer | None = None


def _render_chunk(hostnames: list[str]) -> tuple[dict[str, str], int]:
    """Worker side of Renderer.render: the forked child already holds the plan and templates."""
    assert _ACTIVE is not None
    nodes = _ACTIVE.plan.topology.nodes
    files: dict[str, str] = {}
    for h in hostnames:
        files.update(_ACTIVE.render_node(nodes[h]))
    return files, len(hostnames)


def write_tree(out_dir: Path, files: dict[str, str], secret: bool) -> tuple[int, int]:
    """Put rendered files in ``out_dir``: staged, then renamed in one by one; stale files of ours removed.

    Returns (written, removed). Files holding secrets are created 0600.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    mode = 0o600 if secret else 0o644
    manifest_path = out_dir / MANIFEST
    try:
        previous = set(json.loads(manifest_path.read_text())["files"])
    except (OSError, ValueError, KeyError, TypeError):
        previous = set()
    stage = Path(tempfile.mkdtemp(prefix=".egov-stage-", dir=out_dir))
    try:
        for rel, text in files.items():
            p = stage / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
        for rel in files:
            dest = out_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(stage / rel, dest)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    removed = 0
    for rel in sorted(previous - set(files)):
        try:
            (out_dir / rel).unlink()
            removed += 1
        except FileNotFoundError:
            pass
        parent = (out_dir / rel).parent
        if parent != out_dir:
            try:
                parent.rmdir()
            except OSError:
                pass
    write_atomic(manifest_path, json.dumps({"files": sorted(files)}, indent=0))
    return len(files), removed
