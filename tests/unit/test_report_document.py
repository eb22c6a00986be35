"""Reports built from synthetic runs saved to disk: plots, pytest-html extras, the results document."""

from __future__ import annotations

import base64
import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from scaleperf import results
from scaleperf.analysis import slo
from scaleperf.analysis.verdict import ComparisonVerdict
from scaleperf.report import bottleneck, colors, describe, document, extras, plots, store
from scaleperf.results import Phase, RunResult, Samples, Telemetry

GROUPS = ("polls", "auth", "writes", "reads")
NAMES = ("/api/conversations/updates", "/auth/login", "/conversations", "/conversations/[id]/messages")
SCALE = 0.2  # local users = deployment users x SCALE
CAPACITY = {"single": 22.0, "vertical": 33.0, "horizontal1": 42.0, "horizontal2": 60.0}  # req/s each configuration serves
RUN_ID = "20261129-synthetic"
JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyXzQyIiwiZXhwIjoxNzY0NDAwMDAwfQ.Zm9vYmFyYmF6cXV4MTIzNDU2"
PASSWORD = "Tr0ub4dor-and-3"
AWS_KEY = "AKIAIOSFODNN7QWERTYU"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzEXAMPLEKEY"
DATABASE_URL = f"postgresql://helpdesk:{PASSWORD}@127.0.0.1:5432/helpdesk"
SECRETS = (JWT, PASSWORD, AWS_KEY, AWS_SECRET, JWT.split(".")[1])  # none of these may reach any file
# Secrets planted in what a run records: a deployment description carrying a database URL, tokens and AWS keys.
PLANTED = {
    "auth_token": JWT,
    "database_url": DATABASE_URL,
    "note": f"logged in with Authorization: Bearer {JWT}, password={PASSWORD}",
    "aws": {"access_key_id": AWS_KEY, "aws_secret_access_key": AWS_SECRET},
}


def planted_meta() -> dict:
    """Run metadata with every kind of secret planted in it, as a careless deployment description would carry."""
    deployment = {
        "provider": "local",
        "db_password": PASSWORD,
        "env": f"AWS_ACCESS_KEY_ID={AWS_KEY} DATABASE_URL={DATABASE_URL}",
        **PLANTED,
    }
    return {"deployment": deployment, "extra": PLANTED, "base_url": f"http://admin:{PASSWORD}@127.0.0.1:8000"}


