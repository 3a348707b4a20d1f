"""What a long import shows while it runs: its counts (resources, versions, files, bytes) and
one line per refusal as it happens. Where the counts go is chosen once, by where the output
goes (`DISPLAYS`): a live bar on a terminal, a plain line now and then in a log file, seldom
in GitHub Actions' log. Everything printed is plain text: ids and reasons are user data."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..log import in_github_actions

Say = Callable[[str], None]


@dataclass(frozen=True)
class Display:
    bar: bool
    """A live bar (a terminal) instead of plain lines."""
    every: float
    """Seconds between two plain lines of counts."""


DISPLAYS: dict[str, Display] = {
    "terminal": Display(bar=True, every=float("inf")),
    "log": Display(bar=False, every=30.0),
    "github-actions": Display(bar=False, every=300.0),  # a long import's log stays readable
}


def display_for(is_terminal: bool, github_actions: bool | None = None) -> str:
    """Which of DISPLAYS fits where the output goes."""
    if in_github_actions() if github_actions is None else github_actions:
        return "github-actions"
    return "terminal" if is_terminal else "log"


def _size(n: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000  # type: ignore[assignment]
    return str(n)


@dataclass
class Counts:
    done: dict[str, int] = field(default_factory=lambda: {"resources": 0, "versions": 0, "files": 0, "bytes": 0})
    total: dict[str, int] = field(default_factory=lambda: {"resources": 0, "versions": 0, "files": 0})

    def line(self) -> str:
        parts = [f"{k} {self.done[k]}/{self.total[k]}" for k in self.total]
        return ", ".join([*parts, _size(self.done["bytes"])])


class ImportProgress:
    """Thread-safe counts of one import; `say` gets a line of counts at most every `every`
    seconds, and every refusal at once; `show` (a live bar) gets the counts on every change."""

    def __init__(self, say: Say = lambda line: None, *, every: float = float("inf"),
                 show: Callable[[Counts], None] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.say = say
        self.every = every
        self.show = show
        self.counts = Counts()
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()

    def expect(self, **totals: int) -> None:
        with self._lock:
            for k, n in totals.items():
                self.counts.total[k] += n
        self._shown(force=False)

    def advance(self, **done: int) -> None:
        with self._lock:
            for k, n in done.items():
                self.counts.done[k] += n
        self._shown(force=False)

    def refused(self, line: str) -> None:
        """One refusal, said as it happens."""
        self.say(line)

    def finish(self) -> None:
        if self.show is None and self.every != float("inf"):
            self._shown(force=True)

    def _shown(self, *, force: bool) -> None:
        if self.show is not None:
            self.show(self.counts)
            return
        now = self._clock()
        line: str | None = None
        with self._lock:
            if force or now - self._last >= self.every:
                self._last = now
                line = self.counts.line()
        if line is not None:
            self.say(line)


def refusal_lines(concept_id: str, action: str, notes: list[str]) -> list[str]:
    """The lines of a concept's outcome that are refusals (a refused concept: all its notes)."""
    if action == "refused":
        return [f"{concept_id}: {n}" for n in notes] or [f"{concept_id}: refused"]
    return [f"{concept_id}: {n}" for n in notes if "refused" in n]
