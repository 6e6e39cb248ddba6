"""Image descriptors phi for the real-data GL score (Eq. 21, spec §6.1) and for FID.

* ``sscd``       -- the paper's SSCD copy-detection network, loaded from a local TorchScript file
                    (320x320 resize, ImageNet normalisation; threshold 0.6 from the authors' code);
* ``classifier`` -- the penultimate features of a small CNN classifier that the pipeline trains on
                    the dataset itself (rule realdata_classifier);
* ``pixel``      -- the image itself, mean-centred per image (cosine = normalised cross-correlation).

Every descriptor maps x (B, C, H, W) in [-1, 1] to L2-normalised features, so similarity is the
dot product. Without SSCD the copy threshold is calibrated like Eq. 46: the 95 % quantile of the
max-similarity of held-out real images to the training set (``calibrate_threshold``; the quantile
convention is molrg.gl's). ``gl_from_features`` is GL (Eq. 21) on descriptor features.

``descriptor_gl`` is Fig 4 right's measurement of one model: it embeds the generated samples, the
model's training subset and the held-out real images, sets the copy threshold (fixed, or calibrated
like Eq. 46 on held-out images) and counts the generated samples that are not copies; the
memorisation evidence (molrg.gl.memorization_stats) uses the same features: copy rate (samples
closer to a training image than copy_fraction x the median held-out NN distance) and NN ratio
(median NN distance of the samples / of the held-out images).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from molrg.gl import COPY_FRACTION, gl_from_similarities, memorization_stats, nearest_neighbors

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SSCD_THRESHOLD = 0.6  # cosine threshold of the authors' sscd.py (spec §6.1)


def _normalise(f: torch.Tensor) -> torch.Tensor:
    return F.normalize(f.flatten(1).float(), dim=1, eps=1e-12)


# ----------------------------------------------------------------------------------------------
# pixel descriptor
# ----------------------------------------------------------------------------------------------


class PixelDescriptor(nn.Module):
    """Flattened pixels minus their per-image mean, unit norm. Centring keeps the constant
    background of (Fashion-)MNIST (-1 everywhere) from making every pair look alike."""

    name = "pixel"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = x.flatten(1).float()
        return _normalise(f - f.mean(1, keepdim=True))


# ----------------------------------------------------------------------------------------------
# classifier descriptor
# ----------------------------------------------------------------------------------------------


class ClassifierNet(nn.Module):
    """A small CNN: two conv stages, a ``feature_dim`` penultimate layer (the descriptor), logits.
    Works for any resolution >= 4 (adaptive pooling to 2x2 before the dense layers)."""

    def __init__(self, in_channels: int, num_classes: int, width: int = 32, feature_dim: int = 128):
        super().__init__()
        self.config = dict(in_channels=in_channels, num_classes=num_classes, width=width, feature_dim=feature_dim)
        w = width
        self.trunk = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, padding=1), nn.ReLU(),
            nn.Conv2d(w, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(2),
            nn.Flatten(), nn.Linear(8 * w, feature_dim), nn.ReLU(),
        )
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))


class ClassifierDescriptor(nn.Module):
    name = "classifier"

    def __init__(self, net: ClassifierNet):
        super().__init__()
        self.net = net.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _normalise(self.net.features(x.float()))


def train_classifier(x, y, num_classes: int, epochs: int, batch_size: int, lr: float, seed: int,
                     width: int = 32, feature_dim: int = 128, device="cpu", log=None) -> ClassifierNet:
    """Train ``ClassifierNet`` with Adam and cross-entropy on x (N, C, H, W) in [-1, 1], labels y."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    X = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    Y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    net = ClassifierNet(X.shape[1], num_classes, width, feature_dim).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    net.train()
    steps = 0
    for epoch in range(epochs):
        perm = torch.randperm(len(X), generator=g)
        total, correct, loss_sum = 0, 0, 0.0
        for i in range(0, len(X), batch_size):
            idx = perm[i : i + batch_size]
            xb, yb = X[idx].to(device), Y[idx].to(device)
            logits = net(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            steps += 1
            total += len(idx)
            correct += int((logits.argmax(1) == yb).sum())
            loss_sum += float(loss.detach()) * len(idx)
        if log is not None:
            log.info("classifier epoch %d/%d: loss %.4f, train accuracy %.4f (%d steps)",
                     epoch + 1, epochs, loss_sum / total, correct / total, steps)
    return net.eval()


@torch.no_grad()
def accuracy(net: ClassifierNet, x, y, batch_size: int = 1024, device="cpu") -> float:
    X = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    Y = torch.as_tensor(np.asarray(y), dtype=torch.long)
    pred = torch.cat([net(X[i : i + batch_size].to(device)).argmax(1).cpu() for i in range(0, len(X), batch_size)])
    return float((pred == Y).float().mean())


@torch.no_grad()
def predict_labels(net: ClassifierNet, x, batch_size: int = 1024, device="cpu") -> np.ndarray:
    """The classifier's class (argmax of the logits) for each image of x (N, C, H, W) in [-1, 1]."""
    X = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    if X.ndim != 4 or X.shape[1] != net.config["in_channels"]:
        raise ValueError(f"images of shape {tuple(X.shape)} do not fit a classifier of "
                         f"{net.config['in_channels']} input channels")
    return torch.cat([net(X[i : i + batch_size].to(device)).argmax(1).cpu()
                      for i in range(0, len(X), batch_size)]).numpy().astype(np.int64)


def save_classifier(net: ClassifierNet, path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": net.config, "state_dict": net.state_dict()}, path)


def load_classifier(path, device="cpu") -> ClassifierNet:
    ckpt = torch.load(path, map_location=device, weights_only=True)
    net = ClassifierNet(**ckpt["config"])
    net.load_state_dict(ckpt["state_dict"])
    return net.to(device).eval()


# ----------------------------------------------------------------------------------------------
# SSCD descriptor (local TorchScript file)
# ----------------------------------------------------------------------------------------------


class SSCDDescriptor(nn.Module):
    """SSCD (sscd_disc_large.torchscript.pt) with the authors' preprocessing: [0, 1] images, grey
    replicated to RGB, resized to 320x320, ImageNet-normalised; output L2-normalised."""

    name = "sscd"

    def __init__(self, model: torch.jit.ScriptModule, size: int = 320):
        super().__init__()
        self.model, self.size = model.eval(), size
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = ((x.float() + 1) / 2).clamp(0, 1)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=True)
        return _normalise(self.model((x - self.mean) / self.std))


def load_sscd(path, device="cpu") -> SSCDDescriptor:
    if not path or not Path(path).is_file():
        raise FileNotFoundError(
            f"realdata.descriptor.sscd_path = {path!r} is not a file. SSCD cannot be downloaded on these "
            "machines: place sscd_disc_large.torchscript.pt (https://github.com/facebookresearch/sscd-copy-detection) "
            "there, or set realdata.descriptor.kind to 'classifier' or 'pixel'"
        )
    from molrg.runtime import load_torch_file

    model = load_torch_file(
        lambda p: torch.jit.load(str(p), map_location=device), path, "the SSCD TorchScript descriptor",
        "Check realdata.descriptor.sscd_path: it must be sscd_disc_large.torchscript.pt as published.",
    )
    return SSCDDescriptor(model).to(device)


def build_descriptor(kind: str, classifier_path=None, sscd_path=None, device="cpu") -> nn.Module:
    if kind == "pixel":
        return PixelDescriptor()
    if kind == "classifier":
        return ClassifierDescriptor(load_classifier(classifier_path, device)).to(device)
    if kind == "sscd":
        return load_sscd(sscd_path, device)
    raise ValueError(f"realdata.descriptor.kind must be sscd, classifier or pixel, got {kind!r}")


# ----------------------------------------------------------------------------------------------
# embedding, nearest-neighbour similarity, threshold, GL
# ----------------------------------------------------------------------------------------------


@torch.no_grad()
def embed(descriptor: nn.Module, x, batch_size: int = 512, device="cpu") -> torch.Tensor:
    """Features (N, F) on the CPU, float32, unit norm."""
    X = torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x, dtype=torch.float32)
    out = [descriptor(X[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(X), batch_size)]
    return torch.cat(out)


def max_similarity(query: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """max_j <q_i, r_j>: the cosine nearest neighbour of molrg.gl (chunked, memory-bounded)."""
    return nearest_neighbors(query, reference, metric="cosine")[0]


def calibrate_threshold(heldout_feats: torch.Tensor, train_feats: torch.Tensor,
                        similarity_quantile: float = 0.95) -> float:
    """The copy threshold tau with P(max-sim of a fresh real image to the training set <= tau) =
    ``similarity_quantile`` (= 1 - eps_quantile, molrg.gl's convention): Eq. 46's rule written for
    similarities (a held-out real image plays the role of a fresh sample from the data distribution)."""
    s = max_similarity(heldout_feats, train_feats).double()
    return float(torch.quantile(s, similarity_quantile))


def gl_from_features(generated_feats: torch.Tensor, train_feats: torch.Tensor,
                     threshold: float) -> tuple[float, torch.Tensor]:
    """GL (Eq. 21) of generated images from their descriptor features: 1 - the fraction whose
    largest cosine similarity to the training features exceeds `threshold` (authors' sscd.py).
    Returns the score and those largest similarities (M,)."""
    s = max_similarity(generated_feats, train_feats)
    return gl_from_similarities(s, threshold), s


def descriptor_gl(descriptor, generated, train_subset, train, heldout, *, threshold=None,
                  calibration: str = "per_subset", eps_quantile: float = 0.05,
                  copy_fraction: float = COPY_FRACTION, descriptor_kind: str = "", device="cpu") -> tuple[dict, dict]:
    """GL and memorisation evidence of one model's samples (B, C, H, W) in [-1, 1] against its
    training subset, with held-out real images as the fresh samples.

    threshold: a fixed similarity threshold, or None: calibrated as the (1 - eps_quantile) quantile of the held-out
    images' max-similarity to the training subset (calibration 'per_subset') or to the whole
    training set `train` (otherwise). Returns (record, nn): the record's fields in table order (gl,
    copy_rate, nn_ratio, copy_threshold, copy_fraction, heldout_copy_rate, median NN distances,
    threshold, threshold_rule, descriptor, num_samples, max_sim_mean, max_sim_median, heldout_gl)
    and each sample's nearest training image (nn_idx, nn_dist) with copy_threshold, copy_rate, gl,
    nn_ratio, for the memorisation figure."""
    f_gen, f_sub = embed(descriptor, generated, device=device), embed(descriptor, train_subset, device=device)
    f_held = embed(descriptor, heldout, device=device)
    if threshold is not None:
        threshold, how = float(threshold), "fixed"
    else:
        ref = f_sub if calibration == "per_subset" else embed(descriptor, train, device=device)
        threshold = calibrate_threshold(f_held, ref, 1 - eps_quantile)
        ref_name = "this U-Net's training subset" if calibration == "per_subset" else "whole training set"
        how = f"calibrated: {1 - eps_quantile:.2f}-quantile of held-out max-similarity to the {ref_name}"
    score, sims = gl_from_features(f_gen, f_sub, threshold)
    # the same count for the held-out real images: about `1 - eps_quantile` when calibrated per subset
    held_score = gl_from_features(f_held, f_sub, threshold)[0]
    # memorisation evidence in descriptor space (unit vectors, L2), fresh samples = held-out real images
    mem = memorization_stats(f_gen, f_sub, f_held, copy_fraction=copy_fraction)
    record = {"gl": score, "copy_rate": mem["copy_rate"], "nn_ratio": mem["nn_ratio"],
              "copy_threshold": mem["copy_threshold"], "copy_fraction": copy_fraction,
              "heldout_copy_rate": mem["fresh_copy_rate"], "median_nn_dist_generated": mem["median_nn_dist_generated"],
              "median_nn_dist_heldout": mem["median_nn_dist_fresh"], "threshold": threshold, "threshold_rule": how,
              "descriptor": descriptor_kind, "num_samples": int(len(generated)), "max_sim_mean": float(sims.mean()),
              "max_sim_median": float(sims.median()), "heldout_gl": held_score}
    nn = {"nn_idx": mem["nn_idx"].numpy().astype("int64"), "nn_dist": mem["nn_dist"].numpy().astype("float64"),
          "copy_threshold": mem["copy_threshold"], "copy_rate": mem["copy_rate"], "gl": score,
          "nn_ratio": mem["nn_ratio"]}
    return record, nn