def synthetic_run(config: str, replicate: int = 1, *, seed: int = 0, meta: dict | None = None) -> RunResult:
    """A closed system: each local user asks once a second; the target serves at most CAPACITY[config] req/s,
    beyond which responses queue. Ramp, plateau, then three steps; app CPU follows the load, the DB idles."""
    rng = np.random.default_rng(seed + 1000 * replicate + sum(map(ord, config)))
    capacity = CAPACITY.get(config, 30.0)
    phases = (
        Phase("ramp", "ramp", 0, 20, 25, 125),
        Phase("plateau", "plateau", 20, 60, 25, 125, warmup_s=5),
        Phase("step", "step 1", 60, 80, 30, 150, warmup_s=5),
        Phase("step", "step 2", 80, 100, 40, 200, warmup_s=5),
        Phase("step", "step 3", 100, 120, 50, 250, warmup_s=5),
    )
    cols: dict[str, list[np.ndarray]] = {k: [] for k in results.SAMPLE_DTYPES}
    series = {k: [] for k in results.SERIES_KEYS}
    for second in range(120):
        users = next(min(p.users, second + 1) if p.kind == "ramp" else p.users for p in phases if p.start_s <= second < p.end_s)
        k = int(rng.poisson(min(users, capacity)))
        over = max(0.0, users / capacity - 1)
        group = rng.choice(len(GROUPS), size=k, p=[0.7, 0.05, 0.1, 0.15])
        lat = rng.lognormal(np.log(40 + 600 * over), 0.4, size=k) * np.where(group == 1, 8, 1)
        err = (rng.random(k) < 0.002 + 0.05 * over).astype(np.uint8)
        cols["t"].append(second + np.sort(rng.random(k)))
        cols["latency_ms"].append(lat)
        cols["name"].append(group)
        cols["group"].append(group)
        cols["size"].append(rng.integers(100, 4000, size=k))
        cols["error"].append(err)
        row = {
            "t": second,
            "users": users,
            "deploy_users": users / SCALE,
            "rps": k,
            "fail_rps": int(err.sum()),
            "p50_ms": np.percentile(lat, 50) if k else np.nan,
            "p95_ms": np.percentile(lat, 95) if k else np.nan,
            "p99_ms": np.percentile(lat, 99) if k else np.nan,
            "gen_cpu_pct": 20 + users * 0.5,
        }
        for key, value in row.items():
            series[key].append(value)
    samples = Samples(
        **{k: np.concatenate(v).astype(results.SAMPLE_DTYPES[k]) for k, v in cols.items()},
        names=NAMES,
        groups=GROUPS,
        error_kinds=("ok", "HTTP 500"),
    )
    t = np.arange(120.0)
    load = np.array(series["users"], dtype=float)
    n_apps = 4 if config.startswith("horizontal") else 1
    app_cpu = np.minimum(100, 100 * load / capacity / 1.05)
    app_throttled = np.maximum(0, 60 * (load / capacity - 1))
    served = np.array(series["rps"], dtype=float)
    weights = (0.4, 0.2, 0.2, 0.2) if n_apps == 4 else (1.0,)  # what the balancer gave each instance
    apps = tuple(
        Telemetry(f"app-{i + 1}", "app", t, app_cpu, app_throttled, t * 0 + 200, served * weights[i]) for i in range(n_apps)
    )
    telemetry = (*apps, Telemetry("db", "db", t, 10 + load * 0.3, np.full(120, np.nan), t * 0 + 300))
    base_meta = {
        "config": config,
        "run_id": RUN_ID,
        "replicate": replicate,
        "scale": SCALE,
        "provider": "local",
        "profile": {
            "name": "synthetic",
            "description": "a short ramp, a plateau and three steps",
            "phases": [
                {"kind": "ramp", "users": 125, "rate": 6.25},
                {"kind": "plateau", "duration_s": 40, "warmup_s": 5},
                {"kind": "steps", "start": 150, "step": 50, "max_users": 250, "step_s": 20, "warmup_s": 5, "rate": 10.0},
            ],
        },
        "deployment": {"provider": "local", "cpu_limit": "cgroup v2 cpu.max", "balancer": "round robin (nginx)"},
        "started_at": "2026-11-29T04:00:00Z",
        "complete": True,
    }
    checks = {"gen_cpu_max_pct": 45.0, "lag_p99_ms": 3.0, "saturated": False, "reasons": []}
    return RunResult(
        meta=base_meta | (meta or {}),
        phases=phases,
        samples=samples,
        series={k: np.asarray(v, dtype=np.float64) for k, v in series.items()},
        telemetry=telemetry,
        checks=checks,
    )


def save_campaign(root: Path, configs=("single", "vertical", "horizontal1", "horizontal2"), replicates: int = 5, **kw) -> Path:
    for c in configs:
        for r in range(1, replicates + 1):
            results.save(synthetic_run(c, r, **kw), results.run_dir(root, RUN_ID, c, r))
    return root


@pytest.fixture(scope="module")
def campaign(tmp_path_factory) -> Path:
    return save_campaign(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="module")
def built(campaign) -> tuple[Path, Path]:
    return document.build(campaign, RUN_ID)


def _all_axes(fig: Figure) -> list:
    """Every axes of ``fig``, secondary axes (children of an axes) included."""
    return [a for ax in fig.axes for a in (ax, *ax.child_axes)]


def _check_labelled(fig: Figure) -> None:
    titled = fig.get_suptitle() or any(ax.get_title() for ax in fig.axes)
    assert titled, "figure without a title"
    for ax in _all_axes(fig):
        assert ax.get_ylabel(), f"axis without a y label in {ax.get_title()!r}"
        # units in parentheses, or a count of things
        assert re.search(r"\(.+\)|users|configuration", ax.get_ylabel()), ax.get_ylabel()
    assert any(ax.get_xlabel() for ax in fig.axes)
    assert any(ax.get_legend() is not None for ax in fig.axes) or fig.legends


# ----------------------------------------------------------------------------------------- plots
def test_every_plot_has_title_axis_labels_with_units_and_legend():
    run = synthetic_run("horizontal1")
    slos = slo.load_slos(None, "local")
    from scaleperf.analysis import saturation

    sat = saturation.find(run, slos)
    figs = [
        plots.latency_over_time(run, slos),
        plots.load_over_time(run),
        plots.error_rate_over_time(run, slos),
        plots.latency_cdf(run),
        plots.telemetry(run),
        plots.saturation(sat, run),
        plots.comparison(_verdict()),
        plots.configurations_side_by_side([{"config": "single", "p95_ms": 80.0, "saturation_users": 150}]),
        plots.latency_cdf_by_config([run, synthetic_run("single")]),
    ]
    for fig in figs:
        _check_labelled(fig)
        assert plots.png(fig).startswith(b"\x89PNG")


