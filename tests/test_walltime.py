"""Runtime cap and time budget (molrg.walltime): the per-job cap that training rules request, the
budget read from SLURM, and training that stops before the time limit (or on SIGTERM) with a
checkpoint saved, fails, and resumes on the retry to the weights of an uninterrupted run.
The same on a real SLURM: tests/test_slurm.py::test_capped_training_resumes_across_retries."""
from __future__ import annotations

import os
import signal
import subprocess

import pytest
import torch

from molrg.training import TrainConfig, train_denoiser
from molrg.walltime import (
    JobBudget,
    TimeLimitReached,
    capped_runtime,
    max_runtime_minutes,
    parse_slurm_duration,
    slurm_seconds_left,
)
from test_training import NET, _data


def test_parse_slurm_duration():
    assert parse_slurm_duration("45") == 45 * 60
    assert parse_slurm_duration("2:30") == 150
    assert parse_slurm_duration("1:02:03") == 3723
    assert parse_slurm_duration("1-00:00:00") == 86400
    assert parse_slurm_duration("2-3") == (2 * 24 + 3) * 3600
    assert parse_slurm_duration("1-2:30") == (26 * 60 + 30) * 60
    for bad in ("UNLIMITED", "NOT_SET", "", "1:2:3:4"):
        with pytest.raises(ValueError):
            parse_slurm_duration(bad)


def test_max_runtime_default_override_and_cap():
    assert max_runtime_minutes({}) == 24 * 60
    assert max_runtime_minutes({"MOLRG_SLURM_MAX_RUNTIME": "2880"}) == 2880
    assert max_runtime_minutes({"MOLRG_SLURM_MAX_RUNTIME": "2-00:00:00"}) == 2880
    with pytest.raises(ValueError, match="MOLRG_SLURM_MAX_RUNTIME"):
        max_runtime_minutes({"MOLRG_SLURM_MAX_RUNTIME": "a day"})
    with pytest.raises(ValueError, match="MOLRG_SLURM_MAX_RUNTIME"):
        max_runtime_minutes({"MOLRG_SLURM_MAX_RUNTIME": "0"})
    assert capped_runtime(4320, {}) == 1440  # paper-scale 72 h request -> 24 h per attempt
    assert capped_runtime(60, {}) == 60  # short jobs keep their own request
    assert capped_runtime(4320 * 2, {"MOLRG_SLURM_MAX_RUNTIME": "2880"}) == 2880


class FakeRun:
    def __init__(self, stdout="", rc=0):
        self.stdout, self.rc, self.calls = stdout, rc, []

    def __call__(self, cmd, **kw):
        self.calls.append(cmd)
        return subprocess.CompletedProcess(cmd, self.rc, self.stdout, "")


def test_slurm_time_left_from_squeue():
    run = FakeRun("1:00:05\n")
    assert slurm_seconds_left({"SLURM_JOB_ID": "17"}, run) == 3605
    assert run.calls == [["squeue", "-h", "-j", "17", "-o", "%L"]]
    assert slurm_seconds_left({}, FakeRun("1:00")) is None  # not in a SLURM job
    assert slurm_seconds_left({"SLURM_JOB_ID": "17"}, FakeRun("UNLIMITED")) is None
    assert slurm_seconds_left({"SLURM_JOB_ID": "17"}, FakeRun("", rc=1)) is None


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_budget_from_environment_and_exhaustion():
    clock = Clock()
    b = JobBudget.from_environment({"SLURM_JOB_ID": "3"}, FakeRun("10:00"), clock)
    assert b.remaining() == 600 and b.margin_s == 30  # 5 % of the time left, at least 15 s
    assert b.exhausted(reserve_s=10) is None
    clock.t += 560  # 40 s left: below margin + reserve
    assert "40 s left" in b.exhausted(reserve_s=10)
    assert JobBudget.from_environment({}, FakeRun(), clock).exhausted(1e9) is None  # no limit
    env = JobBudget.from_environment({"MOLRG_TIME_BUDGET_S": "5", "SLURM_JOB_ID": "3"}, FakeRun("9:00:00"), clock)
    assert env.remaining() == 5 and env.margin_s == 0


class StepBudget(JobBudget):
    """A budget that runs out after `steps` training steps (checked once per step)."""

    def __init__(self, steps):
        super().__init__(None)
        self.left = steps

    def exhausted(self, reserve_s=0.0):
        self.left -= 1
        return "test budget spent" if self.left < 0 else None


