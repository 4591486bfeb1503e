"""Schemathesis (`st run`, every check) against the running API, with a customer's key on the
customer API, a staff token on the team's, and no credential on the rest. The examples per
operation are bounded (`ZUMIK_SCHEMATHESIS_EXAMPLES`, 10 by default) and the seed fixed, so
`make test` stays quick and repeatable; a larger run: `ZUMIK_SCHEMATHESIS_EXAMPLES=200`."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from zumik_accounts.projects import Projects
from zumik_accounts.staff import Staff

from tests import services as service_resolution
from tests.browser.live import running_api

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "schemathesis" / "schemathesis.toml"
EXAMPLES = os.environ.get("ZUMIK_SCHEMATHESIS_EXAMPLES", "10")
SEED = os.environ.get("ZUMIK_SCHEMATHESIS_SEED", "20261130")
RUN_SECONDS = 240


async def _st(url: str, *options: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "st"),
        "--config-file",
        str(CONFIG),
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        # One worker: Python 3.11's parser is not thread-safe under Schemathesis's workers
        # ("AST constructor recursion depth mismatch").
        "--workers",
        "1",
        "--no-color",
        *options,
        cwd=ROOT,
        env=os.environ | {"SCHEMATHESIS_HOOKS": "tests.schemathesis.hooks"},
        stdin=subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(RUN_SECONDS):
        output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


@pytest.mark.slow
async def test_schemathesis_finds_no_failure(
    services: service_resolution.Services, tmp_path: Path
) -> None:
    async with running_api(
        services,
        ROOT / "services" / "console" / "dist",
        tmp_path / "api.log",
        "zumik_st",
        # Schemathesis sends bad credentials on purpose, all from one address.
        env={"AUTH_FAILURES_PER_MINUTE": "1000000"},
    ) as live:
        projects = Projects(live.db)
        project = await projects.create("Schemathesis", "enterprise")
        key = (await projects.new_api_key(project.id)).api_key
        staff = (await Staff(live.db).create("schemathesis@zumik.example")).token
        runs = {
            "customer": (
                "-H",
                f"Authorization: Bearer {key}",
                "--include-path-regex",
                "^/v2/support/tickets",
            ),
            "staff": (
                "-H",
                f"Authorization: Bearer {staff}",
                "--include-path-regex",
                "^/v2/support/staff/",
            ),
            "public": ("--exclude-path-regex", "^/v2/support/"),
        }
        failures = []
        for name, options in runs.items():
            code, output = await _st(live.url, *options)
            if code != 0:
                failures.append(f"--- {name} (exit {code}) ---\n{output[-6000:]}")
        assert not failures, "\n".join(failures)
