"""Progress lines with rate and ETA for long loops (sampling, nearest neighbours, FID features,
Jacobians, editing, bootstrap fits, theory grids), written through `logging` so that they land in
the job's log (molrg.runtime.setup_logging) and can be followed with `tail -f`.

    for batch in progress(range(n_batches), "sampling d4_N64", unit="batches"):
        ...
    # or, where the loop is not a plain iteration:
    prog = Progress(total, "nearest neighbours", unit="queries")
    prog.update(k); ...; prog.close()

A line is written at most every `every_s` seconds (default 30 s; env MOLRG_PROGRESS_EVERY_S), so
short loops stay silent and long ones print a steady, small stream:
    sampling d4_N64: 12/40 batches (30 %), 0:01:02 elapsed, 0.19 batches/s, ETA 0:02:25
and, if any line was written, one closing line with the total time. Nothing here imports torch.
"""
from __future__ import annotations

import logging
import os
import time

DEFAULT_EVERY_S = 30.0


def default_every_s() -> float:
    raw = os.environ.get("MOLRG_PROGRESS_EVERY_S", "").strip()
    try:
        return float(raw) if raw else DEFAULT_EVERY_S
    except ValueError:
        return DEFAULT_EVERY_S


def fmt_seconds(s: float) -> str:
    s = int(round(max(s, 0)))
    return f"{s // 3600:d}:{s // 60 % 60:02d}:{s % 60:02d}"


class Progress:
    """Counts done items of `total` and logs "label: i/n unit (x %), elapsed, rate, ETA" at most
    every `every_s` seconds. The rate is the average since the start (stable for uneven items)."""

    def __init__(self, total: int | None, label: str, *, unit: str = "items", every_s: float | None = None,
                 log: logging.Logger | None = None, clock=time.monotonic):
        self.total = None if total is None else int(total)
        self.label, self.unit = label, unit
        self.every_s = default_every_s() if every_s is None else float(every_s)
        self.log = log or logging.getLogger("molrg.progress")
        self.clock = clock
        self.start = self.last = clock()
        self.done = 0
        self.lines = 0
        self.closed = False

    def line(self, now: float | None = None) -> str:
        now = self.clock() if now is None else now
        elapsed = now - self.start
        rate = self.done / elapsed if elapsed > 0 else float("nan")
        if self.total:
            head = f"{self.label}: {self.done}/{self.total} {self.unit} ({100 * self.done / self.total:.0f} %)"
        else:
            head = f"{self.label}: {self.done} {self.unit}"
        text = f"{head}, {fmt_seconds(elapsed)} elapsed, {rate:.3g} {self.unit}/s"
        if self.total and self.done and self.done < self.total and rate > 0:
            text += f", ETA {fmt_seconds((self.total - self.done) / rate)}"
        return text

    def update(self, n: int = 1) -> None:
        self.done += n
        now = self.clock()
        if now - self.last >= self.every_s and not (self.total and self.done >= self.total):
            self.log.info("%s", self.line(now))
            self.last, self.lines = now, self.lines + 1

    def close(self) -> None:
        """One closing line with the total time, if the loop was long enough to report at all."""
        if self.closed:
            return
        self.closed = True
        now = self.clock()
        if self.lines or now - self.start >= self.every_s:
            self.log.info("%s (done)", self.line(now))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.close()
        return False


def progress(iterable, label: str, total: int | None = None, **kwargs):
    """Yield from `iterable`, counting each item with a `Progress` (total: len(iterable) if it has one)."""
    if total is None:
        try:
            total = len(iterable)
        except TypeError:
            total = None
    prog = Progress(total, label, **kwargs)
    for item in iterable:
        yield item
        prog.update()
    prog.close()
