"""Run the offline plan in several processes: departments split over workers, records merged.

The SDK's registration work is CPU-bound Python (~3 ms per resource), so one process uses one core.
Departments share nothing but the platform (regions and the central backup centre), so each worker
builds the platform plus its share of the departments (their tenancies, systems, DR copies and
manifests), and the parent merges the records, keeping one copy of what every worker built (same
type and name means the same resource: the model is deterministic).

Workers are fresh interpreters (``python -m egov.cloud.shard``), not forks (a forked asyncio/gRPC
state is not safe to reuse) and not ``multiprocessing`` spawns (those re-import the caller's main
module, which a library cannot vouch for). Messages are pickles, length-prefixed, over pipes.
"""

from __future__ import annotations

import pickle
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from egov.cloud.mockrun import Record
from egov.cloud.model import CloudModel
from egov.errors import EgovError, Problem


def split(model: CloudModel, shards: int) -> list[set[str]]:
    """Departments in ``shards`` groups of about equal resource counts (largest first)."""
    weight: dict[str, int] = {d.id: 0 for d in model.layout.departments}
    for t in model.tenancies.values():
        weight[t.department.id] += 26
    for p in model.placements:
        weight[p.system.department] += 1 + len(p.standby)
    bins: list[tuple[int, set[str]]] = [(0, set()) for _ in range(shards)]
    for d in sorted(weight, key=lambda k: (-weight[k], k)):
        i = min(range(shards), key=lambda j: bins[j][0])
        bins[i] = (bins[i][0] + weight[d], bins[i][1] | {d})
    return [b for _, b in bins if b]


def _send(stream: IO[bytes], msg: Any) -> None:
    data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("!Q", len(data)) + data)
    stream.flush()


def _recv(stream: IO[bytes]) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        return None
    (n,) = struct.unpack("!Q", head)
    return pickle.loads(stream.read(n))


class ShardedRun:
    """Workers started at once (``start``); records gathered and merged later (``collect``), so the
    parent can do other work, such as building the backbone plan, while they run."""

    def __init__(self, model: CloudModel, stack_ref: str, catalogue: Path | None, shards: int):
        self.jobs = [(stack_ref, str(catalogue) if catalogue else None, model.allocation.lock, g)
                     for g in split(model, shards)]
        self.procs: list[subprocess.Popen[bytes]] = []
        self.inbox: queue.Queue[tuple[int, Any]] = queue.Queue()

    def start(self) -> ShardedRun:
        for i, job in enumerate(self.jobs):
            p = subprocess.Popen([sys.executable, "-m", "egov.cloud.shard"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE)
            assert p.stdin is not None and p.stdout is not None
            _send(p.stdin, job)
            p.stdin.close()
            self.procs.append(p)
            threading.Thread(target=self._read, args=(i, p.stdout), daemon=True).start()
        return self

    def _read(self, i: int, stream: IO[bytes]) -> None:
        while True:
            try:
                msg = _recv(stream)
            except (EOFError, pickle.UnpicklingError, OSError):
                msg = None
            self.inbox.put((i, msg))
            if msg is None or msg[0] != "progress":
                return

    def stop(self) -> None:
        """End the workers this run started (after an error elsewhere)."""
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
            p.wait(timeout=30)

    def collect(self, on_record: Callable[[int], None] | None = None) -> list[Record]:
        parts: dict[int, list[tuple[Any, ...]]] = {}
        try:
            while len(parts) < len(self.procs):
                i, msg = self.inbox.get()
                if msg is None:
                    code = self.procs[i].wait()
                    raise EgovError.one("egov cloud plan", "--jobs", f"a plan worker ended without a result "
                                        f"(exit code {code})", "rerun with --jobs 1")
                if msg[0] == "progress":
                    if on_record:
                        on_record(msg[1])
                elif msg[0] == "done":
                    parts[i] = msg[1]
                elif msg[0] == "problems":
                    raise EgovError(msg[1])
                else:
                    raise EgovError(Problem("egov cloud plan", "--jobs", f"a plan worker failed: {msg[1]}",
                                            "rerun with --jobs 1 and EGOV_DEBUG=1"))
        except BaseException:
            self.stop()
            raise
        for p in self.procs:
            p.wait(timeout=60)
        return merge([parts[i] for i in sorted(parts)])


def merge(parts: list[list[tuple[Any, ...]]]) -> list[Record]:
    """One record per (type, name): what several workers built is the same resource."""
    seen: set[tuple[str, str]] = set()
    merged: list[Record] = []
    for part in parts:
        for t in part:
            key = (t[0], t[1])
            if key in seen:
                continue
            seen.add(key)
            merged.append(Record(*t))
    return merged


def _worker() -> None:
    """Child side: read the job from stdin, run its departments, write the records to stdout."""
    out = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing else may write into the message pipe
    try:
        stack_ref, catalogue, lock, departments = _recv(sys.stdin.buffer)
        from egov.cloud.config import load_stack
        from egov.cloud.mockrun import run_offline
        from egov.cloud.model import build_model
        from egov.cloud.program import deploy

        model = build_model(load_stack(stack_ref), Path(catalogue) if catalogue else None, lock=lock)
        records = run_offline(lambda: deploy(model, departments=departments), stack=model.stack.name,
                              on_record=lambda n: _send(out, ("progress", n)))
        _send(out, ("done", [(r.type, r.name, r.inputs, r.provider, r.parent, r.custom) for r in records]))
    except EgovError as exc:
        _send(out, ("problems", exc.problems))
    except BaseException as exc:  # noqa: BLE001 - reported by the parent as one line
        _send(out, ("error", f"{exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"))


if __name__ == "__main__":
    _worker()
