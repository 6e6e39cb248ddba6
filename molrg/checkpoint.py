"""What a training run writes and everything that reads it back.

Model files (the result of `molrg.training.train_denoiser` and `molrg.stacked.train_stack`): a dict
with `format` (MODEL_FORMAT), `precond`, `precond_kwargs`, `net_kwargs`, the EMA `state_dict`,
`train_config` and `steps`, written atomically (`write_model_file`) only when training is done;
`load_denoiser` rebuilds the denoiser D(x, sigma) from it (`build_denoiser`).
`load_checkpoint_denoiser` takes any denoiser checkpoint the pipeline reads: a model file or an
external TorchScript module (an EDM denoiser, or a DDPM's epsilon wrapped by `VPEpsilonDenoiser`).

Resumable checkpoints (`CheckpointFile`): the training loops save their whole state every k steps
and before the job's time limit, and resume from it exactly: weights, EMA (`ema_update`),
optimiser, the global RNG streams (`rng_state` / `set_rng_state`) and the data order
(`EpochSampler`). A checkpoint is resumed only by the run that wrote it (`run_fingerprint`).
Every file is written through `atomic_save`: a reader never sees a partial file.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import time
import zipfile
from pathlib import Path

import torch
from torch import nn

from .networks import DDPMpp
from .precond import make_precond
from .runtime import load_torch_file
from .walltime import TimeLimitReached

Tensor = torch.Tensor
MODEL_FORMAT = "molrg-denoiser-v1"


# --------------------------------------------------------------------------------------------
# Writing files
# --------------------------------------------------------------------------------------------
def atomic_save(obj, path) -> None:
    """torch.save to a temporary name in the same folder, then rename: readers never see a partial
    file. On failure (a full disk, a kill) the temporary file is removed and an earlier file at
    `path` stays unchanged; OSError and RuntimeError (torch.save's report of ENOSPC) become an
    OSError naming the file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, (OSError, RuntimeError)):
            raise OSError(f"could not write {path}: {e}. Is the disk full? Free space on {path.parent} and "
                          f"rerun; the previous {path.name}, if any, is unchanged.") from e
        raise


# --------------------------------------------------------------------------------------------
# Model files
# --------------------------------------------------------------------------------------------
def build_denoiser(precond: str, net_kwargs: dict, pre_kwargs: dict | None = None) -> nn.Module:
    """D(x, sigma): a DDPM++ U-Net wrapped in EDM or VP preconditioning."""
    return make_precond(precond, DDPMpp(**net_kwargs), **(pre_kwargs or {}))


def write_model_file(record: dict, path) -> None:
    """Atomically write a model file: `record` holds precond, precond_kwargs, net_kwargs,
    state_dict, train_config and steps; the format tag is added."""
    atomic_save({"format": MODEL_FORMAT, **{k: v for k, v in record.items() if k != "format"}}, path)


def read_model_file(path, device="cpu") -> dict:
    """The dict of a model file, its tensors on `device`; a corrupt file or one of another format
    raises ValueError naming the file."""
    ck = load_torch_file(
        lambda p: torch.load(p, map_location=torch.device(device), weights_only=True), path,
        "a model file written by molrg.training",
        "Delete it and rerun the training rule that makes it, or point the config at the right file.",
    )
    if not isinstance(ck, dict) or ck.get("format") != MODEL_FORMAT:
        found = ck.get("format") if isinstance(ck, dict) else type(ck).__name__
        raise ValueError(f"{path} is not a model file written by molrg.training (format {found!r})")
    return ck


def load_denoiser(path, device="cpu") -> nn.Module:
    """The EMA denoiser D(x, sigma) of a model file, in eval mode, weights frozen."""
    ck = read_model_file(path, device)
    model = build_denoiser(ck["precond"], ck["net_kwargs"], ck["precond_kwargs"])
    model.load_state_dict(ck["state_dict"])
    return model.to(device).eval().requires_grad_(False)


