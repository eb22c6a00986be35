"""Where a run's raw samples go as it runs (its directory, or memory) and how they are read back at the end."""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from scaleperf import results
from scaleperf.load import recorder as rec_mod

if TYPE_CHECKING:
    from scaleperf.load.searching import LiveSearch

log = logging.getLogger(__name__)


RECENT_S = 30.0  # the sink keeps this many seconds of latencies for the progress line


class Sink:
    """Where full sample chunks go: the run directory (when there is one) or memory; times made relative."""

    def __init__(self, writer: results.RunWriter | None, t0: float, search: LiveSearch | None = None) -> None:
        self.writer = writer
        self.search = search  # a saturation search under way watches every chunk
        self.t0 = t0
        self.chunks: list[dict[str, np.ndarray]] = []
        self.failures = 0
        self.rows = 0
        self._recent: deque[tuple[np.ndarray, np.ndarray]] = deque()  # (t, latency_ms) of the last RECENT_S

    def recent_latencies(self, since: float) -> np.ndarray:
        """Latencies (ms) of the requests handed over that started at or after ``since`` (seconds since t0),
        from the last ``RECENT_S``: the progress line's view of what has already left the recorder."""
        parts = [lat[t >= since] for t, lat in self._recent]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def __call__(self, chunk: dict[str, np.ndarray]) -> None:
        chunk = dict(chunk)
        chunk["t"] = chunk["t"] - self.t0
        self.failures += int(np.count_nonzero(chunk["error"]))
        self.rows += len(chunk["t"])
        if len(chunk["t"]):
            self._recent.append((chunk["t"], chunk["latency_ms"]))
            newest = float(chunk["t"].max())
            while self._recent and float(self._recent[0][0].max()) < newest - RECENT_S:
                self._recent.popleft()
        if self.search is not None:
            self.search.add(chunk)
        if self.writer is not None:
            self.writer.append_samples(chunk)
        else:
            self.chunks.append(chunk)


def fresh_writer(path: Path) -> results.RunWriter:
    """A writer for ``path``; samples and metadata of an earlier run there are removed (a rerun replaces it)."""
    stale = sorted((path / "samples").glob("part-*.npz")) + [p for p in (path / "meta.json",) if p.exists()]
    if stale:
        log.warning("%s held an earlier run; replacing it", path)
        for p in stale:
            p.unlink()
    return results.RunWriter(path)


def samples_header(recorder: rec_mod.Recorder) -> results.Samples:
    """No samples yet, with the recorder's name, group and error tables."""
    return results.Samples.empty(
        names=recorder.table(recorder.names), groups=recorder.table(recorder.groups), error_kinds=recorder.table(recorder.errors)
    )


def samples(writer: results.RunWriter | None, sink: Sink, header: results.Samples) -> results.Samples:
    """Every sample of the run: read back from its directory, or joined from memory."""
    if writer is not None:
        return results.load(writer.path).samples
    cols = {
        k: np.concatenate([c[k] for c in sink.chunks]).astype(v) if sink.chunks else np.zeros(0, dtype=v)
        for k, v in results.SAMPLE_DTYPES.items()
    }
    return results.Samples(**cols, names=header.names, groups=header.groups, error_kinds=header.error_kinds)
