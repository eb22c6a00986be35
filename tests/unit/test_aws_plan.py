"""Planning an AWS run: what it creates and costs, from the dated catalogue, with no credentials."""

import pytest

from scaleperf import cli
from scaleperf.aws import plan as plans
from scaleperf.configs import load_catalogue, load_configs
from scaleperf.errors import ScaleperfError
from scaleperf.providers.aws import AwsProvider


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # never ask an instance metadata service


def test_hourly_price_adds_app_instances_database_and_load_balancer():
    cat = load_catalogue()
    h2 = load_configs(catalogue=cat)["horizontal2"]
    p = plans.plan_config(h2, cat, engine="postgres", hours=2.0)
    expected = 4 * cat.ec2["m7g.medium"].hourly_usd + cat.rds["db.m5.xlarge"].hourly_usd_postgres
    expected += cat.alb_hourly_usd + cat.alb_lcu_hourly_usd
    expected += (4 + 2) * plans.PUBLIC_IPV4_HOURLY_USD  # one address per instance, two for the load balancer
    assert p.hourly_usd == pytest.approx(expected)
    assert any("6 public IPv4 address(es)" in c for c in p.creates)
    assert p.cost_usd == pytest.approx(2 * expected)
    assert any("4 x m7g.medium" in c and "application load balancer" in c for c in p.creates)
    mysql = plans.plan_config(h2, cat, engine="mysql", hours=1.0)
    assert p.hourly_usd - mysql.hourly_usd == pytest.approx(
        cat.rds["db.m5.xlarge"].hourly_usd_postgres - cat.rds["db.m5.xlarge"].hourly_usd
    )


def test_single_instance_has_no_load_balancer_charge():
    cat = load_catalogue()
    single = load_configs(catalogue=cat)["single"]
    p = plans.plan_config(single, cat, engine="mysql", hours=1.0)
    ipv4 = plans.PUBLIC_IPV4_HOURLY_USD  # the single instance's Elastic IP
    assert p.hourly_usd == pytest.approx(cat.ec2["m7g.medium"].hourly_usd + cat.rds["db.m5.large"].hourly_usd + ipv4)
    assert any("single instance" in c for c in p.creates)


def test_run_time_counts_creation_moves_data_resets_and_cloudwatch_waits():
    cat = load_catalogue()
    c = load_configs(catalogue=cat)
    configs = [c["single"], c["vertical"], c["horizontal1"], c["horizontal2"]]
    p = plans.make_plan(configs, cat, engine="postgres", replicates=3, run_minutes=10)
    run = 10 + plans.CLOUDWATCH_WAIT_MINUTES  # every load run is followed by the wait for CloudWatch
    move, reset, end = plans.REUSE_MINUTES, plans.RESET_MINUTES, plans.TEARDOWN_MINUTES
    # Replicates interleave: single is created for its first run and moved back to (from horizontal2's fleet) twice.
    assert p.configs[0].hours == pytest.approx((plans.CREATE_MINUTES + run + 2 * (move + reset + run) + end) / 60)
    # vertical and horizontal1 change the fleet: an update, then a data reset, before each of their three runs.
    assert p.configs[1].hours == pytest.approx((3 * (move + reset + run) + end) / 60)
    # horizontal1 is the first load-balanced configuration: its own environment is created (the shape is chosen at
    # creation), and it keeps horizontal2's fleet in later replicates: no update.
    assert p.configs[2].hours == pytest.approx((plans.CREATE_MINUTES + 3 * (reset + run) + end) / 60)
    # horizontal2 has horizontal1's fleet: its bigger database class comes with the restore, no update.
    assert p.configs[3].hours == pytest.approx((3 * (reset + run) + end) / 60)
    second = sum(s.resets for s in plans.steps(configs, replicates=3, parallel=False))
    assert sum(c.extra_usd for c in p.configs) > 0 and any("second database during" in x for c in p.configs for x in c.extras)
    assert second == 11
    idle = dict(p.session_costs)["the other shape's environment, kept up while idle (one environment per shape)"]
    assert p.total_usd == pytest.approx(sum(c.hourly_usd * c.hours + c.extra_usd for c in p.configs) + idle)
    # both shapes' environments run at once: the one in use, the other idle (at most the dearer environment)
    assert p.peak_hourly_usd == pytest.approx(max(c.hourly_usd for c in p.configs) + plans.env_hourly(c["horizontal2"], cat))
    parallel = plans.make_plan(configs, cat, engine="postgres", replicates=3, run_minutes=10, parallel=True)
    assert parallel.configs[3].hours == pytest.approx((plans.CREATE_MINUTES + 3 * run + 2 * reset + end) / 60)
    assert parallel.peak_hourly_usd == pytest.approx(sum(c.hourly_usd for c in p.configs))
    assert "as of " + cat.prices_as_of in parallel.lines()[0]
    assert any("data reset" in line and "CloudWatch" in line for line in p.lines())
    assert any("one environment per shape" in line for line in p.lines())


