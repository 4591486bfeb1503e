"""The errors the command line reports: one line on stderr, and an exit status that says which.

| status | meaning |
|---|---|
| 0 | done |
| 1 | the command failed: bad input, no such project, a failed privacy command, no confirmation |
| 2 | the command line itself is wrong (usage) |
| 3 | MongoDB cannot be reached (`MONGODB_URL`) |
| 4 | RabbitMQ cannot be reached (`AMQP_URL`) |
| 5 | the privacy service did not answer (not running, or still working: see `--request-id`) |
| 130 | interrupted (Ctrl-C) |
"""

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_STORE_UNREACHABLE = 3
EXIT_BROKER_UNREACHABLE = 4
EXIT_NO_ANSWER = 5
EXIT_INTERRUPTED = 130


class CliError(Exception):
    """Printed as `zumik-support: <message>` on stderr, with exit status `exit_code`."""

    exit_code = EXIT_FAILED


class StoreUnreachable(CliError):
    exit_code = EXIT_STORE_UNREACHABLE


class BrokerUnreachable(CliError):
    exit_code = EXIT_BROKER_UNREACHABLE


class NoAnswer(CliError):
    exit_code = EXIT_NO_ANSWER
