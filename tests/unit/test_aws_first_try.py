"""What would stop a first real run, each refused or handled: the fake knows Elastic Beanstalk's rules, the
preflight asks the account first, and teardown finishes."""

import zipfile

import pytest
from test_aws_support import REGION, FakeClock, World, mocked_aws, rails_app

from scaleperf.aws import bundle, groups, preflight, rails
from scaleperf.aws import environment as envs
from scaleperf.aws import fake_rules as rules
from scaleperf.aws.fake import FakeBeanstalk
from scaleperf.aws.fake_ec2 import SecurityGroupRules
from scaleperf.configs import load_configs
from scaleperf.errors import ScaleperfError
from scaleperf.providers.aws import AwsProvider

RUN = "20260101-000000-first"
CONFIGS = load_configs()


@pytest.fixture
def aws(monkeypatch):
    with mocked_aws(monkeypatch):
        yield


def _env(eb, options, name="env-1"):
    eb.create_application("app", {})
    eb.create_application_version(application="app", label="v1", bucket="b", key="k", tags={})
    eb.create_environment(application="app", name=name, version="v1", stack=eb.stacks[0], options=options, tags={})
    while eb.describe_environment(name).status != "Ready":
        pass
    return eb.describe_environment(name)


def _waiter(eb, **kw):
    clock = FakeClock()
    return envs.Waiter(eb, lambda m: None, clock=clock, sleep=clock.sleep, poll_s=15, **kw), clock


# 1. instance types and launch templates
def test_launch_configuration_with_m7g_fails_and_the_creation_options_use_a_launch_template():
    old = [
        envs.option(envs.NS_ENV, "EnvironmentType", "SingleInstance"),
        envs.option(envs.NS_LAUNCH, "InstanceType", "m7g.medium"),
    ]
    state = _env(FakeBeanstalk(launch_polls=0), old)
    assert state.health == "Red"
    now = envs.creation_options(CONFIGS["single"], security_group="sg-1", properties={})
    eb = FakeBeanstalk(launch_polls=0)
    assert _env(eb, now).health == "Green"
    assert [h.instance_type for h in eb.instances_health("env-1")] == ["m7g.medium"]
    envs.verify_fleet(eb, "env-1", CONFIGS["single"])
    # accounts created since October 2024 cannot create launch configurations at all, whatever the type
    assert rules.launch_failure({(envs.NS_LAUNCH, "InstanceType"): "t3.micro"}, new_account=True)


def test_the_obsolete_instance_type_loses_to_instance_types_and_the_read_back_says_so():
    eb = FakeBeanstalk(launch_polls=0, update_polls=0)
    _env(eb, envs.creation_options(CONFIGS["single"], security_group="sg-1", properties={}))
    eb.update_environment(name="env-1", options=[envs.option(envs.NS_LAUNCH, "InstanceType", "m7g.large")])  # the old way
    eb.describe_environment("env-1")
    with pytest.raises(ScaleperfError, match="instance type m7g.medium instead of m7g.large"):
        envs.verify_fleet(eb, "env-1", CONFIGS["vertical"])
    eb.update_environment(name="env-1", options=envs.fleet_options(CONFIGS["vertical"]))
    eb.describe_environment("env-1")
    envs.verify_fleet(eb, "env-1", CONFIGS["vertical"])


# 2. creation-only settings
def test_load_balancer_type_is_chosen_at_creation_only():
    eb = FakeBeanstalk(launch_polls=0, update_polls=0)
    _env(eb, envs.creation_options(CONFIGS["single"], security_group="sg-1", properties={}))
    with pytest.raises(rules.FakeEbError, match="LoadBalancerType"):
        eb.update_environment(
            name="env-1",
            options=[
                envs.option(envs.NS_ENV, "EnvironmentType", "LoadBalanced"),
                envs.option(envs.NS_ENV, "LoadBalancerType", "application"),
            ],
        )
    eb.update_environment(
        name="env-1",
        options=[envs.option(envs.NS_ENV, "EnvironmentType", "LoadBalanced"), *envs.fleet_options(CONFIGS["horizontal1"])],
    )
    eb.describe_environment("env-1")
    with pytest.raises(ScaleperfError, match="load balancer classic instead of application"):
        envs.verify_fleet(eb, "env-1", CONFIGS["horizontal1"])  # flipped in place: the API's default, classic


