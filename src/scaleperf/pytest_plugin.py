"""The pytest plugin: options, fixtures and report hooks of the perf suite (thin glue).

``pytest -m perf --config=horizontal2`` provisions the configuration through the chosen provider,
runs the load profile once per replicate, and hands the results to the tests in ``tests/perf/``.
Everything heavy (locust, boto3, matplotlib) is imported lazily, inside fixtures. Installed, the plugin loads in
every pytest session of its environment; only one that selects perf tests (:mod:`scaleperf.selection`) is
patched with gevent, handles SIGTERM, gets a run id and the HTML hooks (:mod:`scaleperf.plugin_html`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import sys
from pathlib import Path

import pytest

from scaleperf import gevent_setup
from scaleperf.plugin_html import PerfExtras, claim_report_path  # noqa: F401  (tests and reports import them from here)
from scaleperf.plugin_settings import PerfSettings
from scaleperf.plugin_settings import read as _settings
from scaleperf.plugin_settings import value as _value
from scaleperf.selection import selects_perf

PROVIDERS = ("local", "aws", "url")
SETTINGS_KEY = pytest.StashKey["PerfSettings"]()
CAMPAIGN_KEY = pytest.StashKey["object"]()
PERF_KEY = pytest.StashKey[bool]()  # whether the session selects perf tests (scaleperf.selection)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from scaleperf import summary  # the verdict summary and --inconclusive / --accept-unlimited

    if not pluginmanager.is_registered(summary):
        pluginmanager.register(summary, "scaleperf-summary")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, parser, args):
    # Runs after the command line is parsed and before any conftest (or test module) is imported,
    # which is the last moment gevent can patch ssl and sockets safely. Only a session that selects perf
    # tests is patched (or one whose ini asks: scaleperf_gevent = always); any other runs as if scaleperf were absent.
    ns = early_config.known_args_namespace
    perf = selects_perf(getattr(ns, "markexpr", ""), getattr(ns, "file_or_dir", None) or [], early_config.invocation_params.dir)
    early_config.stash[PERF_KEY] = perf
    try:
        patch = gevent_setup.wanted(early_config.getini("scaleperf_gevent"), perf)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    if patch:
        gevent_setup.apply(gevent_setup.role(getattr(ns, "numprocesses", None)))


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
    add("--target-url", "scaleperf_target_url", "with --provider url: name=URL per configuration (single=http://a,...)")
    add("--targets-file", "scaleperf_targets_file", "with --provider url: a TOML file whose [url.targets] names each URL")
    add(
        "--url-telemetry",
        "scaleperf_url_telemetry",
        "with --provider url: auto | off; auto attaches an Elastic Beanstalk URL's CloudWatch metrics when AWS credentials allow",
        default="auto",
        choices=("auto", "off"),
    )
    add("--app", "scaleperf_app", "the app under test: a Rails app's folder or a command template with {port}")
    add("--health-path", "scaleperf_health_path", "the app's health check path (Rails 7.1+: /up)", default="/health")
    add("--db-engine", "scaleperf_db_engine", "the local database engine: postgresql | mysql (default: the app's)")
    add("--profile", "scaleperf_profile", _profile_help(), default="quick")
    add("--profiles", "scaleperf_profiles", "a profiles file of your own (TOML, as fixtures/profiles.toml) --profile reads")
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
    parser.addini("scaleperf_gevent", gevent_setup.WHEN_HELP, default=gevent_setup.WHEN_PERF)


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds:.0f} s, {seconds / 60:.0f} min"


def _profile_help() -> str:
    """The --profile help, each shipped profile's length taken from the profiles file (it does not import Locust)."""
    from scaleperf.errors import ScaleperfError
    from scaleperf.profiles import load_profiles

    mine = "; or any profile of the --profiles file"
    try:
        found = load_profiles()
    except ScaleperfError:
        return "load profile, as fixtures/profiles.toml defines it" + mine
    sizes = [f"{name} ({_duration(profile.duration_s)})" for name, profile in found.items()]
    return "load profile, its length per configuration and replicate: " + " | ".join(sizes) + mine


