"""The AWS provider against moto (S3, RDS, EC2, CloudWatch, STS) and the in-memory Elastic Beanstalk."""

import logging
from collections import Counter
from datetime import UTC, datetime

import boto3
import numpy as np
import pytest
from test_aws_support import REGION, World, mocked_aws, rails_app

from scaleperf.aws import environment as envs
from scaleperf.aws import plan as plans
from scaleperf.configs import load_configs
from scaleperf.errors import ScaleperfError
from scaleperf.providers import aws as aws_provider
from scaleperf.providers.aws import AwsProvider
from scaleperf.providers.base import Deployment, Provider

RUN = "20260101-000000-test"


@pytest.fixture
def aws(monkeypatch):
    with mocked_aws(monkeypatch):
        yield


@pytest.fixture
def configs():
    return load_configs()


def _provider(world, tmp_path, **kw):
    return AwsProvider(run_id=RUN, app=rails_app(tmp_path), **world.provider_kw(tmp_path, **kw))


def _opts(world, env):
    return world.eb.options(env)


def test_provider_satisfies_the_protocol(aws, tmp_path):
    assert isinstance(_provider(World(), tmp_path), Provider)


def test_single_instance_is_created_tagged_and_torn_down(aws, tmp_path, configs):
    world = World()
    provider = _provider(world, tmp_path, reuse=False)
    with provider.provision(configs["single"]) as dep:
        assert isinstance(dep, Deployment)
        env = dep.stack.env
        assert dep.base_url == f"http://{env}.{REGION}.elasticbeanstalk.com"
        opts = _opts(world, env)
        assert opts[(envs.NS_INSTANCES, "InstanceTypes")] == "m7g.medium"
        assert (envs.NS_LAUNCH, "InstanceType") not in opts  # obsolete: InstanceTypes replaces it
        assert opts[(envs.NS_LAUNCH, "DisableIMDSv1")] == "true" and opts[(envs.NS_LAUNCH, "RootVolumeType")] == "gp3"
        assert opts[(envs.NS_INSTANCES, "SupportedArchitectures")] == "arm64"
        assert opts[(envs.NS_ENV, "EnvironmentType")] == "SingleInstance"
        assert opts[(envs.NS_PROPS, "DATABASE_URL")].startswith("mysql2://scaleperf:")
        assert opts[(envs.NS_PROCESS, "HealthCheckPath")] == "/health"
        assert (envs.NS_ASG, "MinSize") not in opts
        stack = next(c for c in world.eb.calls if c[0] == "create_environment")[1]["stack"]
        assert "Ruby 3.4" in stack and "Amazon Linux 2023" in stack
        db = boto3.client("rds", region_name=REGION).describe_db_instances(DBInstanceIdentifier=dep.stack.dbs[-1])["DBInstances"][
            0
        ]
        assert db["DBInstanceClass"] == "db.m5.large" and db["Engine"] == "mysql"
        assert db["EngineVersion"] == "8.0"  # pinned: MySQL 8.0 for Rails apps
        assert opts[(envs.NS_PROPS, "RDS_HOSTNAME")] == db["Endpoint"]["Address"]
        assert opts[(envs.NS_PROPS, "RDS_PORT")] == str(db["Endpoint"]["Port"])
        assert len(opts[(envs.NS_PROPS, "SECRET_KEY_BASE")]) == 128
        kinds = {r.kind for r in world.cloud.tagged(RUN)}
        assert kinds == {"eb-environment", "eb-application", "rds-instance", "rds-snapshot", "security-group", "s3-object"}
        assert dep.describe()["instance_type"] == "m7g.medium" and "password" not in str(dep.describe()).lower()
    assert world.cloud.tagged(RUN) == []
    assert any("Launching" in m for m in world.said) and any("Successfully launched" in m for m in world.said)
    assert any("teardown complete" in m for m in world.said)


