"""Progress bars for ``lgb.run``: one line in a terminal, an updating HTML block in
Jupyter. The native runner calls ``start(label)`` when a test (or the load phase)
starts, ``update(fraction, message)`` about ten times a second, ``finish(line)`` when a
test ends and ``close()`` at the end; the bars only draw (the numbers and their
wording come from lgb-core, as in ``lgb run``).
"""

from __future__ import annotations

import html
import sys
import time
from typing import IO, Any, List, Optional, Protocol, cast, runtime_checkable


@runtime_checkable
class Progress(Protocol):
    """What ``lgb.run(progress=...)`` accepts besides ``True``/``False``."""

    def start(self, label: str) -> None:
        """A test starts; ``label`` is its name and worker count (``"reads ×2"``)."""

    def update(self, fraction: Optional[float], message: str) -> None:
        """Live counters; ``fraction`` (0..1) is ``None`` when the length is unknown."""

    def finish(self, line: str) -> None:
        """A test ended; ``line`` summarises it."""

    def close(self, message: Optional[str] = None) -> None:
        """The run ended; ``message`` says why when it did not complete."""


def _bar(fraction: Optional[float], width: int = 30) -> str:
    if fraction is None:
        return " " * width
    done = int(round(max(0.0, min(1.0, fraction)) * width))
    if done >= width:
        return "=" * width
    return "=" * done + ">" + " " * (width - done - 1)


class TerminalProgress:
    """A one-line bar redrawn in place on a terminal (``\\r``). On a stream that is not
    a terminal (a log file, a pipe) only the finished-test lines are written."""

    def __init__(self, stream: Optional[IO[str]] = None, interval: float = 0.1) -> None:
        self.stream: IO[str] = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.live = bool(isatty and isatty())
        self.interval = interval
        self.label = ""
        self.started = time.monotonic()
        self.drawn = 0.0

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()

    def start(self, label: str) -> None:
        self.label = label
        self.started = time.monotonic()
        self.drawn = 0.0

    def update(self, fraction: Optional[float], message: str) -> None:
        now = time.monotonic()
        if not self.live or now - self.drawn < self.interval:
            return
        self.drawn = now
        elapsed = now - self.started
        self._write(f"\r{self.label:>14} [{_bar(fraction)}] {elapsed:4.0f}s {message}\x1b[K")

    def finish(self, line: str) -> None:
        self._write(("\r\x1b[K" if self.live else "") + line + "\n")

    def close(self, message: Optional[str] = None) -> None:
        if self.live:
            self._write("\r\x1b[K")
        if message:
            self._write(message + "\n")


class _NotebookView:
    """What the notebook shows: HTML for Jupyter, text for everything else."""

    def __init__(self, lines: List[str], current: str, fraction: Optional[float]) -> None:
        self.lines, self.current, self.fraction = lines, current, fraction

    def __repr__(self) -> str:
        return "\n".join(self.lines + ([self.current] if self.current else []))

    def _repr_html_(self) -> str:
        done = "".join(f"<div>{html.escape(line)}</div>" for line in self.lines)
        bar = ""
        if self.current:
            value = "" if self.fraction is None else f' value="{self.fraction:.3f}"'
            bar = (
                f'<div><progress max="1"{value} style="width:18em;vertical-align:middle"></progress> '
                f"{html.escape(self.current)}</div>"
            )
        return f'<div class="lgb-progress" style="font-family:monospace">{done}{bar}</div>'


class NotebookProgress:
    """An HTML progress bar in a Jupyter output, updated in place."""

    def __init__(self, interval: float = 0.25) -> None:
        from IPython.display import display as _display

        display = cast(Any, _display)  # IPython has no type hints
        self.interval = interval
        self.lines: List[str] = []
        self.label = ""
        self.started = time.monotonic()
        self.drawn = 0.0
        self.handle: Any = display(_NotebookView([], "", None), display_id=True)

    def _show(self, current: str = "", fraction: Optional[float] = None) -> None:
        if self.handle is not None:
            self.handle.update(_NotebookView(list(self.lines), current, fraction))

    def start(self, label: str) -> None:
        self.label = label
        self.started = time.monotonic()
        self.drawn = 0.0
        self._show(f"{label} starting", None)

    def update(self, fraction: Optional[float], message: str) -> None:
        now = time.monotonic()
        if now - self.drawn < self.interval:
            return
        self.drawn = now
        self._show(f"{self.label} {now - self.started:.0f}s {message}", fraction)

    def finish(self, line: str) -> None:
        self.lines.append(line)
        self._show()

    def close(self, message: Optional[str] = None) -> None:
        if message:
            self.lines.append(message)
        self._show()


def in_notebook() -> bool:
    """Whether code runs in a Jupyter kernel (where HTML outputs are shown)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def make_progress(progress: Any) -> Optional[Progress]:
    """The bar for ``lgb.run(progress=...)``: ``True`` picks one for where code runs,
    ``False``/``None`` none, anything else is used as given."""
    if progress is None or progress is False:
        return None
    if progress is True:
        return NotebookProgress() if in_notebook() else TerminalProgress()
    if isinstance(progress, Progress):
        return progress
    raise TypeError(f"progress must be a bool or an object with start/update/finish/close, not {type(progress).__name__}")
