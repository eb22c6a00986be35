"""How bursty the help desk locustfile's requests are when a step's users sign in together.

A load step's users log in within a second or two of one another (their logins queue behind bcrypt and finish
in a burst). This benchmark spawns USERS IdleUsers at once against a fast target that keeps the help desk contract
(tests/unit/locust_targets.py, ``ok`` mode) and records every request's start for RUN_S seconds, twice, side by side:

* ``lockstep``: each browser polls at the instant its login finished (the locustfile's earlier pacing);
* ``random phase``: the shipped locustfile, where each browser's first poll comes at a uniformly random point of
  its poll interval.

Printed for each: the index of dispersion of request starts per second (variance / mean; about 1 for random
arrivals, far above 1 for bursts) and the busiest tenth of the poll cycle against the quietest (1 for an even
spread). The figures are taken after the sign-ins (the first poll interval is left out).

    .venv/bin/python benchmarks/bench_arrival_dispersion.py [--users 300] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "unit"))

from locust_targets import running  # noqa: E402

POLL_INTERVAL_S = 5.0  # the locustfile's default poll interval
TENTHS = 10

CHILD = """
import importlib.util, json, sys, time
from gevent import monkey
monkey.patch_all()
import gevent
from locust.env import Environment

path, url, users, seconds, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
spec = importlib.util.spec_from_file_location("helpdesk_dispersion", path)
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
persona = module.IdleUser
if mode == "lockstep":
    def after_sign_in(self):
        self.next_poll_at = time.monotonic()
    persona = type("IdleUser", (module.IdleUser,), {"after_sign_in": after_sign_in})
starts = []
env = Environment(user_classes=[persona], host=url)
env.events.request.add_listener(lambda start_time=None, name="", **kw: starts.append(start_time) if "updates" in name else None)
runner = env.create_local_runner()
t0 = time.time()
runner.start(users, spawn_rate=1000)
gevent.sleep(seconds)
runner.quit()
print(json.dumps({"t0": t0, "starts": starts}))
"""


def measure(url: str, users: int, seconds: float, mode: str) -> dict:
    env = {**os.environ, "HELPDESK_WEIGHTS": "IdleUser=1,NewUser=0,ActiveUser=0,ExpertUser=0", "HELPDESK_SEED": "1"}
    env["HELPDESK_POLL_INTERVAL"] = str(POLL_INTERVAL_S)
    cmd = [sys.executable, "-c", CHILD, str(ROOT / "locustfiles" / "helpdesk.py"), url, str(users), str(seconds), mode]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{mode} run failed: {done.stderr[-2000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    t = np.asarray(out["starts"], dtype=float) - out["t0"]
    t = t[t >= POLL_INTERVAL_S + 1.0]  # after every user signed in and its first poll came due
    per_second = np.bincount(t.astype(int))[int(POLL_INTERVAL_S + 1.0) :]
    per_tenth = np.histogram(np.mod(t, POLL_INTERVAL_S), bins=TENTHS, range=(0, POLL_INTERVAL_S))[0]
    return {
        "mode": mode,
        "requests": len(t),
        "dispersion": float(per_second.var() / per_second.mean()) if per_second.mean() else float("nan"),
        "busiest_over_quietest": float(per_tenth.max() / max(per_tenth.min(), 1)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    with running("ok") as url:
        rows = [measure(url, args.users, args.seconds, mode) for mode in ("lockstep", "random phase")]
    print(f"{args.users} IdleUsers signed in at once, polling every {POLL_INTERVAL_S:g} s, {args.seconds:g} s each")
    print(f"{'pacing':>14} {'poll requests':>14} {'variance/mean per second':>25} {'busiest/quietest tenth':>23}")
    for r in rows:
        print(f"{r['mode']:>14} {r['requests']:>14} {r['dispersion']:>25.2f} {r['busiest_over_quietest']:>23.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
