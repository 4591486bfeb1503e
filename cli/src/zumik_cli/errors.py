"""The one error the command line reports: a failure the user can act on."""


class CliError(Exception):
    """Printed as `zumik-support: <message>` on stderr, with exit status 1."""
