"""Provenance of result files: which config slice, seed, code and machine produced them.

Every table or figure a rule writes gets a sidecar `<file>.prov.json` (see `write_provenance`).
The record holds no timestamp and no host name, so that the same config and seed on the same
code give byte-identical files (tests/test_determinism.py).
"""
from __future__ import annotations

import functools
import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("torch", "numpy", "scipy", "pandas", "matplotlib", "seaborn", "scikit-learn", "clean-fid", "snakemake")


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """The repository's HEAD commit, with '-dirty' if tracked files differ from it; 'unknown' outside git."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True).stdout.strip()
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@functools.lru_cache(maxsize=1)
def package_versions() -> dict:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def device_description(device=None) -> str:
    """'cpu:<machine>' or 'cuda:<GPU name>'. torch is imported only for a non-CPU device: figure
    jobs (device None) start without it."""
    if device is None or str(device).split(":")[0] == "cpu":
        return f"cpu:{platform.machine()}"
    import torch

    dev = torch.device(device)
    if dev.type == "cuda" and torch.cuda.is_available():
        return f"cuda:{torch.cuda.get_device_name(dev)}"
    return f"cpu:{platform.machine()}"


def _plain(obj):
    """Config values as plain JSON (Snakemake params may hold numpy scalars or Namedlists)."""
    if isinstance(obj, dict) or hasattr(obj, "items"):
        return {str(k): _plain(v) for k, v in dict(obj.items()).items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):
        return obj.item()
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


def provenance_record(config_slice, seed=None, device=None, extra: dict | None = None) -> dict:
    rec = {
        "config": _plain(config_slice),
        "seed": seed,
        "git_commit": git_commit(),
        "packages": package_versions(),
        "device": device_description(device),
    }
    if extra:
        rec.update(_plain(extra))
    return rec


def sidecar_path(path) -> Path:
    return Path(str(path) + ".prov.json")


def write_provenance(path, config_slice, seed=None, device=None, extra: dict | None = None) -> Path:
    """Write `<path>.prov.json` describing how `path` was made; returns the sidecar's path."""
    side = sidecar_path(path)
    side.parent.mkdir(parents=True, exist_ok=True)
    side.write_text(json.dumps(provenance_record(config_slice, seed, device, extra), indent=1, sort_keys=True) + "\n")
    return side


def save_table(df, path, config_slice, seed=None, device=None, extra=None, float_format="%.6g") -> None:
    """A tidy CSV (fixed float format, so reruns are byte-identical) plus its provenance sidecar."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, float_format=float_format, lineterminator="\n")
    write_provenance(path, config_slice, seed, device, extra)


def save_figure(fig, path, config_slice, dpi: int, seed=None, extra=None) -> None:
    """Save a matplotlib figure with its provenance both as PNG metadata and as a sidecar."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rec = provenance_record(config_slice, seed, None, extra)
    meta = None
    if path.suffix == ".png":
        meta = {"Software": "molrg pipeline", "Comment": json.dumps(rec, sort_keys=True)}
    fig.savefig(path, dpi=dpi, bbox_inches="tight", metadata=meta)
    write_provenance(path, config_slice, seed, None, extra)
