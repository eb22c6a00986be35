"""The pytest plugin: options, fixtures and report hooks of the perf suite (thin glue).

``pytest -m perf --config=horizontal2`` provisions the configuration through the chosen provider,
runs the load profile once per replicate, and hands the results to the tests in ``tests/perf/``.
Everything heavy (locust, boto3, matplotlib) is imported lazily, inside fixtures.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from scaleperf import gevent_setup

PROVIDERS = ("local", "aws", "url")
PROFILES = ("smoke", "standard", "full", "compare")
REPORT_NAME = "report.html"  # the first session's pytest-html report in the run's directory
SETTINGS_KEY = pytest.StashKey["PerfSettings"]()
CAMPAIGN_KEY = pytest.StashKey["object"]()


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # Runs after the command line is parsed and before any conftest (or test module) is imported,
    # which is the last moment gevent can patch ssl and sockets safely.
    numprocesses = getattr(early_config.known_args_namespace, "numprocesses", None)
    gevent_setup.apply(gevent_setup.role(numprocesses))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("scaleperf", "scaleperf: load tests of scaling configurations")

    def add(opt: str, ini: str, help: str, default: str | None = None, **kw) -> None:
        group.addoption(opt, dest=ini, default=None, help=f"{help} (ini: {ini})", **kw)
        parser.addini(ini, help, default=default)

    add(
        "--config",
        "scaleperf_configs",
        "scaling configurations to test, repeatable or comma-separated; default: all",
        action="append",
    )
    add("--provider", "scaleperf_provider", "where deployments come from: local | aws | url", default="local", choices=PROVIDERS)
    add("--target-url", "scaleperf_target_url", "base URL of an existing deployment (with --provider url)")
    add("--profile", "scaleperf_profile", _profile_help(), default="smoke", choices=PROFILES)
    add(
        "--replicates",
        "scaleperf_replicates",
        "runs per configuration, interleaved across configurations; auto[:MAX]: rounds until every declared "
        "comparison is decided (at most MAX rounds, default 10)",
        default="1",
    )
    add("--max-minutes", "scaleperf_max_minutes", "with --replicates auto: start no round that would end past this many minutes")
    add("--results-dir", "scaleperf_results_dir", "where runs and reports are written", default="results")
    add("--locustfile", "scaleperf_locustfile", "the locustfile every run uses", default="locustfiles/helpdesk.py")
    add("--keep-deployment", "scaleperf_keep_deployment", "leave deployments running after the session", action="store_true")
    add("--loadgen", "scaleperf_loadgen", "extra load generators: local:N (worker processes), ec2:N[:TYPE], hosts:a,b")
    add("--max-cost", "scaleperf_max_cost", "refuse an AWS plan whose estimated cost (USD) is above this")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds:.0f} s, {seconds / 60:.0f} min"


def _profile_help() -> str:
    """The --profile help, each profile's length taken from the profiles file (it does not import Locust)."""
    from scaleperf.errors import ScaleperfError
    from scaleperf.profiles import load_profiles

    try:
        found = load_profiles()
        sizes = [f"{name} ({_duration(found[name].duration_s)})" if name in found else name for name in PROFILES]
    except ScaleperfError:
        return "load profile, as fixtures/profiles.toml defines it: " + " | ".join(PROFILES)
    return "load profile, its length per configuration and replicate: " + " | ".join(sizes)


@dataclass(frozen=True)
class PerfSettings:
    configs: tuple[str, ...]
    provider: str
    target_url: str | None
    profile: str
    replicates: int  # with auto: the most rounds
    results_dir: Path
    locustfile: Path
    keep_deployment: bool
    loadgen: str | None
    max_cost: float | None
    run_id: str
    rootdir: Path
    auto: bool = False  # --replicates auto[:MAX]
    max_minutes: float | None = None


def _value(config: pytest.Config, name: str):
    given = config.getoption(name)
    if given not in (None, False, []):
        return given
    return config.getini(name)


