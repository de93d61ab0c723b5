"""The commands the service is started with: `make run`'s (Procfile.dev) and production's (docker-compose.yml)."""

import shlex
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def procfile_command(process: str) -> list[str]:
    """The command `make run` starts for `process` (web, worker, beat), as written."""
    for line in (ROOT / "Procfile.dev").read_text().splitlines():
        if line.startswith(f"{process}:"):
            return shlex.split(line.split(":", 1)[1])
    raise AssertionError(f"no {process} in Procfile.dev")


def compose_services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def compose_command(service: str) -> list[str]:
    """The command docker-compose.yml runs for `service`, as written."""
    return list(compose_services()[service]["command"])
