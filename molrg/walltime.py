"""Wall-clock limits of a job: the per-job runtime cap that cluster jobs request, and the budget a
long training run uses to stop *before* the job's time limit with a checkpoint saved.

Long training cannot always fit one cluster job: many partitions stop at 24-48 h. Training rules
therefore request at most `max_runtime_minutes()` (env MOLRG_SLURM_MAX_RUNTIME, minutes, default
1440 = 24 h) per attempt, and training watches a `JobBudget`:

* the job's time left, asked from SLURM when running inside a SLURM job (`squeue -o %L` for
  $SLURM_JOB_ID; SLURM 23.02+ also exports SLURM_JOB_END_TIME, used when present), or a budget in
  seconds from env MOLRG_TIME_BUDGET_S (any launcher; tests);
* SIGTERM, which SLURM sends to a job's processes at its time limit (KillWait, default 30 s,
  before SIGKILL) and Snakemake sends to its jobs when it is stopped.

When the budget is spent (time left below a reserve for one more step and a checkpoint save) or
SIGTERM arrived, training saves a checkpoint and raises `TimeLimitReached`: the job fails, its
outputs stay absent, Snakemake retries it (`--retries`) and the retry resumes from the checkpoint,
ending with the weights an uninterrupted run would have. Nothing here imports Snakemake.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time

DEFAULT_MAX_RUNTIME_MIN = 24 * 60


class TimeLimitReached(RuntimeError):
    """Training stopped to stay within the job's time limit; a checkpoint was saved and a rerun
    (Snakemake's retry) resumes from it."""


def max_runtime_minutes(environ=None) -> int:
    """Per-job runtime cap in minutes: MOLRG_SLURM_MAX_RUNTIME (minutes, or SLURM's
    [days-]hours:minutes:seconds), default 24 h."""
    raw = (environ if environ is not None else os.environ).get("MOLRG_SLURM_MAX_RUNTIME", "").strip()
    if not raw:
        return DEFAULT_MAX_RUNTIME_MIN
    try:
        minutes = int(raw) if raw.isdigit() else int(parse_slurm_duration(raw) // 60)
    except ValueError:
        minutes = 0
    if minutes < 1:
        raise ValueError(f"MOLRG_SLURM_MAX_RUNTIME={raw!r}: give the per-job cap in minutes (>= 1), "
                         "e.g. 1440 for 24 h, or as SLURM writes it, e.g. 1-00:00:00")
    return minutes


def capped_runtime(minutes, environ=None) -> int:
    """A training rule's SLURM runtime request: what it asks for, at most the per-job cap.
    Training resumes from its checkpoint, so a capped job continues across retries."""
    return int(min(int(minutes), max_runtime_minutes(environ)))


def parse_slurm_duration(text: str) -> float:
    """Seconds in SLURM's time format: [days-]hours:minutes:seconds, minutes:seconds, minutes."""
    text = text.strip()
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text)
    if not m:
        raise ValueError(f"not a SLURM duration: {text!r}")
    days, a, b, c = m.groups()
    if c is not None:  # h:m:s
        h, mi, s = int(a), int(b), int(c)
    elif b is not None:  # days-h:m, or m:s
        h, mi, s = (int(a), int(b), 0) if days else (0, int(a), int(b))
    else:  # days-h, or minutes
        h, mi, s = (int(a), 0, 0) if days else (0, int(a), 0)
    return ((int(days or 0) * 24 + h) * 60 + mi) * 60 + s


def slurm_seconds_left(environ=None, run=subprocess.run) -> float | None:
    """Seconds until this SLURM job's time limit, or None outside SLURM / without a limit / when
    SLURM cannot be asked."""
    env = environ if environ is not None else os.environ
    end = env.get("SLURM_JOB_END_TIME", "").strip()
    if end.isdigit():
        return float(end) - time.time()
    job = env.get("SLURM_JOB_ID", "").strip()
    if not job:
        return None
    try:
        out = run(["squeue", "-h", "-j", job, "-o", "%L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or "").strip().splitlines()
    if out.returncode != 0 or not text:
        return None
    try:
        return parse_slurm_duration(text[0])
    except ValueError:  # UNLIMITED, NOT_SET, INVALID
        return None


class JobBudget:
    """The wall-clock budget of one job. `remaining()` is seconds left (None: unlimited);
    `exhausted(reserve_s)` gives a reason to stop now (time left below `margin_s + reserve_s`,
    or a signal arrived) or None. Use as a context manager to catch SIGTERM meanwhile."""

    def __init__(self, seconds: float | None, margin_s: float = 0.0, source: str = "", clock=time.monotonic):
        self.clock = clock
        self.deadline = None if seconds is None else clock() + float(seconds)
        self.margin_s = float(margin_s)
        self.source = source
        self.signalled: str | None = None
        self._previous = {}

    @classmethod
    def from_environment(cls, environ=None, run=subprocess.run, clock=time.monotonic,
                         request_min: float | None = None) -> "JobBudget":
        """MOLRG_TIME_BUDGET_S if set, else the SLURM job's time left, else unlimited. Inside SLURM,
        `request_min` (the rule's own `runtime` request, minutes) bounds it too: a member of a group
        job then leaves the job's later members the time Snakemake asked for them. The margin kept
        free for writing a checkpoint and exiting: 5 % of the time, between 15 s and 10 min (the
        caller adds its measured step and save times)."""
        env = environ if environ is not None else os.environ
        raw = env.get("MOLRG_TIME_BUDGET_S", "").strip()
        if raw:
            return cls(float(raw), margin_s=0.0, source="MOLRG_TIME_BUDGET_S", clock=clock)
        left = slurm_seconds_left(env, run)
        if left is None:
            return cls(None, source="none", clock=clock)
        if request_min is not None and float(request_min) > 0 and float(request_min) * 60 < left:
            left = float(request_min) * 60
            return cls(left, margin_s=min(600.0, max(15.0, 0.05 * left)),
                       source=f"this job's runtime request in SLURM job {env.get('SLURM_JOB_ID', '?')}", clock=clock)
        margin = min(600.0, max(15.0, 0.05 * left))
        return cls(left, margin_s=margin, source=f"SLURM job {env.get('SLURM_JOB_ID', '?')}", clock=clock)

    def remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - self.clock()

    def exhausted(self, reserve_s: float = 0.0) -> str | None:
        if self.signalled:
            return f"received {self.signalled}"
        left = self.remaining()
        if left is not None and left <= self.margin_s + reserve_s:
            return f"{max(left, 0):.0f} s left of the job's time ({self.source}), {self.margin_s + reserve_s:.0f} s needed to save and exit"
        return None

    def describe(self) -> str:
        left = self.remaining()
        return "no time limit" if left is None else f"{left:.0f} s left ({self.source}), margin {self.margin_s:.0f} s"

    def _handler(self, signum, frame):
        self.signalled = signal.Signals(signum).name

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM,):
                self._previous[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc):
        for sig, old in self._previous.items():
            signal.signal(sig, old)
        self._previous = {}
        return False