def _settings(config: pytest.Config) -> PerfSettings:
    from scaleperf.campaign import new_run_id, parse_replicates
    from scaleperf.configs import parse_names
    from scaleperf.errors import ScaleperfError

    root = Path(config.rootpath)
    raw_configs = _value(config, "scaleperf_configs")
    names = parse_names(raw_configs if isinstance(raw_configs, list) else [raw_configs] if raw_configs else [])
    try:
        auto, replicates, max_minutes = parse_replicates(
            _value(config, "scaleperf_replicates"), _value(config, "scaleperf_max_minutes")
        )
        max_cost = _value(config, "scaleperf_max_cost")
        max_cost = float(max_cost) if max_cost not in (None, "") else None
    except ValueError as exc:
        raise ScaleperfError(f"--replicates must be a whole number or auto[:MAX], --max-cost a number ({exc})") from exc
    if replicates < 1:
        raise ScaleperfError("--replicates must be at least 1")
    if auto and getattr(config.option, "numprocesses", None):
        raise ScaleperfError("--replicates auto decides across configurations in one process; run it without -n")
    results_dir = Path(_value(config, "scaleperf_results_dir"))
    locustfile = Path(_value(config, "scaleperf_locustfile"))
    run_id = new_run_id()
    os.environ["SCALEPERF_RUN_ID"] = run_id  # xdist workers inherit it, so they write into one run
    return PerfSettings(
        configs=tuple(names),
        provider=_value(config, "scaleperf_provider"),
        target_url=_value(config, "scaleperf_target_url") or None,
        profile=_value(config, "scaleperf_profile"),
        replicates=replicates,
        results_dir=results_dir if results_dir.is_absolute() else root / results_dir,
        locustfile=locustfile if locustfile.is_absolute() else root / locustfile,
        keep_deployment=bool(_value(config, "scaleperf_keep_deployment")),
        loadgen=_value(config, "scaleperf_loadgen") or None,
        max_cost=max_cost,
        run_id=run_id,
        rootdir=root,
        auto=auto,
        max_minutes=max_minutes,
    )


def _perf_selected(config: pytest.Config) -> bool:
    expr = config.getoption("markexpr", "") or ""
    return "perf" in expr and "not perf" not in expr


def _raise_keyboard_interrupt(signum, frame):  # SIGTERM ends a run like Ctrl-C: teardown runs, results stay
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    from scaleperf.errors import ScaleperfError

    try:
        settings = _settings(config)
    except ScaleperfError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SETTINGS_KEY] = settings
    if _perf_selected(config):
        _selected_configs(config)  # an unknown --config is a usage error before collection starts
    # Perf runs write one self-contained HTML report by default (pytest-html reads these in its own configure).
    wants_default_report = _perf_selected(config) and not hasattr(config, "workerinput") and not config.option.collectonly
    if wants_default_report and getattr(config.option, "htmlpath", None) is None and config.pluginmanager.hasplugin("html"):
        config.option.htmlpath = str(claim_report_path(settings.results_dir / settings.run_id, settings.configs))
        config.option.self_contained_html = True
    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)


