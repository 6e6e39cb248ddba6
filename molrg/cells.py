"""The cells of the U-Net grids: Fig 4 left (U-Nets on MoLRG) and Fig 4 right (U-Nets on growing
subsets of real images). Their names, sizes, stacks and U-Net settings, shared by the rule files
and the scripts. Standard library only: the rule files import it at every Snakemake start.

A cell is one trained U-Net, named ``d{d}_N{N}_seed{s}`` on MoLRG (subspace dimension d, N
training points, repetition s) and ``N{N}_seed{s}`` on a real dataset. Without the seed
(``d{d}_N{N}``, ``N{N}``) the name is that of a training set, which the seeds of a cell share and
on which the empirical-optimal baseline is sampled.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# The DDPM++ U-Net's constructor arguments among a U-Net config section's keys; every other key
# of the section is a training setting (molrg.training.TrainConfig).
NET_KEYS = ("width", "channel_mult", "num_blocks", "attn_resolutions", "dropout")
# The training settings a MoLRG U-Net takes from config section `molrg_unet` (the section also
# holds the grid, the sampler and the GL settings).
MOLRG_TRAIN_KEYS = ("precond", "iterations", "batch_size", "lr", "lr_rampup_kimg", "ema_halflife_kimg",
                    "ema_rampup_ratio", "xflip", "checkpoint_every", "log_every")

_NAME = re.compile(r"(?:d(?P<d>\d+)_)?N(?P<N>\d+)(?:_seed(?P<seed>\d+))?")


@dataclass(frozen=True, kw_only=True)
class Cell:
    """One cell (or, without `seed`, one training set). The fields may also be wildcard patterns
    such as "{mu_d}": `name` then gives the matching path pattern."""

    N: int | str
    d: int | str | None = None
    seed: int | str | None = None

    @property
    def name(self) -> str:
        return "_".join(([f"d{self.d}"] if self.d is not None else []) + [f"N{self.N}"]
                        + ([f"seed{self.seed}"] if self.seed is not None else []))

    @property
    def training_set(self) -> str:
        """The name of the cell's training set: its name without the seed."""
        return Cell(N=self.N, d=self.d).name


def parse_cell(name: str) -> Cell:
    """The cell of a name made by `Cell.name` (numbers as int); ValueError on any other string."""
    m = _NAME.fullmatch(name)
    if m is None:
        raise ValueError(f"{name!r} is not a cell name (d<d>_N<N>_seed<s>, N<N>_seed<s>, d<d>_N<N> or N<N>)")
    return Cell(**{k: None if v is None else int(v) for k, v in m.groupdict().items()})


def class_size(ratio: float, d: int) -> int:
    """N_k of a MoLRG training set given as N / d_intr = `ratio` (N_k / d, classes balanced):
    ratio * d rounded half up (Python's round() would round 2.5 to 2), at least 1."""
    return max(1, int(ratio * d + 0.5))


def training_sizes(d: int, ratios, K: int) -> list[int]:
    """The distinct training-set sizes N = K N_k of subspace dimension d for the N / d_intr `ratios`,
    ascending."""
    return [K * nk for nk in sorted({class_size(r, d) for r in ratios})]


def molrg_cells(mu: dict) -> list[Cell]:
    """Every cell of the MoLRG grid (config section `molrg_unet`), in grid order: d, then N, then seed."""
    return [Cell(d=d, N=N, seed=s) for d in mu["d_values"]
            for N in training_sizes(d, mu["N_over_d_intr"], mu["K"]) for s in mu["seeds"]]


def molrg_baselines(mu: dict) -> list[Cell]:
    """The training sets on which the empirical-optimal denoiser is sampled: every d at the sizes of
    `empirical_N_over_d_intr`."""
    return [Cell(d=d, N=N) for d in mu["d_values"]
            for N in training_sizes(d, mu["empirical_N_over_d_intr"], mu["K"])]


def molrg_memorization_cells(mu: dict) -> list[Cell]:
    """For every d, the first seed's cells at the smallest and the largest N (one if they coincide)."""
    out = []
    for d in mu["d_values"]:
        sizes = training_sizes(d, mu["N_over_d_intr"], mu["K"])
        out += [Cell(d=d, N=N, seed=mu["seeds"][0]) for N in sorted({sizes[0], sizes[-1]})]
    return out


def real_cells(gl: dict, max_train: int | None) -> list[Cell]:
    """The cells of a real dataset's GL grid (config `realdata.gl`): every N with every repetition,
    leaving out the sizes beyond the dataset's `max_train` (None: no limit; AFHQ has ~14.6k images)."""
    return [Cell(N=N, seed=s) for N in gl["N"] if N <= (max_train or N)
            for s in range(gl["repeats"])]


def real_baselines(gl: dict, max_train: int | None) -> list[Cell]:
    """A real dataset's training sets on which the empirical-optimal denoiser is sampled."""
    return [Cell(N=N) for N in gl["empirical_N"] if N <= (max_train or N)]


def real_memorization_cells(cells: list[Cell]) -> list[Cell]:
    """The first cell of a real dataset's grid and the first repetition at its largest N."""
    return list(dict.fromkeys([cells[0], Cell(N=cells[-1].N, seed=0)]))


def stack_groups(items: list, stack_cells: int) -> list[list]:
    """Consecutive groups of at most `stack_cells` items (config accel.stack_cells)."""
    if stack_cells < 1:
        raise ValueError(f"accel.stack_cells must be >= 1, got {stack_cells}")
    return [items[i : i + stack_cells] for i in range(0, len(items), stack_cells)]


def molrg_unet_settings(mu: dict) -> dict:
    """What a MoLRG U-Net's training depends on: section `molrg_unet`'s network and training keys."""
    return {k: mu[k] for k in NET_KEYS + MOLRG_TRAIN_KEYS}


def split_unet(settings: dict) -> tuple[dict, dict]:
    """A U-Net's settings split into the network's constructor arguments (lists as tuples) and the
    training settings (every other key)."""
    net = {k: tuple(settings[k]) if isinstance(settings[k], list) else settings[k] for k in NET_KEYS}
    return net, {k: v for k, v in settings.items() if k not in NET_KEYS}