# 4. waiting for health
def test_a_transient_severe_after_an_update_is_waited_out_and_a_lasting_one_names_instances_and_events():
    eb = FakeBeanstalk(launch_polls=0, update_polls=0, settle_polls=4)  # 60 s of Severe: shorter than the grace
    _env(eb, envs.creation_options(CONFIGS["horizontal1"], security_group="sg-1", properties={}))
    eb.update_environment(name="env-1", options=envs.fleet_options(CONFIGS["horizontal2"]))
    waiter, clock = _waiter(eb)
    assert waiter.ready("env-1", 600, "updating").health == "Green"
    eb = FakeBeanstalk(launch_polls=0, update_polls=0, settle_polls=100)
    _env(eb, envs.creation_options(CONFIGS["horizontal1"], security_group="sg-1", properties={}))
    eb.update_environment(name="env-1", options=envs.fleet_options(CONFIGS["horizontal2"]))
    waiter, clock = _waiter(eb, health_path="/up")
    with pytest.raises(
        ScaleperfError, match=r"stayed Red/Severe for 120 s.*Instances: i-.*health checks.*ELB health is failing.*/up"
    ):
        waiter.ready("env-1", 600, "updating")
    assert 120 <= sum(clock.sleeps) < 600


# 5. Rails apps as they are
def test_rails_ruby_version_lock_platforms_and_force_ssl(tmp_path):
    app = rails_app(tmp_path)
    (app / ".ruby-version").write_text("ruby-3.3.6\n")
    assert rails.ruby_version(app)[0] == "3.3"
    assert envs.pick_stack(list(FakeBeanstalk().stacks), "rails", "3.3").endswith("Ruby 3.3")
    with pytest.raises(ScaleperfError, match=r"no Elastic Beanstalk platform.*Ruby 2\.7.*offered: 3\.2, 3\.3, 3\.4"):
        envs.pick_stack(list(FakeBeanstalk().stacks), "rails", "2.7")
    (app / ".ruby-version").unlink()
    (app / "Gemfile").write_text('source "https://rubygems.org"\nruby "3.4.1"\ngem "rails"\n')
    assert rails.ruby_version(app)[0] == "3.4"
    (app / "Gemfile.lock").write_text("GEM\n  specs:\n\nPLATFORMS\n  x86_64-linux\n\nDEPENDENCIES\n  rails\n")
    with pytest.raises(ScaleperfError, match="bundle lock --add-platform aarch64-linux"):
        rails.inspect(app, {"arm64"})
    (app / "Gemfile.lock").write_text("GEM\n  specs:\n\nPLATFORMS\n  aarch64-linux\n  x86_64-linux\n")
    (app / "config" / "environments").mkdir(parents=True)
    (app / "config" / "environments" / "production.rb").write_text("  config.force_ssl = true\n")
    assert "force_ssl" in rails.inspect(app, {"arm64"}).warnings[0]
    opts = envs.creation_options(CONFIGS["single"], security_group="sg", properties={}, health_path="/up")
    assert {(o["OptionName"], o["Value"]) for o in opts} >= {("HealthCheckPath", "/up")}


