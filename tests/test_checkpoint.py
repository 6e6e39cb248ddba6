"""molrg.checkpoint on constructed cases: atomic writes leave no partial file, a checkpoint restores
the exact training state (RNG streams, data order), the EMA update on known numbers, the time-limit
stop, and the model file round trip."""
from __future__ import annotations

import dataclasses
import logging

import pytest
import torch

from molrg import checkpoint as ck
from molrg.walltime import TimeLimitReached

LOG = logging.getLogger("test_checkpoint")


def test_atomic_save_failure_leaves_no_partial_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    target = tmp_path / "sub" / "checkpoint.pt"
    ck.atomic_save({"step": 1}, target)
    before = target.read_bytes()
    real_save = torch.save

    def half_written(obj, path):  # writes part of the file, then fails as a full disk does
        with open(path, "wb") as f:
            f.write(b"partial")
        raise RuntimeError("unexpected pos 64 vs 0")

    monkeypatch.setattr(torch, "save", half_written)
    with pytest.raises(OSError, match="could not write .*checkpoint.pt"):
        ck.atomic_save({"step": 2}, target)
    assert sorted(p.name for p in target.parent.iterdir()) == ["checkpoint.pt"]
    assert target.read_bytes() == before

    def interrupted(obj, path):  # a kill (KeyboardInterrupt) mid-write: re-raised unchanged, file removed
        with open(path, "wb") as f:
            f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ck.atomic_save({"step": 3}, tmp_path / "new.pt")
    assert not (tmp_path / "new.pt").exists() and not (tmp_path / "new.pt.tmp").exists()
    monkeypatch.setattr(torch, "save", real_save)
    assert torch.load(target, weights_only=True) == {"step": 1}


def test_ema_update_on_known_numbers():
    ema = [torch.tensor([1.0, 2.0]), torch.tensor([[-4.0]])]
    params = [torch.tensor([3.0, 6.0], requires_grad=True), torch.tensor([[4.0]], requires_grad=True)]
    ck.ema_update(ema, params, 0.75)  # 0.75 ema + 0.25 p
    assert torch.equal(ema[0], torch.tensor([1.5, 3.0])) and torch.equal(ema[1], torch.tensor([[-2.0]]))
    ck.ema_update(ema, params, 1.0)  # beta = 1: unchanged
    assert torch.equal(ema[0], torch.tensor([1.5, 3.0]))
    ck.ema_update(ema, params, 0.0)  # beta = 0: the parameters
    assert torch.equal(ema[0], params[0].detach()) and not ema[0].requires_grad


def test_epoch_sampler_covers_each_epoch_once():
    s = ck.EpochSampler(5, seed=0)
    idx = torch.cat([s.next(3) for _ in range(5)])  # 15 = three epochs, boundaries inside batches
    for e in range(3):
        assert sorted(idx[5 * e : 5 * e + 5].tolist()) == [0, 1, 2, 3, 4]
    assert not torch.equal(idx[:5], idx[5:10]) or not torch.equal(idx[5:10], idx[10:])  # reshuffled


def _state(step, sampler):
    return {"step": step, "sampler": sampler.state_dict(), "rng": ck.rng_state()}


def test_checkpoint_restores_the_exact_state(tmp_path):
    torch.manual_seed(3)
    sampler = ck.EpochSampler(7, seed=1)
    sampler.next(4)
    torch.rand(2)
    f = ck.CheckpointFile(tmp_path / "ck.pt", "run-a", "cell x", LOG)
    f.save(_state(4, sampler))
    assert f.saved_step == 4 and f.save_s >= 0
    expected = (sampler.next(9), torch.rand(3))  # what an uninterrupted run draws next

    torch.manual_seed(99)  # a new process: other global RNG state, a fresh sampler
    fresh = ck.EpochSampler(7, seed=1)
    g = ck.CheckpointFile(tmp_path / "ck.pt", "run-a", "cell x", LOG)
    state = g.load("cpu", 10)
    assert state["step"] == 4 and g.saved_step == 4 and state["fingerprint"] == "run-a"
    fresh.load_state_dict(state["sampler"])
    ck.set_rng_state(state["rng"])
    assert torch.equal(fresh.next(9), expected[0]) and torch.equal(torch.rand(3), expected[1])


