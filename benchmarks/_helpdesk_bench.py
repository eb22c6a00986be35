"""What the help desk benchmarks share: the server's CPU time, read the same way in every benchmark."""

from __future__ import annotations

import psutil


def server_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) spent so far by the server process ``pid`` and its workers."""
    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            continue
    return total
