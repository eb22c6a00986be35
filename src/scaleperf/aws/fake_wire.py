"""The in-memory Elastic Beanstalk behind a real boto3 client: botocore still builds and validates every
request against the service model (as the Stubber does), and the fake plays the service."""

from __future__ import annotations

from scaleperf.aws.cloud import EnvState
from scaleperf.aws.fake_rules import FakeEbError


def serve(fake, client) -> None:
    """Answer a real boto3 ``elasticbeanstalk`` client's calls from ``fake`` (a FakeBeanstalk), in process."""
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


def _dispatch(fake, op: str, p: dict) -> dict:
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
                "Status": "PROCESSING",
            }
        }
    if op == "DescribeApplicationVersions":
        labels = p.get("VersionLabels", [])
        return {
            "ApplicationVersions": [
                {
                    "ApplicationName": p["ApplicationName"],
                    "VersionLabel": v,
                    "Status": fake.version_status(p["ApplicationName"], v),
                }
                for v in labels
                if fake.version_status(p["ApplicationName"], v)
            ]
        }
    if op == "DescribeConfigurationOptions":
        asked = [{"Namespace": o["Namespace"], "OptionName": o["OptionName"], "Value": ""} for o in p.get("Options", [])]
        specs = fake.option_specs(p["SolutionStackName"], asked)
        return {
            "SolutionStackName": p["SolutionStackName"],
            "Options": [
                {
                    "Namespace": s.namespace,
                    "Name": s.name,
                    "ValueType": s.value_type,
                    **({"ValueOptions": list(s.allowed)} if s.allowed else {}),
                }
                for s in specs
            ],
        }
    if op == "DescribeInstancesHealth":
        return {
            "InstanceHealthList": [
                {
                    "InstanceId": h.instance_id,
                    "InstanceType": h.instance_type,
                    "Color": h.color,
                    "HealthStatus": h.status,
                    "Causes": list(h.causes),
                }
                for h in fake.instances_health(p["EnvironmentName"])
            ]
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
