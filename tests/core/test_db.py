"""The SQLite engine across ``fork``: a worker process forked while another thread is inside a transaction must
still be able to write (SQLite's in-memory lock records are copied into the child)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from sqlalchemy import text

from studysmart.core.db import make_engine


def test_a_process_forked_during_a_transaction_can_write(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fork.db'}"
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    inside = threading.Event()

    def hold_a_transaction() -> None:
        with engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
            inside.set()
            time.sleep(0.5)

    holder = threading.Thread(target=hold_a_transaction)
    holder.start()
    inside.wait(5)
    pid = os.fork()  # while the other thread is inside its transaction
    if pid == 0:  # the child: a fresh engine, as the training worker makes one
        code = 1
        try:
            child = make_engine(url)
            with child.begin() as connection:
                connection.execute(text("INSERT INTO t VALUES (2)"))
            code = 0
        finally:
            os._exit(code)
    holder.join()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with engine.connect() as connection:
        assert sorted(connection.exec_driver_sql("SELECT x FROM t").scalars()) == [1, 2]
    engine.dispose()