def test_next_configuration_updates_its_shapes_environment_and_never_flips_the_shape(aws, tmp_path, configs):
    world = World()
    provider = _provider(world, tmp_path)
    with provider.provision(configs["single"]) as first:
        single_env, db = first.stack.env, first.stack.dbs[-1]
    assert world.cloud.tagged(RUN)  # kept up for the next configuration
    with provider.provision(configs["vertical"]) as second:  # same shape: the fleet is updated in place
        assert second.stack.env == single_env and second.stack.dbs[-1] == db
        assert _opts(world, single_env)[(envs.NS_INSTANCES, "InstanceTypes")] == "m7g.large"
    with provider.provision(configs["horizontal2"]) as third:  # another shape: its own environment, created as such
        lb_env = third.stack.env
        assert lb_env != single_env and third.stack.dbs[-1] == db
        opts = _opts(world, lb_env)
        assert opts[(envs.NS_ENV, "EnvironmentType")] == "LoadBalanced"
        assert opts[(envs.NS_ENV, "LoadBalancerType")] == "application"
        assert opts[(envs.NS_ASG, "MinSize")] == opts[(envs.NS_ASG, "MaxSize")] == "4"
        rds = boto3.client("rds", region_name=REGION)
        assert rds.describe_db_instances(DBInstanceIdentifier=db)["DBInstances"][0]["DBInstanceClass"] == "db.m5.xlarge"
        assert world.eb.resources(lb_env).load_balancers[0].split(":loadbalancer/")[1].startswith("app/")
    names = [c[0] for c in world.eb.calls]
    assert names.count("create_environment") == 2 and names.count("update_environment") == 1
    for name, call in world.eb.calls:
        if name == "update_environment":
            assert not {o["OptionName"] for o in call["options"]} & {"EnvironmentType", "LoadBalancerType"}
    said = " | ".join(world.said)
    assert "reused environment" in said and "db.m5.large -> db.m5.xlarge (modified in place)" in said
    assert "new balanced environment" in said
    provider.close()
    assert world.cloud.tagged(RUN) == []


def test_reset_restores_the_seeded_snapshot_after_a_load(aws, tmp_path, configs):
    world = World()
    provider = _provider(world, tmp_path, reuse=False)
    with provider.provision(configs["single"]) as dep:
        first_db = dep.stack.dbs[-1]
        dep.reset_data()  # fresh from the seed: nothing to do
        assert dep.stack.dbs == [first_db]
        dep.start_telemetry()  # a load runs
        dep.reset_data()
        new_db = dep.stack.dbs[-1]
        assert new_db != first_db
        rds = boto3.client("rds", region_name=REGION)
        host = rds.describe_db_instances(DBInstanceIdentifier=new_db)["DBInstances"][0]["Endpoint"]["Address"]
        opts = _opts(world, dep.stack.env)
        assert opts[(envs.NS_PROPS, "RDS_HOSTNAME")] == host
        assert opts[(envs.NS_PROPS, "SCALEPERF_SEED")] == "0"
        live = [
            d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"] if d["DBInstanceStatus"] != "deleting"
        ]
        assert first_db not in live
    assert world.cloud.tagged(RUN) == []


@pytest.mark.parametrize(("outcome", "words"), [("Red", "stayed Red"), ("Severe", "Severe")])
def test_creation_ending_red_or_severe_tears_everything_down(aws, tmp_path, configs, outcome, words):
    world = World(create_outcome=outcome)
    provider = _provider(world, tmp_path)
    with pytest.raises(ScaleperfError, match=words) as err, provider.provision(configs["single"]):
        pass
    assert "Create environment operation is complete, but with errors" in str(err.value)
    assert world.cloud.tagged(RUN) == []
    assert world.eb.environments() == []


def test_waiter_timeout_says_so_and_tears_down(aws, tmp_path, configs):
    world = World(create_outcome="hang")
    provider = _provider(world, tmp_path)
    with (
        pytest.raises(ScaleperfError, match=r"still Launching/Grey after 1800 s.*scaleperf aws sweep"),
        provider.provision(configs["single"]),
    ):
        pass
    assert sum(world.clock.sleeps) >= envs.CREATE_TIMEOUT_S
    assert world.cloud.tagged(RUN) == []


def test_ctrl_c_during_creation_tears_down_what_exists(aws, tmp_path, configs):
    world = World()
    world.clock.interrupt_after = 1  # Ctrl-C at the first wait for the environment
    provider = _provider(world, tmp_path)
    with pytest.raises(KeyboardInterrupt), provider.provision(configs["horizontal1"]):
        pass
    assert [c[0] for c in world.eb.calls].count("create_environment") == 1
    world.clock.interrupt_after = None
    assert world.cloud.tagged(RUN) == []
    assert any("provisioning failed or was interrupted" in m for m in world.said)


def test_failure_inside_the_run_tears_down_even_when_reusing(aws, tmp_path, configs):
    world = World()
    provider = _provider(world, tmp_path)
    with pytest.raises(RuntimeError), provider.provision(configs["single"]):
        raise RuntimeError("load engine crashed")
    assert world.cloud.tagged(RUN) == []


