"""An in-memory Elastic Beanstalk for tests: the environment state machine moto does not have.

Each ``describe_environment`` call is one tick of the clock: a created environment stays ``Launching``
for ``launch_polls`` ticks and then becomes ``Ready``/``Green`` (or ends ``Red``/``Severe`` when told to),
an update goes ``Updating`` -> ``Ready``, a termination ``Terminating`` -> ``Terminated``.  Events are
recorded as the real service words them, so progress reporting can be tested.  It validates what the real
service would reject (unknown application or version, duplicate environment names, option settings
without a namespace) and keeps every call in ``calls``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from scaleperf.aws.cloud import READY, TERMINATED, EbEvent, EnvResources, EnvState, OptionSettings

ACCOUNT = "123456789012"  # the account moto uses, so ARNs look alike
STACKS = (
    "64bit Amazon Linux 2023 v4.7.1 running Python 3.12",
    "64bit Amazon Linux 2023 v4.7.1 running Python 3.11",
    "64bit Amazon Linux 2023 v4.5.2 running Python 3.11",
    "64bit Amazon Linux 2023 v4.6.1 running Ruby 3.4",
    "64bit Amazon Linux 2023 v4.4.0 running Ruby 3.3",
    "64bit Amazon Linux 2 v3.9.1 running Ruby 3.2",
)


class FakeEbError(Exception):
    """What boto3 would raise as a ClientError (InvalidParameterValue)."""


@dataclass
class _Env:
    state: EnvState
    options: dict[tuple[str, str], str]
    tags: dict[str, str]
    ticks_left: int = 0
    next_status: str = READY
    end_health: str = "Green"
    end_health_status: str = "Ok"


@dataclass
class FakeBeanstalk:
    region: str = "us-east-1"
    launch_polls: int = 2  # describes an environment spends Launching
    update_polls: int = 2  # describes an update spends Updating
    terminate_polls: int = 1  # describes a termination spends Terminating
    create_outcome: str = "Green"  # "Green" | "Red" | "Severe" | "hang" (never leaves Launching)
    stacks: tuple[str, ...] = STACKS
    calls: list[tuple[str, dict]] = field(default_factory=list)
    _apps: dict[str, dict] = field(default_factory=dict)
    _versions: dict[tuple[str, str], dict] = field(default_factory=dict)
    _envs: dict[str, _Env] = field(default_factory=dict)
    _events: dict[str, list[EbEvent]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))
    _now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    # ------------------------------------------------------------------ helpers
    def _tick(self) -> datetime:
        self._now += timedelta(seconds=10)
        return self._now

    def _event(self, env: str, message: str, severity: str = "INFO") -> None:
        self._events.setdefault(env, []).append(EbEvent(self._tick(), severity, message))

    def _arn(self, kind: str, name: str) -> str:
        return f"arn:aws:elasticbeanstalk:{self.region}:{ACCOUNT}:{kind}/{name}"

    @staticmethod
    def _check_options(options: OptionSettings) -> dict[tuple[str, str], str]:
        out = {}
        for o in options:
            if set(o) != {"Namespace", "OptionName", "Value"} or not o["Namespace"].startswith("aws:"):
                raise FakeEbError(f"InvalidParameterValue: malformed option setting {o}")
            out[(o["Namespace"], o["OptionName"])] = o["Value"]
        return out

    def options(self, name: str) -> dict[tuple[str, str], str]:
        """The option settings an environment has now (test helper)."""
        return dict(self._envs[name].options)

    # ------------------------------------------------------------------ Beanstalk protocol
    def solution_stacks(self) -> list[str]:
        return list(self.stacks)

    def create_application(self, name: str, tags: dict[str, str]) -> None:
        self.calls.append(("create_application", {"name": name}))
        if name in self._apps:
            raise FakeEbError(f"InvalidParameterValue: Application {name} already exists.")
        self._apps[name] = {"arn": self._arn("application", name), "tags": dict(tags)}

    def delete_application(self, name: str) -> None:
        self.calls.append(("delete_application", {"name": name}))
        if name not in self._apps:
            raise FakeEbError(f"InvalidParameterValue: No Application named '{name}' found.")
        if any(e.state.application == name and e.state.status != TERMINATED for e in self._envs.values()):
            raise FakeEbError(f"InvalidParameterValue: Unable to delete application {name} because it has running environments")
        del self._apps[name]
        self._versions = {k: v for k, v in self._versions.items() if k[0] != name}

    def applications(self) -> list[tuple[str, str]]:
        return [(n, a["arn"]) for n, a in self._apps.items()]

    def create_application_version(self, *, application: str, label: str, bucket: str, key: str, tags: dict[str, str]) -> None:
        self.calls.append(("create_application_version", {"application": application, "label": label, "bucket": bucket}))
        if application not in self._apps:
            raise FakeEbError(f"InvalidParameterValue: No Application named '{application}' found.")
        self._versions[(application, label)] = {"bucket": bucket, "key": key}

    def create_environment(
        self, *, application: str, name: str, version: str, stack: str, options: OptionSettings, tags: dict[str, str]
    ) -> EnvState:
        self.calls.append(("create_environment", {"name": name, "options": options, "stack": stack}))
        if (application, version) not in self._versions:
            raise FakeEbError(f"InvalidParameterValue: No Application Version named '{version}' found.")
        if stack not in self.stacks:
            raise FakeEbError(f"InvalidParameterValue: No Solution Stack named '{stack}' found.")
        if name in self._envs and self._envs[name].state.status != TERMINATED:
            raise FakeEbError(f"InvalidParameterValue: Environment {name} already exists.")
        env_id = f"e-{next(self._ids):010d}"
        state = EnvState(
            name=name,
            env_id=env_id,
            status="Launching",
            health="Grey",
            health_status="Pending",
            cname=f"{name}.{self.region}.elasticbeanstalk.com",
            version_label=version,
            arn=self._arn("environment", f"{application}/{name}"),
            application=application,
        )
        outcome = self.create_outcome
        env = _Env(state=state, options=self._check_options(options), tags=dict(tags), ticks_left=self.launch_polls)
        if outcome == "hang":
            env.ticks_left = 10**9
        elif outcome == "Red":
            env.end_health, env.end_health_status = "Red", "Severe"
        elif outcome == "Severe":
            env.end_health, env.end_health_status = "Yellow", "Severe"
        self._envs[name] = env
        self._events[name] = []
        self._event(name, "createEnvironment is starting.")
        self._event(name, f"Created security group named: awseb-{env_id}-stack-AWSEBSecurityGroup")
        return state

    def update_environment(self, *, name: str, options: OptionSettings, version: str | None = None) -> EnvState:
        self.calls.append(("update_environment", {"name": name, "options": options, "version": version}))
        env = self._envs.get(name)
        if env is None or env.state.status == TERMINATED:
            raise FakeEbError(f"InvalidParameterValue: No Environment found for EnvironmentName = '{name}'.")
        if env.state.status != READY:
            raise FakeEbError(
                f"InvalidParameterValue: Environment named {name} is in an invalid state for this operation. Must be Ready."
            )
        env.options.update(self._check_options(options))
        env.state = replace(env.state, status="Updating", version_label=version or env.state.version_label)
        env.ticks_left, env.next_status = self.update_polls, READY
        env.end_health, env.end_health_status = "Green", "Ok"
        self._event(name, "Environment update is starting.")
        return env.state

    def terminate_environment(self, name: str) -> None:
        self.calls.append(("terminate_environment", {"name": name}))
        env = self._envs.get(name)
        if env is None or env.state.status == TERMINATED:
            raise FakeEbError(f"InvalidParameterValue: No Environment found for EnvironmentName = '{name}'.")
        env.state = replace(env.state, status="Terminating")
        env.ticks_left, env.next_status = self.terminate_polls, TERMINATED
        self._event(name, "terminateEnvironment is starting.")

    def describe_environment(self, name: str) -> EnvState | None:
        env = self._envs.get(name)
        if env is None:
            return None
        if env.state.status in ("Launching", "Updating", "Terminating"):
            if env.ticks_left > 0:
                env.ticks_left -= 1
            else:
                self._finish(name, env)
        return None if env.state.status == TERMINATED else env.state

    def _finish(self, name: str, env: _Env) -> None:
        was = env.state.status
        if was == "Terminating":
            env.state = replace(env.state, status=TERMINATED, health="Grey")
            self._event(name, "terminateEnvironment completed successfully.")
            return
        env.state = replace(env.state, status=READY, health=env.end_health, health_status=env.end_health_status)
        if env.end_health_status == "Severe":
            self._event(name, "Environment health has transitioned from Pending to Severe. ELB health is failing.", "WARN")
            self._event(
                name,
                "Create environment operation is complete, but with errors. "
                "For more information, see troubleshooting documentation.",
                "ERROR",
            )
        elif was == "Launching":
            self._event(name, "Environment health has transitioned from Pending to Ok.")
            self._event(name, "Successfully launched environment: " + name)
        else:
            self._event(name, "Environment update completed successfully.")

    def environments(self) -> list[EnvState]:
        return [e.state for e in self._envs.values() if e.state.status != TERMINATED]

    def tags(self, arn: str) -> dict[str, str]:
        for e in self._envs.values():
            if e.state.arn == arn:
                return dict(e.tags)
        for a in self._apps.values():
            if a["arn"] == arn:
                return dict(a["tags"])
        raise FakeEbError(f"ResourceNotFoundException: {arn}")

    def events(self, name: str, since: datetime | None) -> list[EbEvent]:
        return [e for e in self._events.get(name, []) if since is None or e.when > since]

    def resources(self, name: str) -> EnvResources:
        env = self._envs[name]
        single = env.options.get(("aws:elasticbeanstalk:environment", "EnvironmentType")) == "SingleInstance"
        count = 1 if single else int(env.options.get(("aws:autoscaling:asg", "MinSize"), "1"))
        ids = tuple(f"i-{env.state.env_id[2:]}{n:07x}" for n in range(count))
        lbs = (
            ()
            if single
            else (f"arn:aws:elasticloadbalancing:{self.region}:{ACCOUNT}:loadbalancer/app/awseb-{name}/{env.state.env_id[2:]}",)
        )
        return EnvResources(instance_ids=ids, load_balancers=lbs)


def serve(fake: FakeBeanstalk, client) -> None:
    """Answer a real boto3 ``elasticbeanstalk`` client's calls from ``fake``, in process.

    botocore still builds and validates every request against the service model (as the Stubber does), so
    the adapter's parameters are checked on every call while the fake plays the service."""
    from botocore.awsrequest import AWSResponse
    from botocore.exceptions import ClientError

    def keep_params(params, context, **kwargs):
        context["fake_eb_params"] = dict(params)

    def answer(model, context, **kwargs):
        p = context.get("fake_eb_params", {})
        try:
            body = _dispatch(fake, model.name, p)
        except FakeEbError as exc:
            code, _, message = str(exc).partition(": ")
            raise ClientError({"Error": {"Code": code, "Message": message}}, model.name) from None
        return AWSResponse(None, 200, {}, None), body

    client.meta.events.register("before-parameter-build.elastic-beanstalk.*", keep_params)
    client.meta.events.register("before-call.elastic-beanstalk.*", answer)