def test_latency_plot_draws_the_slo_lines_and_scaled_load_has_deployment_axis():
    run = synthetic_run("single")
    slos = slo.load_slos(None, "local")
    fig = plots.latency_over_time(run, slos)
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert sum(label.startswith("SLO ") for label in labels) == sum(s.latency for s in slos)
    load = plots.load_over_time(run)
    assert any("deployment-scale users" in ax.get_ylabel() for ax in _all_axes(load))
    unscaled = plots.load_over_time(synthetic_run("single", meta={"scale": 1.0}))
    assert not any("deployment-scale" in ax.get_ylabel() for ax in _all_axes(unscaled))


def test_one_colour_per_configuration_across_plots():
    runs = [synthetic_run(c) for c in ("single", "vertical", "horizontal1", "horizontal2")]
    cdf = plots.latency_cdf_by_config(runs)
    by_label = {line.get_label().split(" ")[0]: to_hex(line.get_color()) for line in cdf.axes[0].lines}
    assert by_label == {c: colors.config_color(c) for c in by_label} and len(set(by_label.values())) == 4
    for run in runs:
        line = plots.latency_over_time(run).axes[0].lines[0]
        assert to_hex(line.get_color()) == colors.config_color(run.config)
        app_1 = next(line for line in plots.telemetry(run).axes[0].lines if line.get_label() == "app-1 (app)")
        assert to_hex(app_1.get_color()) == colors.config_color(run.config)  # app instances in the configuration's colour
    bars = plots.configurations_side_by_side([{"config": r.config, "p95_ms": 1.0, "saturation_users": 1} for r in runs])
    assert [to_hex(p.get_facecolor()) for p in bars.axes[0].patches] == [colors.config_color(r.config) for r in runs]
    v = _verdict()
    cmp_colors = {to_hex(line.get_color()) for line in plots.comparison(v).axes[0].lines}
    assert {colors.config_color(v.a), colors.config_color(v.b)} <= cmp_colors
    assert colors.config_color("my-own") == colors.config_color("my-own") != colors.config_color("single")


def _verdict(**kw) -> ComparisonVerdict:
    base = dict(
        kind="comparison",
        subject="vertical better than single on polls.p95",
        outcome="pass",
        reason="vertical better",
        expectation_id="vertical-faster-polls",
        metric="polls.p95",
        a="vertical",
        b="single",
        result="better",
        values_a=(50.0, 52.0, 49.0, 51.0),
        values_b=(80.0, 83.0, 79.0, 81.0),
        n_a=4,
        n_b=4,
        ratio=0.63,
        ratio_ci=(0.6, 0.66),
        p_value=0.028,
        p_holm=0.03,
        cliffs_delta=-1.0,
    )
    return ComparisonVerdict(**(base | kw))


# ----------------------------------------------------------------------------------------- extras
def test_extras_for_run_embed_base64_pngs_and_a_statistics_table():
    run = synthetic_run("single")
    out = extras.extras_for_run(run, None)
    images = [e for e in out if e["format_type"] == "image"]
    assert len(images) == 5  # latency, load, errors, distribution, telemetry
    for e in images:
        assert base64.b64decode(e["content"]).startswith(b"\x89PNG")
    tables_html = "".join(e["content"] for e in out if e["format_type"] == "html")
    for group in ("all", *GROUPS):
        assert f"<td>{group}</td>" in tables_html
    assert "polls.p95&lt;250ms" in tables_html and "limiting tier" in tables_html


def test_extras_for_saturation_and_comparison():
    from scaleperf.analysis import saturation

    run = synthetic_run("single")
    sat = saturation.find(run, slo.load_slos(None, "local"))
    out = extras.extras_for_saturation(sat, run)
    assert out[0]["format_type"] == "image" and "step 3" in out[1]["content"]
    # the report, like the document: capacity apart from the SLO-compliant load, what broke first, the arrivals
    for text in ("Capacity", "SLO-compliant load", "p95 / mean response size per endpoint and step", "Arrival dispersion"):
        assert text in out[1]["content"], text
    out = extras.extras_for_comparison(_verdict(), {"vertical": [synthetic_run("vertical")], "single": [run]})
    assert [e["format_type"] for e in out] == ["image", "image", "html"]
    assert "Cliff" in out[-1]["content"] and "0.600 to 0.660" in out[-1]["content"]


