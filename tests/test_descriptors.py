"""Descriptors for the real-data GL score: pixel cosine, the trained classifier, SSCD from a local
TorchScript file; the calibrated threshold and the GL score."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from molrg import descriptors as de


def test_pixel_descriptor_is_brightness_and_contrast_invariant():
    x = torch.rand(5, 1, 8, 8) * 2 - 1
    f = de.PixelDescriptor()(x)
    assert torch.allclose(f.norm(dim=1), torch.ones(5))
    g = de.PixelDescriptor()(0.5 * x + 0.2)
    assert torch.allclose(f, g, atol=1e-6)
    # a constant background does not make different images similar
    a, b = -torch.ones(2, 1, 8, 8), -torch.ones(2, 1, 8, 8)
    a[0, 0, 2, 2], b[0, 0, 5, 5] = 1, 1
    fa, fb = de.PixelDescriptor()(a[:1]), de.PixelDescriptor()(b[:1])
    assert float(fa @ fb.T) < 0.1


def test_threshold_calibration_and_gl_from_features():
    g = torch.Generator().manual_seed(0)
    train = torch.nn.functional.normalize(torch.randn(200, 16, generator=g), dim=1)
    held = torch.nn.functional.normalize(torch.randn(400, 16, generator=g), dim=1)
    tau = de.calibrate_threshold(held, train, 0.95)
    sims = (held @ train.T).max(1).values
    assert float((sims <= tau).double().mean()) == pytest.approx(0.95, abs=0.01)
    # copies of training images are all caught, fresh samples score about 0.95
    copies = train[:50] + 1e-4 * torch.randn(50, 16, generator=g)
    score, s = de.gl_from_features(torch.nn.functional.normalize(copies, dim=1), train, tau)
    assert score == 0.0 and torch.all(s > 0.99)
    fresh = torch.nn.functional.normalize(torch.randn(2000, 16, generator=g), dim=1)
    score, _ = de.gl_from_features(fresh, train, tau)
    assert 0.92 < score < 0.98
    half = torch.cat([copies, fresh[:50]])
    score, _ = de.gl_from_features(torch.nn.functional.normalize(half, dim=1), train, tau)
    assert 0.4 < score <= 0.5


def test_classifier_learns_digits_and_roundtrips(tmp_path):
    from molrg.datasets import load_and_prepare

    spec = {"format": "digits", "path": None, "resolution": 8, "channels": 1, "max_train": None, "heldout": 300}
    train, held, _ = load_and_prepare("digits", spec, 0)
    net = de.train_classifier(train.x, train.y, 10, epochs=6, batch_size=128, lr=3e-3, seed=0, width=16, feature_dim=32)
    acc = de.accuracy(net, held.x, held.y)
    assert acc > 0.85, acc
    path = tmp_path / "clf.pt"
    de.save_classifier(net, path)
    desc = de.build_descriptor("classifier", classifier_path=path)
    f1 = de.embed(desc, held.x[:20])
    f2 = de.embed(de.ClassifierDescriptor(net), held.x[:20])
    assert f1.shape == (20, 32) and torch.allclose(f1, f2) and torch.allclose(f1.norm(dim=1), torch.ones(20))


class _FakeSSCD(torch.nn.Module):
    """Stands in for sscd_disc_large: returns the per-channel means and the input size."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x.mean((2, 3)), torch.full((x.shape[0], 1), float(x.shape[-1]))], dim=1)


def test_sscd_from_local_torchscript(tmp_path):
    path = tmp_path / "sscd_disc_large.torchscript.pt"
    torch.jit.script(_FakeSSCD()).save(str(path))
    desc = de.build_descriptor("sscd", sscd_path=path)
    x = torch.zeros(2, 1, 8, 8)  # grey 0.5 -> replicated to RGB, ImageNet-normalised, 320x320
    raw = desc.model(((x + 1) / 2).expand(-1, 3, -1, -1).sub(desc.mean).div(desc.std))
    want = torch.nn.functional.normalize(torch.cat([raw[:, :3], torch.full((2, 1), 320.0)], 1), dim=1)
    assert torch.allclose(de.embed(desc, x), want, atol=1e-6)
    with pytest.raises(FileNotFoundError, match="realdata.descriptor.sscd_path"):
        de.build_descriptor("sscd", sscd_path=tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="realdata.descriptor.kind"):
        de.build_descriptor("lpips")