def test_keep_deployment_leaves_it_running(aws, tmp_path, configs):
    world = World()
    provider = _provider(world, tmp_path, keep=True)
    with provider.provision(configs["single"]):
        pass
    provider.close()
    assert {r.kind for r in world.cloud.tagged(RUN)} >= {"eb-environment", "rds-instance"}
    assert any("scaleperf aws sweep --run-id " + RUN in m for m in world.said)


def test_missing_credentials_stop_before_anything_is_created(monkeypatch, tmp_path, configs):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    world = World(roles=False)
    provider = _provider(world, tmp_path)
    with (
        pytest.raises(ScaleperfError, match=r"no AWS credentials found.*aws configure.*Nothing was created"),
        provider.provision(configs["single"]),
    ):
        pass
    assert world.eb.calls == []


def test_generated_credentials_never_reach_the_logs(aws, tmp_path, configs, caplog):
    caplog.set_level(logging.DEBUG)  # botocore logs request parameters at DEBUG
    world = World()
    provider = _provider(world, tmp_path, reuse=False)
    with provider.provision(configs["single"]) as dep:
        opts = _opts(world, dep.stack.env)
        password = opts[(envs.NS_PROPS, "RDS_PASSWORD")]
        key = opts[(envs.NS_PROPS, "SECRET_KEY_BASE")]
    assert len(password) >= 32 and len(key) >= 64
    text = caplog.text + "\n".join(world.said)
    assert "CreateDBInstance" in text and "MasterUserPassword" in text  # the request was logged, with its parameters ...
    assert password not in text and key not in text  # ... masked
    assert "********" in text


def test_telemetry_comes_from_cloudwatch_in_the_shared_shape(aws, tmp_path, configs):
    world = World()
    provider = _provider(world, tmp_path, reuse=False)
    with provider.provision(configs["horizontal1"]) as dep:
        res = world.eb.resources(dep.stack.env)
        assert len(res.instance_ids) == 4 and len(res.load_balancers) == 1
        cw = boto3.client("cloudwatch", region_name=REGION)
        t0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC).timestamp()
        for minute in range(3):
            when = datetime.fromtimestamp(t0 + 60 * minute, UTC)  # CloudWatch stamps a period by its start
            for n, iid in enumerate(res.instance_ids):
                cw.put_metric_data(
                    Namespace="AWS/EC2",
                    MetricData=[
                        {
                            "MetricName": "CPUUtilization",
                            "Dimensions": [{"Name": "InstanceId", "Value": iid}],
                            "Timestamp": when,
                            "Value": 10.0 * (n + 1) + minute,
                        }
                    ],
                )
            cw.put_metric_data(
                Namespace="AWS/RDS",
                MetricData=[
                    {
                        "MetricName": "CPUUtilization",
                        "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": dep.stack.dbs[-1]}],
                        "Timestamp": when,
                        "Value": 55.0,
                    }
                ],
            )
            cw.put_metric_data(
                Namespace="AWS/ApplicationELB",
                MetricData=[
                    {
                        "MetricName": "RequestCount",
                        "Dimensions": [{"Name": "LoadBalancer", "Value": res.load_balancers[0].split(":loadbalancer/")[1]}],
                        "Timestamp": when,
                        "Value": 600.0,
                    }
                ],
            )
        facts = dep.describe()
        slept = len(world.clock.sleeps)
        tel = {t.component: t for t in dep.telemetry(t0, t0 + 180)}
        assert world.clock.sleeps[slept:] == []  # every series reached the window's end: no waiting
    assert facts["telemetry"]["complete"] is True and "gave_up" not in facts["telemetry"]
    assert set(tel) == {"app-1", "app-2", "app-3", "app-4", "db", "lb"}
    assert tel["app-3"].tier == "app" and np.allclose(tel["app-3"].cpu_pct, [30, 31, 32])
    assert np.allclose(tel["app-1"].t, [0, 60, 120]) and np.isnan(tel["app-1"].throttled_pct).all()
    assert np.allclose(tel["db"].cpu_pct, [55, 55, 55])
    assert tel["lb"].tier == "lb" and np.allclose(tel["lb"].requests, [10, 10, 10])


def test_sigterm_during_creation_tears_down_like_ctrl_c(aws, tmp_path, configs):
    import os
    import signal

    world = World()
    kill = world.clock.sleep

    def sleep_then_term(seconds):
        world.clock.sleep = kill  # one SIGTERM, at the first wait for the environment
        os.kill(os.getpid(), signal.SIGTERM)  # the handler turns it into KeyboardInterrupt right here
        kill(seconds)

    world.clock.sleep = sleep_then_term
    before = signal.getsignal(signal.SIGTERM)
    provider = _provider(world, tmp_path)
    with pytest.raises(KeyboardInterrupt, match="signal"), provider.provision(configs["single"]):
        pass
    assert signal.getsignal(signal.SIGTERM) == before
    assert world.cloud.tagged(RUN) == []