def test_facts_read_as_words_and_count_each_instance_share_of_the_requests():
    deployment = {
        "provider": "local",
        "config": {"name": "horizontal1", "app_instances": 4},
        "balancer": {"kind": "haproxy", "port": 4100, "how": "HAProxy, HTTP round robin per request", "pid": 12},
        "db": {"cpus": 0.35, "memory_bytes": 8 * 2**30, "settings": {"max_connections": "500"}, "port": 5},
        "instances": [{"name": f"app-{i}", "port": 4000 + i, "cpus": 0.175, "memory_bytes": 4 * 2**30} for i in range(4)],
    }
    run = synthetic_run("horizontal1", meta={"deployment": deployment})
    facts = dict(describe.facts(run))
    total = float(np.sum(run.series["rps"]))
    assert facts["requests served per app instance (whole run)"].startswith(f"app-1 40% ({0.4 * total:.0f}), app-2 20%")
    assert facts["load balancer"] == "HAProxy, HTTP round robin per request"
    assert facts["database server"] == "cpus 0.35; memory 8 GiB; settings (max connections 500)"
    assert facts["app instance processes"] == "4 x (cpus 0.175; memory 4 GiB)"
    assert not any("{" in value or "port" in value for value in facts.values())  # no raw dicts, no addresses
    assert "requests served per app instance (whole run)" not in dict(describe.facts(synthetic_run("single")))


def test_limiting_tier_comes_from_telemetry():
    run = synthetic_run("single")  # app CPU saturates past 20 req/s; the database idles
    assert bottleneck.find(run).tier == "app"
    calm = RunResult(**{**run.__dict__, "telemetry": tuple(t for t in run.telemetry if t.tier == "db")})
    found = bottleneck.find(calm)
    assert found.tier is None and "no tier was CPU-bound" in found.sentence
    assert "unknown" in bottleneck.find(RunResult(**{**run.__dict__, "telemetry": ()})).sentence


# ----------------------------------------------------------------------------------------- document
@pytest.mark.slow
def test_document_builds_from_disk_alone(built, campaign):
    md_path, html_path = built
    assert md_path.parent == html_path.parent == campaign / RUN_ID
    md = md_path.read_text()
    for heading in (
        "# Load Testing Results",
        "## Load Test",
        "## Load Test Results",
        "## Across configurations",
        "### Conclusions",
    ):
        assert heading in md
    for config in CAPACITY:
        assert f"### {config}" in md
    assert "IdleUser" in md and "ExpertUser" in md and "Why this weight" in md  # personas from the locustfile
    assert "ramp: 6.25 new users per second up to 125 users" in md  # load growth from the recorded profile
    assert "polls.p95 | < 250 ms" in md and 'method="linear"' in md
    assert "cgroup v2 cpu.max" in md and "m7g.medium" in md and "db.m5.xlarge" in md
    assert "the app tier limited the load" in md
    # five replicates each (four claims need five): the declared comparisons reach verdicts with p-values and intervals
    assert re.search(r"vertical better than single on polls.p95 \| pass", md), md
    # single broke at its first step, so no step of it tracked the load: its capacity cannot be told
    assert re.search(r"horizontal1 better than single on throughput \| inconclusive", md), md
    assert "refused: a throughput claim compares capacities from the load steps" in md
    assert "Capacity:" in md and "SLO-compliant load:" in md and "#### What broke first" in md
    assert "Arrival dispersion" in md
    stored = store.read(md_path.parent)
    assert stored is not None and stored.path.name == "verdicts.json"
    assert all(v.reason in md for v in stored.verdicts)  # every stored verdict, in its own words
    assert "single | 1 x m7g.medium | db.m5.large | 5 |" in md  # side by side
    assert "horizontal2 sustains at least 1.7x the users of vertical" in md  # single broke at its first step
    assert "horizontal1 sustains 1.3x the users of vertical" in md
    for link in re.findall(r"\]\((figures/[^)]+\.png)\)", md):
        assert (md_path.parent / link).read_bytes().startswith(b"\x89PNG")


@pytest.mark.slow
def test_html_is_self_contained_with_embedded_images(built):
    html = built[1].read_text()
    images = re.findall(r'<img src="([^"]+)"', html)
    assert len(images) >= 4 * 6 + 2
    assert all(src.startswith("data:image/png;base64,") for src in images)
    assert base64.b64decode(images[0].split(",", 1)[1]).startswith(b"\x89PNG")
    assert not re.search(r"""(src|href)=["'](https?:|//|/)""", html)