def test_checkpoint_of_another_run_is_ignored(tmp_path, caplog):
    ck.CheckpointFile(tmp_path / "ck.pt", "run-a", "cell x", LOG).save({"step": 2})
    other = ck.CheckpointFile(tmp_path / "ck.pt", "run-b", "cell y", LOG)
    with caplog.at_level(logging.INFO, logger=LOG.name):
        assert other.load("cpu", 10) is None
        assert ck.CheckpointFile(tmp_path / "ck.pt", "run-a", "cell x", LOG).load("cpu", 10)["step"] == 2
    assert other.saved_step == 0 and "cell y: ignoring" in caplog.text
    assert f"cell x: resumed from {tmp_path / 'ck.pt'} at step 2/10" in caplog.text
    assert ck.CheckpointFile(tmp_path / "none.pt", "run-a", "", LOG).load("cpu", 10) is None
    other.remove()
    assert not (tmp_path / "ck.pt").exists()
    other.remove()  # nothing left to remove: no error


@dataclasses.dataclass
class _Settings:
    lr: float
    seed: int


def test_run_fingerprint_tells_runs_apart():
    data = torch.arange(12.0).reshape(3, 4)
    a = ck.run_fingerprint(_Settings(1e-3, 0), {"width": 8}, data)
    assert a == ck.run_fingerprint(_Settings(1e-3, 0), {"width": 8}, data.clone())
    assert a != ck.run_fingerprint(_Settings(1e-3, 1), {"width": 8}, data)
    assert a != ck.run_fingerprint(_Settings(1e-3, 0), {"width": 16}, data)
    assert a != ck.run_fingerprint(_Settings(1e-3, 0), {"width": 8}, data + 1)


class _Budget:
    def __init__(self, reason):
        self.reason, self.reserves = reason, []

    def exhausted(self, reserve_s=0.0):
        self.reserves.append(reserve_s)
        return self.reason


def test_stop_within_budget_saves_unsaved_steps_then_raises(tmp_path):
    f = ck.CheckpointFile(tmp_path / "ck.pt", "run", "cell c", LOG)
    calls = []

    def state():
        calls.append(1)
        return {"step": 5}

    f.stop_within_budget(_Budget(None), 1.5, 5, 10, state, "no model")  # time left: nothing happens
    assert not calls and not f.path.exists()
    with pytest.raises(TimeLimitReached, match=r"cell c: stopped at step 5/10 .*out of time.*holds step 5; no model"):
        f.stop_within_budget(_Budget("out of time"), 1.5, 5, 10, state, "no model")
    assert calls == [1] and torch.load(f.path, weights_only=True)["step"] == 5
    with pytest.raises(TimeLimitReached):  # step 5 is saved already: not written again
        f.stop_within_budget(_Budget("out of time"), 1.5, 5, 10, state, "no model")
    assert calls == [1]


NET = dict(width=8, channel_mult=(1, 1), num_blocks=1, attn_resolutions=(), dropout=0.0, img_resolution=4,
           in_channels=3)


def test_model_file_round_trip_and_wrong_format(tmp_path):
    torch.manual_seed(0)
    model = ck.build_denoiser("edm", NET, {"sigma_data": 0.5})
    ck.write_model_file({"precond": "edm", "precond_kwargs": {"sigma_data": 0.5}, "net_kwargs": NET,
                         "state_dict": model.state_dict(), "train_config": {"seed": 4}, "steps": 3}, tmp_path / "m.pt")
    rec = ck.read_model_file(tmp_path / "m.pt")
    assert rec["format"] == ck.MODEL_FORMAT and rec["steps"] == 3
    assert ck.checkpoint_train_config(tmp_path / "m.pt") == {"seed": 4}
    D = ck.load_denoiser(tmp_path / "m.pt")
    x, sigma = torch.randn(2, 3, 4, 4), torch.tensor([0.1, 2.0])
    with torch.no_grad():
        assert torch.equal(D(x, sigma), model.eval()(x, sigma))
    assert not D.training and not any(p.requires_grad for p in D.parameters())
    assert isinstance(ck.load_checkpoint_denoiser(tmp_path / "m.pt", "cpu"), type(D))
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a model file written by molrg.training"):
        ck.load_denoiser(tmp_path / "other.pt")
