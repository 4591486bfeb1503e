"""docker-compose.yml, the Dockerfile and .dockerignore, checked statically (no Docker engine
needed): healthchecks, restart policies, stop grace longer than each service's own shutdown,
every variable one the service reads, a non-root image that caches its dependency layer and
holds the CLI, a supported MongoDB, and no secrets or local state in the build context.
`docker compose config` also runs where the compose plugin exists."""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings
from zumik_api.settings import Settings as ApiSettings
from zumik_notifier.app import graceful_timeout
from zumik_notifier.settings import Settings as NotifierSettings
from zumik_privacy.app import GRACEFUL_TIMEOUT_SECONDS
from zumik_privacy.settings import Settings as PrivacySettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
APPS: dict[str, type[BaseSettings]] = {
    "api": ApiSettings,
    "notifier": NotifierSettings,
    "privacy": PrivacySettings,
}
# Read by the shared logging and tracing set-up (zumik_observability), not by Settings.
SHARED_VARIABLES = {"LOG_LEVEL", "OTEL_EXPORTER_OTLP_ENDPOINT"}
SUPPORTED_MONGODB = re.compile(r"mongo:(7\.0|8\.0)(\.\d+)?")
SALT = "a-test-salt-of-enough-characters"


def _seconds(duration: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration):
        total += float(number) * units[unit]
    return total


def _environment(service: str) -> dict[str, str]:
    env = SERVICES[service].get("environment", {})
    return {key: str(value) for key, value in env.items()}


def _settings(service: str) -> BaseSettings:
    """The service's Settings as compose configures it (`${VAR:-default}` taken at default)."""
    values = {}
    for key, value in _environment(service).items():
        match = re.fullmatch(r"\$\{\w+(?::-(.*)|:\?.*)\}", value)
        values[key.lower()] = (SALT if ":?" in value else match.group(1)) if match else value
    fields = APPS[service].model_fields
    given: dict[str, Any] = {k: v for k, v in values.items() if k in fields and v != ""}
    return APPS[service].model_validate(given)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_service_has_a_healthcheck_restart_policy_and_stop_grace(service: str) -> None:
    spec = SERVICES[service]
    assert spec["healthcheck"]["test"], service
    assert spec["restart"] in ("unless-stopped", "always"), service
    assert _seconds(spec["stop_grace_period"]) > 0, service


@pytest.mark.parametrize("service", sorted(APPS))
def test_every_variable_is_one_the_service_reads(service: str) -> None:
    fields = {name.upper() for name in APPS[service].model_fields}
    unknown = set(_environment(service)) - fields - SHARED_VARIABLES
    assert not unknown, f"{service} does not read {sorted(unknown)}"


def test_stop_grace_is_longer_than_each_services_own_shutdown() -> None:
    api = _settings("api")
    assert isinstance(api, ApiSettings)
    notifier = _settings("notifier")
    assert isinstance(notifier, NotifierSettings)
    own = {
        # Requests in flight, then the runtime's tasks (cancelled in rounds of 1 s, 5 at most).
        "api": api.api_shutdown_timeout_seconds + 5,
        "notifier": graceful_timeout(notifier),
        "privacy": GRACEFUL_TIMEOUT_SECONDS,
    }
    for service, seconds in own.items():
        grace = _seconds(SERVICES[service]["stop_grace_period"])
        assert grace > seconds, f"{service}: {grace} s of grace for a {seconds} s shutdown"


def test_app_healthchecks_ask_readiness_on_the_port_the_service_listens_on() -> None:
    ports = {
        "api": _environment("api")["API_PORT"],
        "notifier": _environment("notifier")["NOTIFIER_HEALTH_PORT"],
        "privacy": _environment("privacy")["PRIVACY_HEALTH_PORT"],
    }
    for service, port in ports.items():
        test = " ".join(SERVICES[service]["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/readyz" in test, service
        assert SERVICES[service]["command"] == [f"zumik-{service}"]


def test_a_supported_mongodb_image() -> None:
    assert SUPPORTED_MONGODB.fullmatch(SERVICES["mongo"]["image"])


def test_the_image_is_non_root_caches_dependencies_and_holds_the_cli() -> None:
    steps = [
        line.strip()
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    app = steps[next(i for i, s in enumerate(steps) if s.startswith("FROM python")) :]
    first_sync = next(i for i, s in enumerate(app) if s.startswith("RUN uv sync"))
    assert "--no-install-workspace" in app[first_sync]
    before = app[:first_sync]
    assert any("uv.lock" in step for step in before)
    assert not any(re.match(r"COPY (libs|contracts|services/\w+|cli)/ ", s) for s in before)
    assert any(s.startswith("COPY cli/ ") for s in app), "the image holds zumik-support"
    user = [s for s in app if s.startswith("USER ")]
    assert user, "the image runs as root"
    assert user[-1].split()[1] not in ("root", "0")


def test_secrets_and_local_state_stay_out_of_the_build_context() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".env", ".local/"} <= ignored


def test_docker_compose_config_where_the_plugin_exists() -> None:
    docker = shutil.which("docker")
    if (
        docker is None
        or subprocess.run(
            [docker, "compose", "version"], capture_output=True, check=False
        ).returncode
    ):
        pytest.skip("no docker compose plugin here; the checks above parse the file instead")
    checked = subprocess.run(
        [docker, "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        capture_output=True,
        text=True,
        env={"PRIVACY_SUBJECT_SALT": SALT, "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