@pytest.mark.slow
def test_report_of_the_newest_run_and_of_a_run_directory(tmp_path):
    root = save_campaign(tmp_path, configs=("single",), replicates=1)
    md, html = document.build(root)
    assert html == root / RUN_ID / document.HTML_NAME and md.exists()
    assert document.build(root / RUN_ID)[0] == md


def test_missing_results_say_what_to_do(tmp_path):
    from scaleperf.errors import ScaleperfError

    with pytest.raises(ScaleperfError, match="run the perf tests first"):
        document.build(tmp_path)
    with pytest.raises(ScaleperfError, match="no such run"):
        document.build(tmp_path, "nope")


# A pytest-html session of the run: a failure message, captured output and a log record carrying secrets,
# a perf row's extras and verdict, and a secret in the environment table.
_SECRET_SESSION = """\
import logging, sys
import pytest
pytestmark = pytest.mark.perf  # a perf session: scaleperf's report hooks mask what it writes
sys.path.insert(0, {here!r})
from test_report_document import DATABASE_URL, JWT, PASSWORD, synthetic_run, planted_meta
from types import SimpleNamespace
from scaleperf.pytest_plugin import PerfExtras
from scaleperf.report import extras as report_extras

def test_row(extras):
    extras.extend(report_extras.extras_for_run(synthetic_run("single", meta=planted_meta()), None))
    PerfExtras(extras).verdict(SimpleNamespace(outcome="fail", reason=f"login with token {{JWT}} refused"))

def test_failure():
    print(f"DATABASE_URL={{DATABASE_URL}}")
    logging.getLogger("helpdesk").warning("Authorization: Bearer %s", JWT)
    token = JWT
    assert token is None, f"login failed, password={{PASSWORD}}"
"""


@pytest.mark.slow
def test_no_secrets_in_any_file_of_the_run_directory(tmp_path):
    """Secrets planted in what a run records never reach a file of its directory: meta.json, the Locust CSVs,
    results.md/html and the pytest-html report.html; each planted fact is there, masked."""
    import subprocess
    import sys

    from scaleperf.load import csv as locust_csv

    meta = planted_meta()
    run_dir = tmp_path / RUN_ID
    stored = [synthetic_run("single", 1, meta=meta), synthetic_run("vertical", 1, meta=meta)]
    failing = synthetic_run("single", 2, meta=meta)
    reasons = [f"login failed for token {JWT} password: {PASSWORD} key {AWS_KEY}"]
    error = f"HTTP 401: token {JWT} expired; password={PASSWORD}"  # a failure's message, recorded as its error kind
    samples = dataclasses.replace(failing.samples, error_kinds=("ok", error))
    checks = {**failing.checks, "saturated": True, "reasons": reasons}
    stored.append(RunResult(**{**failing.__dict__, "checks": checks, "samples": samples}))
    for run in stored:
        # As the engine writes a run: chunks, series, telemetry and meta.json, then the Locust CSVs from the
        # samples read back from disk, then meta.json again.
        path = results.save(run, results.run_dir(tmp_path, RUN_ID, run.config, run.meta["replicate"]))
        locust_csv.write(path, results.load(path).samples, dict.fromkeys(NAMES, "GET"), run.series, t0=1_764_400_000.0)

    (tmp_path / "none.ini").write_text("[pytest]\n")
    (tmp_path / "test_session.py").write_text(_SECRET_SESSION.format(here=str(Path(__file__).parent)))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:locust", "-p", "no:anyio",
         "-p", "no:schemathesis", "-c", str(tmp_path / "none.ini"),
         "--rootdir", str(tmp_path), f"--html={run_dir / 'report.html'}", "--self-contained-html",
         "--metadata", "DATABASE_URL", DATABASE_URL, "test_session.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 1 and "1 failed, 1 passed" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-2000:]
    document.build(tmp_path, RUN_ID)

    files = {p.relative_to(run_dir).as_posix(): p.read_bytes().decode("latin-1") for p in run_dir.rglob("*") if p.is_file()}
    for name in ("results.md", "results.html", "report.html", "single/r1/meta.json", "single/r2/meta.json"):
        assert name in files, sorted(files)
    for name in ("locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv"):
        assert f"vertical/r1/{name}" in files, sorted(files)
    for name, text in files.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret} in {name}"
    masked = {
        "single/r1/meta.json": ("postgresql://helpdesk:[redacted]@127.0.0.1", '"db_password": "[redacted]"', "http://admin:[redacted]@"),
        "single/r2/meta.json": ("login failed for token [redacted]", "HTTP 401: token [redacted] expired"),
        "single/r2/locust_failures.csv": ("HTTP 401: token [redacted] expired; password=[redacted]",),
        "results.md": ("login failed for token [redacted]", "postgresql://helpdesk:[redacted]@127.0.0.1", "db password"),
        "report.html": (
            "Bearer [redacted]", "password=[redacted]", "postgresql://helpdesk:[redacted]@", "login with token [redacted]"
        ),
    }  # fmt: skip
    for name, shown in masked.items():
        for text in shown:
            assert text in files[name], f"{text!r} not in {name}"  # the planted facts made it in, masked