# 6. seed and migrate
def test_seed_command_is_not_leader_only_with_a_test_and_migrates_before_seeding(tmp_path):
    b = bundle.build(tmp_path / "out", rails_app(tmp_path))
    commands = rules.effective_commands(b.path.read_bytes())
    assert commands and all(c.ignored_test is None for c in commands)  # nothing the service would silently drop
    script = zipfile.ZipFile(b.path).read(bundle.SEED_SCRIPT).decode()
    assert script.index("db:migrate") < script.index("db:seed")
    assert 'SCALEPERF_SEED:-0}" = "1"' in script and "scaleperf_seeded" in script  # the condition is in the command
    old = "container_commands:\n  50_seed:\n    command: \"rails db:seed\"\n    leader_only: true\n    test: '[ 1 = 0 ]'\n"
    with zipfile.ZipFile(tmp_path / "old.zip", "w") as zf:
        zf.writestr(".ebextensions/x.config", old)
    (cmd,) = rules.effective_commands((tmp_path / "old.zip").read_bytes())
    assert cmd.test is None and cmd.ignored_test == "[ 1 = 0 ]"  # leader_only wins: the seed would always run


# 7. teardown that finishes
def test_security_groups_go_in_dependency_order_with_retries_while_interfaces_linger(aws):
    world = World(roles=False)
    cloud = world.cloud
    vpc, _ = cloud.default_vpc()
    app = cloud.create_security_group("app", vpc, "app", {})
    db = cloud.create_security_group("db", vpc, "db", {})
    cloud.allow_from_group(db, 5432, app, "app")
    model = SecurityGroupRules(cloud, lingering={db: 2}).install()
    clock = FakeClock()
    left = groups.delete_groups(cloud, [app, db], clock=clock, sleep=clock.sleep)
    assert left == [] and clock.sleeps == [groups.RETRY_S, groups.RETRY_S]
    assert model.attempts.count(db) == 3
    assert (
        cloud.client("ec2").describe_security_groups(Filters=[{"Name": "group-id", "Values": [app, db]}])["SecurityGroups"] == []
    )


def test_sweep_reports_elastic_beanstalks_bucket_objects_of_the_run(aws, tmp_path):
    world = World()
    provider = AwsProvider(run_id=RUN, app=rails_app(tmp_path), **world.provider_kw(tmp_path, keep=True))
    with provider.provision(CONFIGS["single"]) as dep:
        env_id = world.eb.describe_environment(dep.stack.env).env_id
    s3 = world.cloud.client("s3")
    s3.create_bucket(Bucket=world.cloud.eb_bucket())
    s3.put_object(Bucket=world.cloud.eb_bucket(), Key=f"resources/environments/{env_id}/_runtime/x", Body=b"x")
    kinds = [r.kind for r in world.cloud.tagged(RUN)]
    assert "eb-bucket-object" in kinds and "s3-object" in kinds
    assert any("Elastic Beanstalk's bucket" in line and "1 object" in line for line in world.cloud.bucket_report())


# 3. preflight, before anything is created
def test_preflight_names_every_problem_with_its_fix_and_creates_nothing(aws, tmp_path):
    world = World(roles=False)
    world.cloud.vcpu_quota = lambda: 2.0
    world.cloud.engine_versions = lambda engine, major: []
    provider = AwsProvider(run_id=RUN, configs=[CONFIGS["horizontal1"]], **world.provider_kw(tmp_path))
    with pytest.raises(ScaleperfError) as err, provider.provision(CONFIGS["horizontal1"]):
        pass
    text = str(err.value)
    assert "nothing was created" in text and "scaleperf aws roles --create" in text
    assert "L-1216C47A) is 2, the run needs 4" in text and "RDS offers no postgres 17" in text
    assert world.eb.calls == [] and world.cloud.tagged(RUN) == []
    world.cloud.vcpu_quota = lambda: 32.0
    world.cloud.engine_versions = lambda engine, major: ["17.4"]
    ok = AwsProvider(run_id=RUN, configs=[CONFIGS["horizontal1"]], create_roles=True, **world.provider_kw(tmp_path))
    req = ok.preflight_request([CONFIGS["horizontal1"]])
    result = preflight.run(world.cloud, req, world.say)  # --create-roles made them, as the EB CLI does
    assert len(result.network.subnets) == 2 and "Python" in result.platform


