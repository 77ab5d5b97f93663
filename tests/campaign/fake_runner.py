"""A campaign runner process with a fake entry runner whose side effects are idempotent, for crash tests.

Usage: python fake_runner.py WORKSPACE CAMPAIGN_ID STORE.sqlite
Each entry runs three "cells" and one "commit", each recorded in STORE keyed by run id + step (INSERT OR IGNORE,
the same idempotency a research-loop checkpoint gives). Every execution is also logged, so a test can count
re-executions and check that resumed entries keep their run id.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from pathlib import Path

from assistant.campaign.queue import CampaignQueue, EntryOutcome
from assistant.campaign.runner import CampaignRunner, EntryContext, EntryInterrupted


def main() -> None:
    workspace, campaign_id, store = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
    local = threading.local()

    def connect() -> sqlite3.Connection:
        # One connection per worker thread: entries run concurrently, and two threads issuing BEGIN on a shared
        # connection fail with "cannot start a transaction within a transaction".
        if not hasattr(local, "db"):
            local.db = sqlite3.connect(store, isolation_level=None, timeout=30)
        return local.db  # type: ignore[no-any-return]

    setup = connect()
    setup.execute("CREATE TABLE IF NOT EXISTS steps (run_id TEXT, step TEXT, PRIMARY KEY (run_id, step))")
    setup.execute("CREATE TABLE IF NOT EXISTS executions (entry TEXT, run_id TEXT, step TEXT, at REAL)")

    def run_entry(ctx: EntryContext) -> EntryOutcome:
        db = connect()
        for step in ("cell-1", "cell-2", "cell-3", "commit"):
            if ctx.stop.is_set():
                raise EntryInterrupted("stopping")
            done = db.execute("SELECT 1 FROM steps WHERE run_id = ? AND step = ?", (ctx.run_id, step)).fetchone()
            if done:
                continue
            time.sleep(0.15)
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT OR IGNORE INTO steps VALUES (?, ?)", (ctx.run_id, step))
            db.execute("INSERT INTO executions VALUES (?, ?, ?, ?)", (ctx.entry.id, ctx.run_id, step, time.time()))
            db.execute("COMMIT")
        return EntryOutcome(status="done", detail="ok", proposal_id=f"p-{ctx.run_id}", tokens=10, kernel_s=0.45)

    runner = CampaignRunner(CampaignQueue(workspace), campaign_id, run_entry, poll_s=0.05)
    with runner.signals_stop_it():
        print(runner.run().model_dump_json(), flush=True)


if __name__ == "__main__":
    main()