def test_extras_mask_secrets():
    out = extras.extras_for_run(synthetic_run("single", meta=planted_meta()), None)
    out += extras.extras_for_comparison(_verdict(subject=f"token {JWT}"), None)
    texts = [str(e["content"]) for e in out if e["format_type"] == "html"]
    for secret in SECRETS:
        assert not any(secret in text for text in texts), secret
    assert any("token [redacted]" in text for text in texts)


@pytest.mark.slow
def test_a_pytest_html_report_carries_the_plots_inline(tmp_path):
    """A real pytest-html run: the extras land in the test's row as embedded PNGs and HTML tables."""
    import subprocess
    import sys

    here = Path(__file__).parent
    (tmp_path / "test_row.py").write_text(
        f"import sys\nsys.path.insert(0, {str(here)!r})\n"
        "from test_report_document import synthetic_run\n"
        "from scaleperf.report import extras as report_extras\n\n"
        "def test_single(extras):\n"
        "    extras.extend(report_extras.extras_for_run(synthetic_run('single'), None))\n"
    )
    (tmp_path / "none.ini").write_text("[pytest]\n")
    out = tmp_path / "report.html"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:locust", "-c", str(tmp_path / "none.ini"),
         "--rootdir", str(tmp_path), f"--html={out}", "--self-contained-html", "test_row.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    page = out.read_text()
    assert page.count("data:image/png;base64,") == 5
    assert "Self-contained HTML report includes link to external resource" not in proc.stdout + proc.stderr
    assert "polls.p95&amp;lt;250ms" in page or "polls.p95&lt;250ms" in page


def test_a_killed_run_and_an_empty_one_still_make_a_document(tmp_path):
    """A run killed before any request and one killed mid-way: the document says so instead of failing."""
    empty = RunResult(
        meta={"config": "single", "replicate": 1, "complete": False, "scale": SCALE, "profile": "smoke"},
        phases=(),
        samples=Samples.empty(names=NAMES, groups=GROUPS),
        series={},
    )
    results.save(empty, results.run_dir(tmp_path, RUN_ID, "single", 1))
    results.save(synthetic_run("vertical", meta={"complete": False}), results.run_dir(tmp_path, RUN_ID, "vertical", 1))
    md = document.build(tmp_path, RUN_ID)[0].read_text()
    assert "| single | 1 x m7g.medium | db.m5.large | 1 | n/a |" in md and "unknown" in md
    assert "| vertical | " in md and "refused" in md  # different profiles are not compared
    out = extras.extras_for_run(empty, None)
    assert [e["format_type"] for e in out] == ["image"] * 4 + ["html"]
    assert "no target-side telemetry" in out[-1]["content"]


# ----------------------------------------------------------------------------------------- recorded profile
_PROFILES_AT_RUN = """
[profiles.smoke]
description = "the smoke profile as it was when the run ran"
[[profiles.smoke.phases]]
kind = "ramp"
users = 40
rate = 4.0
[[profiles.smoke.phases]]
kind = "plateau"
duration_s = 30
warmup_s = 5
"""
_PROFILES_TODAY = """
[profiles.smoke]
description = "the smoke profile as edited since"
[[profiles.smoke.phases]]
kind = "ramp"
users = 90
rate = 3.0
[[profiles.smoke.phases]]
kind = "plateau"
duration_s = 45
warmup_s = 10
"""


def _engine_profile_meta(profiles_toml: Path) -> dict:
    """The profile facts the load engine records of a run (name, description, phases)."""
    from scaleperf.profiles import load_profile

    profile = load_profile("smoke", profiles_toml)
    return {"profile": profile.name, "profile_description": profile.description, "profile_phases": profile.raw()}


