"""The results document checked as a reader sees it: opened in headless Chromium over the DevTools protocol.

Needs Debian's ``chromium`` (``apt-get install -y chromium``); skipped with that instruction when absent.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_report_document import RUN_ID, save_campaign

from scaleperf.report import document

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
START_TIMEOUT_S = 20.0  # Chromium writing its DevTools port
LOAD_TIMEOUT_S = 30.0  # the page's load event
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
IMAGES_JS = "JSON.stringify(Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt]))"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed: apt-get update && apt-get install -y chromium")


@dataclass(frozen=True)
class PageCheck:
    images: list[tuple[bool, int, str]]  # (complete, naturalWidth, alt) per <img>
    console_errors: list[str]


def open_in_chromium(html_path: Path) -> PageCheck:
    """Load ``html_path`` in headless Chromium; report every image's state and every console error."""
    import websocket

    # Chromium's helper processes may still be writing the profile when the browser exits: stop the whole
    # process group, and do not let a late write fail the test on cleanup.
    with tempfile.TemporaryDirectory(prefix="scaleperf-chromium-", ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + START_TIMEOUT_S
            while not (port_file.exists() and port_file.read_text().strip()):
                assert time.monotonic() < deadline, "Chromium did not open its DevTools port"
                assert proc.poll() is None, f"Chromium exited with {proc.returncode}"
                time.sleep(0.05)
            port = int(port_file.read_text().split()[0])
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
                page = next(t for t in json.load(resp) if t["type"] == "page")
            ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=LOAD_TIMEOUT_S, suppress_origin=True)
            try:
                return _drive(ws, html_path)
            finally:
                ws.close()
        finally:
            _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM Chromium and its helpers, SIGKILL what is left after 10 s."""
    for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait_s)
            os.killpg(proc.pid, signal.SIGKILL)  # helpers that outlived the browser
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue
        return


def _drive(ws, html_path: Path) -> PageCheck:
    ids = iter(range(1, 1000))
    errors: list[str] = []
    replies: dict[int, dict] = {}
    loaded = False

    def send(method: str, **params) -> int:
        i = next(ids)
        ws.send(json.dumps({"id": i, "method": method, "params": params}))
        return i

    def pump(until) -> None:
        nonlocal loaded
        deadline = time.monotonic() + LOAD_TIMEOUT_S
        while not until():
            assert time.monotonic() < deadline, "Chromium did not answer in time"
            msg = json.loads(ws.recv())
            if "id" in msg:
                replies[msg["id"]] = msg
            method = msg.get("method")
            if method == "Page.loadEventFired":
                loaded = True
            elif method == "Runtime.consoleAPICalled" and msg["params"]["type"] in ("error", "assert"):
                errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in msg["params"]["args"]))
            elif method == "Runtime.exceptionThrown":
                errors.append(msg["params"]["exceptionDetails"].get("text", "exception"))
            elif method == "Log.entryAdded" and msg["params"]["entry"]["level"] == "error":
                errors.append(msg["params"]["entry"]["text"])

    for method in ("Page.enable", "Runtime.enable", "Log.enable"):
        i = send(method)
        pump(lambda i=i: i in replies)
    send("Page.navigate", url=html_path.resolve().as_uri())
    pump(lambda: loaded)
    i = send("Runtime.evaluate", expression=IMAGES_JS, returnByValue=True)
    pump(lambda: i in replies)
    images = [tuple(x) for x in json.loads(replies[i]["result"]["result"]["value"])]
    return PageCheck(images=images, console_errors=errors)  # type: ignore[arg-type]


@pytest.mark.slow
def test_results_html_loads_every_image_without_console_errors(tmp_path):
    root = save_campaign(tmp_path, configs=("single", "horizontal1"), replicates=1)
    _, html_path = document.build(root, RUN_ID)
    check = open_in_chromium(html_path)
    assert len(check.images) >= 12
    broken = [alt for complete, width, alt in check.images if not complete or width <= 0]
    assert not broken, f"images that did not load: {broken}"
    assert check.console_errors == []


@pytest.mark.slow
def test_the_browser_check_sees_a_broken_image_and_a_console_error(tmp_path):
    page = tmp_path / "broken.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title></head><body>'
        '<img alt="bad" src="data:image/png;base64,iVBORw0KGgoAAAAN">'
        "<script>console.error('planted error')</script></body></html>"
    )
    check = open_in_chromium(page)
    assert check.images == [(True, 0, "bad")]
    assert any("planted error" in e for e in check.console_errors)