def _env_dict(s: EnvState) -> dict:
    return {
        "EnvironmentName": s.name,
        "EnvironmentId": s.env_id,
        "ApplicationName": s.application,
        "EnvironmentArn": s.arn,
        "CNAME": s.cname,
        "Status": s.status,
        "Health": s.health,
        "HealthStatus": s.health_status,
        "VersionLabel": s.version_label,
    }


def _tags(p: dict) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in p.get("Tags", [])}


def _dispatch(fake: FakeBeanstalk, op: str, p: dict) -> dict:
    if op == "ListAvailableSolutionStacks":
        return {"SolutionStacks": fake.solution_stacks()}
    if op == "CreateApplication":
        fake.create_application(p["ApplicationName"], _tags(p))
        return {
            "Application": {"ApplicationName": p["ApplicationName"], "ApplicationArn": fake._apps[p["ApplicationName"]]["arn"]}
        }
    if op == "DeleteApplication":
        fake.delete_application(p["ApplicationName"])
        return {}
    if op == "DescribeApplications":
        return {"Applications": [{"ApplicationName": n, "ApplicationArn": a} for n, a in fake.applications()]}
    if op == "CreateApplicationVersion":
        src = p["SourceBundle"]
        fake.create_application_version(
            application=p["ApplicationName"], label=p["VersionLabel"], bucket=src["S3Bucket"], key=src["S3Key"], tags=_tags(p)
        )
        return {
            "ApplicationVersion": {
                "ApplicationName": p["ApplicationName"],
                "VersionLabel": p["VersionLabel"],
                "Status": "PROCESSED",
            }
        }
    if op == "CreateEnvironment":
        state = fake.create_environment(
            application=p["ApplicationName"],
            name=p["EnvironmentName"],
            version=p["VersionLabel"],
            stack=p["SolutionStackName"],
            options=p.get("OptionSettings", []),
            tags=_tags(p),
        )
        return _env_dict(state)
    if op == "UpdateEnvironment":
        return _env_dict(
            fake.update_environment(name=p["EnvironmentName"], options=p.get("OptionSettings", []), version=p.get("VersionLabel"))
        )
    if op == "TerminateEnvironment":
        fake.terminate_environment(p["EnvironmentName"])
        return _env_dict(fake._envs[p["EnvironmentName"]].state)
    if op == "DescribeEnvironments":
        if p.get("EnvironmentNames"):
            found = [fake.describe_environment(n) for n in p["EnvironmentNames"]]
            return {"Environments": [_env_dict(s) for s in found if s is not None]}
        return {"Environments": [_env_dict(s) for s in fake.environments()]}
    if op == "DescribeEvents":
        events = fake.events(p["EnvironmentName"], None)
        start = p.get("StartTime")
        events = [e for e in events if start is None or e.when >= start]  # the service includes StartTime itself
        newest_first = sorted(events, key=lambda e: e.when, reverse=True)[: p.get("MaxRecords", 1000)]
        return {"Events": [{"EventDate": e.when, "Severity": e.severity, "Message": e.message} for e in newest_first]}
    if op == "DescribeEnvironmentResources":
        r = fake.resources(p["EnvironmentName"])
        return {
            "EnvironmentResources": {
                "EnvironmentName": p["EnvironmentName"],
                "Instances": [{"Id": i} for i in r.instance_ids],
                "LoadBalancers": [{"Name": lb} for lb in r.load_balancers],
            }
        }
    if op == "ListTagsForResource":
        tags = fake.tags(p["ResourceArn"])
        return {"ResourceArn": p["ResourceArn"], "ResourceTags": [{"Key": k, "Value": v} for k, v in tags.items()]}
    raise FakeEbError(f"InvalidAction: the fake does not implement {op}")
