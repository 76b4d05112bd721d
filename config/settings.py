"""All configuration, read once from `OMS_*` environment variables (docs/api.md "Configuration").

Defaults are the embedded development stack; every deployment differs only in these variables.
The development keys and secrets are defaults only: `oms api` and `oms worker` refuse to start
with them outside the dev stack (config/production_guard.py). Every secret is a `SecretStr` (or
kept out of the repr), so printing or logging the settings shows none of them, and validation
errors never quote an input (`hide_input_in_errors`), since the input may be a key.
"""

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.counts import CountPolicy
from domain.enums import BackorderPolicy, DamagedPolicy, ShortPickPolicy
from domain.models import OrderPolicy, RiskPolicy, StepSlas
from domain.pricing import PricePolicy

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
# The plain development keys and carrier secrets above, which the production guard looks for.
DEV_KEYS = frozenset({"dev-client-key", "dev-ops-key", "dev-warehouse-key"})
DEV_SECRETS = frozenset({"dev-swift-secret", "dev-economy-secret"})

# The shortest plain API key OMS_API_KEYS accepts: `secrets.token_urlsafe(32)` gives 43 characters;
# 24 random URL-safe characters are 144 bits, far beyond guessing. A `sha256$<hex>` digest cannot be
# measured and is accepted as given (whoever hashes a key vouches for its length). The built-in
# development keys are exempt: they are public whatever their length, and the production guard
# refuses them outside the dev stack.
MIN_API_KEY_LENGTH = 24


HASHED_KEY_PREFIX = "sha256$"
_ROLES = frozenset({"client", "ops", "warehouse"})


@dataclass(frozen=True)
class ApiKeyEntry:
    """One configured API key. `digest` is SHA-256 of the UTF-8 key; `key` is the plain key when
    the configuration gave one (None once dropped, or when it gave only a digest). `customers`
    binds a client key to those customer ids; None means unbound (every customer)."""

    name: str
    role: str
    digest: bytes
    customers: frozenset[str] | None = None
    key: str | None = field(default=None, repr=False, compare=False)

    def without_key(self) -> "ApiKeyEntry":
        return replace(self, key=None)


def api_key_digest(key: str) -> bytes:
    """The SHA-256 digest under which a presented or configured API key is kept and compared."""
    return hashlib.sha256(key.encode("utf-8")).digest()


