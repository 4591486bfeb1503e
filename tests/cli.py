"""Runs `bin/zumik-support ...` from the repository root, as the README does."""

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class CliRun:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> dict[str, Any]:
        assert self.returncode == 0, self.stderr
        lines = self.stdout.strip().splitlines()
        assert len(lines) == 1, f"expected one JSON object on stdout, got {self.stdout!r}"
        result: dict[str, Any] = json.loads(lines[0])
        return result


async def run_cli(env: dict[str, str], *args: str) -> CliRun:
    """The command with `env` added to this process's environment; at most 60 s."""
    process = await asyncio.create_subprocess_exec(
        str(ROOT / "bin" / "zumik-support"),
        *args,
        cwd=ROOT,
        env=os.environ | env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return CliRun(process.returncode, stdout.decode(), stderr.decode())