def test_from_settings_reads_the_plugin_settings(monkeypatch, tmp_path):
    from types import SimpleNamespace

    monkeypatch.setenv("SCALEPERF_AWS_ENGINE", "postgres")
    settings = SimpleNamespace(
        run_id="r9",
        configs=("single", "vertical"),
        keep_deployment=True,
        loadgen="ec2:3:c7g.xlarge",
        locustfile=tmp_path / "lf.py",
        max_cost=12.5,
        profile="standard",
        replicates=2,
    )
    p = AwsProvider.from_settings(settings)
    assert [c.name for c in p.configs] == ["single", "vertical"] and p.keep and p.max_cost == 12.5
    assert p.engine == "postgres" and p.spec.count == 3 and p.spec.instance_type == "c7g.xlarge"
    plan = p.plan()
    assert len(plan.configs) == 2 and any("3 x c7g.xlarge" in c for c in plan.configs[0].creates)
    assert p.load_scale(p.configs[0]).factor == 1.0


def test_after_a_load_a_new_class_comes_with_the_restored_snapshot(aws, tmp_path, configs):
    world = World()
    provider = _provider(world, tmp_path)
    with provider.provision(configs["horizontal1"]) as first:
        first.start_telemetry()  # a load ran: the data is no longer the seeded data
        old_db = first.stack.dbs[-1]
    with provider.provision(configs["horizontal2"]) as second:
        rds = boto3.client("rds", region_name=REGION)
        new_db = second.stack.dbs[-1]  # the arrival restored the data into the new class: one update, not two
        second.reset_data()  # nothing left to do
        assert second.stack.dbs[-1] == new_db
        assert "cold volume" in second.describe()["database_storage"]  # a restored volume loads lazily
        assert new_db != old_db
        assert rds.describe_db_instances(DBInstanceIdentifier=new_db)["DBInstances"][0]["DBInstanceClass"] == "db.m5.xlarge"
    assert any("applied when the seeded snapshot is restored" in m for m in world.said)
    assert [c[0] for c in world.eb.calls].count("update_environment") == 1  # only the switch to the restored database
    provider.close()
    assert world.cloud.tagged(RUN) == []


def test_sigterm_during_the_run_tears_down(aws, tmp_path, configs):
    import os
    import signal

    world = World()
    provider = _provider(world, tmp_path)  # reusing: a clean end would keep it up, an interrupted one must not
    with pytest.raises(KeyboardInterrupt), provider.provision(configs["single"]):
        os.kill(os.getpid(), signal.SIGTERM)
    assert world.cloud.tagged(RUN) == []


T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC).timestamp()


def _cpu(namespace, dimension, value, minutes):
    cw = boto3.client("cloudwatch", region_name=REGION)
    for minute in minutes:
        cw.put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": [{"Name": dimension, "Value": value}],
                    "Timestamp": datetime.fromtimestamp(T0 + 60 * minute, UTC),
                    "Value": 40.0 + minute,
                }
            ],
        )


def test_telemetry_waits_for_cloudwatch_to_publish_the_end_of_the_run(aws, tmp_path, configs):
    world = World()
    provider = _provider(world, tmp_path, reuse=False)
    with provider.provision(configs["single"]) as dep:
        (iid,) = world.eb.resources(dep.stack.env).instance_ids
        _cpu("AWS/EC2", "InstanceId", iid, [0, 1])  # the minute the run ended in is not published yet
        _cpu("AWS/RDS", "DBInstanceIdentifier", dep.stack.dbs[-1], [0, 1, 2])

        def publish_then_sleep(seconds):  # CloudWatch publishes the last minute while the provider waits
            _cpu("AWS/EC2", "InstanceId", iid, [2])
            provider.sleep = world.clock.sleep
            world.clock.sleep(seconds)

        provider.sleep = publish_then_sleep
        facts = dep.describe()
        slept = len(world.clock.sleeps)
        tel = {t.component: t for t in dep.telemetry(T0, T0 + 150)}
        assert world.clock.sleeps[slept:] == [aws_provider.TELEMETRY_POLL_S]
    assert np.allclose(tel["app-1"].cpu_pct, [40, 41, 42]) and np.allclose(tel["app-1"].t, [0, 60, 120])
    assert facts["telemetry"] == {
        "source": aws_provider.TELEMETRY_SOURCE,
        "complete": True,
        "waited_s": aws_provider.TELEMETRY_POLL_S,
    }
    assert not any("gave up waiting for CloudWatch" in m for m in world.said)


