"""Chunked nearest neighbours, eps (Eq. 46) and the GL score (Eq. 21) on constructed cases."""
from __future__ import annotations

import math

import pytest
import torch

from molrg.gl import (epsilon_from_fresh, gl_from_similarities, gl_score, l2_from_cosine, nearest_neighbors,
                      nn_distances)
from molrg.mixture import orthogonal_bases, sample, standard_molrg


@pytest.mark.parametrize("metric", ["l2", "cosine"])
def test_chunked_search_equals_brute_force(metric):
    g = torch.Generator().manual_seed(0)
    q, r = torch.randn(301, 20, generator=g), torch.randn(1003, 20, generator=g)
    val, idx = nearest_neighbors(q, r, metric=metric, query_chunk=64, ref_chunk=100)  # ragged chunks
    if metric == "l2":
        full = torch.cdist(q.double(), r.double())
        assert torch.equal(idx, full.argmin(1))
        assert torch.allclose(val.double(), full.min(1).values, atol=1e-5)
    else:
        sim = torch.nn.functional.normalize(q, dim=1) @ torch.nn.functional.normalize(r, dim=1).T
        assert torch.equal(idx, sim.argmax(1))
        assert torch.allclose(val, sim.max(1).values, atol=1e-5)


def test_images_are_flattened_and_duplicates_are_exactly_zero():
    # large norms make ||q||^2 + ||r||^2 - 2 q.r cancel badly in float32; the winner is recomputed
    g = torch.Generator().manual_seed(1)
    r = 100 + torch.randn(50, 3, 4, 4, generator=g)
    d = nn_distances(r[[3, 7, 7]], r, ref_chunk=16)
    assert torch.equal(d, torch.zeros(3))


def _molrg(N, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    model = standard_molrg(orthogonal_bases(48, 2, d, g))
    train, _ = sample(model, N, g)
    return model, train, g


def test_copies_of_training_points_score_zero():
    model, train, g = _molrg(100)
    fresh, _ = sample(model, 2000, g)
    eps = epsilon_from_fresh(fresh, train)
    copies = train[torch.randint(0, 100, (1000,), generator=g)] + 1e-6 * torch.randn(1000, 48, generator=g, dtype=train.dtype)
    assert gl_score(copies, train, eps) == 0.0


def test_fresh_samples_score_the_eps_quantile_plateau():
    """A model that generalises perfectly (= fresh samples) scores 1 - 0.05 = 0.95 (spec §6.2)."""
    model, train, g = _molrg(100)
    M = 4000
    fresh, _ = sample(model, M, g)
    eps = epsilon_from_fresh(fresh, train, eps_quantile=0.05)
    generated, _ = sample(model, M, g)
    gl = gl_score(generated, train, eps)
    # binomial error of GL plus that of the empirical quantile: each sqrt(0.95 * 0.05 / M) ~ 0.0034
    assert abs(gl - 0.95) < 0.02, gl
    # and eps is what Eq. 46 says: 5 % of fresh samples are closer than eps to the training set
    assert float((nn_distances(fresh, train) < eps).double().mean()) == pytest.approx(0.05, abs=1.5 / M)


def test_half_copies_score_half_the_plateau():
    # half copies, half fresh: GL ~ 0.5 * 0.95
    model, train, g = _molrg(200)
    fresh, _ = sample(model, 2000, g)
    eps = epsilon_from_fresh(fresh, train)
    new, _ = sample(model, 1000, g)
    mixed = torch.cat([train[torch.randint(0, 200, (1000,), generator=g)], new])
    assert gl_score(mixed, train, eps) == pytest.approx(0.475, abs=0.03)


def test_similarity_version():
    sims = torch.tensor([0.9, 0.61, 0.6, 0.1])
    assert gl_from_similarities(sims, 0.6) == 0.5  # copies: strictly above the threshold


def test_bad_inputs():
    with pytest.raises(ValueError, match="metric"):
        nearest_neighbors(torch.zeros(2, 3), torch.zeros(2, 3), metric="l1")
    with pytest.raises(ValueError, match="dimension"):
        nearest_neighbors(torch.zeros(2, 3), torch.zeros(2, 4))


def test_memorization_stats_copies_and_fresh_samples():
    from molrg.gl import memorization_stats

    model, train, g = _molrg(200, d=3)
    fresh, _ = sample(model, 2000, g)
    new, _ = sample(model, 1000, g)
    pick = torch.randint(0, 200, (500,), generator=g)
    copies = train[pick] + 1e-6 * torch.randn(500, 48, generator=g, dtype=train.dtype)
    c = memorization_stats(copies, train, fresh)
    assert c["copy_rate"] == 1.0
    assert torch.equal(c["nn_idx"], pick)  # the NN indices point at the copied training points
    assert c["nn_ratio"] < 1e-3
    f = memorization_stats(new, train, fresh)
    # fresh samples in d = 3: P(NN dist < 0.1 median) ~ 1 - 2^(-0.001), i.e. ~ 0.1 %
    assert f["copy_rate"] < 0.01 and f["fresh_copy_rate"] < 0.01
    assert f["nn_ratio"] == pytest.approx(1.0, abs=0.1)
    assert f["copy_threshold"] == pytest.approx(0.1 * f["median_nn_dist_fresh"])
    assert f["nn_dist"].shape == (1000,) and f["fresh_nn_dist"].shape == (2000,)
    # half copies: copy rate 1/2; an explicit threshold replaces the default
    mixed = memorization_stats(torch.cat([copies, new[:500]]), train, fresh)
    assert mixed["copy_rate"] == pytest.approx(0.5, abs=0.01)
    big = memorization_stats(new, train, fresh, copy_threshold=1e9)
    assert big["copy_rate"] == 1.0 and big["copy_fraction"] is None


def test_memorization_stats_on_feature_vectors_with_chunks():
    from molrg.gl import memorization_stats

    g = torch.Generator().manual_seed(3)
    train = torch.randn(300, 16, generator=g)
    fresh = torch.randn(400, 16, generator=g)
    gen = train[:50] * (1 + 1e-7)
    a = memorization_stats(gen, train, fresh, query_chunk=7, ref_chunk=11)
    b = memorization_stats(gen, train, fresh)
    assert torch.equal(a["nn_idx"], torch.arange(50)) and torch.equal(a["nn_idx"], b["nn_idx"])
    assert a["copy_rate"] == 1.0
    with pytest.raises(ValueError, match="copy_fraction"):
        memorization_stats(gen, train, fresh, copy_fraction=0.0)


def test_gl_evidence_agrees_with_the_separate_functions():
    from molrg.gl import gl_evidence

    model, train, g = _molrg(150)
    fresh, _ = sample(model, 1000, g)
    gen, _ = sample(model, 500, g)
    ev = gl_evidence(gen, train, fresh, eps_quantile=0.05)
    eps = epsilon_from_fresh(fresh, train, eps_quantile=0.05)
    assert ev["eps"] == pytest.approx(eps) and ev["gl"] == gl_score(gen, train, eps)


def test_l2_from_cosine():
    assert l2_from_cosine(1.0) == 0.0
    assert l2_from_cosine(0.0) == pytest.approx(math.sqrt(2))
    assert l2_from_cosine(0.6) == pytest.approx(math.sqrt(0.8))  # spec §6.1: SSCD's 0.6 <-> eps ~ 0.894
    u, v = [0.6, 0.8], [1.0, 0.0]
    assert l2_from_cosine(0.6) == pytest.approx(math.dist(u, v))
    with pytest.raises(ValueError):
        l2_from_cosine(1.5)
