"""Scaling configurations and the instance catalogue, loaded from TOML and validated.

``fixtures/configs.toml`` names the configurations (the assignment's four, plus any a user adds);
``fixtures/instances.toml`` gives each instance type's vCPUs, memory and dated hourly price.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from scaleperf.errors import ScaleperfError

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"  # the repository's fixtures/ folder
CONFIG_KEYS = frozenset({"description", "app_instance_type", "app_instances", "db_instance_class"})
REQUIRED_KEYS = CONFIG_KEYS - {"description"}


@dataclass(frozen=True)
class InstanceType:
    """One EC2 instance type or RDS instance class."""

    name: str
    vcpus: int
    memory_gib: float
    hourly_usd: float
    hourly_usd_postgres: float | None = None
    arch: str = "x86_64"

    @property
    def memory_mib(self) -> int:
        return int(self.memory_gib * 1024)

    def price(self, engine: str = "mysql") -> float:
        if engine.startswith("postgres") and self.hourly_usd_postgres is not None:
            return self.hourly_usd_postgres
        return self.hourly_usd


@dataclass(frozen=True)
class Catalogue:
    """The instance types scaleperf knows, with the date their prices were taken."""

    ec2: dict[str, InstanceType]
    rds: dict[str, InstanceType]
    prices_as_of: str
    region: str
    alb_hourly_usd: float
    alb_lcu_hourly_usd: float


@dataclass(frozen=True)
class ScalingConfig:
    """A named deployment shape: how many app instances of which type, and which database class."""

    name: str
    description: str
    app_type: InstanceType
    app_instances: int
    db_class: InstanceType

    @property
    def load_balanced(self) -> bool:
        return self.app_instances > 1

    @property
    def app_vcpus(self) -> int:
        return self.app_type.vcpus * self.app_instances

    @property
    def total_vcpus(self) -> int:
        """vCPUs of every tier together (app instances and the database)."""
        return self.app_vcpus + self.db_class.vcpus

    def describe(self) -> dict:
        return {
            "name": self.name,
            "description": self.description,
            "app_instance_type": self.app_type.name,
            "app_instances": self.app_instances,
            "app_vcpus_each": self.app_type.vcpus,
            "app_memory_gib_each": self.app_type.memory_gib,
            "db_instance_class": self.db_class.name,
            "db_vcpus": self.db_class.vcpus,
            "db_memory_gib": self.db_class.memory_gib,
            "load_balanced": self.load_balanced,
        }


def _read_toml(path: Path) -> dict:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError as exc:
        raise ScaleperfError(f"{path}: file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ScaleperfError(f"{path}: not valid TOML ({exc})") from exc


def _instance(path: Path, table: str, name: str, raw: object) -> InstanceType:
    where = f"{path}: [{table}.{name!r}]"
    if not isinstance(raw, dict):
        raise ScaleperfError(f"{where} must be a table")
    unknown = set(raw) - {"vcpus", "memory_gib", "hourly_usd", "hourly_usd_postgres", "arch"}
    if unknown:
        raise ScaleperfError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    try:
        inst = InstanceType(
            name=name,
            vcpus=int(raw["vcpus"]),
            memory_gib=float(raw["memory_gib"]),
            hourly_usd=float(raw["hourly_usd"]),
            hourly_usd_postgres=float(raw["hourly_usd_postgres"]) if "hourly_usd_postgres" in raw else None,
            arch=str(raw.get("arch", "x86_64")),
        )
    except KeyError as exc:
        raise ScaleperfError(f"{where}: missing key {exc.args[0]!r}") from exc
    except (TypeError, ValueError) as exc:
        raise ScaleperfError(f"{where}: {exc}") from exc
    if inst.vcpus < 1 or inst.memory_gib <= 0 or inst.hourly_usd < 0:
        raise ScaleperfError(f"{where}: vcpus and memory_gib must be positive, hourly_usd not negative")
    return inst


def load_catalogue(path: Path | None = None) -> Catalogue:
    path = path or FIXTURES / "instances.toml"
    raw = _read_toml(path)
    extras = raw.get("extras", {})
    return Catalogue(
        ec2={n: _instance(path, "ec2", n, v) for n, v in raw.get("ec2", {}).items()},
        rds={n: _instance(path, "rds", n, v) for n, v in raw.get("rds", {}).items()},
        prices_as_of=str(raw.get("prices_as_of", "unknown")),
        region=str(raw.get("region", "us-east-1")),
        alb_hourly_usd=float(extras.get("alb_hourly_usd", 0.0)),
        alb_lcu_hourly_usd=float(extras.get("alb_lcu_hourly_usd", 0.0)),
    )


def load_configs(path: Path | None = None, catalogue: Catalogue | None = None) -> dict[str, ScalingConfig]:
    """Every configuration in ``path`` (default ``fixtures/configs.toml``), validated, in file order."""
    path = path or FIXTURES / "configs.toml"
    catalogue = catalogue or load_catalogue()
    raw = _read_toml(path)
    unknown_top = set(raw) - {"configs"}
    if unknown_top:
        raise ScaleperfError(f"{path}: unknown top-level key {sorted(unknown_top)[0]!r} (configurations go in [configs.<name>])")
    tables = raw.get("configs", {})
    if not tables:
        raise ScaleperfError(f"{path}: no [configs.<name>] tables")
    out: dict[str, ScalingConfig] = {}
    for name, body in tables.items():
        where = f"{path}: [configs.{name}]"
        if not isinstance(body, dict):
            raise ScaleperfError(f"{where} must be a table")
        unknown = set(body) - CONFIG_KEYS
        if unknown:
            raise ScaleperfError(f"{where}: unknown key {sorted(unknown)[0]!r}; allowed: {', '.join(sorted(CONFIG_KEYS))}")
        missing = REQUIRED_KEYS - set(body)
        if missing:
            raise ScaleperfError(f"{where}: missing key {sorted(missing)[0]!r}")
        app, db, count = body["app_instance_type"], body["db_instance_class"], body["app_instances"]
        if app not in catalogue.ec2:
            raise ScaleperfError(f"{where}: unknown app_instance_type {app!r}; known: {', '.join(catalogue.ec2)}")
        if db not in catalogue.rds:
            raise ScaleperfError(f"{where}: unknown db_instance_class {db!r}; known: {', '.join(catalogue.rds)}")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ScaleperfError(f"{where}: app_instances must be a whole number of at least 1, got {count!r}")
        out[name] = ScalingConfig(
            name=name,
            description=str(body.get("description", name)),
            app_type=catalogue.ec2[app],
            app_instances=count,
            db_class=catalogue.rds[db],
        )
    return out


def select(configs: dict[str, ScalingConfig], names: list[str] | None) -> list[ScalingConfig]:
    """The configurations named (all when ``names`` is empty), in the order given."""
    if not names:
        return list(configs.values())
    chosen = []
    for name in names:
        if name not in configs:
            raise ScaleperfError(f"unknown configuration {name!r}; known: {', '.join(configs)}")
        if configs[name] not in chosen:
            chosen.append(configs[name])
    return chosen


def parse_names(values: list[str] | None) -> list[str]:
    """``--config a --config b,c`` -> ``["a", "b", "c"]``."""
    return [n.strip() for v in values or [] for n in v.split(",") if n.strip()]
