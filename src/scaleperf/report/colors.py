"""One colour per configuration, the same in every plot of every report.

The assignment's four configurations have fixed colours; any other name gets one from the same palette
chosen by a stable hash of the name, so a configuration keeps its colour across runs and processes.
"""

from __future__ import annotations

import zlib

# Colour-blind-safe palette (Okabe-Ito, without black and yellow, which read badly on white).
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#d55e00", "#cc79a7", "#56b4e9", "#8c564b", "#7f7f7f")
FIXED = {"single": PALETTE[0], "vertical": PALETTE[1], "horizontal1": PALETTE[2], "horizontal2": PALETTE[3]}
# Percentile lines within one configuration's plots: one shade each, darkest for the highest percentile.
PERCENTILE_STYLES = {"p50": ":", "p95": "-", "p99": "--"}
SLO_COLOR = "#b00020"  # threshold lines
TIER_COLORS = {"db": "#444444", "lb": "#999999"}  # telemetry of the shared tiers; app instances take the configuration's colour
GROUP_COLORS = {"all": "#333333", "polls": "#0072b2", "auth": "#cc79a7", "writes": "#d55e00", "reads": "#009e73"}


def config_color(name: str) -> str:
    """The colour of configuration ``name`` (lower-case hex RGB, as matplotlib reports it)."""
    if name in FIXED:
        return FIXED[name]
    return PALETTE[4 + zlib.crc32(name.encode()) % (len(PALETTE) - 4)]


def group_color(group: str) -> str:
    """The colour of an endpoint group inside one configuration's plots."""
    return GROUP_COLORS.get(group, PALETTE[4 + zlib.crc32(group.encode()) % (len(PALETTE) - 4)])


def shade(color: str, amount: float) -> str:
    """``color`` mixed with white by ``amount`` (0: unchanged, 1: white): the app instances of one configuration."""
    amount = min(max(amount, 0.0), 0.8)
    rgb = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * amount):02x}" for c in rgb)
