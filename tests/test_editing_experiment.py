"""The editing experiment of rule editing (molrg.edit_experiment, the direction primitives of molrg.editing,
molrg.edit_stats' table and summary) on the closed-form MoLRG denoiser and on constructed inputs whose answer is known."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from molrg.datasets import image_to_array, to_model_space
from molrg.edit_stats import edit_table, summarise
from molrg.edit_experiment import (SHOW_RANDOM, edit_experiment, edit_labels, figure_arrays, load_edit_image,
                                   select_images)
from molrg.editing import edit_directions, jacobian_gains
from molrg.mixture import MoLRGDenoiser, orthogonal_bases, sample_balanced, standard_molrg


def test_select_images_configured_or_seeded():
    assert select_images(10, [3, 0, 9], 2, seed=0, source_name="d") == [3, 0, 9]
    with pytest.raises(IndexError, match=r"\[10, -1\] outside the 10 images of d"):
        select_images(10, [10, -1, 2], 2, seed=0, source_name="d")
    a = select_images(10, [], 4, seed=0, source_name="d")
    assert len(set(a)) == 4 and all(0 <= i < 10 for i in a) and a == select_images(10, None, 4, 0, "d")
    assert a != select_images(10, None, 4, 0, "other")  # the seed depends on the source
    assert sorted(select_images(3, None, 5, 0, "d")) == [0, 1, 2]  # no more than there are


class _Net(torch.nn.Module):
    in_channels, img_resolution = 1, 4


class _WithNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = _Net()


def test_load_edit_image_follows_the_networks_format(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (6, 10, 3), dtype=np.uint8)  # 10 wide, 6 high
    path = tmp_path / "img.png"
    Image.fromarray(rgb).save(path)
    x = load_edit_image(path, _WithNet())  # grey, 4 x 4: the U-Net's own format
    expected = to_model_space(image_to_array(Image.fromarray(rgb), 4, 1)[None])
    assert x.shape == (1, 1, 4, 4) and torch.equal(x, torch.from_numpy(expected))
    y = load_edit_image(path, torch.nn.Identity())  # format unknown: RGB, the centre square, not resized
    centre = torch.from_numpy(rgb[:, 2:8].astype(np.float32)) / 127.5 - 1
    assert y.shape == (1, 3, 6, 6) and torch.equal(y[0].permute(1, 2, 0), centre)
    assert load_edit_image(path, torch.nn.Identity(), size=2).shape == (1, 3, 2, 2)


def test_jacobian_gains_of_a_linear_denoiser():
    A = torch.randn(5, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    D = lambda x, sigma: x @ A.T  # noqa: E731  (J = A everywhere)
    V = torch.randn(3, 5, dtype=torch.float64)
    torch.testing.assert_close(jacobian_gains(D, torch.zeros(1, 5, dtype=torch.float64), 1.0, V), (V @ A.T).norm(dim=1))
    assert jacobian_gains(D, torch.zeros(1, 5), 1.0, torch.zeros(0, 5)).shape == (0,)


def _molrg(n=40, K=2, d=3):
    g = torch.Generator().manual_seed(0)
    U = orthogonal_bases(n, K, d, g)
    return MoLRGDenoiser(standard_molrg(U)), U, g


SETTINGS = dict(edit_t=0.4, ddim_steps=20, t_min=1e-3, num_vectors=2, num_random=3, strengths=[-0.2, 0.0, 0.2],
                units="norm_fraction", power_iters=30, tol=1e-6, batch_size=7)


def test_edit_directions_are_the_singular_vectors_then_random_ones():
    D, U, g = _molrg()
    x = sample_balanced(U, 1, g)[0][:1] * 3
    dirs, gains, used = edit_directions(D, x, 1.0, 2, 3, 50, 1e-8, (1, 2))
    assert dirs.shape == (5, 40) and len(gains) == 5 and 1 <= used <= 50
    torch.testing.assert_close(dirs[:2] @ dirs[:2].T, torch.eye(2, dtype=dirs.dtype), atol=1e-4, rtol=0)
    assert gains[0] >= gains[1] >= max(gains[2:])  # the leading directions move D the most
    again, gains2, _ = edit_directions(D, x, 1.0, 2, 3, 50, 1e-8, (1, 2))
    assert torch.equal(again, dirs) and gains2 == gains


def test_edit_experiment_on_the_closed_form_molrg():
    D, U, g = _molrg()
    x0 = sample_balanced(U, 1, g)[0]  # 2 images
    out = edit_experiment(D, x0, [7, 11], 0, "molrg", **SETTINGS)
    assert out["names"] == ["v1", "v2", "r1", "r2", "r3"] and out["kinds"] == ["singular"] * 2 + ["random"] * 3
    assert out["edited"].shape == (2, 5, 3, 40) and out["l2"].shape == (2, 5, 3) and len(out["gains"][0]) == 5
    assert np.all(out["l2"][:, :, 1] == 0)  # strength 0 is the unedited reconstruction, exactly
    assert np.all(out["l2"][:, :, [0, 2]] > 0)
    np.testing.assert_allclose(out["rms"], out["l2"] / np.sqrt(40))
    assert out["scales"] == out["state_norm"]  # norm_fraction: a unit edit moves x_t by ||x_t||
    again = edit_experiment(D, x0, [7, 11], 0, "molrg", **SETTINGS)
    assert np.array_equal(again["l2"], out["l2"]) and again["gains"] == out["gains"]  # seeded by the image ids
    other = edit_experiment(D, x0, [7, 12], 0, "molrg", **SETTINGS)
    assert other["gains"][0] == out["gains"][0] and other["gains"][1][2:] != out["gains"][1][2:]


def _result(B=2, m=3, L=2):
    """A constructed experiment result: l2 = 100 b + 10 i + j; image b's x_t has norm 2 (b + 1)."""
    l2 = np.add.outer(np.add.outer(100.0 * np.arange(B), 10.0 * np.arange(m)), np.arange(L))
    norm = [2.0 * (b + 1) for b in range(B)]
    return {"sigma_edit": 3.0, "t_edit": 0.5, "units": "norm_fraction", "strengths": [-0.5, 0.5][:L],
            "names": ["v1", "v2", "r1"][:m], "kinds": ["singular", "singular", "random"][:m], "l2": l2, "rms": l2 / 4,
            "gains": [[3.0, 2.0, 1.0]] * B, "iters": [5] * B, "state_norm": norm, "scales": norm,
            "reference": torch.zeros(B, 1, 8, 8), "edited": torch.zeros(B, m, L, 1, 8, 8)}