def _perf_selected(config: pytest.Config) -> bool:
    if PERF_KEY not in config.stash:  # the plugin was registered after the command line was parsed
        config.stash[PERF_KEY] = selects_perf(config.option.markexpr, config.args, config.invocation_params.dir)
    return config.stash[PERF_KEY]


def _raise_keyboard_interrupt(signum, frame):  # SIGTERM ends a run like Ctrl-C: teardown runs, results stay
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    from scaleperf import plugin_html
    from scaleperf.campaign import new_run_id
    from scaleperf.errors import ScaleperfError

    try:
        settings = _settings(config)
    except ScaleperfError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SETTINGS_KEY] = settings
    if not _perf_selected(config):
        return  # not a perf session: no run id, no signal handler, no report columns
    run_id = new_run_id()
    os.environ["SCALEPERF_RUN_ID"] = run_id  # xdist workers inherit it, so they write into one run
    config.stash[SETTINGS_KEY] = settings = dataclasses.replace(settings, run_id=run_id)
    _use_profiles(config, settings)  # an unknown --profile or a malformed profiles file is a usage error too
    config.pluginmanager.register(plugin_html, plugin_html.PLUGIN_NAME)
    _selected_configs(config)  # an unknown --config is a usage error before collection starts
    # Perf runs write one self-contained HTML report by default (pytest-html reads these in its own configure).
    wants_default_report = not hasattr(config, "workerinput") and not config.option.collectonly
    if wants_default_report and getattr(config.option, "htmlpath", None) is None and config.pluginmanager.hasplugin("html"):
        config.option.htmlpath = str(claim_report_path(settings.results_dir / settings.run_id, settings.configs))
        config.option.self_contained_html = True
    with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)


def _use_profiles(config: pytest.Config, settings: PerfSettings) -> None:
    from scaleperf import profiles
    from scaleperf.errors import ScaleperfError

    given = _value(config, "scaleperf_profiles")
    if given:
        path = Path(given)
        profiles.use(path if path.is_absolute() else settings.rootdir / path)
    try:
        profiles.load_profile(settings.profile)
    except ScaleperfError as exc:
        raise pytest.UsageError(str(exc)) from None


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


def measured_run(config: pytest.Config) -> Path | None:
    """The run directory of a perf session that measured something, as its controller (not an xdist worker)
    sees it at the end; None for any other session."""
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None or not _perf_selected(config) or hasattr(config, "workerinput") or config.option.collectonly:
        return None
    run_dir = settings.results_dir / settings.run_id
    return run_dir if any(run_dir.glob("*/r*/meta.json")) else None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After a perf session, write the results document of the run (the controller's job under xdist)."""
    config = session.config
    run_dir = measured_run(config)
    if run_dir is None:
        return
    from scaleperf import summary
    from scaleperf.errors import ScaleperfError
    from scaleperf.report import document

    say, _ = _say_factory(config)
    try:
        md, html = document.build(run_dir.parent, run_dir.name, accept_unlimited=summary.accept_unlimited(config))
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
    from scaleperf.errors import ScaleperfError
    from scaleperf.providers import make_provider

    try:
        provider = make_provider(perf_settings)
    except ScaleperfError as exc:  # a user's mistake (--app, --target-url, a missing Ruby): say what to do, no traceback
        pytest.exit(f"scaleperf: {exc}", returncode=pytest.ExitCode.USAGE_ERROR)
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
    """The running deployment of the configuration under test; one that failed is not provisioned again."""
    from scaleperf.errors import ScaleperfError

    try:
        return campaign.deployment_for(scaling_config)
    except ScaleperfError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def run_results(campaign, scaling_config):
    """Every replicate's RunResult for the configuration under test (run once, shared)."""
    from scaleperf.errors import ScaleperfError

    try:
        return campaign.results(scaling_config)
    except ScaleperfError as exc:
        pytest.fail(str(exc), pytrace=False)
