"""The in-memory Elastic Beanstalk behaves like the service where the provider depends on it."""

import pytest

from scaleperf.aws.fake import FakeBeanstalk, FakeEbError


def _env(eb, name="env-1", **kw):
    eb.create_application("app", {})
    eb.create_application_version(application="app", label="v1", bucket="b", key="k", tags={})
    opts = [{"Namespace": "aws:elasticbeanstalk:environment", "OptionName": "EnvironmentType", "Value": "SingleInstance"}]
    return eb.create_environment(application="app", name=name, version="v1", stack=eb.stacks[0], options=opts, tags={"t": "1"})


def test_state_machine_launch_update_terminate():
    eb = FakeBeanstalk(launch_polls=1, update_polls=1, terminate_polls=1)
    assert _env(eb).status == "Launching"
    seen = [eb.describe_environment("env-1").status for _ in range(3)]
    assert seen == ["Launching", "Ready", "Ready"]
    assert eb.describe_environment("env-1").health == "Green"
    eb.update_environment(name="env-1", options=[])
    with pytest.raises(FakeEbError, match="invalid state"):
        eb.update_environment(name="env-1", options=[])  # not Ready while Updating
    assert [eb.describe_environment("env-1").status for _ in range(2)] == ["Updating", "Ready"]
    eb.terminate_environment("env-1")
    assert eb.describe_environment("env-1").status == "Terminating"
    assert eb.describe_environment("env-1") is None and eb.environments() == []
    messages = [e.message for e in eb.events("env-1", None)]
    assert messages[0] == "createEnvironment is starting." and messages[-1] == "terminateEnvironment completed successfully."


def test_rejects_what_the_service_rejects():
    eb = FakeBeanstalk()
    _env(eb)
    with pytest.raises(FakeEbError, match="already exists"):
        eb.create_environment(application="app", name="env-1", version="v1", stack=eb.stacks[0], options=[], tags={})
    with pytest.raises(FakeEbError, match="No Application Version"):
        eb.create_environment(application="app", name="env-2", version="v9", stack=eb.stacks[0], options=[], tags={})
    with pytest.raises(FakeEbError, match="malformed option"):
        eb.create_environment(
            application="app", name="env-3", version="v1", stack=eb.stacks[0], options=[{"Namespace": "x"}], tags={}
        )
    with pytest.raises(FakeEbError, match="running environments"):
        eb.delete_application("app")


def test_failed_creation_ends_red_with_an_error_event():
    eb = FakeBeanstalk(launch_polls=0, create_outcome="Red")
    _env(eb)
    state = eb.describe_environment("env-1")
    assert (state.status, state.health, state.health_status) == ("Ready", "Red", "Severe")
    assert eb.events("env-1", None)[-1].severity == "ERROR"


def test_wired_client_validates_every_request_against_the_service_model():
    import boto3
    from botocore.exceptions import ClientError, ParamValidationError

    from scaleperf.aws.boto import BotoBeanstalk
    from scaleperf.aws.fake import serve

    client = boto3.client("elasticbeanstalk", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    fake = FakeBeanstalk(launch_polls=0)
    serve(fake, client)
    eb = BotoBeanstalk(client)
    eb.create_application("app", {"k": "v"})
    eb.create_application_version(application="app", label="v1", bucket="b", key="k", tags={})
    bad = [{"Namespace": "aws:autoscaling:asg", "OptionName": "MinSize", "Value": 4}]  # a number where the model wants a string
    with pytest.raises(ParamValidationError, match="OptionSettings"):
        eb.create_environment(application="app", name="env-1", version="v1", stack=fake.stacks[0], options=bad, tags={})
    with pytest.raises(ParamValidationError, match="EnvironmentName"):
        eb.create_environment(application="app", name="e", version="v1", stack=fake.stacks[0], options=[], tags={})
    assert [c[0] for c in fake.calls].count("create_environment") == 0  # rejected before reaching the service
    state = eb.create_environment(application="app", name="env-1", version="v1", stack=fake.stacks[0], options=[], tags={})
    assert state.status == "Launching" and eb.describe_environment("env-1").status == "Ready"
    with pytest.raises(ClientError, match="already exists"):
        eb.create_environment(application="app", name="env-1", version="v1", stack=fake.stacks[0], options=[], tags={})
    assert eb.events("env-1", None)[0].message == "createEnvironment is starting."