def test_edit_table_rows_and_labels():
    res = _result()
    labels = {"original": np.array([1, 2]), "before": np.array([1, 3]), "after": np.full((2, 3, 2), 3)}
    t = edit_table("ds", [7, 9], res, labels, 0.8, (0.1, 5.0), True)
    assert len(t) == 12 and list(t.columns[:5]) == ["dataset", "image", "direction", "kind", "strength"]
    r = t[(t.image == 9) & (t.direction == "v2") & (t.strength == 0.5)].iloc[0]
    assert r.l2_change == 111.0 and r.rms == 111.0 / 4 and r.state_norm == 4.0 and r.jacobian_gain == 2.0
    assert r.strength_fraction == 0.5 and r.edit_norm == 2.0 and r.subspace_iters == 5
    assert r.label_before == 3 and not r.changed and r.edit_inside_train and r.sigma_train_hi == 5.0
    assert t[t.image == 7].changed.all() and t.label_after.dtype == "Int64"  # 1 -> 3 for image 7
    bare = edit_table("ds", [7, 9], res)
    assert bare.label_after.isna().all() and bare.changed.isna().all() and bare.edit_inside_train.isna().all()


def test_summary_counts_images_exceeding_their_random_quantile():
    # image 0: singular changes 2, random 1 (exceeds); image 1: singular 1, random 3 (does not)
    rows = [{"image": b, "kind": k, "strength": s, "strength_fraction": s, "l2_change": v, "changed": None}
            for s in (-0.2, 0.2) for b, sv, rv in ((0, 2.0, 1.0), (1, 1.0, 3.0))
            for k, v in (("singular", sv), ("random", rv))]
    s = summarise(pd.DataFrame(rows))
    assert list(zip(s.strength, s.kind)) == [(-0.2, "random"), (-0.2, "singular"), (0.2, "random"), (0.2, "singular")]
    assert list(s.images_exceeding_q95) == ["not applicable", 1, "not applicable", 1]


def test_edit_labels_resize_to_the_classifiers_resolution():
    class Bright(torch.nn.Module):  # class 1 where the image's mean is positive; takes 4 x 4 images only
        config = {"in_channels": 1}

        def forward(self, x):
            assert x.shape[-2:] == (4, 4)
            m = x.mean(dim=(1, 2, 3))
            return torch.stack([-m, m], dim=1)

    res = _result()
    res["edited"][1, 2, 1] += 0.5
    lab = edit_labels(Bright(), -torch.ones(2, 1, 8, 8), res, resolution=4)
    assert list(lab["original"]) == [0, 0] and lab["after"].shape == (2, 3, 2)
    assert lab["after"].sum() == 1 and lab["after"][1, 2, 1] == 1


def test_figure_arrays_keep_the_singular_and_first_random_directions():
    res = _result(m=3)
    res["names"], res["kinds"] = ["v1", "r1", "r2", "r3"], ["singular", "random", "random", "random"]
    res["edited"], res["gains"] = torch.arange(2 * 4 * 2).reshape(2, 4, 2, 1), [[4.0, 3.0, 2.0, 1.0]] * 2
    arr = figure_arrays(torch.zeros(2, 1), [7, 9], res, None, (0.1, 5.0))
    assert list(arr["directions"]) == ["v1", "r1", "r2"][: 1 + SHOW_RANDOM] and list(arr["gains"]) == [4.0, 3.0, 2.0]
    assert arr["edited"].shape == (3, 2, 1) and int(arr["image"]) == 7 and (arr["labels_after"] == -1).all()
    assert arr["labels_after"].shape == (3, 2) and int(arr["labels_before"]) == -1 and arr["state_norm"] == 2.0
