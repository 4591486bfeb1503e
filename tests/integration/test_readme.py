"""Every shell command the README shows works as written, in a fresh shell with a plain PATH
(no `~/.local/bin`, so no `uv` on it), against a running API: the `sh` blocks are run command
by command, their placeholders (`zsk_...`, `spt_...`, ...) filled in from what the commands
before them printed, and the API's address swapped for the test's. Only the commands that need
what a test cannot have here are left out: `make` (it would start the stack) and `docker`."""

import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests import services as service_resolution
from tests.browser.live import running_api

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
README_API = "http://127.0.0.1:8000"
NOT_RUN_HERE = ("make ", "docker ")
PLAIN_PATH = "/usr/local/bin:/usr/bin:/bin"
COMMAND_SECONDS = 120


def shell_blocks(text: str) -> list[str]:
    """The ```sh blocks, indented ones (in lists) included, without their indentation."""
    blocks = []
    for match in re.finditer(r"^( *)```sh\n(.*?)^\1```", text, re.MULTILINE | re.DOTALL):
        indent = len(match.group(1))
        blocks.append("\n".join(line[indent:] for line in match.group(2).splitlines()))
    return blocks


def commands(block: str) -> list[str]:
    """A block's commands: continued lines (`\\`), open quotes and here-documents joined,
    comments left out."""
    found: list[str] = []
    pending = ""
    heredoc: str | None = None  # the word that ends the here-document being read
    for line in block.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending = f"{pending}\n{line}" if pending else line
        if heredoc is None and (opened := re.search(r"<<-?\s*'?(\w+)'?", line)):
            heredoc = opened.group(1)
            continue
        if heredoc is not None:
            if line.strip() == heredoc:  # its text is data, not shell: no quotes to balance
                found.append(pending)
                pending, heredoc = "", None
            continue
        if pending.rstrip().endswith("\\"):
            continue
        try:
            shlex.split(pending, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        found.append(pending)
        pending = ""
    assert not pending, f"unfinished command in the README: {pending!r}"
    return found


@dataclass
class Session:
    """What a reader would have at hand: the values the commands printed, and the variables
    their `export`s and assignments set."""

    url: str
    env: dict[str, str]
    values: dict[str, str] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)

    def fill(self, command: str) -> str:
        command = command.replace(README_API, self.url)
        for placeholder, value in self.values.items():
            command = re.sub(re.escape(placeholder) + r"(?![\w.])", value, command)
        return command

    def run(self, command: str) -> str:
        filled = self.fill(command)
        assert "..." not in filled.split("#", 1)[0], f"a placeholder left unfilled: {filled}"
        assignment = re.fullmatch(r"(?:export )?([A-Z_]+)=(\S+)(?:\s+#.*)?", filled.strip())
        if assignment:
            self.variables[assignment.group(1)] = assignment.group(2)
            return ""
        prelude = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in self.variables.items())
        done = subprocess.run(
            ["/bin/bash", "-euo", "pipefail", "-c", prelude + filled],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_SECONDS,
            check=False,
        )
        assert done.returncode == 0, f"{filled}\nexit {done.returncode}\n{done.stderr[-3000:]}"
        self.learn(done.stdout)
        return done.stdout

    def learn(self, stdout: str) -> None:
        """Fill the placeholders from what was printed: the project, its key, a ticket, ..."""
        text = stdout.strip()
        if not text.startswith("{"):
            return
        printed: dict[str, Any] = json.loads(text)
        assert "error" not in printed, text
        for key, placeholder in (
            ("project_id", "prj_..."),
            ("api_key", "zsk_..."),
            ("token", "zst_..."),
        ):
            if isinstance(printed.get(key), str):
                self.values.setdefault(placeholder, printed[key])
        if printed.get("object") == "support_ticket":
            self.values.setdefault("spt_...", printed["id"])
        if printed.get("object") == "file":
            self.values.setdefault("file_...", printed["id"])


@pytest.mark.slow
async def test_every_readme_shell_command_works_as_written_in_a_fresh_shell(
    services: service_resolution.Services, tmp_path: Path
) -> None:
    blocks = shell_blocks(README.read_text())
    assert len(blocks) >= 4, "the README's shell blocks were not found"
    async with running_api(
        services, ROOT / "services" / "console" / "dist", tmp_path / "api.log", "zumik_readme"
    ) as live:
        env = {
            "HOME": os.environ.get("HOME", "/root"),
            "PATH": PLAIN_PATH,
            "LANG": "C.UTF-8",
            "MONGODB_URL": live.mongodb_url,
            "AMQP_URL": services.amqp_url,
            "CONSOLE_URL": f"{live.url}/console/",
        }
        session = Session(live.url, env)
        ran = []
        for block in blocks:
            for command in commands(block):
                if command.lstrip().startswith(NOT_RUN_HERE):
                    continue
                session.run(command)
                ran.append(command)
    joined = "\n".join(ran)
    assert "bin/zumik-support project create" in joined
    assert "bin/zumik-support staff create" in joined
    assert "/v2/support/staff/queue" in joined
    assert {"prj_...", "zsk_...", "zst_...", "spt_...", "file_..."} <= session.values.keys()


def test_no_readme_command_needs_uv_on_the_path() -> None:
    for block in shell_blocks(README.read_text()):
        for command in commands(block):
            assert not re.match(r"\s*uv ", command), (
                f"`uv` is not on a fresh shell's PATH: {command}"
            )


def test_apt_waits_for_the_dpkg_lock() -> None:
    for script in ("scripts/services", "scripts/browser"):
        for line in (ROOT / script).read_text().splitlines():
            if re.search(r"\bapt-get\b.*\b(update|install)\b", line):
                assert "DPkg::Lock::Timeout=" in line, f"{script}: {line.strip()}"
