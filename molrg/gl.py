"""Nearest neighbours by chunked matrix products, the MoLRG threshold epsilon (Eq. 46) and the
generalisation score GL (Eq. 21). Spec §6.1, §6.2.

    GL = (1/M) sum_i 1[ min_j ||phi(x_hat_i) - phi(x_j)|| > eps ]           (L2, MoLRG: phi = identity)
    GL = 1 - (1/M) sum_i 1[ max_j <phi(x_hat_i), phi(x_j)> > threshold ]   (cosine, real data: SSCD, 0.6)

The quantile convention, one name throughout molrg: `eps_quantile` is the lower-tail probability q of
a fresh sample's nearest-training-point distance at eps,

    P_{x ~ data}(min_j ||x - x_j|| < eps) = q      (Eq. 46: q = 0.05, config molrg_unet.eps_quantile),

so eps is the q quantile of the fresh samples' distances and a perfectly generalising model scores
GL ~ 1 - q (the plateau that molrg.sigmoid.resolve_plateau fixes). A cosine descriptor's threshold is
the same rule written for similarities (molrg.descriptors.calibrate_threshold): its
`similarity_quantile` is the upper quantile 1 - q (0.95) of held-out images' largest similarities.

Memorisation evidence (`memorization_stats`): copy rate = fraction of generated samples
closer than a copy threshold (default COPY_FRACTION x the median fresh-sample NN distance) to their
nearest training point; nn_ratio = median generated NN distance / median fresh NN distance.
"""
from __future__ import annotations

import math

import torch

from .progress import progress

Tensor = torch.Tensor


def nearest_neighbors(queries: Tensor, refs: Tensor, metric: str = "l2", query_chunk: int = 2048,
                      ref_chunk: int = 16384, device=None) -> tuple[Tensor, Tensor]:
    """For every query row, its nearest reference row: returns (value, index), both (M,), on the CPU.

    metric 'l2': value = Euclidean distance; 'cosine': value = the largest cosine similarity.
    Inputs are flattened to (M, n) and (N, n). Work happens on `device` (default: the queries'),
    one (query_chunk x ref_chunk) block of inner products at a time, so memory stays bounded
    (10k x 50k x 3072 in float32 needs the inputs plus one 2048 x 16384 block, about 130 MB).
    The L2 distance of the winner is recomputed directly, so near-duplicates come out exact rather
    than suffering the cancellation of ||q||^2 + ||r||^2 - 2 q.r.
    """
    if metric not in ("l2", "cosine"):
        raise ValueError(f"metric must be 'l2' or 'cosine', got {metric!r}")
    device = torch.device(device) if device is not None else queries.device
    Q = queries.reshape(queries.shape[0], -1)
    R = refs.reshape(refs.shape[0], -1)
    if Q.shape[1] != R.shape[1]:
        raise ValueError(f"queries have dimension {Q.shape[1]}, references {R.shape[1]}")
    if R.shape[0] == 0:
        raise ValueError("no reference points")
    dtype = torch.promote_types(Q.dtype, R.dtype)
    best_val = torch.empty(Q.shape[0], dtype=dtype)
    best_idx = torch.empty(Q.shape[0], dtype=torch.long)
    R_dev = R.to(device, dtype)
    if metric == "cosine":
        R_dev = torch.nn.functional.normalize(R_dev, dim=1)
    r_sq = (R_dev * R_dev).sum(1)
    for qs in progress(range(0, Q.shape[0], query_chunk), f"nearest neighbours of {Q.shape[0]} queries", unit="chunks"):
        q = Q[qs : qs + query_chunk].to(device, dtype)
        if metric == "cosine":
            q = torch.nn.functional.normalize(q, dim=1)
        # running best over the reference chunks: score = q.r - ||r||^2/2 (larger = closer in L2)
        run_val = torch.full((q.shape[0],), -float("inf"), dtype=dtype, device=device)
        run_idx = torch.zeros(q.shape[0], dtype=torch.long, device=device)
        for rs in range(0, R_dev.shape[0], ref_chunk):
            score = q @ R_dev[rs : rs + ref_chunk].T
            if metric == "l2":
                score = score - 0.5 * r_sq[rs : rs + ref_chunk]
            val, idx = score.max(dim=1)
            better = val > run_val
            run_val = torch.where(better, val, run_val)
            run_idx = torch.where(better, idx + rs, run_idx)
        if metric == "l2":
            run_val = (q - R_dev[run_idx]).norm(dim=1)
        best_val[qs : qs + q.shape[0]] = run_val.cpu()
        best_idx[qs : qs + q.shape[0]] = run_idx.cpu()
    return best_val, best_idx


def nn_distances(queries: Tensor, refs: Tensor, **kwargs) -> Tensor:
    """L2 distance of every query to its nearest reference point."""
    return nearest_neighbors(queries, refs, metric="l2", **kwargs)[0]


def epsilon_from_fresh(fresh: Tensor, train: Tensor, eps_quantile: float = 0.05, **kwargs) -> float:
    """Eq. 46: the eps_quantile (5 %) quantile of the fresh samples' nearest-training-point distances."""
    return float(torch.quantile(nn_distances(fresh, train, **kwargs).double(), eps_quantile))