def test_a_failed_application_version_stops_before_the_database(aws, tmp_path):
    world = World(version_outcome="FAILED")
    provider = AwsProvider(run_id=RUN, app=rails_app(tmp_path), **world.provider_kw(tmp_path))
    with pytest.raises(ScaleperfError, match="FAILED"), provider.provision(CONFIGS["single"]):
        pass
    rds = world.cloud.client("rds")
    assert rds.describe_db_instances()["DBInstances"] == [] and world.cloud.tagged(RUN) == []


def test_plan_check_runs_the_preflight_and_creates_nothing(aws, monkeypatch, capsys):
    from scaleperf import cli
    from scaleperf.aws import cli as aws_cli

    world = World()
    world.cloud.vcpu_quota = lambda: 64.0
    monkeypatch.setattr(aws_cli, "make_cloud", lambda: world.cloud)
    assert cli.main(["aws", "plan", "--config", "single,horizontal1", "--check"]) == 0
    out = capsys.readouterr().out
    assert "public IPv4" in out and "second database during" in out and "preflight checks" in out
    assert "every check passed (nothing was created)" in out and world.eb.calls == []
    assert REGION in out


def test_preflight_uses_the_given_subnets_and_refuses_unknown_ones(aws, tmp_path):
    world = World()
    ec2 = world.cloud.client("ec2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    provider = AwsProvider(run_id=RUN, configs=[CONFIGS["horizontal1"]], subnets=tuple(subnets), **world.provider_kw(tmp_path))
    result = preflight.run(world.cloud, provider.preflight_request([CONFIGS["horizontal1"]]))
    assert sorted(result.network.subnets) == sorted(subnets)
    bad = AwsProvider(run_id=RUN, configs=[CONFIGS["single"]], subnets=("subnet-00000000",), **world.provider_kw(tmp_path))
    with pytest.raises(ScaleperfError, match="subnet"):
        preflight.run(world.cloud, bad.preflight_request([CONFIGS["single"]]))


def test_the_app_comes_from_app_and_the_old_variable_still_works_saying_it_is_superseded(monkeypatch, tmp_path, caplog):
    from types import SimpleNamespace

    base = {"run_id": RUN, "configs": ("single",), "keep_deployment": False, "loadgen": None, "locustfile": None}
    base |= {"max_cost": None, "profile": "smoke", "replicates": 1}
    monkeypatch.setenv("SCALEPERF_AWS_APP", str(tmp_path / "old"))
    given = AwsProvider.from_settings(SimpleNamespace(**base, app=tmp_path / "new", health_path="/up"))
    assert given.app == tmp_path / "new" and given.health_path == "/up" and given.kind == "rails"
    with caplog.at_level("WARNING"):
        old = AwsProvider.from_settings(SimpleNamespace(**base))
    assert old.app == tmp_path / "old" and old.health_path == "/health"
    assert "superseded by --app" in caplog.text


def test_roles_command_says_what_is_missing_and_creates_it_only_when_asked(aws, monkeypatch, capsys):
    from scaleperf import cli
    from scaleperf.aws import cli as aws_cli

    world = World(roles=False)
    monkeypatch.setattr(aws_cli, "make_cloud", lambda: world.cloud)
    assert cli.main(["aws", "roles"]) == 2
    assert "missing: aws-elasticbeanstalk-ec2-role, aws-elasticbeanstalk-service-role" in capsys.readouterr().out
    assert not world.cloud.role_exists(envs.SERVICE_ROLE)
    assert cli.main(["aws", "roles", "--create"]) == 0
    assert world.cloud.instance_profile_exists(envs.INSTANCE_PROFILE) and world.cloud.role_exists(envs.SERVICE_ROLE)
    iam = world.cloud.client("iam")
    attached = {p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=envs.SERVICE_ROLE)["AttachedPolicies"]}
    assert "AWSElasticBeanstalkEnhancedHealth" in attached
