"""All configuration, read once from `OMS_*` environment variables (API.md "Configuration").

Defaults are the embedded development stack; every deployment differs only in these variables.
"""

import re
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.enums import BackorderPolicy, DamagedPolicy
from domain.models import OrderPolicy, RiskPolicy, StepSlas

_SHORT_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_BARE_SECONDS = re.compile(r"^\s*\d+(\.\d+)?\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: object) -> object:
    """Accept `30s`, `15m`, `2h`, `30d` besides what pydantic reads (ISO-8601, seconds)."""
    if isinstance(value, str):
        match = _SHORT_DURATION.match(value)
        if match:
            return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
        if _BARE_SECONDS.match(value):  # environment values are strings; pydantic reads only numbers as seconds
            return timedelta(seconds=float(value))
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]

DEV_API_KEYS = "dev-client:client:dev-client-key,dev-ops:ops:dev-ops-key,dev-warehouse:warehouse:dev-warehouse-key"
DEV_CARRIER_SECRETS = "swift:dev-swift-secret,economy:dev-economy-secret"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_", extra="ignore")

    data_dir: Path = Path(".oms")
    database_url: str | None = None
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    task_queue: str = "orders"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    api_keys: str = DEV_API_KEYS
    carrier_secrets: str = DEV_CARRIER_SECRETS
    simulator: bool = True
    simulator_speed: float = Field(default=60.0, gt=0)
    # How often the simulator polls the API (real seconds).
    simulator_poll_interval: float = Field(default=1.0, gt=0)
    # Base URL the simulator (and other HTTP clients of ours) use; default http://api_host:api_port.
    api_url: str | None = None
    # uvicorn's per-request log line (`oms dev` turns it off: the simulator polls every second).
    api_access_log: bool = True
    return_window: Duration = timedelta(days=30)
    hold_timeout: Duration = timedelta(hours=48)
    backorder_timeout: Duration = timedelta(days=14)
    risk_hold_above: Decimal = Decimal("5000.00")
    risk_velocity_limit: int = Field(default=5, ge=1)
    risk_velocity_window: Duration = timedelta(hours=1)
    # E-mail addresses and phone numbers whose orders are held for review, comma-separated.
    risk_blocklist: str = ""
    backorder_policy: BackorderPolicy = BackorderPolicy.CANCEL
    damaged_policy: DamagedPolicy = DamagedPolicy.RESHIP
    tracking_poll_interval: Duration = timedelta(hours=12)
    activity_attempts: int = Field(default=8, ge=1)
    ops_email: str = "ops@orderflow.local"
    sla_verifying: Duration = timedelta(minutes=15)
    sla_allocating: Duration = timedelta(hours=1)
    sla_payment: Duration = timedelta(hours=1)
    sla_picking: Duration = timedelta(hours=24)
    sla_label: Duration = timedelta(hours=4)
    sla_delivery: Duration = timedelta(days=7)
    sla_return: Duration = timedelta(days=14)
    activity_threads: int = Field(default=32, ge=1)
    # Notification delivery (R12). Without an SMTP host nothing is e-mailed: every message is only
    # recorded in the outbox and logged. With one, each message is also e-mailed to its recipient.
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "orderflow@localhost"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    # Webhook subscribers that receive every notification, signed: `url|secret` entries separated
    # by commas, e.g. `https://crm.example/hook|s3cret,https://chat.example/in|other`. `|` never
    # appears unescaped in a URL; a secret must not contain `,` or `|`. Parsed (and rejected when
    # malformed) by adapters.notifications.delivery.parse_webhook_subscribers at worker start.
    notify_webhooks: str = ""

    def api_key_table(self) -> dict[str, tuple[str, str]]:
        """key -> (name, role) from `name:role:key` entries."""
        table: dict[str, tuple[str, str]] = {}
        for entry in filter(None, (e.strip() for e in self.api_keys.split(","))):
            name, role, key = entry.split(":", 2)
            table[key] = (name, role)
        return table

    def carrier_secret_table(self) -> dict[str, str]:
        table: dict[str, str] = {}
        for entry in filter(None, (e.strip() for e in self.carrier_secrets.split(","))):
            carrier, secret = entry.split(":", 1)
            table[carrier] = secret
        return table

    def order_policy(self) -> OrderPolicy:
        """The rules an order starts with; fixed for its lifetime (the workflow reads no config)."""
        return OrderPolicy(
            return_window=self.return_window,
            hold_timeout=self.hold_timeout,
            backorder_timeout=self.backorder_timeout,
            backorder_policy=self.backorder_policy,
            damaged_policy=self.damaged_policy,
            tracking_poll_interval=self.tracking_poll_interval,
            slas=StepSlas(
                verifying=self.sla_verifying,
                allocating=self.sla_allocating,
                payment=self.sla_payment,
                picking=self.sla_picking,
                label=self.sla_label,
                delivery=self.sla_delivery,
                ret=self.sla_return,
            ),
            risk=RiskPolicy(
                hold_above=self.risk_hold_above,
                velocity_limit=self.risk_velocity_limit,
                velocity_window=self.risk_velocity_window,
                blocklist=[e.strip().lower() for e in self.risk_blocklist.split(",") if e.strip()],
            ),
            activity_attempts=self.activity_attempts,
            ops_email=self.ops_email,
        )

    @property
    def temporal_target(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
