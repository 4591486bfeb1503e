"""The command line's manners: `--version`, and one clear line with a documented exit status,
not a traceback, when the store is down."""

from tests.cli import run_cli


async def test_version() -> None:
    run = await run_cli({}, "--version")
    assert run.returncode == 0
    assert run.stdout.startswith("zumik-support ")


async def test_an_unreachable_store_is_one_line_and_exit_status_3() -> None:
    # Nothing listens on port 1; the URL's password must not be printed.
    run = await run_cli(
        {"MONGODB_URL": "mongodb://user:s3cret@127.0.0.1:1/zumik?serverSelectionTimeoutMS=500"},
        "project",
        "list",
    )
    assert run.returncode == 3
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert lines == [lines[-1]], run.stderr
    assert lines[-1].startswith("zumik-support: cannot reach MongoDB at 127.0.0.1:1 ")
    assert "s3cret" not in run.stderr


async def test_help_documents_the_exit_statuses() -> None:
    run = await run_cli({}, "--help")
    assert "3 MongoDB unreachable" in run.stdout
    assert "5 the privacy service did not answer" in run.stdout