def test_telemetry_gives_up_after_the_bound_and_records_it(aws, tmp_path, configs):
    world = World()
    provider = _provider(world, tmp_path, reuse=False)
    with provider.provision(configs["single"]) as dep:
        (iid,) = world.eb.resources(dep.stack.env).instance_ids
        _cpu("AWS/EC2", "InstanceId", iid, [0, 1])  # never published further
        _cpu("AWS/RDS", "DBInstanceIdentifier", dep.stack.dbs[-1], [0, 1, 2])
        meta = {"deployment": dep.describe()}
        recorded = {**meta, "profile": "smoke"}  # as the load engine copies the campaign's metadata
        assert recorded["deployment"]["telemetry"]["complete"] is None  # not read yet
        slept = len(world.clock.sleeps)
        tel = {t.component: t for t in dep.telemetry(T0, T0 + 150)}
        waits = world.clock.sleeps[slept:]
    assert sum(waits) == pytest.approx(aws_provider.TELEMETRY_WAIT_S) and max(waits) <= aws_provider.TELEMETRY_POLL_S
    assert aws_provider.TELEMETRY_WAIT_S == 3 * 60
    # The missing minute is there, unknown; the complete series is untouched.
    assert np.allclose(tel["app-1"].t, [0, 60, 120]) and np.allclose(tel["app-1"].cpu_pct[:2], [40, 41])
    assert np.isnan(tel["app-1"].cpu_pct[2])
    assert np.allclose(tel["db"].cpu_pct, [40, 41, 42])
    note = recorded["deployment"]["telemetry"]
    assert note["complete"] is False and note["waited_s"] == 180
    assert "app-1" in note["gave_up"] and "db" not in note["gave_up"]
    assert any("gave up waiting for CloudWatch after 180 s" in m and "app-1" in m for m in world.said)


def test_the_reference_backend_refuses_mysql_before_anything_is_created(monkeypatch, tmp_path, configs):
    from types import SimpleNamespace

    def factory():
        raise AssertionError("the cloud was contacted")

    monkeypatch.delenv("SCALEPERF_AWS_APP", raising=False)
    monkeypatch.setenv("SCALEPERF_AWS_ENGINE", "mysql")
    settings = SimpleNamespace(
        run_id=RUN,
        configs=("single",),
        keep_deployment=False,
        loadgen=None,
        locustfile=None,
        max_cost=None,
        profile="smoke",
        replicates=1,
    )
    provider = AwsProvider.from_settings(settings)
    provider.cloud_factory = factory
    with (
        pytest.raises(ScaleperfError, match=r"reference backend: it runs on PostgreSQL only.*SCALEPERF_AWS_APP.*Nothing was"),
        provider.provision(configs["single"]),
    ):
        pass
    # A user's own app may use either engine: those get past the check, as far as the cloud.
    for engine in ("mysql", "postgres"):
        own = AwsProvider(run_id=RUN, app=rails_app(tmp_path / engine), engine=engine, cloud_factory=factory, slot="main")
        with pytest.raises(AssertionError, match="contacted"), own.provision(configs["single"]):
            pass


def test_the_plan_counts_the_steps_the_provider_takes(aws, tmp_path, configs):
    chosen = [configs["single"], configs["horizontal1"], configs["horizontal2"]]
    replicates = 2
    world = World()
    restores: list[str] = []
    restore = world.cloud.restore_db
    world.cloud.restore_db = lambda ident, **kw: (restores.append(ident), restore(ident, **kw))[1]
    provider = _provider(world, tmp_path, configs=chosen)
    done = {c.name: Counter() for c in chosen}
    for _ in range(replicates):  # as the campaign drives it: A B C A B C
        for config in chosen:
            calls, restored = len(world.eb.calls), len(restores)
            with provider.provision(config) as dep:
                dep.reset_data()
                dep.start_telemetry()  # a load runs
            new = world.eb.calls[calls:]
            done[config.name]["creates"] += sum(1 for name, _ in new if name == "create_environment")
            done[config.name]["moves"] += sum(
                1
                for name, call in new
                if name == "update_environment" and any(o["OptionName"] == "InstanceTypes" for o in call["options"])
            )
            done[config.name]["resets"] += len(restores) - restored
            done[config.name]["runs"] += 1
    provider.close()
    planned = plans.steps(chosen, replicates=replicates, parallel=False)
    assert [plans.Steps(**done[c.name]) for c in chosen] == planned
    assert sum(s.resets for s in planned) == replicates * len(chosen) - 1
    assert world.cloud.tagged(RUN) == []
