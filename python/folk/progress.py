"""Progress of a long step, shown the way its reader sees it, written once.

On a terminal (standard error a TTY) a tqdm bar; in a log (a file, a pipe, a job scheduler)
plain lines instead, without carriage returns or ANSI codes: one when the stage starts, one per
finished item when each item is worth a line (a scene, an epoch; not a training step), and one
when it ends, each with its timing. ``enabled=False`` (``--quiet``) shows nothing.

Used by every command that shows progress (synth, prepare, teacher, distill, predict, ...).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, Self, TextIO


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 120 else f"{value / 60:.1f} min"


class Progress:
    """A tqdm bar on a terminal, else lines (see the module). Iterate it like tqdm, or call
    :meth:`update` per finished item; :meth:`write` prints a line either way; :meth:`close`
    (or leaving a ``with`` block) ends the stage."""

    def __init__(self, iterable: Iterable | None = None, *, desc: str, total: int | None = None,
                 unit: str = "item", enabled: bool = True, per_item: bool = True,
                 leave: bool = True, stream: TextIO | None = None, tty: bool | None = None):
        self.iterable = iterable
        self.desc, self.unit, self.enabled, self.per_item = desc, unit, enabled, per_item
        self.stream = stream if stream is not None else sys.stderr
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        self.total = total
        self.done = 0
        self._postfix = ""
        self._closed = False
        self._start = self._item_start = time.perf_counter()
        if tty is None:
            tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.bar = None
        if enabled and tty:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=unit, leave=leave, file=self.stream)
        elif enabled:
            count = f"{total} {unit}{'s' if total != 1 else ''}" if total is not None else "start"
            self._line(f"{desc}: {count}")

    @property
    def on_terminal(self) -> bool:
        """Whether this shows a bar (else lines, or nothing)."""
        return self.bar is not None

    def _line(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def __iter__(self) -> Iterator[Any]:
        if self.iterable is None:
            raise TypeError("Progress without an iterable: call update() instead")
        try:
            for item in self.iterable:
                self._item_start = time.perf_counter()
                yield item
                self.update()
        finally:
            self.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def set_postfix_str(self, text: str) -> None:
        """Name the item in progress (the bar's postfix; the line of its end)."""
        self._postfix = text
        if self.bar is not None:
            self.bar.set_postfix_str(text)

    def update(self, n: int = 1, item: str | None = None) -> None:
        """``n`` more items finished (``item``: their name, else the postfix)."""
        self.done += n
        now = time.perf_counter()
        if self.bar is not None:
            self.bar.update(n)
        elif self.enabled and self.per_item:
            of = f"/{self.total}" if self.total is not None else ""
            name = item if item is not None else self._postfix
            self._line(f"{self.desc}: {self.done}{of}{' ' + name if name else ''} "
                       f"({_seconds(now - self._item_start)})")
        self._item_start = now

    def write(self, text: str) -> None:
        """A line of its own (above the bar on a terminal); shown even when disabled."""
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            self._line(text)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.bar is not None:
            self.bar.close()
        elif self.enabled:
            self._line(f"{self.desc}: done, {self.done} {self.unit}"
                       f"{'s' if self.done != 1 else ''} in "
                       f"{_seconds(time.perf_counter() - self._start)}")
