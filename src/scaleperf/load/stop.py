"""The stop protocol at the end of a run: users finish the task in hand, every worker's last samples reach the
master, each worker is told to quit, and the master's port is released."""

from __future__ import annotations

import logging
import os
import time

import gevent
from locust.rpc import Message
from locust.runners import STATE_MISSING, STATE_STOPPED, MasterRunner, Runner

from scaleperf.load import recorder as rec_mod
from scaleperf.load.workers import LocalWorkers

log = logging.getLogger(__name__)

FINAL_REPORT_TIMEOUT_S = 8.0  # after stopping, wait this long at most for every worker's last samples
MASTER_CLOSE_LINGER_MS = 1000  # at the end, the workers' quit messages get this long to leave before the port is released
RUNNER_JOIN_TIMEOUT_S = 5.0  # the runner's greenlet must end this long after quit
_HOST = os.uname().nodename  # this machine: a local worker's reports carry it


def stop(runner: Runner, recorder: rec_mod.Recorder, worker_ids: list[str], local: LocalWorkers | None) -> None:
    """Stop the users; on a master, collect every worker's last samples, then tell each worker to quit."""
    if isinstance(runner, MasterRunner):
        stop_at = time.time()
        if runner.state != STATE_STOPPED:
            runner.stop()
        ids = set(worker_ids) | set(recorder.workers)
        deadline = time.monotonic() + FINAL_REPORT_TIMEOUT_S
        while time.monotonic() < deadline:
            dead_pids = {pid for pid, _, _ in local.dead()} if local is not None else set()
            missing = {c.id for c in runner.clients.values() if c.state == STATE_MISSING}
            missing |= {
                cid for cid, facts in recorder.workers.items() if facts.get("pid") in dead_pids and facts.get("host") == _HOST
            }
            waiting = [
                cid
                for cid in ids - missing
                if not (recorder.workers.get(cid, {}).get("received_at", 0) > stop_at and recorder.workers[cid].get("users") == 0)
            ]
            if not waiting:
                break
            gevent.sleep(0.1)
        else:
            log.warning("not every load worker sent its last samples within %.0f s", FINAL_REPORT_TIMEOUT_S)
        for cid in ids:  # a stopped worker is off the master's client list until it re-registers: tell it directly
            runner.server.send_to_client(Message("quit", None, cid))
    runner.quit()
    if runner.greenlet is not None:
        runner.greenlet.join(timeout=RUNNER_JOIN_TIMEOUT_S)
    if isinstance(runner, MasterRunner):
        # Locust leaves the master's socket bound when it quits: release the port, so that the next run
        # (the next configuration, on the same fixed port for remote workers) can listen on it again.
        runner.server.socket.context.destroy(linger=MASTER_CLOSE_LINGER_MS)
