"""Training loop: it learns, resumes exactly, refuses stale checkpoints, and a diverging run fails
naming the cell without leaving a finished-looking model (also through Snakemake)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from conftest import run_snakemake
from molrg.config_checks import ConfigError, _molrg_unet
from molrg.mixture import orthogonal_bases, sample_balanced
from molrg.networks import vectors_to_images
from molrg.precond import edm_loss
from molrg.checkpoint import build_denoiser, load_denoiser
from molrg.training import TrainConfig, ema_beta, learning_rate, train_denoiser


NET = {"width": 8, "channel_mult": (1, 1), "num_blocks": 1, "attn_resolutions": (), "dropout": 0.1}


def _data(N=8, d=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    x, _ = sample_balanced(orthogonal_bases(48, 2, d, g), N // 2, g)
    return vectors_to_images(x.float())


def _eval_loss(D, data, repeats=32):
    """EDM loss on a fixed set of noise draws (same seed for every model compared)."""
    torch.manual_seed(123)
    with torch.no_grad():
        return float(np.mean([edm_loss(D, data).item() for _ in range(repeats)]))


def test_training_lowers_the_loss(tmp_path):
    data = _data()
    cfg = TrainConfig(iterations=250, batch_size=32, lr=2e-3, checkpoint_every=100, log_every=50, seed=0,
                      ema_halflife_kimg=0.5)
    net = {**NET, "width": 16, "dropout": 0.0}
    torch.manual_seed(cfg.seed)  # the initial weights train_denoiser starts from
    D0 = build_denoiser("edm", {**net, "img_resolution": 4, "in_channels": 3}).eval()
    summary = train_denoiser(data, cfg, net, tmp_path / "model.pt")
    D = load_denoiser(tmp_path / "model.pt")
    assert summary["steps"] == 250 and not summary["resumed"]
    before, after = _eval_loss(D0, data), _eval_loss(D, data)
    assert after < 0.6 * before, (before, after)
    assert not (tmp_path / "checkpoint.pt").exists()  # removed after success
    assert not D.training and not any(p.requires_grad for p in D.parameters())


class Interrupt(Exception):
    pass


def _stop_at(step):
    def callback(s):
        if s == step:
            raise Interrupt
    return callback


def test_resume_after_interruption_gives_identical_weights(tmp_path):
    # dropout, x-flips and the LR warm-up all draw on / depend on state that must survive the restart
    data = _data(N=6)
    cfg = TrainConfig(iterations=12, batch_size=4, checkpoint_every=5, log_every=3, seed=7, xflip=0.5,
                      lr_rampup_kimg=0.02)
    train_denoiser(data, cfg, NET, tmp_path / "a" / "model.pt")
    with pytest.raises(Interrupt):  # killed after the first checkpoint (step 5), before the second
        train_denoiser(data, cfg, NET, tmp_path / "b" / "model.pt", callback=_stop_at(7))
    assert (tmp_path / "b" / "checkpoint.pt").exists() and not (tmp_path / "b" / "model.pt").exists()
    summary = train_denoiser(data, cfg, NET, tmp_path / "b" / "model.pt")
    assert summary["resumed"]
    a = torch.load(tmp_path / "a" / "model.pt")["state_dict"]
    b = torch.load(tmp_path / "b" / "model.pt")["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # the check has teeth: another seed gives other weights
    train_denoiser(data, dataclasses.replace(cfg, seed=8), NET, tmp_path / "c" / "model.pt")
    c = torch.load(tmp_path / "c" / "model.pt")["state_dict"]
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_checkpoint_of_other_settings_is_not_resumed(tmp_path):
    data = _data(N=4)
    cfg = TrainConfig(iterations=6, batch_size=4, checkpoint_every=2, seed=1)
    other = dataclasses.replace(cfg, lr=5e-3)
    with pytest.raises(Interrupt):
        train_denoiser(data, other, NET, tmp_path / "x" / "model.pt", callback=_stop_at(3))
    summary = train_denoiser(data, cfg, NET, tmp_path / "x" / "model.pt")
    assert not summary["resumed"]
    train_denoiser(data, cfg, NET, tmp_path / "y" / "model.pt")
    x = torch.load(tmp_path / "x" / "model.pt")["state_dict"]
    y = torch.load(tmp_path / "y" / "model.pt")["state_dict"]
    assert all(torch.equal(x[k], y[k]) for k in x)


def test_nan_loss_raises_naming_the_cell_and_writes_nothing(tmp_path):
    data = _data(N=4)
    data[1, 0, 0, 0] = float("nan")
    cfg = TrainConfig(iterations=5, batch_size=4, checkpoint_every=2, seed=0)
    with pytest.raises(FloatingPointError, match="d2_N4_seed0"):
        train_denoiser(data, cfg, NET, tmp_path / "model.pt", cell="d2_N4_seed0")
    assert list(tmp_path.iterdir()) == []  # no model.pt, no partial temporary file


def test_schedules():
    cfg = TrainConfig(iterations=1, batch_size=512, lr=1e-3, lr_rampup_kimg=10000)
    assert learning_rate(cfg, 0) == 0 and learning_rate(cfg, 6_000_000) == pytest.approx(0.6e-3)
    assert learning_rate(dataclasses.replace(cfg, lr_rampup_kimg=0), 0) == 1e-3
    # half-life 500 kimg once 10 Mimg are seen (ramp-up 0.05): beta^(500k / 512) = 1/2
    assert ema_beta(cfg, 10_000_000) ** (500_000 / 512) == pytest.approx(0.5)
    assert ema_beta(cfg, 512 * 10) == pytest.approx(0.5 ** (1 / 0.5))  # ramp-up: 5 % of 5120 images


def test_config_check_names_the_key():
    cfg = {"resolution": 4, "K": 2, "d_values": [30], "channel_mult": [1, 1], "width": 8, "sigma_min": 0.002,
           "sigma_max": 80, "num_fresh": 100, "eps_quantile": 0.05}
    with pytest.raises(ConfigError, match="d_values"):
        _molrg_unet(cfg)
    with pytest.raises(ConfigError, match="channel_mult"):
        _molrg_unet({**cfg, "d_values": [2], "channel_mult": [1, 1, 1, 1]})
    _molrg_unet({**cfg, "d_values": [2]})


def test_diverging_job_fails_in_snakemake_and_stays_unfinished(tmp_path):
    """Through Snakemake: the training job of a cell whose data hold a NaN fails with an error
    naming the cell, no model.pt exists, and Snakemake still sees the job as to be done."""
    target = "results/molrg_unet/models/d1_N2_seed0/model.pt"
    data = tmp_path / "results/molrg_unet/data/d1_N2.npz"
    data.parent.mkdir(parents=True)
    x = _data(N=2, d=1).numpy()
    x[0, 0, 0, 0] = np.nan
    np.savez(data, x=x, y=np.array([0, 1]), U=np.zeros((2, 48, 1)))
    proc = run_snakemake(tmp_path, "--show-failed-logs", target, cores=1, timeout=600)
    assert proc.returncode != 0
    log_file = tmp_path / "results/logs/molrg_unet_train/d1_N2_seed0.log"
    assert log_file.exists(), proc.stdout[-3000:] + proc.stderr[-5000:]
    log = log_file.read_text()
    assert "diverged in cell d1_N2_seed0" in log and "diverged in cell d1_N2_seed0" in proc.stderr
    assert not (tmp_path / target).exists()
    assert not list((tmp_path / "results/molrg_unet/models/d1_N2_seed0").glob("*.tmp"))
    dry = run_snakemake(tmp_path, "-n", target, cores=1, timeout=600)
    assert dry.returncode == 0 and "rule molrg_unet_train" in dry.stdout
    assert f"Missing output files: {target}" in dry.stdout
