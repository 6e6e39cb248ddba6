"""Small helpers shared by the workflow scripts: logging to the rule's log file, device choice,
seeding and thread settings. Nothing here imports Snakemake.

numpy and torch are imported inside the functions that need them: figure and table jobs import
this module for `setup_logging` / `derive_seed` only, and torch alone costs them ~2 s of start-up
(issue #10, "plot-only rerun under 30 s"); the workflow itself imports `derive_seed` at parse time."""
from __future__ import annotations

import logging
import os
import sys


def setup_logging(log_path: str | None, name: str = "molrg") -> logging.Logger:
    """Log to the rule's log file (and stderr), line-buffered, so progress is visible while running."""
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_path:
        os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", handlers=handlers, force=True)
    return logging.getLogger(name)


def select_device(name: str = "auto") -> "torch.device":  # noqa: F821
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config key 'device' is 'cuda' but no CUDA device is visible; set device: auto or cpu")
    return torch.device(name)


def set_threads(n: int) -> None:
    """Torch intra-op threads = the rule's `threads` (Snakemake runs several jobs side by side)."""
    import torch

    torch.set_num_threads(max(1, int(n)))


def derive_seed(*parts) -> int:
    """A deterministic 31-bit seed from the master seed and names/numbers (stable across runs,
    unlike Python's salted hash())."""
    import hashlib

    h = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:4], "little") & 0x7FFFFFFF


def seed_everything(seed: int) -> "torch.Generator":  # noqa: F821
    import numpy as np
    import torch

    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def load_torch_file(loader, path, what: str, fix: str = ""):
    """Call `loader(path)` (torch.load / torch.jit.load / a constructor) and turn a corrupt or
    foreign file into one clear error naming the file, what it should be and the fix, instead of
    torch's internal message (e.g. 'PytorchStreamReader failed', or an UnpicklingError that advises
    weights_only=False, which is the wrong advice for a corrupt file)."""
    try:
        return loader(path)
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise ValueError(
            f"{path}: cannot be read as {what} ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})."
            + (f" {fix}" if fix else "")
        ) from err
    except Exception as err:  # pickle.UnpicklingError and friends
        if type(err).__name__ != "UnpicklingError":
            raise
        raise ValueError(f"{path}: cannot be read as {what} (corrupt or not a torch file). {fix}".rstrip()) from err
