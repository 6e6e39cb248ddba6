"""FID through clean-fid, with features that can be had offline.

clean-fid's own folder code path is used throughout: images are written as PNG files (uint8, the
usual quantisation of generated images), read back by ``cleanfid.fid.get_folder_features`` and
compared with clean-fid's Frechet distance (computed exactly from covariance factors,
``fid_from_features``, instead of scipy's ``sqrtm``). Two feature extractors:

* ``inception`` -- clean-fid's Inception-v3 TorchScript (``InceptionV3W``) read from a configured
  local file (clean-fid would otherwise download it to /tmp, impossible on these machines), with
  clean-fid's 'clean' 299x299 bicubic resize: standard FID;
* ``classifier`` -- the pipeline's own classifier (molrg.descriptors.ClassifierNet) penultimate
  features at the native resolution (``custom_feat_extractor`` + identity ``custom_fn_resize``).
  Not comparable with published FIDs; every table labels which one was used.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from molrg.datasets import to_uint8
from molrg.progress import Progress

INCEPTION_FILE = "inception-2015-12-05.pt"  # the name clean-fid's InceptionV3W expects


def write_png_folder(x, folder) -> Path:
    """Images x (N, C, H, W) in [-1, 1] -> folder/000000.png ... (grey as 'L', colour as 'RGB')."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(to_uint8(x)):
        Image.fromarray(im[..., 0] if im.shape[-1] == 1 else im).save(folder / f"{i:06d}.png")
    return folder


def inception_extractor(path, device="cpu"):
    """clean-fid's Inception network from a local TorchScript file (any file name)."""
    from cleanfid.inception_torchscript import InceptionV3W

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"realdata.fid.inception_path = '{path}' is not a file. Obtain {INCEPTION_FILE} from "
            "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/ on a machine with "
            "internet access, or set realdata.fid.inception_path: null to use the classifier features"
        )
    folder = path.parent
    if path.name != INCEPTION_FILE:  # InceptionV3W joins its folder with the fixed file name
        folder = Path(tempfile.mkdtemp(prefix="molrg_inception_"))
        os.symlink(path.resolve(), folder / INCEPTION_FILE)
    from molrg.runtime import load_torch_file

    model = load_torch_file(
        lambda f: InceptionV3W(str(f), download=False, resize_inside=False), folder,
        f"clean-fid's Inception TorchScript ({path})",
        f"Check realdata.fid.inception_path: it must be {INCEPTION_FILE} as published by NVIDIA.",
    ).to(device).eval()

    def extract(batch: torch.Tensor) -> torch.Tensor:  # (B, 3, 299, 299) in [0, 255]
        return model(batch)

    return extract


def classifier_extractor(net, device="cpu"):
    """Penultimate features of the pipeline's classifier for clean-fid batches: (B, 3, H, W) in
    [0, 255] (clean-fid always reads images as RGB) -> back to [-1, 1] and the net's channels."""
    in_ch = net.config["in_channels"]

    def extract(batch: torch.Tensor) -> torch.Tensor:
        x = batch.float() / 127.5 - 1.0
        if in_ch == 1:
            x = x.mean(1, keepdim=True)  # the PNGs of grey images are replicated channels
        with torch.no_grad():
            return net.to(x.device).features(x)

    return extract


def folder_features(folder, extractor, kind: str, batch_size: int = 256, device="cpu") -> np.ndarray:
    """clean-fid's folder pipeline: 'clean' 299x299 resize for Inception, none for the classifier."""
    from cleanfid import fid

    resize = None if kind == "inception" else (lambda a: a.astype(np.float32))
    n = sum(1 for f in os.scandir(folder) if f.is_file())
    prog = Progress(-(-n // batch_size), f"{kind} features of {n} images", unit="batches")

    def counted(batch):  # clean-fid calls the model once per batch
        feats = extractor(batch)
        prog.update()
        return feats

    feats = fid.get_folder_features(
        str(folder), model=counted, num_workers=0, batch_size=batch_size, device=torch.device(device),
        mode="clean", custom_fn_resize=resize, verbose=False,
    )
    prog.close()
    return feats


def array_features(x, extractor, kind: str, batch_size: int = 256, device="cpu") -> np.ndarray:
    """Features of in-memory images through clean-fid's folder code path (a temporary PNG folder)."""
    with tempfile.TemporaryDirectory(prefix="molrg_fid_") as tmp:
        write_png_folder(x, tmp)
        return folder_features(tmp, extractor, kind, batch_size, device)


def _cov_factor(f: np.ndarray) -> np.ndarray:
    """A factor L (d x r) with L L^T = np.cov(f, rowvar=False) (the n - 1 normalisation clean-fid
    uses): the centred features themselves when n <= d (r = n), else the symmetric square root of
    the covariance from its eigendecomposition (r = d)."""
    n, d = f.shape
    if n < 2:
        raise ValueError(f"FID needs at least 2 feature vectors per set, got {n}")
    c = (f - f.mean(0)) / np.sqrt(n - 1)  # (n, d), cov = c^T c
    if n <= d:
        return c.T
    w, v = np.linalg.eigh(c.T @ c)
    return v * np.sqrt(np.clip(w, 0.0, None))


def fid_from_features(f1: np.ndarray, f2: np.ndarray) -> float:
    """The Frechet distance of Gaussians fitted to two feature sets (clean-fid's definition:
    |mu1 - mu2|^2 + tr S1 + tr S2 - 2 tr (S1 S2)^(1/2), np.cov normalisation).

    Why not clean-fid's ``fid_from_feats``: it takes scipy's ``sqrtm`` of the non-symmetric d x d
    product S1 S2 (18 s for d = 2048 on one core of this CPU, once per sample set), which is also
    inexact when S1 S2 is singular (fewer samples than features). Here, with factors S_i = L_i L_i^T,
    the eigenvalues of S1 S2 are the squared singular values of L1^T L2, so tr (S1 S2)^(1/2) is the
    nuclear norm of L1^T L2: exact, and an SVD of at most min(n_i, d)-sized matrices
    (tests/test_fid.py checks it against clean-fid's value)."""
    f1, f2 = np.asarray(f1, np.float64), np.asarray(f2, np.float64)
    if f1.ndim != 2 or f2.ndim != 2 or f1.shape[1] != f2.shape[1]:
        raise ValueError(f"feature sets must be (n, d) arrays of the same d, got {f1.shape} and {f2.shape}")
    l1, l2 = _cov_factor(f1), _cov_factor(f2)
    tr_covmean = np.linalg.svd(l1.T @ l2, compute_uv=False).sum()
    diff = f1.mean(0) - f2.mean(0)
    return float(diff @ diff + (l1 * l1).sum() + (l2 * l2).sum() - 2.0 * tr_covmean)


def build_extractor(inception_path, classifier_net, device="cpu"):
    """(extractor, kind, label): Inception when a local file is configured, else the classifier."""
    if inception_path:
        return inception_extractor(inception_path, device), "inception", "Inception-v3 (clean-fid)"
    return classifier_extractor(classifier_net, device), "classifier", (
        f"pipeline classifier features ({classifier_net.config['feature_dim']}-d); not Inception"
    )
