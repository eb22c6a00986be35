"""The locustfile's username generator and user store: deterministic, no duplicates, thread-safe."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LOCUSTFILE = Path(__file__).resolve().parents[2] / "locustfiles" / "helpdesk.py"


@pytest.fixture(scope="module")
def helpdesk():
    spec = importlib.util.spec_from_file_location("helpdesk_locustfile_pool", LOCUSTFILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_same_seed_gives_the_same_names_and_another_seed_does_not(helpdesk):
    a, b, c = (helpdesk.UserNameGenerator(1000, seed=s) for s in (42, 42, 43))
    names_a = [a.generate_username() for _ in range(50)]
    assert names_a == [b.generate_username() for _ in range(50)]
    assert names_a != [c.generate_username() for _ in range(50)]
    assert names_a[0] == "user_42"  # the seed is the first user, as in the course's example


@pytest.mark.parametrize("pool", [10000, 1000, 30, 7])
def test_a_whole_pool_is_visited_once_before_any_name_repeats(helpdesk, pool):
    gen = helpdesk.UserNameGenerator(pool, seed=3)
    names = [gen.generate_username() for _ in range(pool)]
    assert sorted(names, key=lambda n: int(n.split("_")[1])) == [f"user_{i}" for i in range(pool)]
    assert gen.generate_username() == names[0]  # then it starts over


def test_stride_is_coprime_with_the_pool_for_every_seed(helpdesk):
    # The course's example may pick 2 or 5 as the stride for a pool of 10000, which revisits names early.
    strides = {helpdesk.UserNameGenerator(10000, seed=s).prime_number for s in range(300)}
    assert strides and all(10000 % p for p in strides)
    assert len(strides) > 5


@pytest.mark.parametrize(("pool", "workers"), [(100, 3), (10000, 4), (5, 5)])
def test_worker_slices_are_disjoint_and_cover_the_pool(helpdesk, pool, workers):
    slices = []
    for index in range(workers):
        gen = helpdesk.UserNameGenerator(pool, seed=11, slice_index=index, slice_count=workers)
        names = [gen.generate_username() for _ in range(gen.slice_size)]
        assert len(set(names)) == len(names)
        assert gen.generate_username() == names[0]  # a slice wraps inside itself
        slices.append(set(names))
    assert sum(len(s) for s in slices) == pool
    assert set().union(*slices) == {f"user_{i}" for i in range(pool)}


def test_more_workers_than_users_is_a_clear_error(helpdesk):
    with pytest.raises(helpdesk.SettingsError, match="HELPDESK_MAX_USERS"):
        helpdesk.UserNameGenerator(2, seed=0, slice_index=3, slice_count=4)


def test_store_keeps_the_latest_sign_in_and_forgets_removed_users(helpdesk):
    store = helpdesk.UserStore()
    assert store.get_random_user() is None
    store.store_user("user_1", "t1", "1")
    store.store_user("user_1", "t2", "1")
    store.store_user("user_2", "t3", "2")
    assert len(store) == 2 and store.used_usernames["user_1"].auth_token == "t2"
    store.remove_user("user_2")
    assert store.get_random_user().username == "user_1"


THREADED = """
import importlib.util, json, sys, threading, time
sys.setswitchinterval(1e-6)  # switch threads as often as possible, to expose races
spec = importlib.util.spec_from_file_location("lf", sys.argv[1]); lf = importlib.util.module_from_spec(spec)
sys.modules["lf"] = lf; spec.loader.exec_module(lf)
assert threading.Thread.__module__ == "threading", "threads must be real OS threads here"
class Yielding(lf.UserNameGenerator):
    # Hand the GIL to another thread on every access to the counter, so an unguarded update races for sure.
    @property
    def current_index(self):
        time.sleep(0); return self._index
    @current_index.setter
    def current_index(self, value):
        time.sleep(0); self._index = value
gen, store = Yielding(100000, seed=5), lf.UserStore()
names = [[] for _ in range(8)]
def work(mine):
    for _ in range(1000):
        name = gen.generate_username(); mine.append(name); store.store_user(name, "t", name)
threads = [threading.Thread(target=work, args=(n,)) for n in names]
[t.start() for t in threads]; [t.join() for t in threads]
flat = [n for part in names for n in part]
print(json.dumps({"drawn": len(flat), "distinct": len(set(flat)), "stored": len(store)}))
"""


def test_generator_and_store_are_safe_across_real_threads(helpdesk):
    # gevent patches threads into greenlets in this process, so the race runs in a child with real threads.
    env = {**os.environ, "LOCUST_SKIP_MONKEY_PATCH": "1"}
    out = subprocess.run([sys.executable, "-c", THREADED, str(LOCUSTFILE)], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    counts = json.loads(out.stdout.strip().splitlines()[-1])
    assert counts == {"drawn": 8000, "distinct": 8000, "stored": 8000}