def gl_from_distances(distances: Tensor, eps: float) -> float:
    """Eq. 21 with an L2 threshold: fraction of generated samples farther than eps from every training point."""
    return float((distances > eps).double().mean())


def gl_from_similarities(similarities: Tensor, threshold: float) -> float:
    """Eq. 21 for a cosine descriptor (authors' SSCD code): 1 - fraction with max similarity > threshold."""
    return float(1.0 - (similarities > threshold).double().mean())


def l2_from_cosine(similarity: float) -> float:
    """||u - v|| for unit vectors u, v with <u, v> = similarity: sqrt(2 - 2 similarity)."""
    s = float(similarity)
    if not -1.0 <= s <= 1.0:
        raise ValueError(f"a cosine similarity lies in [-1, 1], got {s}")
    return math.sqrt(max(2.0 - 2.0 * s, 0.0))


def gl_score(generated: Tensor, train: Tensor, eps: float, **kwargs) -> float:
    """GL (Eq. 21) with phi = identity and an L2 threshold eps."""
    return gl_from_distances(nn_distances(generated, train, **kwargs), eps)


COPY_FRACTION = 0.1
"""Default copy threshold, as a fraction of the median fresh-sample NN distance. A fresh sample of a
distribution with local dimension k near the training points falls within f * median of its nearest
training point with probability about 1 - 2^(-f^k) (Poisson points), i.e. <= 0.7 % for f = 0.1 and
k >= 2; a sampler that copies training points lands far inside it."""


def memorization_stats(generated: Tensor, train: Tensor, fresh: Tensor, copy_threshold: float | None = None,
                       copy_fraction: float = COPY_FRACTION, **nn_kwargs) -> dict:
    """Copy rate and nearest-neighbour distance ratio of generated samples (memorisation evidence).

    Works on any feature vectors (identity for MoLRG, descriptor features for real images), in L2.
    generated (M, ...), train (N, ...), fresh (M', ...): fresh samples of the data distribution, not
    in the training set (they set the scale). copy_threshold: L2 distance under which a generated
    sample counts as a copy of its nearest training point; None = copy_fraction * the median
    fresh-sample NN distance. nn_kwargs go to `nearest_neighbors` (query_chunk, ref_chunk, device).

    Returns a dict:
      nn_dist, nn_idx       (M,) each generated sample's distance to / index of its nearest training point
      fresh_nn_dist         (M',) the same for the fresh samples
      copy_threshold        the threshold used;  copy_fraction (None when copy_threshold was given)
      copy_rate             fraction of generated samples with nn_dist < copy_threshold
      fresh_copy_rate       the same for fresh samples (the threshold's false-positive rate, ~ 0)
      median_nn_dist_generated, median_nn_dist_fresh
      nn_ratio              median_nn_dist_generated / median_nn_dist_fresh (~ 1 generalising, ~ 0 copying)
    """
    nn_dist, nn_idx = nearest_neighbors(generated, train, metric="l2", **nn_kwargs)
    fresh_dist = nn_distances(fresh, train, **nn_kwargs)
    if fresh_dist.numel() == 0 or nn_dist.numel() == 0:
        raise ValueError("memorization_stats needs at least one generated and one fresh sample")
    med_fresh = float(fresh_dist.double().median())
    med_gen = float(nn_dist.double().median())
    if copy_threshold is None:
        if not copy_fraction > 0:
            raise ValueError(f"copy_fraction must be > 0, got {copy_fraction}")
        threshold = copy_fraction * med_fresh
    else:
        threshold, copy_fraction = float(copy_threshold), None
    return {
        "nn_dist": nn_dist,
        "nn_idx": nn_idx,
        "fresh_nn_dist": fresh_dist,
        "copy_threshold": float(threshold),
        "copy_fraction": copy_fraction,
        "copy_rate": float((nn_dist < threshold).double().mean()),
        "fresh_copy_rate": float((fresh_dist < threshold).double().mean()),
        "median_nn_dist_generated": med_gen,
        "median_nn_dist_fresh": med_fresh,
        "nn_ratio": med_gen / med_fresh if med_fresh > 0 else float("nan"),
    }


def gl_evidence(generated: Tensor, train: Tensor, fresh: Tensor, eps_quantile: float = 0.05,
                copy_fraction: float = COPY_FRACTION, **nn_kwargs) -> dict:
    """Everything one GL cell reports, from one nearest-neighbour search per sample set:
    `memorization_stats` plus eps (Eq. 46: the eps_quantile quantile of the fresh samples' NN
    distances, see the module docstring) and gl (Eq. 21: fraction of generated samples farther than eps from the training set)."""
    stats = memorization_stats(generated, train, fresh, copy_fraction=copy_fraction, **nn_kwargs)
    eps = float(torch.quantile(stats["fresh_nn_dist"].double(), eps_quantile))
    return {**stats, "eps": eps, "gl": gl_from_distances(stats["nn_dist"], eps)}
