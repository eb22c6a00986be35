"""The load engine's modules: one concern each, none long, and the public entry points where users find them."""

from __future__ import annotations

from pathlib import Path

import scaleperf.load

LOAD_DIR = Path(scaleperf.load.__file__).resolve().parent
MAX_LINES = 400  # a newcomer reads a module of one concern in one sitting


def test_no_load_module_is_over_400_lines():
    lengths = {p.name: len(p.read_text().splitlines()) for p in LOAD_DIR.glob("*.py")}
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}


def test_each_engine_concern_has_its_own_module():
    from scaleperf.load import drive, engine, lifecycle, locustfile, metadata, preflight, signals, sink, stop, workers

    assert engine.run is scaleperf.load.run and engine.user_classes is locustfile.user_classes is scaleperf.load.user_classes
    assert callable(signals.SignalForwarder) and callable(workers.LocalWorkers) and callable(drive.drive)
    assert callable(stop.stop) and callable(metadata.software) and callable(sink.Sink) and callable(preflight.preflight)
    assert callable(lifecycle.restored_event_handlers)
