"""One error shape for the whole toolkit.

Operators must be able to act on an error without reading code, so every
problem names the file, the field and the fix, on one line.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One violation: where it is, what is wrong, how to fix it."""

    file: str
    field: str
    message: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.message}; fix: {self.fix}"


class EgovError(Exception):
    """Raised with one or more problems; the CLI prints one line each and exits 1."""

    def __init__(self, problems: Problem | list[Problem]):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def __reduce__(self):  # keep the problems intact across processes (parallel rendering)
        return (EgovError, (self.problems,))

    @classmethod
    def one(cls, file: str, field: str, message: str, fix: str) -> "EgovError":
        return cls(Problem(file, field, message, fix))
