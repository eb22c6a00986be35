"""Read-only checks against the account, before anything is created (and ``scaleperf aws plan --check``).

Each problem comes with its fix, and all of them are reported at once: a new account usually has several.
Nothing here creates anything, except the Elastic Beanstalk roles when the user asks for that explicitly
(``create_roles``, as the EB CLI offers).  The application version's processing (PROCESSED, not FAILED) can
only be checked once it is uploaded; the provider waits for it before it creates the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scaleperf.aws import environment as envs
from scaleperf.aws import rails
from scaleperf.aws.database import ENGINE_VERSIONS
from scaleperf.aws.errors import error_code
from scaleperf.configs import ScalingConfig
from scaleperf.errors import ScaleperfError

log = logging.getLogger(__name__)

CHECKS = (  # what the preflight asks the account, in order (the plan lists them)
    "credentials and region (STS GetCallerIdentity)",
    f"IAM: instance profile {envs.INSTANCE_PROFILE} and service role {envs.SERVICE_ROLE} exist",
    "EC2: the default VPC and its subnets (or the subnets given)",
    "EC2: the app instance types (and load generators') offered in the subnets' availability zones "
    "(DescribeInstanceTypeOfferings); two zones for a load balancer",
    "Service Quotas: on-demand standard vCPUs (L-1216C47A) cover the plan's peak",
    "Elastic Beanstalk: a platform for the app (Python 3.11+, or the Rails app's Ruby) on Amazon Linux 2023",
    "Elastic Beanstalk: every option setting accepted by that platform (DescribeConfigurationOptions)",
    "RDS: the pinned engine version offered (DescribeDBEngineVersions)",
    "a Rails app: its Ruby version, Gemfile.lock platforms for the instances' architecture, force_ssl",
)
AT_CREATION = ("the application version is PROCESSED (not FAILED) before the database is created",)
ALB_ZONES = 2  # an application load balancer needs subnets in two availability zones; scaleperf uses two


@dataclass(frozen=True)
class Request:
    configs: tuple[ScalingConfig, ...]
    kind: str  # "reference" | "rails"
    engine: str
    app: Path | None = None
    parallel: bool = False
    loadgen_workers: int = 0
    loadgen_vcpus: int = 0  # each
    loadgen_type: str | None = None
    create_roles: bool = False
    subnets: tuple[str, ...] = ()  # given subnets (their VPC is used); empty: the default VPC's


@dataclass(frozen=True)
class Result:
    network: envs.Network
    platform: str
    ruby: str | None
    lines: tuple[str, ...]  # what was checked and found
    warnings: tuple[str, ...] = ()


def peak_vcpus(req: Request) -> int:
    """vCPUs running at once: every configuration under pytest -n; otherwise one environment per shape, each
    at its largest configuration; plus the EC2 load generators."""
    if req.parallel:
        app = sum(c.app_vcpus for c in req.configs)
    else:
        by_shape: dict[str, int] = {}
        for c in req.configs:
            by_shape[envs.shape(c)] = max(by_shape.get(envs.shape(c), 0), c.app_vcpus)
        app = sum(by_shape.values())
    return app + req.loadgen_workers * req.loadgen_vcpus


def run(cloud, req: Request, say: Callable[[str], None] = log.info) -> Result:
    """Ask the account everything that can stop a run; raise one ScaleperfError naming every problem."""
    problems: list[str] = []
    lines: list[str] = [f"credentials: account {cloud.account}, region {cloud.region}"]
    warnings: list[str] = []

    def ask(what: str, call: Callable[[], object]) -> object | None:
        try:
            return call()
        except ScaleperfError as exc:
            problems.append(str(exc))
        except Exception as exc:
            code = error_code(exc) or type(exc).__name__
            problems.append(f"{what}: AWS said {code} ({exc}); the credentials need read access to it")
        return None

    _roles(cloud, req, problems, lines, say)
    network = _network(cloud, req, problems, lines, ask)
    _quota(cloud, req, problems, lines, warnings)
    ruby = None
    if req.kind == "rails" and req.app is not None:
        found = ask("the Rails app", lambda: rails.inspect(req.app, {c.app_type.arch for c in req.configs}))
        if found is not None:
            ruby = found.ruby
            lines.append(f"Rails app: Ruby {found.ruby} (from {found.ruby_source}); Gemfile.lock platforms fit the instances")
            warnings += found.warnings
    stacks = ask("Elastic Beanstalk platforms", lambda: cloud.eb.solution_stacks()) or []
    platform = ask("Elastic Beanstalk platform", lambda: envs.pick_stack(stacks, req.kind, ruby)) if stacks else None
    if platform:
        lines.append(f"platform: {platform}")
        _options(cloud, req, str(platform), network, problems, lines, ask)
    version = ENGINE_VERSIONS[req.engine]
    offered = ask("RDS engine versions", lambda: cloud.engine_versions(req.engine, version))
    if offered == []:
        problems.append(f"RDS offers no {req.engine} {version} in {cloud.region}; choose another region")
    elif offered:
        lines.append(f"RDS {req.engine} {version}: offered ({offered[-1]} newest)")
    if problems:
        raise ScaleperfError("the account is not ready for this run (nothing was created):\n  - " + "\n  - ".join(problems))
    assert network is not None and platform
    return Result(network=network, platform=str(platform), ruby=ruby, lines=tuple(lines), warnings=tuple(warnings))


def _roles(cloud, req: Request, problems: list[str], lines: list[str], say) -> None:
    try:
        missing = (
            [f"instance profile {envs.INSTANCE_PROFILE}"] if not cloud.instance_profile_exists(envs.INSTANCE_PROFILE) else []
        )
        missing += [f"service role {envs.SERVICE_ROLE}"] if not cloud.role_exists(envs.SERVICE_ROLE) else []
    except Exception as exc:
        problems.append(
            f"IAM: could not read the Elastic Beanstalk roles ({error_code(exc) or exc}); allow iam:GetRole and "
            "iam:GetInstanceProfile, or check them in the IAM console"
        )
        return
    if missing and req.create_roles:
        made = cloud.create_roles(envs.INSTANCE_PROFILE, envs.SERVICE_ROLE)
        say(f"created {', '.join(made)} as the EB CLI does (asked for with --create-roles)")
        missing = []
    if missing:
        problems.append(
            f"IAM: no {' and no '.join(missing)}. Create them as the EB CLI does with `scaleperf aws roles --create` "
            "(or by creating any environment once in the Elastic Beanstalk console)"
        )
    else:
        lines.append(f"IAM: {envs.INSTANCE_PROFILE} and {envs.SERVICE_ROLE} exist")


def _network(cloud, req: Request, problems: list[str], lines: list[str], ask) -> envs.Network | None:
    if req.subnets:
        given = ask("EC2 subnets", lambda: cloud.subnets(list(req.subnets))) or []
        vpcs = {s["VpcId"] for s in given}
        if len(vpcs) != 1:
            problems.append(f"EC2: the given subnets {', '.join(req.subnets)} must exist and share one VPC")
            return None
        found = (vpcs.pop(), [s["SubnetId"] for s in given])
    else:
        found = ask("EC2 default VPC", cloud.default_vpc)
    if found is None:
        return None
    vpc, subnets = found
    zones = ask("EC2 subnets", lambda: cloud.subnet_zones(subnets)) or {}
    types = sorted({c.app_type.name for c in req.configs} | ({req.loadgen_type} if req.loadgen_type else set()))
    usable = set(zones.values())
    for kind in types:
        offered = ask(f"EC2 offerings of {kind}", lambda kind=kind: cloud.offered_zones(kind))
        if offered is None:
            return None
        if not offered & usable:
            problems.append(f"EC2: {kind} is not offered in any availability zone of {vpc}; choose another region")
        usable &= offered
    chosen = sorted((z, s) for s, z in zones.items() if z in usable)
    by_zone: dict[str, str] = {}
    for zone, subnet in chosen:
        by_zone.setdefault(zone, subnet)
    need = ALB_ZONES if any(c.load_balanced for c in req.configs) else 1
    if len(by_zone) < need and usable:
        problems.append(
            f"EC2: {', '.join(types)} together are offered in {len(by_zone)} availability zone(s) of {vpc}; a load balancer "
            f"needs {need}. Choose another region or instance types offered more widely"
        )
    picked = tuple(list(by_zone.values())[:ALB_ZONES])
    lines.append(f"EC2: VPC {vpc}, subnets {', '.join(picked) or 'none'} in {', '.join(list(by_zone)[:ALB_ZONES]) or '-'}")
    return envs.Network(vpc=vpc, subnets=picked)


def _quota(cloud, req: Request, problems: list[str], lines: list[str], warnings: list[str]) -> None:
    need = peak_vcpus(req)
    try:
        quota = cloud.vcpu_quota()
    except Exception as exc:
        warnings.append(
            f"could not read the on-demand vCPU quota L-1216C47A ({error_code(exc) or exc}); the run needs {need} vCPUs "
            "at its peak: check Service Quotas > Amazon EC2 > Running On-Demand Standard instances"
        )
        return
    if quota < need:
        problems.append(
            f"Service Quotas: the on-demand standard vCPU quota (L-1216C47A) is {quota:g}, the run needs {need} at its peak; "
            "request an increase in Service Quotas > Amazon EC2 > Running On-Demand Standard instances (new accounts "
            "often start low), or test fewer configurations at once"
        )
    else:
        lines.append(f"vCPU quota L-1216C47A: {quota:g}, the run needs {need} at its peak (plus what already runs)")


def _options(cloud, req: Request, platform: str, network, problems: list[str], lines: list[str], ask) -> None:
    wanted: dict[tuple[str, str], str] = {}
    for c in req.configs:
        for o in envs.creation_options(c, security_group="sg-preflight", properties={}, network=network):
            wanted[(o["Namespace"], o["OptionName"])] = o["Value"]
    asked = [envs.option(ns, name, value) for (ns, name), value in wanted.items()]
    specs = ask("Elastic Beanstalk option settings", lambda: cloud.eb.option_specs(platform, asked))
    if specs is None:
        return
    known = {(s.namespace, s.name): s for s in specs}
    bad = []
    for key, value in wanted.items():
        spec = known.get(key)
        if spec is None:
            bad.append(f"{key[0]} {key[1]} is not an option of this platform")
        elif spec.allowed and spec.value_type in ("Scalar", "Boolean") and value not in spec.allowed:
            bad.append(f"{key[0]} {key[1]}={value} is not one of {', '.join(spec.allowed)}")
    if bad:
        problems.append("Elastic Beanstalk would reject the option settings: " + "; ".join(bad))
    else:
        lines.append(f"option settings: {len(wanted)} accepted by the platform")
