"""The one error type of the composition root: a failure the user can act on."""


class CliError(Exception):
    """A failure the user can act on: printed as one line, exit status 1."""
