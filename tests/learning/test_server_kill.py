"""The server-kill drill: SIGKILL `studysmart serve` mid-training; nothing it started survives it, the port is
free again, and the interrupted training is retried by the restarted server."""

from __future__ import annotations

import httpx

from tests.factories import PASSWORD
from tests.learning.processes import Drill, gone_within, wait_for

# Not marked slow: `make test` (CI) runs the drill (issue 11).


def _train_through_the_api(base: str) -> None:
    """Register, then complete five tasks: the fifth completion queues a training."""
    with httpx.Client(base_url=f"{base}/api/v1", timeout=30) as client:
        assert client.post("/auth/register", json={"email": "drill@example.com", "password": PASSWORD,
                                                   "display_name": "Drill"}).status_code == 201
        token = client.post("/auth/token", data={"username": "drill@example.com", "password": PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        for i in range(5):
            task = client.post("/tasks", headers=headers, json={"title": f"Drill {i}", "topic": "Algebra",
                                                                "difficulty": "medium"})
            assert task.status_code == 201, task.text
            done = client.post(f"/tasks/{task.json()['id']}/complete", headers=headers,
                               json={"correct": i % 2 == 0, "seconds": 30 + i})
            assert done.status_code == 200, done.text


def test_a_killed_server_leaves_nothing_running_and_its_training_is_retried(drill: Drill) -> None:
    server = drill.serve()
    _train_through_the_api(drill.base)
    wait_for(drill.marker.exists, 60, "the worker to start fitting the slow model")
    runs = drill.runs()
    assert [r.status for r in runs] == ["running"]
    tree = drill.tree(server)
    assert int(drill.marker.read_text()) in tree  # the training runs in a process the server started
    assert len(tree) >= 2, tree

    server.kill()  # SIGKILL: no shutdown handler runs
    server.wait()
    survivors = gone_within(tree, 5.0)
    assert survivors == {}, f"still running 5 s after the server was killed: {survivors}"

    restarted = drill.serve()  # the same port: nothing holds the listening socket any more

    def retried() -> bool:
        return any(r.status == "succeeded" for r in drill.runs())
    wait_for(retried, 30, "the interrupted training to be retried and succeed")  # well before the 30 s reaper
    first, *later = drill.runs()
    assert first.status == "failed" and "interrupted" in (first.error or ""), first.error
    assert [r.status for r in later] == ["succeeded"]
    assert later[0].trigger == "resume"

    # A graceful stop (SIGTERM, as a deploy sends) ends everything the server started too.
    tree = drill.tree(restarted)
    assert tree
    restarted.terminate()
    restarted.wait(timeout=30)
    assert gone_within(tree, 5.0) == {}
