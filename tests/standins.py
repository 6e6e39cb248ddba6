"""Stand-in data sets and weights in the real formats, for runs of presets/paper.yaml on machines
that cannot download the real ones (tests/test_paper_smoke.py, tests/config/paper_smoke.yaml).

Each stand-in is read by the same code path as the real file:
  * CIFAR-10: the python version as its tarball (`cifar-10-python.tar.gz`: folder
    cifar-10-batches-py/ with data_batch_1..5 and test_batch, protocol-2 pickles with bytes keys,
    data (N, 3072) uint8 in CHW order) -> molrg.datasets' cifar_pickle reader;
  * CelebA (img_align_celeba, 178x218 JPEGs), FFHQ (PNG folder), AFHQ (train/cat|dog|wild class
    sub-folders, JPEG), MetFaces (PNG folder) -> the image_folder reader (crop, resize);
  * SSCD (`sscd_disc_large.torchscript.pt`): a TorchScript module x (B, 3, H, W), ImageNet-normalised
    -> (B, 1024) descriptors, as molrg.descriptors.load_sscd loads it;
  * clean-fid's Inception (`inception-2015-12-05.pt`): a TorchScript module with the interface
    cleanfid.inception_torchscript.InceptionV3W uses (`.layers(x) -> (B, 2048)`, x in [-1, 1] at
    299x299), as molrg.fid.inception_extractor loads it.
The images are random smooth colour fields (seeded): their content is irrelevant, their formats,
sizes and layouts are the real ones (sizes scaled down where only the crop/resize path matters).
"""
from __future__ import annotations

import io
import pickle
import tarfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

# relative to the working directory; the paths of config.yaml / presets/paper.yaml except CIFAR-10,
# which tests/config/paper_smoke.yaml points at the tarball
PATHS = {
    "cifar10": "data/cifar-10-python.tar.gz",
    "celeba": "data/celeba/img_align_celeba",
    "ffhq": "data/ffhq/images1024x1024",
    "afhq": "data/afhq/train",
    "metfaces": "data/metfaces/images",
    "sscd": "data/sscd_disc_large.torchscript.pt",
    "inception": "data/inception-2015-12-05.pt",
}


def _smooth_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A random smooth RGB image (uint8, (h, w, 3)): a 4x4 colour grid upsampled bilinearly."""
    coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(coarse).resize((w, h), Image.BILINEAR))


def write_cifar_tarball(path, per_batch: int = 60, seed: int = 0) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with tarfile.open(path, "w:gz") as tar:
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            images = np.stack([_smooth_image(rng, 32, 32) for _ in range(per_batch)])
            data = images.transpose(0, 3, 1, 2).reshape(per_batch, 3072)
            labels = [int(v) for v in rng.integers(0, 10, per_batch)]
            raw = pickle.dumps({b"batch_label": name.encode(), b"labels": labels, b"data": data,
                                b"filenames": [f"{name}_{i}.png".encode() for i in range(per_batch)]}, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
        meta = pickle.dumps({b"label_names": [f"class{i}".encode() for i in range(10)]}, protocol=2)
        info = tarfile.TarInfo("cifar-10-batches-py/batches.meta")
        info.size = len(meta)
        tar.addfile(info, io.BytesIO(meta))
    return path


def write_image_folder(root, n: int, size: tuple[int, int], ext: str = ".png", classes=None, seed: int = 0) -> Path:
    """n images of size (width, height) per folder; with `classes`, n per class sub-folder (AFHQ)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    for sub in classes or [None]:
        folder = root / sub if sub else root
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img = Image.fromarray(_smooth_image(rng, size[1], size[0]))
            img.save(folder / f"{i:06d}{ext}", **({"quality": 90} if ext == ".jpg" else {}))
    return root


class _SSCDStandIn(torch.nn.Module):
    """sscd_disc_large's interface: (B, 3, H, W) ImageNet-normalised -> (B, 1024) (not normalised)."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.register_buffer("proj", torch.randn(3 * 8 * 8, 1024, generator=g) / 13.9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.adaptive_avg_pool2d(x, 8).flatten(1) @ self.proj


class _InceptionLayers(torch.nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(1)
        self.register_buffer("proj", torch.randn(3 * 8 * 8, 2048, generator=g) / 13.9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(torch.nn.functional.adaptive_avg_pool2d(x, 8).flatten(1) @ self.proj)


class _InceptionStandIn(torch.nn.Module):
    """clean-fid's InceptionV3W calls `.layers(x)` (x in [-1, 1], 299x299) -> (B, 2048) pool features."""

    def __init__(self):
        super().__init__()
        self.layers = _InceptionLayers()

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        return self.layers(x)


def write_sscd(path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.script(_SSCDStandIn()).save(str(path))
    return path


def write_inception(path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.jit.script(_InceptionStandIn()).save(str(path))
    return path


def build_standins(workdir, images_per_set: int = 300) -> dict[str, Path]:
    """Every stand-in at its configured path under `workdir`; returns {name: path}."""
    w = Path(workdir)
    n = images_per_set
    out = {
        "cifar10": write_cifar_tarball(w / PATHS["cifar10"], per_batch=max(1, n // 5)),
        "celeba": write_image_folder(w / PATHS["celeba"], n, (178, 218), ".jpg", seed=1),
        "ffhq": write_image_folder(w / PATHS["ffhq"], n, (64, 64), ".png", seed=2),
        "afhq": write_image_folder(w / PATHS["afhq"], max(1, n // 3) + 1, (48, 48), ".jpg", ["cat", "dog", "wild"], seed=3),
        "metfaces": write_image_folder(w / PATHS["metfaces"], n, (80, 80), ".png", seed=4),
        "sscd": write_sscd(w / PATHS["sscd"]),
        "inception": write_inception(w / PATHS["inception"]),
    }
    return out
