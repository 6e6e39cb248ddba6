"""FID through clean-fid's real folder code path: Inception read from a local file (a stand-in
TorchScript with the same interface, since the real weights cannot be downloaded here) and the
pipeline's classifier features."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from molrg import fid
from molrg.datasets import to_uint8
from molrg.descriptors import ClassifierNet


class _Layers(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.pool = torch.nn.AdaptiveAvgPool2d(4)
        self.fc = torch.nn.Linear(48, 2048)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(x).flatten(1))


class _FakeInception(torch.nn.Module):
    """The interface clean-fid's InceptionV3W uses: .layers(x in [-1, 1], 299x299) -> (B, 2048)."""

    def __init__(self):
        super().__init__()
        self.layers = _Layers()

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        return self.layers(x)


def _images(n, seed, shift=0.0):
    g = np.random.default_rng(seed)
    return np.clip(g.uniform(-1, 1, (n, 1, 8, 8)) * 0.5 + shift, -1, 1).astype(np.float32)


def test_inception_from_local_file_through_clean_fid(tmp_path):
    from cleanfid.resize import build_resizer

    path = tmp_path / "my-inception.pt"  # any file name works
    torch.jit.script(_FakeInception()).save(str(path))
    extract, kind, label = fid.build_extractor(str(path), None)
    assert kind == "inception" and "Inception" in label
    x = _images(6, 0)
    feats = fid.array_features(x, extract, kind, batch_size=4)
    # by hand: uint8 RGB -> clean-fid's 'clean' bicubic 299x299 resize -> (v - 128) / 128 -> layers
    resize = build_resizer("clean")
    u8 = np.repeat(to_uint8(x), 3, axis=-1)
    batch = torch.stack([torch.from_numpy(resize(im).transpose(2, 0, 1).copy()) for im in u8])
    want = _FakeInception().layers((batch - 128) / 128).detach().numpy()
    assert feats.shape == (6, 2048) and np.allclose(feats, want, atol=1e-4)
    with pytest.raises(FileNotFoundError, match="realdata.fid.inception_path"):
        fid.inception_extractor(tmp_path / "absent.pt")


def test_classifier_features_fid(tmp_path):
    torch.manual_seed(0)
    net = ClassifierNet(1, 10, width=8, feature_dim=16).eval()
    extract, kind, label = fid.build_extractor(None, net)
    assert kind == "classifier" and "not Inception" in label
    a, b, far = _images(300, 1), _images(300, 2), _images(300, 3, shift=0.6)
    fa = fid.array_features(a, extract, kind)
    # clean-fid read the PNGs back at native size: features of the 8-bit images, channels folded back
    q = torch.from_numpy(to_uint8(a).transpose(0, 3, 1, 2).astype(np.float32)) / 127.5 - 1
    assert np.allclose(fa, net.features(q).detach().numpy(), atol=1e-5)
    fb, ff = fid.array_features(b, extract, kind), fid.array_features(far, extract, kind)
    assert abs(fid.fid_from_features(fa, fa)) < 1e-6
    same, diff = fid.fid_from_features(fa, fb), fid.fid_from_features(fa, ff)
    assert 0 < same < diff
    # clean-fid's Frechet distance agrees with the closed form computed here
    from scipy import linalg

    m1, m2 = fa.mean(0), ff.mean(0)
    s1, s2 = np.cov(fa, rowvar=False), np.cov(ff, rowvar=False)
    ref = ((m1 - m2) ** 2).sum() + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    assert diff == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize("n1,n2,d", [(300, 200, 16), (50, 400, 32), (40, 30, 64), (64, 16, 512)])
def test_factor_fid_equals_clean_fid(n1, n2, d):
    """fid_from_features (nuclear norm of covariance factors) against clean-fid's own sqrtm-based
    fid_from_feats: full-rank, one-sided and doubly rank-deficient covariances."""
    from cleanfid import fid as cleanfid_fid

    g = np.random.default_rng(n1 + d)
    f1 = g.standard_normal((n1, d))
    f2 = 1.3 * g.standard_normal((n2, d)) @ g.standard_normal((d, d)) / np.sqrt(d) + 0.2
    assert fid.fid_from_features(f1, f2) == pytest.approx(cleanfid_fid.fid_from_feats(f1, f2), rel=1e-6)
    assert fid.fid_from_features(f2, f1) == pytest.approx(fid.fid_from_features(f1, f2), rel=1e-9)
    assert abs(fid.fid_from_features(f1, f1)) < 1e-8 * n1 * d


def test_factor_fid_rejects_bad_feature_sets():
    with pytest.raises(ValueError, match="at least 2"):
        fid.fid_from_features(np.zeros((1, 4)), np.ones((5, 4)))
    with pytest.raises(ValueError, match="same d"):
        fid.fid_from_features(np.zeros((3, 4)), np.ones((5, 3)))
