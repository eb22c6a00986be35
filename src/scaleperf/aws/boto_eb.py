"""The Elastic Beanstalk half of the boto3 adapter: :class:`scaleperf.aws.cloud.Beanstalk` through a boto3
``elasticbeanstalk`` client.  Every list call follows ``NextToken`` to the end (botocore's paginators where
it has one), so an account with many environments or events is read whole."""

from __future__ import annotations

from datetime import datetime

from scaleperf.aws.cloud import EbEvent, EnvResources, EnvState, InstanceHealth, OptionSettings, OptionSpec, tag_dict, tag_list

EVENTS_PAGE = 100  # events per DescribeEvents page
HEALTH_ATTRIBUTES = ["HealthStatus", "Color", "Causes", "InstanceType"]


class BotoBeanstalk:
    """:class:`scaleperf.aws.cloud.Beanstalk` through a boto3 ``elasticbeanstalk`` client."""

    def __init__(self, client) -> None:
        self.client = client

    def _pages(self, operation: str, key: str, **kw) -> list[dict]:
        out: list[dict] = []
        for page in self.client.get_paginator(operation).paginate(**kw):
            out += page.get(key, [])
        return out

    def solution_stacks(self) -> list[str]:
        return list(self.client.list_available_solution_stacks()["SolutionStacks"])

    def create_application(self, name: str, tags: dict[str, str]) -> None:
        self.client.create_application(ApplicationName=name, Description="scaleperf load test", Tags=tag_list(tags))

    def delete_application(self, name: str) -> None:
        self.client.delete_application(ApplicationName=name, TerminateEnvByForce=True)

    def applications(self) -> list[tuple[str, str]]:
        return [(a["ApplicationName"], a.get("ApplicationArn", "")) for a in self.client.describe_applications()["Applications"]]

    def create_application_version(self, *, application: str, label: str, bucket: str, key: str, tags: dict[str, str]) -> None:
        self.client.create_application_version(
            ApplicationName=application,
            VersionLabel=label,
            SourceBundle={"S3Bucket": bucket, "S3Key": key},
            Process=True,  # validate the bundle now, not halfway through environment creation
            Tags=tag_list(tags),
        )

    def version_status(self, application: str, label: str) -> str:
        found = self.client.describe_application_versions(ApplicationName=application, VersionLabels=[label])
        return next((v.get("Status", "") for v in found["ApplicationVersions"] if v.get("VersionLabel") == label), "")

    def option_specs(self, stack: str, options: OptionSettings) -> list[OptionSpec]:
        asked = [{"Namespace": o["Namespace"], "OptionName": o["OptionName"]} for o in options]
        found = self.client.describe_configuration_options(SolutionStackName=stack, Options=asked)["Options"]
        return [
            OptionSpec(o["Namespace"], o["Name"], o.get("ValueType", "Scalar"), tuple(o.get("ValueOptions", ()))) for o in found
        ]

    def create_environment(
        self, *, application: str, name: str, version: str, stack: str, options: OptionSettings, tags: dict[str, str]
    ) -> EnvState:
        out = self.client.create_environment(
            ApplicationName=application,
            EnvironmentName=name,
            Tier={"Name": "WebServer", "Type": "Standard"},
            VersionLabel=version,
            SolutionStackName=stack,
            OptionSettings=options,
            Tags=tag_list(tags),
        )
        return self._state(out)

    def update_environment(self, *, name: str, options: OptionSettings, version: str | None = None) -> EnvState:
        kw = {"VersionLabel": version} if version else {}
        return self._state(self.client.update_environment(EnvironmentName=name, OptionSettings=options, **kw))

    def terminate_environment(self, name: str) -> None:
        self.client.terminate_environment(EnvironmentName=name, TerminateResources=True)

    def describe_environment(self, name: str) -> EnvState | None:
        found = [self._state(e) for e in self.client.describe_environments(EnvironmentNames=[name])["Environments"]]
        found = [e for e in found if e.name == name and e.status != "Terminated"]
        return found[0] if found else None

    def environments(self) -> list[EnvState]:
        states = (self._state(e) for e in self._pages("describe_environments", "Environments"))
        return [s for s in states if s.status != "Terminated"]

    def tags(self, arn: str) -> dict[str, str]:
        return tag_dict(self.client.list_tags_for_resource(ResourceArn=arn).get("ResourceTags"))

    def events(self, name: str, since: datetime | None) -> list[EbEvent]:
        kw = {"StartTime": since} if since else {}
        raw = self._pages("describe_events", "Events", EnvironmentName=name, MaxRecords=EVENTS_PAGE, **kw)
        out = [EbEvent(e["EventDate"], e.get("Severity", "INFO"), e.get("Message", "")) for e in raw]
        return sorted((e for e in out if since is None or e.when > since), key=lambda e: e.when)

    def resources(self, name: str) -> EnvResources:
        r = self.client.describe_environment_resources(EnvironmentName=name)["EnvironmentResources"]
        return EnvResources(
            instance_ids=tuple(i["Id"] for i in r.get("Instances", [])),
            load_balancers=tuple(lb["Name"] for lb in r.get("LoadBalancers", [])),
        )

    def instances_health(self, name: str) -> list[InstanceHealth]:
        out: list[InstanceHealth] = []
        kw: dict = {"EnvironmentName": name, "AttributeNames": HEALTH_ATTRIBUTES}
        while True:
            page = self.client.describe_instances_health(**kw)
            for i in page.get("InstanceHealthList", []):
                out.append(
                    InstanceHealth(
                        instance_id=i.get("InstanceId", ""),
                        instance_type=i.get("InstanceType", ""),
                        color=i.get("Color", ""),
                        status=i.get("HealthStatus", ""),
                        causes=tuple(i.get("Causes", ())),
                    )
                )
            if not page.get("NextToken"):
                return out
            kw["NextToken"] = page["NextToken"]

    @staticmethod
    def _state(e: dict) -> EnvState:
        return EnvState(
            name=e.get("EnvironmentName", ""),
            env_id=e.get("EnvironmentId", ""),
            status=e.get("Status", ""),
            health=e.get("Health", ""),
            health_status=e.get("HealthStatus", ""),
            cname=e.get("CNAME", ""),
            version_label=e.get("VersionLabel", ""),
            arn=e.get("EnvironmentArn", ""),
            application=e.get("ApplicationName", ""),
        )