def claim_report_path(run_dir: Path, configs: tuple[str, ...]) -> Path:
    """A pytest-html file name in ``run_dir`` that no other session of the run has: ``report.html`` for the
    first, ``report-<configs>.html`` for a later one (sessions sharing ``SCALEPERF_RUN_ID``, e.g. one tox
    environment per configuration), ``report-<configs>-2.html`` and on after that.

    The name is claimed by creating the file (empty until pytest-html writes it at the end of the session),
    so sessions starting together never share one.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    stem = "report-" + (re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(configs)) or "all")
    names = itertools.chain((REPORT_NAME, f"{stem}.html"), (f"{stem}-{n}.html" for n in itertools.count(2)))
    while True:
        path = run_dir / next(names)
        try:
            with open(path, "x"):
                return path
        except FileExistsError:
            continue


def pytest_report_header(config: pytest.Config) -> list[str]:
    s = config.stash.get(SETTINGS_KEY, None)
    if s is None or not _perf_selected(config):
        return []
    return [
        f"scaleperf: run {s.run_id}, provider {s.provider}, profile {s.profile}, "
        f"replicates {f'auto (at most {s.replicates} rounds)' if s.auto else s.replicates}, "
        f"configs {','.join(s.configs) or 'all'}, gevent role {gevent_setup.applied()}",
        f"scaleperf: results in {s.results_dir / s.run_id}",
    ]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After a perf session, write the results document of the run (the controller's job under xdist)."""
    config = session.config
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None or not _perf_selected(config) or hasattr(config, "workerinput") or config.option.collectonly:
        return
    run_dir = settings.results_dir / settings.run_id
    if not any(run_dir.glob("*/r*/meta.json")):
        return
    from scaleperf.errors import ScaleperfError
    from scaleperf.report import document

    say, _ = _say_factory(config)
    try:
        md, html = document.build(settings.results_dir, settings.run_id)
    except ScaleperfError as exc:
        say(f"results document not written: {exc}")
        return
    say(f"results document: {md}")
    say(f"                  {html}")
    say(f"rebuild it any time with: scaleperf report {run_dir}")


