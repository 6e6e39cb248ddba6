"""The reference U-Net's convergence criterion (molrg.convergence) and the training hook that runs it."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from molrg.convergence import (HeldoutMonitor, edm_weight, fixed_eval_set, heldout_loss, is_converged,
                               relative_improvement)


def test_relative_improvement_on_constructed_curves():
    assert math.isnan(relative_improvement([3.0, 2.0], window=2))  # not enough evaluations yet
    # best before the window 2.0, best inside it 1.9: 5 % improvement
    assert relative_improvement([4.0, 2.0, 1.95, 1.9], window=2) == pytest.approx(0.05)
    # a flat curve has converged, a steadily falling one has not
    assert is_converged([1.0] * 6, window=3, threshold=0.01)
    assert not is_converged([1.0, 0.9, 0.8, 0.7, 0.6, 0.5], window=3, threshold=0.01)
    # a noisy plateau: the minima decide, so one lucky low value before the window is not beaten -> converged
    assert is_converged([2.0, 1.0, 1.02, 1.01, 1.03], window=3, threshold=0.01)
    # a worse value inside the window gives a negative improvement (converged)
    assert relative_improvement([1.0, 1.2], window=1) == pytest.approx(-0.2)
    with pytest.raises(ValueError):
        relative_improvement([1.0], window=0)


def test_fixed_eval_set_pairs_every_image_with_every_sigma():
    x = np.arange(3 * 4, dtype=np.float32).reshape(3, 1, 2, 2)
    ev = fixed_eval_set(x, [0.1, 1.0], num_images=2, seed=5)
    assert ev["x"].shape == (4, 1, 2, 2) and ev["sigma"].tolist() == pytest.approx([0.1, 1.0, 0.1, 1.0])
    assert torch.equal(ev["x"][0], ev["x"][1]) and torch.equal(ev["x"][2], torch.as_tensor(x[1]))
    assert torch.equal(ev["noise"], fixed_eval_set(x, [0.1, 1.0], 2, 5)["noise"])  # seeded
    with pytest.raises(ValueError, match="positive"):
        fixed_eval_set(x, [0.0, 1.0], 2, 5)


def test_heldout_loss_of_known_denoisers():
    x = torch.randn(64, 1, 4, 4).numpy() * 0.5
    ev = fixed_eval_set(x, [0.05, 0.5, 5.0], num_images=64, seed=0)
    xs = ev["x"]
    # the perfect denoiser (returns the clean image; one batch, so the rows line up) has zero loss
    assert heldout_loss(lambda xn, s: xs, ev, batch_size=len(xs)) == 0.0
    # D = 0 gives lambda(sigma) * mean x^2 per row
    zero = heldout_loss(lambda xn, s: torch.zeros_like(xn), ev, batch_size=7)
    want = float((edm_weight(ev["sigma"]) * xs.pow(2).flatten(1).mean(1)).mean())
    assert zero == pytest.approx(want, rel=1e-6)
    # the identity D(x) = x + sigma n has error sigma^2 * mean n^2
    ident = heldout_loss(lambda xn, s: xn, ev, batch_size=50)
    want = float((edm_weight(ev["sigma"]) * ev["sigma"] ** 2 * ev["noise"].pow(2).flatten(1).mean(1)).mean())
    assert ident == pytest.approx(want, rel=1e-5)


def test_monitor_stops_training_early_and_resumes_its_history(tmp_path):
    from molrg.training import TrainConfig, train_denoiser

    data = torch.randn(32, 1, 8, 8) * 0.5
    ev = fixed_eval_set(data[:8].numpy(), [0.1, 1.0], 8, seed=1)
    net = dict(width=8, channel_mult=(1, 2), num_blocks=1, attn_resolutions=(), dropout=0.0)
    cfg = TrainConfig(iterations=12, batch_size=8, checkpoint_every=2, log_every=2, seed=0)

    # a threshold no run can miss (any improvement is < 1e9): stops at the first evaluation with a window
    mon = HeldoutMonitor(ev, every=2, window=1, threshold=1e9, stop_early=True)
    s = train_denoiser(data, cfg, net, tmp_path / "a" / "model.pt", monitor=mon)
    assert s["steps"] == 4 and s["stopped_early"] and mon.steps == [2, 4] and mon.converged()
    ck = torch.load(tmp_path / "a" / "model.pt", weights_only=True)
    assert ck["steps"] == 4

    # a threshold no run can meet: trains to the end, evaluating every 2 steps and at the end
    mon_full = HeldoutMonitor(ev, every=5, window=1, threshold=-1e9, stop_early=True)
    s = train_denoiser(data, cfg, net, tmp_path / "b" / "model.pt", monitor=mon_full)
    assert s["steps"] == 12 and not s["stopped_early"] and mon_full.steps == [5, 10, 12]
    assert not mon_full.converged()

    # killed after step 6 and resumed: the history continues and equals the uninterrupted one
    class Kill(Exception):
        pass

    def kill_at_6(step):
        if step == 6:
            raise Kill

    mon1 = HeldoutMonitor(ev, every=2, window=1, threshold=-1e9)
    with pytest.raises(Kill):
        train_denoiser(data, cfg, net, tmp_path / "c" / "model.pt", monitor=mon1, callback=kill_at_6)
    mon2 = HeldoutMonitor(ev, every=2, window=1, threshold=-1e9)
    s = train_denoiser(data, cfg, net, tmp_path / "c" / "model.pt", monitor=mon2)
    assert s["resumed"] and mon2.steps == [2, 4, 6, 8, 10, 12]
    mon3 = HeldoutMonitor(ev, every=2, window=1, threshold=-1e9)
    train_denoiser(data, cfg, net, tmp_path / "d" / "model.pt", monitor=mon3)
    assert mon2.values == pytest.approx(mon3.values, rel=1e-6)


def test_monitor_keeps_the_last_checkpoints_and_they_survive_a_resume(tmp_path):
    """keep = 3 at keep_every = 4: the kept EMA weights are those of the 2 latest multiples of 4 before
    the final step, equal to the EMA weights a monitor saw there; the monitor never stops before step
    (3 - 1) x 4 + 1; a killed and resumed run keeps the same snapshots."""
    from molrg.training import TrainConfig, train_denoiser

    data = torch.randn(32, 1, 8, 8) * 0.5
    ev = fixed_eval_set(data[:8].numpy(), [0.1, 1.0], 8, seed=1)
    net = dict(width=8, channel_mult=(1, 2), num_blocks=1, attn_resolutions=(), dropout=0.0)
    cfg = TrainConfig(iterations=14, batch_size=8, checkpoint_every=2, log_every=2, seed=0)
    with pytest.raises(ValueError, match="multiple"):
        HeldoutMonitor(ev, every=2, window=1, threshold=0.0, keep=3, keep_every=3)

    # a criterion that always holds: without kept checkpoints it would stop at step 4; with them not before 9
    mon = HeldoutMonitor(ev, every=2, window=1, threshold=1e9, keep=3, keep_every=4)
    s = train_denoiser(data, cfg, net, tmp_path / "a" / "model.pt", monitor=mon)
    assert s["steps"] == 10 and s["stopped_early"]
    kept = mon.kept_checkpoints(s["steps"])
    assert [k for k, _ in kept] == [8, 4]

    # the full run: snapshots at 4, 8, 12; the kept ones before the final step 14 are 12 and 8
    seen = {}

    class Spy(HeldoutMonitor):
        def __call__(self, step, model, device="cpu"):
            seen[step] = {k: v.clone() for k, v in model.state_dict().items()}
            return super().__call__(step, model, device)

    full = Spy(ev, every=2, window=1, threshold=-1e9, keep=3, keep_every=4)
    s = train_denoiser(data, cfg, net, tmp_path / "b" / "model.pt", monitor=full)
    kept = full.kept_checkpoints(s["steps"])
    assert [k for k, _ in kept] == [12, 8] and sorted(full.snapshots) == [4, 8, 12]
    for step, w in kept:
        assert all(torch.equal(w[k], seen[step][k]) for k in w)
    assert any(not torch.equal(kept[0][1][k], seen[14][k]) for k in seen[14])  # not the final weights
    with pytest.raises(ValueError, match="before 2 kept checkpoints"):
        full.kept_checkpoints(5)

    class Kill(Exception):
        pass

    def kill_at_10(step):
        if step == 10:
            raise Kill

    m1 = HeldoutMonitor(ev, every=2, window=1, threshold=-1e9, keep=3, keep_every=4)
    with pytest.raises(Kill):
        train_denoiser(data, cfg, net, tmp_path / "c" / "model.pt", monitor=m1, callback=kill_at_10)
    m2 = HeldoutMonitor(ev, every=2, window=1, threshold=-1e9, keep=3, keep_every=4)
    s = train_denoiser(data, cfg, net, tmp_path / "c" / "model.pt", monitor=m2)
    assert s["resumed"]
    for (a, wa), (b, wb) in zip(m2.kept_checkpoints(14), kept):
        assert a == b and all(torch.allclose(wa[k], wb[k], atol=1e-6) for k in wa)
