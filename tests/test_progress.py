"""molrg.progress: rate-limited progress lines with rate and ETA (fake clock)."""
from __future__ import annotations

import logging

from molrg.progress import Progress, fmt_seconds, progress


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def _logger(name):
    log = logging.getLogger(name)
    log.setLevel(logging.INFO)
    log.propagate = False
    h = Lines()
    log.handlers = [h]
    return log, h.lines


def test_lines_at_most_every_interval_with_rate_and_eta():
    clock = Clock()
    log, lines = _logger("t1")
    prog = Progress(100, "sampling", unit="batches", every_s=30, log=log, clock=clock)
    for _ in range(100):
        clock.t += 2.0  # 2 s per batch: a line every 15 batches
        prog.update()
    prog.close()
    assert len(lines) == 100 * 2 // 30 + 1  # 6 progress lines and the closing one
    assert lines[0] == "sampling: 15/100 batches (15 %), 0:00:30 elapsed, 0.5 batches/s, ETA 0:02:50"
    assert lines[-1] == "sampling: 100/100 batches (100 %), 0:03:20 elapsed, 0.5 batches/s (done)"


def test_short_loops_stay_silent():
    clock = Clock()
    log, lines = _logger("t2")
    for _ in progress(range(10), "quick", every_s=30, log=log, clock=clock):
        clock.t += 1.0
    assert lines == []


def test_iterator_wrapper_counts_items_and_unknown_total():
    clock = Clock()
    log, lines = _logger("t3")
    out = []
    for x in progress(iter(range(5)), "stream", every_s=1, log=log, clock=clock):
        clock.t += 1.5
        out.append(x)
    assert out == list(range(5))
    assert lines[0] == "stream: 1 items, 0:00:02 elapsed, 0.667 items/s"  # no total: no ETA
    assert lines[-1].endswith("(done)") and "stream: 5 items" in lines[-1]


def test_env_sets_the_interval(monkeypatch):
    monkeypatch.setenv("MOLRG_PROGRESS_EVERY_S", "5")
    assert Progress(3, "x").every_s == 5
    assert fmt_seconds(3725) == "1:02:05"