# ------------------------------------------------------------------------------ parametrization
def _selected_configs(config: pytest.Config):
    from scaleperf.configs import load_configs, select
    from scaleperf.errors import ScaleperfError

    settings = config.stash[SETTINGS_KEY]
    try:
        return select(load_configs(), list(settings.configs))
    except ScaleperfError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "scaling_config" in metafunc.fixturenames:
        chosen = _selected_configs(metafunc.config)
        metafunc.parametrize("scaling_config", chosen, ids=[c.name for c in chosen], indirect=True, scope="session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Under xdist, keep each configuration's tests on one worker (with --dist loadgroup), so that one
    # worker provisions it and runs its load once.
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "scaling_config" in callspec.params:
            item.add_marker(pytest.mark.xdist_group(callspec.params["scaling_config"].name))


# ------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def perf_settings(pytestconfig: pytest.Config) -> PerfSettings:
    return pytestconfig.stash[SETTINGS_KEY]


@pytest.fixture(scope="session")
def scaling_config(request: pytest.FixtureRequest):
    """The configuration under test (parametrized; ids are configuration names)."""
    return request.param


def _say_factory(config: pytest.Config):
    reporter = config.pluginmanager.getplugin("terminalreporter")
    capman = config.pluginmanager.getplugin("capturemanager")

    def say(message: str) -> None:
        line = f"[scaleperf] {message}"
        if reporter is None or capman is None:
            print(line, file=sys.stderr, flush=True)
            return
        with capman.global_and_fixture_disabled():
            reporter.write_line(line)

    def live():
        return capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext()

    return say, live


@pytest.fixture(scope="session")
def perf_provider(perf_settings: PerfSettings):
    from scaleperf.providers import make_provider

    provider = make_provider(perf_settings)
    try:
        yield provider
    finally:
        close = getattr(provider, "close", None)  # providers that keep deployments up between configurations
        if close is not None:
            close()


@pytest.fixture(scope="session")
def campaign(pytestconfig: pytest.Config, perf_settings: PerfSettings, perf_provider):
    """Runs each selected configuration's load once per replicate and caches the results."""
    from scaleperf import loadgen
    from scaleperf.campaign import Campaign, CampaignSettings, comparisons_pending

    say, live = _say_factory(pytestconfig)
    spec = loadgen.parse(perf_settings.loadgen)
    settings = CampaignSettings(
        run_id=perf_settings.run_id,
        results_dir=perf_settings.results_dir,
        profile=perf_settings.profile,
        replicates=perf_settings.replicates,
        locustfile=perf_settings.locustfile,
        interleave=not hasattr(pytestconfig, "workerinput"),
        workers=spec.local_workers,
        expect_workers=spec.expect_workers,
        master_bind=spec.master_bind,
        master_port=spec.master_port,
        auto=perf_settings.auto,
        max_minutes=perf_settings.max_minutes,
    )
    pending = comparisons_pending(max_rounds=perf_settings.replicates) if perf_settings.auto else None
    camp = Campaign(settings, perf_provider, _selected_configs(pytestconfig), say, live=live, still_needed=pending)
    pytestconfig.stash[CAMPAIGN_KEY] = camp
    try:
        yield camp
    finally:
        camp.close()


@pytest.fixture(scope="session")
def deployment(campaign, scaling_config):
    """The running deployment of the configuration under test."""
    return campaign.deployment_for(scaling_config)


@pytest.fixture(scope="session")
def run_results(campaign, scaling_config):
    """Every replicate's RunResult for the configuration under test (run once, shared)."""
    from scaleperf.errors import ScaleperfError

    try:
        return campaign.results(scaling_config)
    except ScaleperfError as exc:
        pytest.fail(str(exc), pytrace=False)


# ------------------------------------------------------------------------------- html summary
@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_header(cells: list[str]) -> None:
    cells.insert(2, "<th>Configuration</th>")
    cells.insert(3, "<th>p95 (ms)</th>")
    cells.insert(4, "<th>Error rate</th>")
    cells.insert(5, "<th>Verdict</th>")


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_row(report, cells: list[str]) -> None:
    from scaleperf.report.redact import scrub_text

    props = dict(getattr(report, "user_properties", []))
    p95 = props.get("p95_ms")
    err = props.get("error_rate")
    cells.insert(2, f"<td>{props.get('config', '')}</td>")
    cells.insert(3, f"<td>{'' if p95 is None else f'{p95:.1f}'}</td>")
    cells.insert(4, f"<td>{'' if err is None else f'{err:.2%}'}</td>")
    cells.insert(5, f"<td>{props.get('verdict', '')}</td>")
    cells[:] = [scrub_text(cell) for cell in cells]


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_html(report, data: list[str]) -> None:
    """A test's failure text and captured output, as the HTML report shows them, with secrets masked."""
    import html

    from scaleperf.report.redact import scrub_text

    data[:] = [html.escape(scrub_text(html.unescape(text))) for text in data]


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Mask secrets in the environment table of the HTML report (pytest-html reads it after this)."""
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:
        return
    metadata = session.config.stash.get(metadata_key, None)
    if metadata:
        from scaleperf.report.redact import scrub

        metadata.update(scrub(dict(metadata)))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------- html extras
class PerfExtras:
    """Attaches a perf test's plots and tables to its row of the pytest-html report."""

    def __init__(self, extras: list, slos: list | None = None) -> None:
        self._extras = extras
        self._slos = slos

    def run(self, result) -> None:
        from scaleperf.report import extras as report_extras

        self._extras.extend(report_extras.extras_for_run(result, self._slos))

    def verdict(self, verdict) -> None:
        """A one-line verdict (outcome and reason) in the row."""
        import html

        from scaleperf.report import extras as report_extras

        line = f"<p><b>{html.escape(verdict.outcome)}</b>: {html.escape(verdict.reason)}</p>"
        self._extras.append(report_extras.html(line))  # secrets masked there

    def saturation(self, verdict, result) -> None:
        from scaleperf.report import extras as report_extras

        self._extras.extend(report_extras.extras_for_saturation(verdict, result))

    def comparison(self, verdict, results_by_config) -> None:
        from scaleperf.report import extras as report_extras

        self._extras.extend(report_extras.extras_for_comparison(verdict, results_by_config))


@pytest.fixture
def perf_extras(extras) -> PerfExtras:
    """Plots and tables for this test's row in the HTML report (``extras`` is pytest-html's fixture)."""
    return PerfExtras(extras)
