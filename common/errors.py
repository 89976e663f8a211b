"""Errors that end a command with a one-line message (see common.cli for exit codes)."""


class UsageProblem(Exception):
    """Bad usage discovered at run time (exit 2), e.g. a run that exists with other settings."""
