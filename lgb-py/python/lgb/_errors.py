"""The exceptions of lgb: one class per error class of lgb-core, all under LgbError.

The native module raises them through ``_from_rust`` with the Rust message, so the text
is the same as the ``lgb`` command prints. Where a built-in exception means the same
thing, the class derives from it too (``ConfigError`` is a ``ValueError``,
``TimeoutError`` a ``builtins.TimeoutError``, ``IoError`` an ``OSError``), so existing
``except`` clauses keep working.
"""

from __future__ import annotations

import builtins
from typing import List, Sequence, Tuple


class LgbError(Exception):
    """Base class of every error lgb raises.

    ``error_class`` is lgb's stable class name (``"config"``, ``"timeout"``, ...), the
    same string results use to count errors.
    """

    error_class: str = "internal"


class ConfigError(LgbError, ValueError):
    """The configuration is wrong. ``problems`` lists every problem as a
    ``(json_path, message)`` pair, for example ``("tests[0].concurrency", "...")``;
    the path is empty for the document as a whole."""

    error_class = "config"

    def __init__(self, message: str, problems: Sequence[Tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.problems: List[Tuple[str, str]] = [(str(p), str(m)) for p, m in problems]

    @property
    def paths(self) -> List[str]:
        """The JSON paths of the problems, in order."""
        return [p for p, _ in self.problems]


class ConnectError(LgbError, ConnectionError):
    """The database could not be reached."""

    error_class = "connect"


class TimeoutError(LgbError, builtins.TimeoutError):
    """An operation did not finish within its deadline."""

    error_class = "timeout"


class ThrottledError(LgbError):
    """The database refused the request because of load or capacity limits."""

    error_class = "throttled"


class NotFoundError(LgbError, LookupError):
    """The requested key or object does not exist."""

    error_class = "not_found"


class RejectedError(LgbError):
    """The database rejected the request as invalid."""

    error_class = "rejected"


class UnsupportedError(LgbError):
    """The adapter or database cannot do what was asked."""

    error_class = "unsupported"


class TamperedError(LgbError):
    """A proof of integrity from the database failed verification."""

    error_class = "tampered"


class IoError(LgbError, OSError):
    """Reading or writing a local file failed (a config, a results directory)."""

    error_class = "io"


class CancelledError(LgbError):
    """The operation was cancelled."""

    error_class = "cancelled"


class BackendError(LgbError):
    """Any other failure reported by a database backend or a worker."""

    error_class = "backend"


class InternalError(LgbError):
    """A failure of lgb itself, not of the database (a worker task that panicked, a
    table that could not be encoded): worth a bug report."""

    error_class = "internal"


class LambdaThrottledError(LgbError):
    """AWS Lambda refused an invocation for lack of concurrency (not the database)."""

    error_class = "lambda_throttled"


_BY_CLASS = {
    cls.error_class: cls
    for cls in (
        ConfigError,
        ConnectError,
        TimeoutError,
        ThrottledError,
        NotFoundError,
        RejectedError,
        UnsupportedError,
        TamperedError,
        IoError,
        CancelledError,
        BackendError,
        InternalError,
        LambdaThrottledError,
    )
}


def _from_rust(error_class: str, message: str, problems: Sequence[Tuple[str, str]]) -> LgbError:
    """The exception for an lgb-core error (called by the native module)."""
    if error_class == "config":
        return ConfigError(message, problems)
    cls = _BY_CLASS.get(error_class)
    if cls is None:
        # A class newer than this package: still an LgbError, with its name kept.
        err = LgbError(message)
        err.error_class = error_class
        return err
    return cls(message)
