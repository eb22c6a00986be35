"""How one server is configured: a frozen dataclass, passed to worker processes through one environment variable."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass

SETTINGS_ENV = "HELPDESK_SETTINGS"  # the launcher hands the settings to the server's worker processes in this variable
SECRET_ENV = "HELPDESK_SECRET_KEY"  # the JWT signing key; every instance behind one port must share it
DEV_SECRET = "helpdesk-reference-secret-key-base"  # used when HELPDESK_SECRET_KEY is unset (a test target, not production)
COST_MODELS = ("rails", "native")
BCRYPT12_ENV = (
    "HELPDESK_BCRYPT12_MS"  # a launcher's bcrypt-12 timing, shared by the instances it starts (else each times its own)
)


@dataclass(frozen=True)
class Settings:
    """One server's configuration (the ``serve`` command's options)."""

    database_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    cost_model: str = "rails"
    pool_size: int = 10
    bcrypt_cost: int = 12
    bcrypt12_ms: float = 0.0  # this machine's bcrypt-12 time (the rails model's yardstick); 0: measured at start
    reuse_port: bool = False
    secret_key: str = ""
    # Test-only: honour the X-Helpdesk-Clock-Offset header (seconds added to the server's clock for this request).
    clock_offset_header: bool = False

    def __post_init__(self) -> None:
        if not self.secret_key:
            object.__setattr__(self, "secret_key", os.environ.get(SECRET_ENV, DEV_SECRET))

    def to_env(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_env(cls) -> Settings:
        raw = os.environ.get(SETTINGS_ENV)
        if not raw:
            raise RuntimeError(f"{SETTINGS_ENV} is not set: start the server with `python -m helpdesk serve`")
        return cls(**json.loads(raw))
