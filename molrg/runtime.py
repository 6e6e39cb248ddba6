"""Small helpers shared by the workflow scripts: logging to the rule's log file, device choice,
seed derivation, thread settings and readable errors for corrupt weight files. Nothing here
imports Snakemake.

torch is imported inside the functions that need it: figure and table jobs import this module for
`setup_logging` / `derive_seed` only, and torch alone costs them ~2 s of start-up (a plot-only
rerun must stay fast); the workflow itself imports `derive_seed` at parse time."""
from __future__ import annotations

import logging
import os
import sys


def setup_logging(log_path: str | None, name: str = "molrg") -> logging.Logger:
    """Log to the rule's log file (and stderr), line-buffered, so progress is visible while running.

    The log starts with a header "=== attempt N, <UTC time>, host H[, SLURM job J] ===". Snakemake
    deletes a job's log before each try, so the lines of failed tries are kept in a hidden file next
    to it (`.<log name>.attempts`): a retry's log starts with all earlier tries of the job, then its
    own header. An uncaught exception's traceback goes into the log too. The hidden file is removed
    when the process ends without an error; a killed or failed try leaves it for the next one."""
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_path:
        os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
        handlers += _attempt_log_handlers(log_path)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", handlers=handlers, force=True)
    return logging.getLogger(name)


ATTEMPT_HEADER = "=== attempt "


def attempts_file(log_path: str) -> str:
    """The hidden file that keeps a job's failed tries for its next try."""
    head, tail = os.path.split(log_path)
    return os.path.join(head, f".{tail}.attempts")


def _attempt_log_handlers(log_path: str) -> list:
    import atexit
    import platform
    import time

    history = attempts_file(log_path)
    previous = ""
    if os.path.exists(history):
        with open(history, errors="replace") as f:
            previous = f.read()
    attempt = 1 + sum(line.startswith(ATTEMPT_HEADER) for line in previous.splitlines())
    job = os.environ.get("SLURM_JOB_ID")
    header = (f"{ATTEMPT_HEADER}{attempt}, {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC, "
              f"host {platform.node()}{f', SLURM job {job}' if job else ''} ===\n")
    if previous and not previous.endswith("\n"):  # a try killed in the middle of a line
        header = "\n" + header
    with open(log_path, "w") as f:
        f.write(previous + header)
    with open(history, "a") as f:
        f.write(header)
    handlers = [logging.FileHandler(log_path, mode="a"), logging.FileHandler(history, mode="a")]

    failed = []
    previous_hook = sys.excepthook

    def excepthook(kind, value, tb):
        failed.append(kind)
        import traceback

        text = "".join(traceback.format_exception(kind, value, tb))
        for h in handlers:
            if h.stream is not None and not h.stream.closed:
                h.stream.write(f"uncaught exception (the job fails):\n{text}")
                h.flush()
        previous_hook(kind, value, tb)

    def clean_exit():
        if not failed:  # a try that ends without an error needs no history for a next one
            for h in handlers:
                h.close()
            try:
                os.remove(history)
            except OSError:
                pass

    sys.excepthook = excepthook
    atexit.register(clean_exit)
    return handlers


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


def job_context(smk, name: str = "molrg"):
    """The start of a script job: (params, logger, device) from Snakemake's `snakemake` object, with
    the log file opened, the job's thread count applied and the device chosen (params.device, or
    'auto' where the rule passes none)."""
    log = setup_logging(smk.log[0], name)
    set_threads(smk.threads)
    return smk.params, log, select_device(getattr(smk.params, "device", "auto"))


def derive_seed(*parts) -> int:
    """A deterministic 31-bit seed from the master seed and names/numbers (stable across runs,
    unlike Python's salted hash())."""
    import hashlib

    h = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(h[:4], "little") & 0x7FFFFFFF


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
