"""lgb: benchmark databases as seen from AWS Lambda, from Python and Jupyter.

>>> import lgb
>>> run = lgb.run("examples/quickstart.json")          # doctest: +SKIP
>>> run.summary().select("test", "operation", "throughput", "p99")   # doctest: +SKIP

``lgb.run`` runs a benchmark (in this process, or on Lambda workers) and writes its
results directory; ``lgb.load`` reads one back. A ``Run`` gives its results as polars
DataFrames: ``summary()``, ``timeline()``, ``latencies()``, ``percentiles()``,
``errors()``, ``workers()``, ``cost()``. Errors are ``LgbError`` subclasses; a bad config raises
``ConfigError`` listing every problem with its JSON path.

The benchmark itself runs in lgb-core (Rust): the same code, numbers and results
directories as the ``lgb`` command.
"""

from ._api import (
    ConfigSource,
    Overrides,
    Prices,
    Run,
    compare,
    list_databases,
    list_operations,
    load,
    run,
    schema,
    sweep,
    validate,
)
from ._errors import (
    BackendError,
    CancelledError,
    ConfigError,
    ConnectError,
    InternalError,
    IoError,
    LambdaThrottledError,
    LgbError,
    NotFoundError,
    RejectedError,
    TamperedError,
    ThrottledError,
    TimeoutError,
    UnsupportedError,
)
from ._lgb import __version__
from ._progress import NotebookProgress, Progress, TerminalProgress

__all__ = [
    "BackendError",
    "CancelledError",
    "ConfigError",
    "ConfigSource",
    "ConnectError",
    "InternalError",
    "IoError",
    "LambdaThrottledError",
    "LgbError",
    "NotFoundError",
    "NotebookProgress",
    "Overrides",
    "Prices",
    "Progress",
    "RejectedError",
    "Run",
    "TamperedError",
    "TerminalProgress",
    "ThrottledError",
    "TimeoutError",
    "UnsupportedError",
    "__version__",
    "compare",
    "list_databases",
    "list_operations",
    "load",
    "run",
    "schema",
    "sweep",
    "validate",
]