def test_every_replicate_after_the_first_pays_for_a_data_reset():
    cat = load_catalogue()
    single = [load_configs(catalogue=cat)["single"]]
    one = plans.make_plan(single, cat, engine="postgres", replicates=1, run_minutes=10)
    three = plans.make_plan(single, cat, engine="postgres", replicates=3, run_minutes=10)
    extra = 2 * (10 + plans.CLOUDWATCH_WAIT_MINUTES + plans.RESET_MINUTES)
    assert three.configs[0].hours - one.configs[0].hours == pytest.approx(extra / 60)
    assert plans.steps(single, replicates=3, parallel=False) == [plans.Steps(creates=1, moves=0, resets=2, runs=3)]


def test_ec2_load_generators_are_in_the_estimate():
    cat = load_catalogue()
    single = load_configs(catalogue=cat)["single"]
    bare = plans.plan_config(single, cat, engine="mysql", hours=1.0)
    with_workers = plans.plan_config(single, cat, engine="mysql", hours=1.0, loadgen_workers=3, loadgen_type="c7g.large")
    each = cat.ec2["c7g.large"].hourly_usd + plans.PUBLIC_IPV4_HOURLY_USD  # a worker and its public address
    assert with_workers.hourly_usd - bare.hourly_usd == pytest.approx(3 * each)
    plan = plans.make_plan([single], cat, engine="mysql", loadgen_workers=3, loadgen_type="c7g.large", run_minutes=10)
    ((what, usd),) = plan.session_costs  # the EC2 machine running the suite, for ec2:N
    assert "the EC2 instance running the suite" in what and usd == pytest.approx(plan.configs[0].hours * each)
    with pytest.raises(ScaleperfError, match="not in fixtures/instances.toml"):
        plans.plan_config(single, cat, engine="mysql", hours=1.0, loadgen_workers=1, loadgen_type="x9.huge")


def test_max_cost_refuses_a_plan_above_it():
    cat = load_catalogue()
    p = plans.make_plan(list(load_configs(catalogue=cat).values()), cat, engine="mysql")
    plans.check_budget(p, p.total_usd + 0.01)
    plans.check_budget(p, None)
    with pytest.raises(ScaleperfError, match=r"above --max-cost 0\.10.*Nothing was created"):
        plans.check_budget(p, 0.10)


def test_cli_plan_needs_no_credentials(no_credentials, capsys):
    assert cli.main(["aws", "plan", "--config", "single,horizontal1", "--replicates", "2"]) == 0
    out = capsys.readouterr().out
    assert "single:" in out and "horizontal1:" in out and "vertical:" not in out and "estimated total" in out


def test_cli_plan_max_cost_refusal_exits_with_a_message(no_credentials, capsys):
    assert cli.main(["aws", "plan", "--max-cost", "0.01"]) == cli.EXIT_USER_ERROR
    assert "above --max-cost 0.01" in capsys.readouterr().err


def test_cli_plan_refuses_mysql_for_the_reference_backend(no_credentials, capsys):
    assert cli.main(["aws", "plan", "--config", "single", "--engine", "mysql"]) == cli.EXIT_USER_ERROR
    assert "PostgreSQL only" in capsys.readouterr().err
    assert cli.main(["aws", "plan", "--config", "single", "--engine", "mysql", "--app", "shop"]) == 0  # a user's own app may


def test_provider_refuses_over_budget_before_touching_aws(no_credentials, tmp_path):
    configs = list(load_configs().values())

    def factory():
        raise AssertionError("the cloud must not be contacted for a plan that is refused")

    provider = AwsProvider(run_id="r1", configs=configs, cloud_factory=factory, max_cost=0.01, work_dir=tmp_path)
    with pytest.raises(ScaleperfError, match="above --max-cost"), provider.provision(configs[0]):
        pass


def test_run_minutes_follow_the_profile_phases(tmp_path):
    toml = tmp_path / "profiles.toml"
    toml.write_text(
        "[[profiles.p.phases]]\nkind='ramp'\nusers=100\nrate=1.0\n"  # 100 s
        "[[profiles.p.phases]]\nkind='plateau'\nduration_s=120\n"  # 120 s
        "[[profiles.p.phases]]\nkind='steps'\nstart=150\nstep=50\nmax_users=300\nstep_s=45\nrate=10.0\n"  # 4 x 45 s
    )
    # The step's arrivals happen inside its 45 s, as the load engine runs it: the plan uses the same arithmetic.
    assert plans.profile_minutes("p", toml) == pytest.approx((100 + 120 + 180) / 60 + plans.RUN_OVERHEAD_MINUTES)
    with pytest.raises(ScaleperfError, match="not found"):
        plans.profile_minutes("smoke", tmp_path / "missing.toml")
    with pytest.raises(ScaleperfError, match="no load profile 'nope'"):
        plans.profile_minutes("nope", toml)
    assert plans.profile_minutes("full") > plans.profile_minutes("standard") > plans.profile_minutes("smoke")
