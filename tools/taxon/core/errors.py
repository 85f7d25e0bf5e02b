"""Errors a user sees: a message saying what went wrong, where, and what to do.

Stages raise TaxonError; the CLI prints it (never a traceback) and exits with its code.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class TaxonError(Exception):
    """A failure with a message for the user and, where there is one, a hint of what to do."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str | None = None, where: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.where = where

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class UsageError(TaxonError):
    """Bad command-line usage or configuration: exit code 2."""

    exit_code = EXIT_USAGE


class MissingExtra(UsageError):
    """A stage needs an optional dependency that is not installed."""

    def __init__(self, package: str, extra: str):
        super().__init__(
            f"this command needs the Python package '{package}', which is not installed",
            hint=f"install the extra: pip install 'taxon[{extra}]' (torch==2.13.0 first for a CPU build)",
        )
