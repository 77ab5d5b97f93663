"""Progress lines of a running campaign: one line when an entry starts and one when its attempt ends.

Covers ``ProgressLines``, an ``EntryRunner`` wrapper that ``ara campaign run`` and ``ara campaign resume`` put
around the real runner: it writes a line as each entry starts (its run id and attempt) and as each attempt ends
(done, waiting for a human or failed, with its time, spend, proposal and key numbers; or the fault that ended the
attempt, which the supervisor then retries or records), so a night of runs is never silent until its summary.
Lines are written whole under a lock (entries run in parallel threads). Does not decide anything: retries, final
statuses and spend totals stay with ``assistant.campaign.runner`` and the queue.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from assistant.campaign.queue import EntryOutcome
from assistant.campaign.runner import EntryContext, EntryInterrupted, EntryRunner

MARKS = {"done": "✓", "waiting_human": "…", "failed": "✗"}


def outcome_line(ctx: EntryContext, outcome: EntryOutcome, seconds: float, final: int, total: int) -> str:
    """The line for an attempt that ended with ``outcome`` (``final`` of ``total`` entries are final now)."""
    parts = [f"{outcome.tokens:,} tokens"]
    if outcome.proposal_id:
        parts.append(f"proposal {outcome.proposal_id} awaiting review")
    if outcome.key_metrics:
        parts.append(", ".join(f"{k}={v:.3g}" for k, v in list(outcome.key_metrics.items())[:4]))
    if outcome.status != "done" and outcome.detail:
        parts.append(outcome.detail.replace("\n", " ")[:300])
    word = outcome.status.replace("_", " ")
    return f"[{final}/{total}] {MARKS[outcome.status]} {ctx.entry.id} {word} in {seconds:.1f}s: {'; '.join(parts)}"


@dataclass
class ProgressLines:
    """Wrap ``inner`` so each entry's start and end is written with ``write`` (one call per line).

    Args:
        inner: The entry runner doing the work.
        total: Entries in the campaign (for the ``[final/total]`` count).
        write: Writes one line (the CLI's ``click.echo`` to stderr).
        already_final: Entries already final when this runner started (a resumed campaign).
        clock: Measures each attempt (tests pass a fake).
    """

    inner: EntryRunner
    total: int
    write: Callable[[str], None]
    already_final: int = 0
    clock: Callable[[], float] = time.monotonic
    _final: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _say(self, line: str) -> None:
        with self._lock:
            self.write(line)

    def __call__(self, ctx: EntryContext) -> EntryOutcome:
        again = f", attempt {ctx.attempt}" if ctx.attempt > 1 else ""
        resumed = ", resuming its checkpoint" if ctx.resume else ""
        self._say(f"▸ {ctx.entry.id} started: run {ctx.run_id}{again}{resumed}")
        started = self.clock()
        try:
            outcome = self.inner(ctx)
        except EntryInterrupted as err:
            self._say(f"  {ctx.entry.id} stopped: {err}")
            raise
        except Exception as err:
            self._say(
                f"  {ctx.entry.id} attempt {ctx.attempt} ended after {self.clock() - started:.1f}s: "
                f"{type(err).__name__}: {err}"
            )
            raise
        with self._lock:
            self._final += 1
            final = self.already_final + self._final
            self.write(outcome_line(ctx, outcome, self.clock() - started, final, self.total))
        return outcome