def _growth(run: RunResult) -> tuple[str, list[str]]:
    """The "How the load grows" paragraph and bullets of ``run``'s methodology section."""
    analysis = document.Analysis(provider="local", slos=[], saturation={}, comparisons=[])
    blocks = document.methodology_section({run.config: [run]}, analysis)
    at = next(i for i, b in enumerate(blocks) if isinstance(b, document.Heading) and b.text == "How the load grows")
    return blocks[at + 1].text, list(blocks[at + 2].items)


@pytest.fixture
def profiles_changed_after_the_run(tmp_path, monkeypatch) -> dict:
    """The meta of a run made with one smoke profile; fixtures/profiles.toml has since been edited."""
    from scaleperf.report import methodology

    at_run, today = tmp_path / "at-run.toml", tmp_path / "today.toml"
    at_run.write_text(_PROFILES_AT_RUN)
    today.write_text(_PROFILES_TODAY)
    monkeypatch.setattr(methodology, "PROFILES_PATH", today)
    monkeypatch.setattr(methodology, "read_locustfile", _no_locustfile)  # personas are not under test here
    return _engine_profile_meta(at_run)


def _no_locustfile(*args, **kwargs):
    from scaleperf.errors import ScaleperfError

    raise ScaleperfError("not read in this test")


def test_load_growth_is_what_the_run_recorded_not_todays_profiles_file(profiles_changed_after_the_run):
    run = synthetic_run("single", meta=profiles_changed_after_the_run)
    para, items = _growth(run)
    assert items == [
        "ramp: 4 new users per second up to 40 users",
        "plateau: 40 users held for 30 seconds, the first 5 seconds discarded as warm-up",
    ]
    assert "as it was when the run ran" in para and "as edited since" not in para and "today's" not in para


def test_a_run_without_recorded_phases_falls_back_to_the_profiles_file_and_says_so(profiles_changed_after_the_run):
    legacy = {"profile": "smoke", "profile_description": None, "profile_phases": None}
    para, items = _growth(synthetic_run("single", meta=legacy))
    assert items[0] == "ramp: 3 new users per second up to 90 users"
    assert "today's, from fixtures/profiles.toml" in para and "as edited since" in para


def test_recorded_phases_without_a_description_take_todays_only_while_the_phases_are_unchanged(profiles_changed_after_the_run):
    from scaleperf.report import methodology

    changed = {**profiles_changed_after_the_run, "profile_description": None}
    assert methodology.recorded_profile(changed)[1:] == ("", changed["profile_phases"], True)
    same = {**_engine_profile_meta(methodology.PROFILES_PATH), "profile_description": None}
    assert methodology.recorded_profile(same)[1] == "the smoke profile as edited since"


def test_runs_that_stopped_after_the_plateau_are_named(profiles_changed_after_the_run):
    meta = profiles_changed_after_the_run
    runs = [synthetic_run("single", r, meta={**meta, **({"left_out": "load steps: ..."} if r > 1 else {})}) for r in (1, 2, 3)]
    analysis = document.Analysis(provider="local", slos=[], saturation={}, comparisons=[])
    texts = [b.text for b in document.methodology_section({"single": runs}, analysis) if isinstance(b, document.Para)]
    [note] = [t for t in texts if "stopped after the plateau" in t]
    assert note.startswith("2 of 3 runs") and "single r2, single r3" in note
    assert not any("stopped after the plateau" in t for t in _growth(runs[0])[0:1])  # one full run: no note


@pytest.mark.slow
def test_report_rebuilt_after_the_profiles_file_changed_describes_the_run(tmp_path, profiles_changed_after_the_run):
    """`scaleperf report DIR` after fixtures/profiles.toml was edited: the document describes the profile the run ran."""
    meta = {**profiles_changed_after_the_run, "profile_description": "the smoke profile as it was when the run ran"}
    results.save(synthetic_run("single", meta=meta), results.run_dir(tmp_path, RUN_ID, "single", 1))
    md = document.build(tmp_path / RUN_ID)[0].read_text()
    assert "ramp: 4 new users per second up to 40 users" in md and "up to 90 users" not in md
    assert "as it was when the run ran" in md and "as edited since" not in md


# ----------------------------------------------------------------------------------------- header, captions
def _analysis(slos: list | None = None) -> document.Analysis:
    return document.Analysis(provider="local", slos=slos or [], saturation={}, comparisons=[])


