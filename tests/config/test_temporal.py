"""The Temporal CLI binary and the dev server's command line (config/temporal.py)."""

from pathlib import Path

from config.settings import Settings
from config.temporal import (
    DEV_SEARCH_ATTRIBUTES,
    dev_server_command,
    temporal_cli_path,
)


def pairs(cmd: list[str], flag: str) -> list[str]:
    return [cmd[i + 1] for i, arg in enumerate(cmd) if arg == flag]


def test_temporal_cli_is_installed_next_to_python() -> None:
    path = Path(temporal_cli_path())
    assert path.name.startswith("temporal") and path.is_file()


def test_dev_server_command(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, temporal_port=17233, temporal_ui_port=18233)
    cmd = dev_server_command(settings)
    assert cmd[1:3] == ["server", "start-dev"]
    assert pairs(cmd, "--port") == ["17233"]
    assert pairs(cmd, "--ui-port") == ["18233"]
    assert pairs(cmd, "--ip") == ["127.0.0.1"]
    assert pairs(cmd, "--db-filename") == [str(tmp_path / "temporal.db")]
    assert pairs(cmd, "--sqlite-pragma") == ["journal_mode=wal", "synchronous=1"]
    assert pairs(cmd, "--namespace") == ["default"]
    assert set(pairs(cmd, "--search-attribute")) == {
        f"{k}={v}" for k, v in DEV_SEARCH_ATTRIBUTES.items()
    }
    assert (
        "OrderStatus=Keyword" in cmd
        and "OrderTotal=Double" in cmd
        and "NeedsAttention=Bool" in cmd
    )
    # The dev stack keeps the Web UI; time skipping is for tests only.
    assert "--headless" not in cmd
    assert not any("TimeSkipping" in arg for arg in cmd)


def test_dev_server_command_for_tests(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    cmd = dev_server_command(
        settings,
        headless=True,
        persistent=False,
        extra_args=[
            "--dynamic-config-value",
            "frontend.WorkflowTimeSkippingEnabled=true",
        ],
    )
    assert "--headless" in cmd and "--db-filename" not in cmd
    assert cmd[-1] == "frontend.WorkflowTimeSkippingEnabled=true"
