"""The studio's models, held by stage: one job per stage at a time, the others in line.

The voice stage (transcriber, aligner, editor) and the face stage (dlib's face models) each
have their own lock, so an alignment never waits behind another session's face swap; a job
that needs both (a dub, a video's detection) takes them in a fixed order (voice, then face).
At most one job runs per stage, so two stages at once is the most the machine carries.

A job that has to wait is told where it stands, in line order: how many jobs are ahead of it
and about how long they will take (the running job's own progress when it reports some, else
the mean time of recent jobs of the same kind, else a typical time for that kind).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

TYPICAL_S = {"analyse": 15.0, "render": 8.0, "preview": 5.0, "swap": 60.0, "dub": 90.0,
             "detect": 20.0}  # before any job of that kind has been timed here
POLL_S = 0.5  # how often a waiting job re-says where it stands (and checks for Cancel)


@dataclass(eq=False)
class _Ticket:
    kind: str
    started: float | None = None
    fraction: float = 0.0  # of the running job, from its progress reports


@dataclass
class StageLock:
    """A first-come, first-served lock for one stage, that knows its line."""

    what: str  # "the voice models", for the waiting message
    line: deque = field(default_factory=deque)  # waiting tickets, first in line first
    running: _Ticket | None = None
    times: dict[str, deque] = field(default_factory=dict)  # kind -> recent durations (s)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def mean(self, kind: str) -> float:
        seen = self.times.get(kind)
        return sum(seen) / len(seen) if seen else TYPICAL_S.get(kind, 30.0)

    def remaining(self) -> float:
        """Seconds the running job probably still needs (0 when none runs)."""
        t = self.running
        if t is None or t.started is None:
            return 0.0
        elapsed = time.monotonic() - t.started
        if t.fraction >= 0.05:
            return max(1.0, elapsed * (1 - t.fraction) / t.fraction)
        return max(2.0, self.mean(t.kind) - elapsed)

    def standing(self, ticket: _Ticket) -> tuple[int, float]:
        """Jobs ahead of `ticket` (the running one included) and about how long they take."""
        with self.cond:
            ahead = list(self.line)[:list(self.line).index(ticket)]
            eta = self.remaining() + sum(self.mean(t.kind) for t in ahead)
            return len(ahead) + (self.running is not None), eta

    @contextlib.contextmanager
    def hold(self, kind: str, waiting: Callable[[int, float], None] | None = None,
             cancelled: Callable[[], bool] = lambda: False) -> Iterator[_Ticket]:
        """Run the block when this stage is free and it is this job's turn. While waiting,
        `waiting(ahead, eta_s)` is called every POLL_S; when `cancelled()` turns true the job
        leaves the line (the caller's own exception is raised by `cancelled`, or
        InterruptedError)."""
        ticket = _Ticket(kind)
        with self.cond:
            self.line.append(ticket)
        try:
            while True:
                with self.cond:
                    if self.running is None and self.line[0] is ticket:
                        self.line.popleft()
                        ticket.started = time.monotonic()
                        self.running = ticket
                        break
                if cancelled():
                    raise InterruptedError("left the line")
                if waiting is not None:
                    waiting(*self.standing(ticket))
                with self.cond:
                    if not (self.running is None and self.line[0] is ticket):
                        self.cond.wait(POLL_S)
        except BaseException:
            with self.cond:
                if ticket in self.line:
                    self.line.remove(ticket)
                self.cond.notify_all()
            raise
        try:
            yield ticket
        finally:
            with self.cond:
                self.times.setdefault(kind, deque(maxlen=8)).append(
                    time.monotonic() - ticket.started)
                self.running = None
                self.cond.notify_all()

    def progress(self, fraction: float) -> None:
        """The running job's share done (0..1), for better estimates."""
        t = self.running
        if t is not None:
            t.fraction = min(1.0, max(0.0, float(fraction)))


def waiting_words(what: str, ahead: int, eta: float) -> str:
    """'In line for the face models: 1 job ahead of you, about 40 s'."""
    jobs = "1 job" if ahead == 1 else f"{ahead} jobs"
    if eta >= 90:
        about = f"about {round(eta / 60)} min"
    else:
        about = f"about {max(1, round(eta / 5) * 5 if eta > 10 else round(eta))} s"
    return f"In line for {what}: {jobs} ahead of you, {about}"


class Stages:
    """The studio's stage locks: `voice` and `face`."""

    ORDER = ("voice", "face")

    def __init__(self) -> None:
        self.locks = {"voice": StageLock("the voice models"),
                      "face": StageLock("the face models")}

    @contextlib.contextmanager
    def hold(self, stages: tuple[str, ...], kind: str,
             waiting: Callable[[str], None] | None = None,
             cancelled: Callable[[], bool] = lambda: False,
             holding: list | None = None) -> Iterator[None]:
        """Hold `stages` (taken in ORDER) for a job of `kind`; `waiting(words)` hears where
        the job stands while it waits. `holding`: a list the held locks are added to while
        they are held (the job's progress reports go to them)."""
        with contextlib.ExitStack() as stack:
            for name in sorted(set(stages), key=self.ORDER.index):
                lock = self.locks[name]
                say = None if waiting is None else (
                    lambda ahead, eta, lock=lock: waiting(waiting_words(lock.what, ahead, eta)))
                stack.enter_context(lock.hold(kind, say, cancelled))
                if holding is not None:
                    holding.append(lock)
                    stack.callback(holding.remove, lock)
            yield
