"""A graceful stop of `studysmart worker` (SIGTERM, as a deploy sends) hands a running training back to the queue
at once instead of leaving it to the stale-run reaper."""

from __future__ import annotations

import json

from tests.learning.processes import Drill, gone_within, wait_for

# Not marked slow: `make test` (CI) runs the drill (issue 11).


def test_a_stopped_worker_hands_its_running_training_back_at_once(drill: Drill) -> None:
    drill.command("demo", "--students", "1")  # its completions queue a training
    worker = drill.start("worker")
    wait_for(drill.marker.exists, 60, "the worker to start fitting the slow model")
    assert [r.status for r in drill.runs()] == ["running"]
    tree = drill.tree(worker)
    assert int(drill.marker.read_text()) in tree

    worker.terminate()
    assert worker.wait(timeout=10) == 0  # bounded: it does not wait for the (minute-long) fit
    assert gone_within(tree, 5.0) == {}
    first = drill.runs()[0]
    assert first.status == "failed" and "interrupted" in (first.error or ""), first.error
    status = json.loads(drill.command("status", "--json"))
    assert status["training"]["status"] == "queued" and status["queue_depth"] == 1  # back in the queue, now

    drill.start("worker")  # the next worker takes it at once (no 30 s wait for the reaper)
    wait_for(lambda: [r.status for r in drill.runs()] == ["failed", "succeeded"], 30, "the retry to succeed")
    assert drill.runs()[1].trigger == "resume"