def test_header_states_the_software_the_runs_recorded_and_links_every_session_report(tmp_path):
    versions = {"locust": "2.47.0", "gevent": "26.9.0", "geventhttpclient": "2.6.1", "numpy": "2.4.6", "scipy": "1.17.1"}
    meta = {"versions": {**versions, "scaleperf": "0.1.0"}, "git_commit": "0123456789abcdef", "git_dirty": True}
    runs = {"single": [synthetic_run("single", meta=meta)], "vertical": [synthetic_run("vertical", meta=meta)]}
    for name in ("report.html", "report-vertical.html", "report-horizontal1-horizontal2.html"):
        (tmp_path / name).write_text("<html></html>")
    (tmp_path / document.HTML_NAME).write_text("not a session report")
    blocks = document.header_blocks(RUN_ID, runs, _analysis(), tmp_path)
    md = document.to_markdown(blocks, document.FIGURES_DIR)
    html = document.to_html(blocks, "t")
    assert "scaleperf 0.1.0" in md and "scipy 1.17.1" in md and "geventhttpclient 2.6.1" in md
    assert "commit 0123456789ab with uncommitted changes" in md
    names = ["report.html", "report-horizontal1-horizontal2.html", "report-vertical.html"]
    assert re.findall(r"\[(report[^]]*\.html)\]\((report[^)]*\.html)\)", md) == [(n, n) for n in names]
    assert re.findall(r'<a href="(report[^"]*)">', html) == names and "results.html" not in md
    clean = {
        "single": [synthetic_run("single", meta={**meta, "git_dirty": False, "versions": {**versions, "scaleperf": "0.2.0"}})]
    }
    md = document.to_markdown(document.header_blocks(RUN_ID, runs | clean, _analysis(), tmp_path / "none"), "f")
    assert "did not all use the same software" in md and "scaleperf 0.2.0" in md and "(no uncommitted changes)" in md
    assert "report.html" not in md


def test_round_trip_is_stated_beside_every_latency_table(tmp_path):
    rtt = {"rtt_ms": 0.42, "rtt_probes": 3, "rtt_path": "/health"}
    runs = {"single": [synthetic_run("single", meta=rtt)], "vertical": [synthetic_run("vertical", meta={**rtt, "rtt_ms": 7.5})]}
    analysis = _analysis(slo.load_slos(None, "local"))
    blocks = document.configuration_section("single", runs["single"], analysis) + document.comparison_section(runs, analysis)
    captions = {
        b.caption.splitlines()[0]: b.caption.splitlines()[1:] for b in blocks if isinstance(b, document.Table) and b.caption
    }
    one = "Included in every response time: client round trip 0.4 ms (median of 3 health checks)"
    assert captions["SLO verdicts over every replicate"] == [one]
    assert next(v for k, v in captions.items() if k.startswith("Statistics per endpoint group")) == [one]
    both = captions["Side by side (plateau of the first complete replicate)"]
    assert len(both) == 1 and "single, client round trip 0.4 ms" in both[0] and "vertical, client round trip 7.5 ms" in both[0]
    figures = {b.name: b.caption for b in blocks if isinstance(b, document.Image)}
    latency = ("single-r1-latency", "single-r1-cdf", "configurations", "configurations-cdf")
    assert all("round trip" in figures[name] for name in latency), figures
    md = document.to_markdown(blocks, document.FIGURES_DIR)
    assert f"*SLO verdicts over every replicate*\n\n*{one}*\n\n| SLO |" in md
    html = document.to_html(blocks, "t")
    assert f"<caption>SLO verdicts over every replicate<br>{one}</caption>" in html
    without = document.configuration_section("single", [synthetic_run("single")], analysis)
    assert not any("round trip" in b.caption for b in without if isinstance(b, document.Table | document.Image))


def test_a_url_deployment_is_described_by_what_its_user_said_not_by_the_catalogue():
    target = {"url": "http://a.example", "given_by": "--target-url", "given_for": "single"}
    run = synthetic_run("single", meta={"provider": "url", "deployment": {"provider": "url", "target": target}})
    flat = repr(describe.facts(run))
    assert "http://a.example" in flat or "--target-url" in flat, flat
    assert "m7g" not in flat and "db.m5" not in flat and "vCPU" not in flat, flat
    assert "m7g" in repr(describe.facts(synthetic_run("single")))  # the local miniature is the catalogue's shape