def parse_api_keys(text: str, *, min_key_length: int = 0) -> tuple[ApiKeyEntry, ...]:
    """Parse `OMS_API_KEYS`: comma-separated `name:role:key` entries (docs/api.md "Configuration").

    - `key` may be written as `sha256$<64 hex digits>`, the SHA-256 of the UTF-8 key, so that the
      configuration need not hold the key itself.
    - A `client` entry takes an optional 4th field, customer ids separated by `|`
      (`shop-a:client:KEY:cust-1|cust-2`): the key then sees and submits only those customers'
      orders. For a client entry the text after the last `:` is that field, so a client key that
      contains `:` must end the entry with an empty field (`shop:client:a:b:`, unbound). Other roles
      take no binding and their key is everything after the role, colons included.
    - Whitespace around entries and empty entries are ignored. Roles must be client, ops or
      warehouse; names, keys and customer ids must be non-empty; two entries may not share a key.
      Anything else raises ValueError naming the entry (by name, never by key).
    - A plain key shorter than `min_key_length` raises ValueError too (Settings passes
      MIN_API_KEY_LENGTH), except the built-in development keys (DEV_KEYS); digests are not measured.
    """
    entries: list[ApiKeyEntry] = []
    seen: set[bytes] = set()
    for position, raw in enumerate(filter(None, (e.strip() for e in text.split(","))), start=1):
        parts = raw.split(":", 2)
        if len(parts) != 3:
            raise ValueError(f"API key entry {position} is not name:role:key")
        name, role, rest = (p.strip() for p in parts)
        if not name:
            raise ValueError(f"API key entry {position} has no name")
        if role not in _ROLES:
            raise ValueError(f"API key {name!r} has unknown role {role!r} (client, ops or warehouse)")
        customers: frozenset[str] | None = None
        key = rest
        if role == "client" and ":" in rest:
            key, _, binding = rest.rpartition(":")
            if binding.strip():
                ids = [c.strip() for c in binding.split("|")]
                if not all(ids):
                    raise ValueError(f"API key {name!r} has an empty customer id in its binding")
                customers = frozenset(ids)
        if not key:
            raise ValueError(f"API key {name!r} has no key")
        plain: str | None = key
        if key.startswith(HASHED_KEY_PREFIX):
            hexdigest = key[len(HASHED_KEY_PREFIX) :]
            if not re.fullmatch(r"[0-9a-fA-F]{64}", hexdigest):
                raise ValueError(f"API key {name!r}: {HASHED_KEY_PREFIX} must be followed by 64 hex digits")
            digest, plain = bytes.fromhex(hexdigest), None
        else:
            if len(key) < min_key_length and key not in DEV_KEYS:
                raise ValueError(
                    f"API key {name!r} is {len(key)} characters long; use at least {min_key_length}"
                    " (e.g. python -c \"import secrets; print(secrets.token_urlsafe(32))\")"
                )
            digest = api_key_digest(key)
        if digest in seen:
            raise ValueError(f"API key {name!r} repeats the key of an earlier entry")
        seen.add(digest)
        entries.append(ApiKeyEntry(name=name, role=role, digest=digest, customers=customers, key=plain))
    return tuple(entries)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_", extra="ignore", hide_input_in_errors=True)

    # Set (to 1) only by the dev stack for the processes it starts: `oms dev`, the test and bench
    # stacks. It lets `oms api`/`oms worker` run on the development keys and secrets; without it
    # they refuse to (config/production_guard.py). Production sets nothing.
    dev_stack: bool = False
    data_dir: Path = Path(".oms")
    # Out of the repr: a URL may carry the database password.
    database_url: str | None = Field(default=None, repr=False)
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    task_queue: str = "orders"
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    # The defaults are the development keys and secrets (never validated, so never measured).
    api_keys: SecretStr = SecretStr(DEV_API_KEYS)
    carrier_secrets: SecretStr = SecretStr(DEV_CARRIER_SECRETS)
    # Requests per second each API key may make on average, and how many it may make in a burst
    # (a token bucket per key name, per API process; api.auth). 0 in either turns limiting off.
    rate_limit_per_second: float = Field(default=50.0, ge=0)
    rate_limit_burst: int = Field(default=100, ge=0)
    # Admission control of POST /orders (api.admission): submissions worked on at once per API
    # process; one more answers 503 /problems/overloaded with Retry-After and changes nothing. 0: off.
    max_submissions_in_flight: int = Field(default=64, ge=0)
    simulator: bool = True
    simulator_speed: float = Field(default=60.0, gt=0)
    # How often the simulator polls the API (real seconds).
    simulator_poll_interval: float = Field(default=1.0, gt=0)
    # Base URL the simulator (and other HTTP clients of ours) use; default http://api_host:api_port.
    api_url: str | None = None
    # uvicorn's per-request log line (`oms dev` turns it off: the simulator polls every second).
    api_access_log: bool = True
    return_window: Duration = timedelta(days=30)
    return_expiry: Duration = timedelta(days=30)
    hold_timeout: Duration = timedelta(hours=48)
    backorder_timeout: Duration = timedelta(days=14)
    risk_hold_above: Decimal = Decimal("5000.00")
    risk_velocity_limit: int = Field(default=5, ge=1)
    risk_velocity_window: Duration = timedelta(hours=1)
    # E-mail addresses and phone numbers whose orders are held for review, comma-separated.
    # Customers' contacts: out of the repr, like the secrets.
    risk_blocklist: str = Field(default="", repr=False)
    backorder_policy: BackorderPolicy = BackorderPolicy.CANCEL
    # Channel discounts (issue 17, domain.pricing.PricePolicy): at most this percent of an order's
    # items in all, and only these codes, comma-separated; empty: any code (or none) is accepted.
    max_discount_percent: Decimal = Field(default=Decimal(50), ge=0, le=100)
    discount_codes: str = ""
    damaged_policy: DamagedPolicy = DamagedPolicy.RESHIP
    # A short pick's missing units: reallocate (another warehouse, else backorder), backorder, refund.
    short_pick_policy: ShortPickPolicy = ShortPickPolicy.REALLOCATE
    tracking_poll_interval: Duration = timedelta(hours=12)
    # About a minute of backoff (workflows/supervision.py bounded_retry): a database or network
    # restart is ridden out by the retries; only a failure that outlasts it parks for ops.
    activity_attempts: int = Field(default=12, ge=1)
    ops_email: str = "ops@orderflow.local"
    # Complaint caps (R11), counted in PostgreSQL so they hold across API processes (store.feedback):
    # complaints open at once on one order, and complaints one customer may open in any 24 hours.
    # Beyond either: 429 /problems/too-many-complaints. Reviews are not capped (one per order).
    complaints_open_per_order: int = Field(default=3, ge=1)
    complaints_per_customer_per_day: int = Field(default=5, ge=1)
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
    smtp_password: SecretStr | None = None
    # Webhook subscribers that receive every notification, signed: `url|secret` entries separated
    # by commas, e.g. `https://crm.example/hook|s3cret,https://chat.example/in|other`. `|` never
    # appears unescaped in a URL; a secret must not contain `,` or `|`. Parsed (and rejected when
    # malformed) by adapters.notifications.delivery.parse_webhook_subscribers at worker start.
    notify_webhooks: SecretStr = SecretStr("")
    # Payload encryption (config.codec): `kid:base64key` entries separated by commas, 16/24/32-byte
    # AES keys; the first encrypts, all decrypt (rotate by putting a new key first). Unset: payloads
    # would stay plaintext, so `oms api`/`oms worker` refuse to start without it outside the dev stack;
    # `oms dev` generates a key and keeps it in OMS_DATA_DIR. Parsed by config.codec.parse_codec_keys
    # when a client, worker or API starts.
    codec_keys: SecretStr | None = None
    # Browser origins allowed to call the codec endpoints (/codec/encode, /codec/decode), comma-
    # separated; default the dev Temporal UI, http://localhost:<ui port> and http://127.0.0.1:<ui port>.
    codec_cors_origins: str | None = None
    # Who may call the codec endpoints (api.routers.codec, "Access policy"). "authenticated": an ops
    # key or an ops console sign-in, everywhere by default. "loopback-open": besides, the Temporal UI
    # decodes with no credential when the browser, the UI's page and the API are all on this machine;
    # only `oms dev` turns it on, and the API refuses it at start unless OMS_API_HOST is loopback.
    codec_access: Literal["authenticated", "loopback-open"] = "authenticated"
    # Ops console (/ops/ui): the key that signs its session cookies. Empty: a random key per API
    # process (sessions end when it restarts; set one shared key when several API processes serve).
    # A plain str kept out of the repr (api/console reads it as a str).
    console_secret: str = Field(default="", repr=False)
    # How long a console login lasts without a new login.
    console_session_ttl: Duration = timedelta(hours=8)
    # How long a console login lasts at most, however active: a refreshed cookie never outlives it.
    console_session_max_age: Duration = timedelta(hours=12)
    # Worker tuning (docs/performance.md). Workflows kept in the worker's sticky cache: bounds its
    # memory however many orders are parked (an evicted order is replayed from history when it wakes).
    max_cached_workflows: int = Field(default=1000, ge=0)
    # Cycle counts (issue 19, domain/counts.py). The plan: per warehouse, A is the SKUs making the
    # first OMS_COUNT_CLASS_A_PERCENT of the value shipped in OMS_COUNT_VALUE_WINDOW, B the next
    # OMS_COUNT_CLASS_B_PERCENT, C the rest; OMS_COUNT_FAST_MOVER_PICKS picks in the window move an
    # item up one class (0: never). Each class is counted every OMS_COUNT_EVERY_<CLASS>. A count
    # off by more than OMS_COUNT_HOLD_UNITS units and more than OMS_COUNT_HOLD_PERCENT of the book
    # waits for ops approval.
    count_class_a_percent: Decimal = Field(default=Decimal(80), ge=0, le=100)
    count_class_b_percent: Decimal = Field(default=Decimal(15), ge=0, le=100)
    count_fast_mover_picks: int = Field(default=30, ge=0)
    count_value_window: Duration = timedelta(days=90)
    count_every_a: Duration = timedelta(days=30)
    count_every_b: Duration = timedelta(days=90)
    count_every_c: Duration = timedelta(days=180)
    count_hold_units: int = Field(default=10, ge=0)
    count_hold_percent: Decimal = Field(default=Decimal(10), ge=0)
    # Workflow tasks the worker works on at once (and threads that run them). Unset: the SDK's 100.
    # Each activation must yield within 2 s of wall time (the SDK's deadlock detector); many at
    # once share one GIL, so on a small machine fewer at a time finish sooner (docs/performance.md).
    max_concurrent_workflow_tasks: int | None = Field(default=None, ge=2)

    @field_validator("api_keys")
    @classmethod
    def _api_keys_are_well_formed(cls, value: SecretStr) -> SecretStr:
        """A malformed OMS_API_KEYS, or a key that is too short, stops the process at start-up."""
        parse_api_keys(value.get_secret_value(), min_key_length=MIN_API_KEY_LENGTH)
        return value

    def api_key_table(self) -> dict[str, tuple[str, str]]:
        """key -> (name, role) of every entry configured with its plain key, for the tools that
        present a key themselves (`oms dev` prints them, the simulator and `oms ops` use them).
        Entries configured as `sha256$<hex>` have no plain key here and are left out. The API
        itself never keeps this table: it authenticates with `api_key_entries()` (digests only)."""
        entries = parse_api_keys(self.api_keys.get_secret_value())
        return {entry.key: (entry.name, entry.role) for entry in entries if entry.key is not None}

    def api_key_entries(self) -> tuple["ApiKeyEntry", ...]:
        """The configured keys as SHA-256 digests, without the plain keys (see `parse_api_keys`)."""
        return tuple(entry.without_key() for entry in parse_api_keys(self.api_keys.get_secret_value()))

    def carrier_secret_table(self) -> dict[str, str]:
        table: dict[str, str] = {}
        for entry in filter(None, (e.strip() for e in self.carrier_secrets.get_secret_value().split(","))):
            carrier, secret = entry.split(":", 1)
            table[carrier] = secret
        return table

    def order_policy(self) -> OrderPolicy:
        """The rules an order starts with; fixed for its lifetime (the workflow reads no config)."""
        return OrderPolicy(
            return_window=self.return_window,
            return_expiry=self.return_expiry,
            hold_timeout=self.hold_timeout,
            backorder_timeout=self.backorder_timeout,
            backorder_policy=self.backorder_policy,
            damaged_policy=self.damaged_policy,
            short_pick_policy=self.short_pick_policy,
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

    def price_policy(self) -> PricePolicy:
        """What channel discounts intake accepts (the API checks them; the workflow never does)."""
        return PricePolicy(
            max_discount_percent=self.max_discount_percent,
            codes=frozenset(code.strip() for code in self.discount_codes.split(",") if code.strip()),
        )

    def count_policy(self) -> CountPolicy:
        """The cycle count plan and hold rule (domain/counts.py)."""
        return CountPolicy(
            a_percent=self.count_class_a_percent,
            b_percent=self.count_class_b_percent,
            fast_mover_picks=self.count_fast_mover_picks,
            window=self.count_value_window,
            every_a=self.count_every_a,
            every_b=self.count_every_b,
            every_c=self.count_every_c,
            hold_units=self.count_hold_units,
            hold_percent=self.count_hold_percent,
        )

    def codec_allowed_origins(self) -> list[str]:
        if self.codec_cors_origins is not None:
            return [o.strip().rstrip("/") for o in self.codec_cors_origins.split(",") if o.strip()]
        return [f"http://localhost:{self.temporal_ui_port}", f"http://127.0.0.1:{self.temporal_ui_port}"]

    @property
    def temporal_target(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"


def first_key_with_role(table: Mapping[str, tuple[str, str]], role: str) -> str | None:
    """The first plain key of `api_key_table()` with `role`: the key a tool of ours presents when
    none is given (the simulator, `oms ops`, `oms import`)."""
    for key, (_name, key_role) in table.items():
        if key_role == role:
            return key
    return None


def api_base_url(settings: Settings) -> str:
    """Where our own HTTP API answers, for its clients (the simulator, `oms ops`, `oms import`,
    `oms dev`'s banner): OMS_API_URL, else the address `oms api` binds to."""
    if settings.api_url:
        return settings.api_url.rstrip("/")
    host = settings.api_host
    if host in ("0.0.0.0", "::", ""):  # a bind-all address is not a destination
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.api_port}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
