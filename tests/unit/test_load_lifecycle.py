"""A locustfile that uses each of Locust's life-cycle hooks behaves under scaleperf as under ``locust -f``."""

from __future__ import annotations

import os

import pytest

from scaleperf.errors import ScaleperfError
from scaleperf.load import profile_from_dict, run

SHORT = profile_from_dict("short", {"phases": [{"kind": "ramp", "users": 2, "rate": 2}, {"kind": "plateau", "duration_s": 3}]})
# Every hook writes "<pid> <event> <details>" to the file LIFECYCLE_LOG names; the users put the option they
# were given into each request's name.
LOCUSTFILE = """
import os

from locust import FastHttpUser, constant, events, task


def _log(*words):
    with open(os.environ["LIFECYCLE_LOG"], "a") as f:
        f.write(" ".join(str(w) for w in (os.getpid(), *words)) + "\\n")


@events.init_command_line_parser.add_listener
def _options(parser, **kw):
    parser.add_argument("--greeting", env_var="LIFECYCLE_GREETING", default="hello", help="said in every request")
    parser.add_argument("--shout", action="store_true", default=False)
    _log("init_command_line_parser")


@events.init.add_listener
def _init(environment, runner, web_ui=None, **kw):
    _log("init", type(runner).__name__, environment.parsed_options.greeting, environment.parsed_options.shout,
         environment.host, web_ui)


@events.test_start.add_listener
def _start(environment, **kw):
    _log("test_start")


@events.test_stop.add_listener
def _stop(environment, **kw):
    _log("test_stop")


@events.quitting.add_listener
def _quitting(environment, **kw):
    _log("quitting")
    environment.process_exit_code = 3


@events.quit.add_listener
def _quit(exit_code, **kw):
    _log("quit", exit_code)


class Greeter(FastHttpUser):
    wait_time = constant(0.1)

    @task
    def ping(self):
        self.client.get("/ping", name="/ping " + self.environment.parsed_options.greeting)
"""


def _events(log) -> dict[int, list[str]]:
    by_pid: dict[int, list[str]] = {}
    for line in log.read_text().splitlines():
        pid, _, rest = line.partition(" ")
        by_pid.setdefault(int(pid), []).append(rest)
    return by_pid


@pytest.fixture
def hook_log(tmp_path, monkeypatch):
    log = tmp_path / "hooks.log"
    monkeypatch.setenv("LIFECYCLE_LOG", str(log))
    return log


def test_each_hook_fires_in_locusts_order_with_options_from_the_environment(url, locustfile, hook_log, monkeypatch):
    monkeypatch.setenv("LIFECYCLE_GREETING", "bonjour")
    result = run(url, locustfile, SHORT, progress=False)
    assert _events(hook_log)[os.getpid()] == [
        "init_command_line_parser",
        f"init LocalRunner bonjour False {url} None",
        "test_start",
        "test_stop",
        "quitting",
        "quit 3",
    ]
    assert set(result.samples.names) == {"/ping bonjour"}
    assert result.meta["locust_exit_code"] == 3  # what `locust -f` would have exited with


def test_an_options_default_holds_when_the_environment_says_nothing(url, locustfile, hook_log, monkeypatch):
    monkeypatch.delenv("LIFECYCLE_GREETING", raising=False)
    result = run(url, locustfile, SHORT, progress=False)
    assert set(result.samples.names) == {"/ping hello"}
    assert f"init LocalRunner hello False {url} None" in _events(hook_log)[os.getpid()]


@pytest.mark.slow
def test_master_and_worker_each_go_through_the_life_cycle(url, locustfile, hook_log, monkeypatch):
    monkeypatch.setenv("LIFECYCLE_GREETING", "hola")
    result = run(url, locustfile, SHORT, workers=1, progress=False)
    by_pid = _events(hook_log)
    master = by_pid.pop(os.getpid())
    assert master == ["init_command_line_parser", f"init MasterRunner hola False {url} None", "test_start", "test_stop",
                      "quitting", "quit 3"]  # fmt: skip
    (worker,) = by_pid.values()
    assert worker[:2] == ["init_command_line_parser", "init WorkerRunner hola False None None"]
    assert worker.index("test_start") < worker.index("test_stop")
    assert set(result.samples.names) == {"/ping hola"} and len(result.samples) > 0


def test_an_init_listener_that_raises_stops_the_run_as_it_stops_locust(url, locustfile, tmp_path, hook_log):
    broken = tmp_path / "init_fails_lf.py"
    broken.write_text(
        "from locust import FastHttpUser, events, task\n\n@events.init.add_listener\ndef _init(environment, **kw):\n"
        "    raise RuntimeError('no test data')\n\nclass U(FastHttpUser):\n    @task\n    def t(self):\n        pass\n"
    )
    with pytest.raises(ScaleperfError, match="init event raised"):
        run(url, broken, SHORT, progress=False)
    result = run(url, locustfile, SHORT, progress=False)  # another locustfile's hooks do not follow it
    assert result.complete and "init LocalRunner hello False" in " ".join(_events(hook_log)[os.getpid()])
