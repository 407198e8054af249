"""Errors a user can act on, each with the process exit code a scheduler sees.

Exit codes: 0 success, 1 internal error (a bug), 2 usage or configuration
error (also a missing input path or an unwritable output location),
3 bad input data, 4 run directory locked by another run, 5 storage failure
while writing, 130 interrupted.
"""
from __future__ import annotations

__all__ = ["WsiError", "UsageError", "ConfigError", "InputError", "LockError",
           "StorageError", "EXIT_INTERNAL", "EXIT_INTERRUPT"]

EXIT_INTERNAL = 1
EXIT_INTERRUPT = 130


class WsiError(Exception):
    """An error reported to the user as one line, without a traceback."""

    exit_code = EXIT_INTERNAL
    prefix = "error"

    def __str__(self):
        return f"{self.prefix}: {self.args[0] if self.args else ''}"


class UsageError(WsiError):
    exit_code = 2
    prefix = "usage error"


class ConfigError(WsiError):
    exit_code = 2
    prefix = "config error"


class InputError(WsiError):
    exit_code = 3
    prefix = "input error"


class LockError(WsiError):
    exit_code = 4
    prefix = "locked"


class StorageError(WsiError):
    exit_code = 5
    prefix = "storage error"