def _weights(path):
    return torch.load(path)["state_dict"]


def _equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_budget_stop_saves_checkpoint_fails_and_resumes_exactly(tmp_path):
    data = _data(N=6)
    cfg = TrainConfig(iterations=12, batch_size=4, checkpoint_every=5, log_every=3, seed=7, xflip=0.5)
    train_denoiser(data, cfg, NET, tmp_path / "a" / "model.pt")
    out = tmp_path / "b" / "model.pt"
    with pytest.raises(TimeLimitReached, match="stopped at step 7/12"):  # between two periodic checkpoints
        train_denoiser(data, cfg, NET, out, budget=StepBudget(7))
    assert torch.load(tmp_path / "b" / "checkpoint.pt")["step"] == 7 and not out.exists()
    with pytest.raises(TimeLimitReached, match="stopped at step 10/12"):  # the second attempt, also capped
        train_denoiser(data, cfg, NET, out, budget=StepBudget(3))
    summary = train_denoiser(data, cfg, NET, out)
    assert summary["resumed"] and summary["steps"] == 12
    assert _equal(_weights(tmp_path / "a" / "model.pt"), _weights(out))


def test_sigterm_saves_checkpoint_and_restores_the_handler(tmp_path):
    data = _data(N=6)
    cfg = TrainConfig(iterations=10, batch_size=4, checkpoint_every=100, seed=3)
    before = signal.getsignal(signal.SIGTERM)

    def sigterm_at_4(step):
        if step == 4:
            os.kill(os.getpid(), signal.SIGTERM)

    out = tmp_path / "b" / "model.pt"
    with pytest.raises(TimeLimitReached, match="received SIGTERM"):
        train_denoiser(data, cfg, NET, out, callback=sigterm_at_4, budget=JobBudget(None))
    assert signal.getsignal(signal.SIGTERM) is before
    assert torch.load(tmp_path / "b" / "checkpoint.pt")["step"] == 4 and not out.exists()
    assert train_denoiser(data, cfg, NET, out)["resumed"]
    train_denoiser(data, cfg, NET, tmp_path / "a" / "model.pt")
    assert _equal(_weights(tmp_path / "a" / "model.pt"), _weights(out))


def test_stacked_training_stops_on_budget_and_resumes(tmp_path):
    from molrg.stacked import StackCell, train_stack

    g = torch.Generator().manual_seed(0)
    datas = [torch.randn(n, 3, 4, 4, generator=g) * 0.4 for n in (8, 12)]
    cfg = TrainConfig(iterations=6, batch_size=8, checkpoint_every=100, lr=2e-3)
    net = dict(NET, dropout=0.0)

    def run(tag, **kw):
        cells = [StackCell(f"c{i}", d, 10 + i, tmp_path / f"{tag}{i}" / "model.pt") for i, d in enumerate(datas)]
        train_stack(cells, cfg, net, checkpoint_path=tmp_path / f"{tag}_ck.pt", **kw)
        return [c.out_path for c in cells]

    ref = run("a")
    with pytest.raises(TimeLimitReached, match="stopped at step 4/6"):
        run("b", budget=StepBudget(4))
    assert torch.load(tmp_path / "b_ck.pt")["step"] == 4 and not (tmp_path / "b0" / "model.pt").exists()
    out = run("b")
    for a, b in zip(ref, out):  # float tolerance for vmapped kernels, as tests/test_stacked.py
        wa, wb = _weights(a), _weights(b)
        assert max((wa[k] - wb[k]).abs().max().item() for k in wa) <= 1e-4


def test_own_runtime_request_bounds_the_budget_inside_slurm():
    clock = Clock()
    env = {"SLURM_JOB_ID": "4"}
    # a group job of 4 h; this member asked for 60 min: it leaves the rest to later members
    b = JobBudget.from_environment(env, FakeRun("4:00:00"), clock, request_min=60)
    assert b.remaining() == 3600 and "runtime request" in b.source
    # a single job's own limit is the smaller one
    assert JobBudget.from_environment(env, FakeRun("30:00"), clock, request_min=60).remaining() == 1800
    # outside SLURM the request does not limit a run
    assert JobBudget.from_environment({}, FakeRun(), clock, request_min=60).remaining() is None
