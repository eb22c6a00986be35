"""scaleperf is installed as a pytest plugin, so it loads in every pytest session of its environment: only a
session that selects perf tests may change the process (gevent, SIGTERM, a run id, the HTML report)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from scaleperf import gevent_setup
from scaleperf.selection import selects_perf

FOREIGN_TESTS = """
import asyncio
import os
import signal
import socket
import ssl
import sys
import threading

import pytest


def test_scaleperf_is_loaded_in_this_session(pytestconfig):
    assert pytestconfig.pluginmanager.hasplugin("scaleperf")


def test_nothing_was_patched_and_no_run_was_started():
    assert "gevent" not in sys.modules
    assert socket.socket.__module__ == "socket" and ssl.SSLContext.__module__ == "ssl"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert "SCALEPERF_RUN_ID" not in os.environ


def test_threads_are_operating_system_threads():
    barrier = threading.Barrier(3, timeout=10)
    native = set()

    def work():
        barrier.wait()  # all three at once: each holds its own OS thread
        native.add(threading.get_native_id())

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(native) == 3 and threading.get_native_id() not in native


def test_asyncio_serves_and_connects():
    async def main():
        async def echo(reader, writer):
            writer.write(await reader.readline())
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping\\n")
        await writer.drain()
        line = await reader.readline()
        writer.close()
        server.close()
        await server.wait_closed()
        return line

    assert asyncio.run(main()) == b"ping\\n"


def test_ssl_contexts_and_handshakes_work():
    ctx = ssl.create_default_context()
    ctx.options |= ssl.OP_NO_COMPRESSION  # where a late gevent patch recurses
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="example.test")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    assert outgoing.pending > 0  # the client hello is out
"""


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "SCALEPERF_RUN_ID", "LOCUST_SKIP"))}


@pytest.mark.slow
def test_another_projects_plain_pytest_runs_as_if_scaleperf_were_not_installed(tmp_path):
    project = tmp_path / "other_project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n")  # its own rootdir, no scaleperf settings
    (project / "test_foreign.py").write_text(FOREIGN_TESTS)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--html", "report.html"]
    done = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=180, env=_clean_env(), check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "5 passed" in done.stdout and "MonkeyPatchWarning" not in done.stdout + done.stderr
    page = (project / "report.html").read_text()
    assert "Configuration</th>" not in page and "Verdict</th>" not in page  # pytest-html's own columns only
    assert not (project / "results").exists()


@pytest.mark.parametrize(
    ("markexpr", "named", "selected"),
    [
        ("perf", [], True),
        ("perf and not slow", [], True),
        ("not perf", ["tests/perf/test_x.py"], False),
        ("slow", [], False),
        ("", [], False),
        ("", ["tests/test_plain.py"], False),
        ("", ["tests/perf/test_x.py::test_one[single]"], True),
        ("", ["tests/perf"], True),
        ("not slow", ["tests"], True),
        ("perf and", [], False),  # not an expression: pytest says so, scaleperf stays out of the way
    ],
)
def test_a_session_selects_perf_tests_by_its_mark_expression_or_a_named_perf_test(tmp_path, markexpr, named, selected):
    (tmp_path / "tests" / "perf").mkdir(parents=True)
    (tmp_path / "tests" / "test_plain.py").write_text("def test_one():\n    pass\n")
    (tmp_path / "tests" / "perf" / "test_x.py").write_text("import pytest\n\npytestmark = pytest.mark.perf\n")
    assert selects_perf(markexpr, named, tmp_path) is selected


def test_gevent_patches_only_perf_sessions_unless_the_project_asks_always():
    assert not gevent_setup.wanted(None, perf_selected=False) and not gevent_setup.wanted("perf", perf_selected=False)
    assert gevent_setup.wanted("perf", perf_selected=True) and gevent_setup.wanted("always", perf_selected=False)
    with pytest.raises(ValueError, match="use perf or always"):
        gevent_setup.wanted("sometimes", perf_selected=False)


def test_a_perf_session_of_another_project_gets_its_run_and_signal_handler(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    perf: load tests\n")
    (tmp_path / "test_load.py").write_text(
        "import os, signal\nimport pytest\n\n@pytest.mark.perf\ndef test_marked():\n"
        "    assert os.environ['SCALEPERF_RUN_ID']\n    assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL\n"
        "    from gevent import monkey\n    assert monkey.is_module_patched('socket')\n"
    )
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:anyio", "-p", "no:schemathesis"]
    cmd += ["-m", "perf", f"--results-dir={tmp_path / 'results'}", "test_load.py"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=180, env=_clean_env(), check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert [p.name for p in (tmp_path / "results").iterdir()] != []  # the run's folder, with its HTML report


XDIST_PERF = """
import os
import pytest

pytestmark = pytest.mark.perf


@pytest.mark.parametrize("case", [1, 2])
def test_each_worker_is_patched_for_its_role(case):
    from gevent import monkey
    from scaleperf import gevent_setup

    assert gevent_setup.applied() == "xdist-worker" and monkey.is_module_patched("socket")
    assert not monkey.is_module_patched("threading")  # execnet's channel keeps real threads
    assert os.environ["SCALEPERF_RUN_ID"] == "one-run"  # the controller's, inherited
"""


@pytest.mark.slow
def test_xdist_workers_of_a_perf_session_know_it_before_importing_tests(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    perf: load tests\n")
    (tmp_path / "test_perf_xdist.py").write_text(XDIST_PERF)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:anyio", "-p", "no:schemathesis"]
    cmd += ["-n", "2", "-m", "perf", f"--results-dir={tmp_path / 'results'}", "test_perf_xdist.py"]
    env = {**_clean_env(), "SCALEPERF_RUN_ID": "one-run"}
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=180, env=env, check=False)
    assert done.returncode == 0 and "2 passed" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]


def test_a_skip_reads_as_text_in_the_html_report():
    from _pytest.reports import TestReport

    from scaleperf import plugin_html

    report = TestReport(
        "tests/perf/test_slo.py::test_slo[single-p95]",
        ("tests/perf/test_slo.py", 20, "test_slo"),
        {},
        "skipped",
        ("/repo/tests/perf/test_slo.py", 21, "Skipped: no requests in the plateau's window"),
        "setup",
    )
    logs = [f"{report.longreprtext}\n"]
    assert logs[0].startswith("('")  # what pytest-html shows by itself
    plugin_html.pytest_html_results_table_html(report=report, data=logs)
    assert logs == ["Skipped: no requests in the plateau&#x27;s window (/repo/tests/perf/test_slo.py:21)\n"]