def is_torchscript(path) -> bool:
    """TorchScript archives carry their code under `<name>/code/`; torch.save files do not."""
    try:
        with zipfile.ZipFile(path) as z:
            return any("/code/" in name for name in z.namelist())
    except zipfile.BadZipFile:
        return False


def ddpm_linear_sigmas(num_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> Tensor:
    """sigma_i = sqrt(1/abar_i - 1) of a discrete DDPM with linear betas (float64, increasing)."""
    betas = torch.linspace(beta_start, beta_end, num_timesteps, dtype=torch.float64)
    abar = torch.cumprod(1 - betas, dim=0)
    return torch.sqrt(1 / abar - 1)


class VPEpsilonDenoiser(torch.nn.Module):
    """An epsilon-predicting DDPM `eps_model(x_vp, t_index)` (e.g. a TorchScript export of the
    MetFaces P2 DDPM) seen as an EDM denoiser: x_vp = x / sqrt(1 + sigma^2), the timestep is the
    discrete t whose sigma_t is nearest in log scale, and D(x; sigma) = x - sigma * eps."""

    def __init__(self, eps_model, num_timesteps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02):
        super().__init__()
        self.eps_model = eps_model
        self.register_buffer("log_sigmas", ddpm_linear_sigmas(num_timesteps, beta_start, beta_end).log())

    def forward(self, x: Tensor, sigma) -> Tensor:
        sig = torch.as_tensor(sigma, dtype=torch.float64, device=x.device).reshape(-1)
        t = (self.log_sigmas.unsqueeze(0) - sig.log().unsqueeze(1)).abs().argmin(dim=1)
        t = t.expand(x.shape[0]) if t.numel() == 1 else t
        s = sig.to(x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
        eps = self.eps_model(x / torch.sqrt(1 + s * s), t)
        return x - s * eps


def load_checkpoint_denoiser(path, device, kind: str = "denoiser"):
    """A denoiser from a model file (`load_denoiser`) or an external TorchScript module.
    kind = "denoiser": the module already is D(x, sigma) in EDM space; kind = "vp_epsilon": it is
    eps(x_vp, t_index) of a 1000-step linear-beta DDPM and is wrapped by `VPEpsilonDenoiser`.
    The module is returned in eval mode without parameter grads."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"denoiser checkpoint not found: {path}")
    if kind not in ("denoiser", "vp_epsilon"):
        raise ValueError(f"checkpoint kind must be 'denoiser' or 'vp_epsilon', got {kind!r}")
    if is_torchscript(path):
        net = load_torch_file(
            lambda p: torch.jit.load(str(p), map_location=device), path, "a TorchScript denoiser",
            "Check editing.checkpoint (and editing.checkpoint_kind).",
        )
    else:
        net = load_denoiser(path, device)
    if kind == "vp_epsilon":
        net = VPEpsilonDenoiser(net).to(device)
    return net.eval().requires_grad_(False)


def checkpoint_train_config(path, kind: str = "denoiser") -> dict | None:
    """The training settings behind a denoiser checkpoint, for the range of noise levels it was
    trained on (molrg.jacobian.trained_sigma_range): a model file's `train_config`;
    {"precond": "vp"} for an external epsilon DDPM (trained on t ~ U(0, 1) by construction);
    None where it cannot be known (an external TorchScript EDM denoiser)."""
    if kind == "vp_epsilon":
        return {"precond": "vp"}
    if is_torchscript(path):
        return None
    return read_model_file(path).get("train_config")


# --------------------------------------------------------------------------------------------
# Training state that a resume restores
# --------------------------------------------------------------------------------------------
def run_fingerprint(cfg, net_kwargs: dict, data: Tensor) -> str:
    """Identifies a run (a dataclass of settings, the network arguments and the data): a checkpoint
    is resumed only by the run that wrote it. Settings that do not change the result
    (checkpoint_every, log_every) are part of it too, so a resume must use the same ones."""
    h = hashlib.sha256()
    h.update(json.dumps([dataclasses.asdict(cfg), net_kwargs], sort_keys=True, default=list).encode())
    h.update(str(tuple(data.shape)).encode())
    h.update(data.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def rng_state() -> dict:
    """The global torch RNG state (CPU, and every CUDA device where there is one)."""
    st = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st: dict) -> None:
    """Restore a state taken by `rng_state`."""
    torch.set_rng_state(st["cpu"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


class EpochSampler:
    """Mini-batches from reshuffled epochs (an epoch boundary may fall inside a batch); its state is
    (generator state, current permutation, position), so the data order survives a resume."""

    def __init__(self, n: int, seed: int):
        self.n = n
        self.gen = torch.Generator().manual_seed(seed)
        self.perm = torch.randperm(n, generator=self.gen)
        self.pos = 0

    def next(self, batch: int) -> Tensor:
        out = []
        while batch > 0:
            if self.pos == self.n:
                self.perm, self.pos = torch.randperm(self.n, generator=self.gen), 0
            take = min(batch, self.n - self.pos)
            out.append(self.perm[self.pos : self.pos + take])
            self.pos, batch = self.pos + take, batch - take
        return torch.cat(out)

    def state_dict(self) -> dict:
        return {"gen": self.gen.get_state(), "perm": self.perm.clone(), "pos": self.pos}

    def load_state_dict(self, sd: dict) -> None:
        self.gen.set_state(sd["gen"])
        self.perm, self.pos = sd["perm"].clone(), int(sd["pos"])


@torch.no_grad()
def ema_update(ema_params, params, beta: float) -> None:
    """In place, pairwise: ema <- beta ema + (1 - beta) p, computed as p.lerp(ema, beta)."""
    for p_ema, p in zip(ema_params, params):
        p_ema.copy_(p.detach().lerp(p_ema, beta))


class CheckpointFile:
    """The resumable checkpoint of one training run at `path`, tagged with the run's fingerprint.

    `load` returns the saved state if this run wrote it; `save` writes a state atomically and
    remembers its step and the slowest save; `stop_within_budget` is the time-limit stop;
    `remove` deletes the file once the run is done. `label` names the run in log lines and errors."""

    def __init__(self, path, fingerprint: str, label: str, log):
        self.path, self.fingerprint, self.label, self.log = Path(path), fingerprint, label, log
        self.saved_step, self.save_s = 0, 0.0

    def load(self, device, iterations: int) -> dict | None:
        """The saved state (tensors on `device`) if the file exists and this run wrote it, else None
        (a file of another run is logged and later overwritten). `iterations`: the run's length, for
        the log line."""
        if not self.path.exists():
            return None
        ck = torch.load(self.path, map_location=device, weights_only=True)
        if ck.get("fingerprint") != self.fingerprint:
            self.log.info("%s: ignoring %s (written by a run with other settings or data)", self.label, self.path)
            return None
        self.saved_step = int(ck["step"])
        self.log.info("%s: resumed from %s at step %d/%d", self.label, self.path, self.saved_step, iterations)
        return ck

    def save(self, state: dict) -> None:
        """Write `state` (with its `step`) atomically."""
        t = time.monotonic()
        atomic_save({"fingerprint": self.fingerprint, **state}, self.path)
        self.saved_step, self.save_s = int(state["step"]), max(self.save_s, time.monotonic() - t)

    def stop_within_budget(self, budget, reserve_s: float, step: int, iterations: int, state, outputs: str) -> None:
        """When `budget` (molrg.walltime.JobBudget) has less than `reserve_s` left: save `state()`
        unless step is saved already, and raise TimeLimitReached, so that Snakemake's retry resumes
        from the checkpoint; otherwise return. `outputs` says what was not written."""
        reason = budget.exhausted(reserve_s)
        if not reason:
            return
        if step > self.saved_step:
            self.save(state())
        msg = (f"{self.label}: stopped at step {step}/{iterations} to stay within the job's time limit ({reason}); "
               f"{self.path} holds step {self.saved_step}; {outputs}. A rerun (Snakemake's retry) resumes from "
               "the checkpoint.")
        self.log.warning("%s", msg)
        raise TimeLimitReached(msg)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
