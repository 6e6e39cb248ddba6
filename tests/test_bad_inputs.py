"""Bad inputs across the pipeline (a quality gate of docs/quality_gates.md).

Errors that must come at start (schema, cross-field checks in molrg/config_checks.py, configured
external files) are checked in this process against workflow/schemas/ and molrg.config_checks,
exactly as workflow/rules/common.smk applies them (workflow_info.validated_config); two of them
(`wiring=True`) also run the real `snakemake -n`, which must stop before any job is planned and
write no results/, proving that the workflow applies those checks at start.

The others run the real `snakemake` in a fresh working directory with the tiny config plus the
case's override, on the smallest targets that reach the error; cases that touch different config
keys and rules share one `--keep-going` run (`batch`). Each checks that

* the run fails (rc != 0),
* the error names the config key or the file, and the fix where the pipeline gives one,
* nothing is left behind that Snakemake would take as finished (the failing job's outputs absent)."""
from __future__ import annotations

import gzip
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import yaml
from PIL import Image

from conftest import TINY, run_snakemake
from workflow_info import validated_config


# ---------------------------------------------------------------------------------------------
# corrupt sources, written into the case's temporary folder
# ---------------------------------------------------------------------------------------------


def idx_bytes(a: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes: magic 00 00 08 <ndim>, big-endian sizes, the data."""
    head = bytes([0, 0, 8, a.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in a.shape)
    return head + a.astype(np.uint8).tobytes()


def idx_folder(root: Path, corrupt: Callable[[dict[str, bytes]], None]) -> Path:
    """An MNIST-style folder of 4 small valid IDX files (train 20, t10k 10 images), then `corrupt`."""
    rng = np.random.default_rng(0)
    files = {
        "train-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (20, 28, 28))),
        "train-labels-idx1-ubyte": idx_bytes(np.arange(20) % 10),
        "t10k-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (10, 28, 28))),
        "t10k-labels-idx1-ubyte": idx_bytes(np.arange(10)),
    }
    corrupt(files)
    root.mkdir(parents=True)
    for name, data in files.items():
        (root / (name + ".gz")).write_bytes(gzip.compress(data, mtime=0))
    return root


def bad_magic(files):
    files["train-images-idx3-ubyte"] = b"\x1f\x00\x08\x03" + files["train-images-idx3-ubyte"][4:]


def truncated(files):  # the header promises 10 images; half of the pixels are there
    files["t10k-images-idx3-ubyte"] = files["t10k-images-idx3-ubyte"][: 16 + 5 * 28 * 28]


def image_folder_with_broken_file(root: Path) -> Path:
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)).save(root / f"{i:03d}.png")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 4)
    return root


def cifar_folder_with_bad_pickle(root: Path) -> Path:
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (10, 3072), dtype=np.uint8), b"labels": list(range(10))}
        (root / name).write_bytes(pickle.dumps(batch, protocol=2))
    (root / "data_batch_3").write_bytes(b"\x80\x02}q\x00(X\x04\x00\x00\x00data" + b"\x00" * 64)  # cut-off pickle
    return root


# ---------------------------------------------------------------------------------------------
# the cases
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    id: str
    override: Callable[[Path], dict]  # case folder -> config merged over the tiny config
    expect: tuple[str, ...]  # each must occur in the output ("{src}" is the case's source folder)
    targets: tuple[str, ...] = ()  # () = the error must come at start (checked in process)
    prepare_workdir: Callable[[Path], None] | None = field(default=None)
    wiring: bool = False  # a start error also checked with a real `snakemake -n` of the whole DAG
    batch: str = ""  # targeted cases with the same batch share one snakemake run


def const(cfg: dict) -> Callable[[Path], dict]:
    return lambda src: cfg


def dataset_files(name: str) -> tuple[str, ...]:
    return tuple(f"results/data/{name}/{f}" for f in ("train.npz", "heldout.npz", "manifest.json"))


def results_is_a_file(wd: Path) -> None:
    """A results 'directory' nothing can be written into, whoever runs the test (root ignores
    permission bits, so a read-only folder would not do)."""
    (wd / "results").write_text("not a directory\n")


EXTERNAL = ("results/realdata/external_files.json",)
GL_MODEL = ("results/realdata/digits/gl_models/N32_seed0/model.pt",)

CASES = [
    # --- schema violations (workflow/schemas): stop at start, name the key -----------------
    Bad("schema: unknown key", const({"molrg_unet": {"iteration": 7}}),
        ("Additional properties are not allowed", "'iteration' was unexpected", "['molrg_unet']"), wiring=True),
    Bad("schema: wrong type", const({"realdata": {"unet": {"iterations": "many"}}}),
        ("'many' is not of type 'integer'", "['realdata']['unet']['iterations']")),
    Bad("schema: negative value", const({"theory": {"noise_std": -0.5}}),
        ("-0.5 is less than the minimum of 0", "['theory']['noise_std']")),
    Bad("schema: N_k < 1", const({"theory": {"closed_form": {"grid": {"K1": {"N_k_min": 0}}}}}),
        ("0 is less than the minimum of 1", "['theory']['closed_form']['grid']['K1']['N_k_min']")),
    Bad("schema: unknown device", const({"device": "gpu"}), ("'gpu' is not one of", "['device']")),
    Bad("schema: unknown dataset", const({"realdata": {"table1_datasets": ["imagenet"]}}),
        ("'imagenet' is not one of", "['realdata']['table1_datasets']")),
    # --- cross-field checks (molrg/config_checks.py): stop at start, name the key and the fix -
    Bad("check: K*d > n (theory)", const({"theory": {"closed_form": {"grid": {"K3": {"d_max": 5}}}}}),
        ("theory.closed_form.grid.K3.d_max = 5", "exceeds theory.n = 12", "lower d_max to at most 4"), wiring=True),
    Bad("check: K*d > n (molrg_unet)", const({"molrg_unet": {"d_values": [1, 25]}}),
        ("molrg_unet: K * max(d_values) = 2 * 25", "lower d_values or K")),
    Bad("check: N_k_min > N_k_max", const({"theory": {"dae": {"grid": {"K1": {"N_k_min": 5}}}}}),
        ("theory.dae.grid.K1.N_k_min = 5 exceeds theory.dae.grid.K1.N_k_max = 4", "make N_k_min <= N_k_max")),
    Bad("check: Jacobian step outside the trajectory", const({"jacobian": {"steps": [0, 9]}}),
        ("jacobian.steps [9]", "jacobian.num_steps = 6", "use steps: null")),
    Bad("check: GL dataset without a d_intr fallback", const({"realdata": {"gl_datasets": ["digits", "celeba"]}}),
        ("realdata.gl.d_intr has no value for 'celeba'", "the Jacobian rank curve has no significant minimum",
         "realdata.gl.d_intr.celeba: <number> or 'mle'")),
    Bad("schema: d_intr fallback neither number nor mle", const({"realdata": {"gl": {"d_intr": {"digits": "pca"}}}}),
        ("'pca' is not valid under any of the given schemas", "['realdata']['gl']['d_intr']['digits']")),
    Bad("check: fig_noises > num_samples", const({"realdata": {"table1": {"fig_noises": 20}}}),
        ("realdata.table1.fig_noises = 20 exceeds realdata.table1.num_samples = 16",)),
    Bad("check: SSCD descriptor without weights", const({"realdata": {"descriptor": {"kind": "sscd"}}}),
        ("realdata.descriptor.sscd_path", "or use kind: classifier or pixel")),
    Bad("missing external editing checkpoint", lambda src: {"editing": {"checkpoint": str(src / "edit" / "model.pt")}},
        ("editing.checkpoint", "{src}/edit/model.pt", "not found", "give an existing path or null")),
    Bad("missing editing image file", lambda src: {"editing": {"image_file": str(src / "face.png")}},
        ("editing.image_file", "{src}/face.png", "not found")),
    # --- weights checked by rule realdata_external before any U-Net trains -------------------
    Bad("missing SSCD weights",
        lambda src: {"realdata": {"descriptor": {"kind": "sscd", "sscd_path": str(src / "sscd_disc_large.torchscript.pt")}}},
        ("realdata.descriptor.sscd_path", "{src}/sscd_disc_large.torchscript.pt", "is not a file",
         "set realdata.descriptor.kind to 'classifier' or 'pixel'"), EXTERNAL, batch="sources"),
    Bad("missing Inception weights",
        lambda src: {"realdata": {"fid": {"inception_path": str(src / "inception-2015-12-05.pt")}}},
        ("realdata.fid.inception_path", "{src}/inception-2015-12-05.pt", "is not a file",
         "set realdata.fid.inception_path: null"), EXTERNAL, batch="sources2"),
    # --- dataset sources (molrg/datasets.py): the preparation job fails, leaves nothing -------
    Bad("missing dataset path", lambda src: {"datasets": {"fashion_mnist": {"path": str(src / "no_such_dir")}}},
        ("datasets.fashion_mnist.path", "{src}/no_such_dir", "does not exist", "To obtain it"),
        dataset_files("fashion_mnist"), batch="sources2"),
    Bad("IDX with a bad magic number",
        lambda src: {"datasets": {"fashion_mnist": {"path": str(idx_folder(src / "fm", bad_magic)), "heldout": 5}}},
        ("{src}/fm/train-images-idx3-ubyte.gz", "not an IDX file (bad magic", "re-download"),
        dataset_files("fashion_mnist"), batch="sources"),
    Bad("truncated IDX",
        lambda src: {"datasets": {"mnist": {"path": str(idx_folder(src / "mn", truncated)), "heldout": 5}}},
        ("{src}/mn/t10k-images-idx3-ubyte.gz", "truncated or corrupt", "re-download"), dataset_files("mnist"),
        batch="sources"),
    Bad("unreadable image in an image folder",
        lambda src: {"datasets": {"celeba": {"path": str(image_folder_with_broken_file(src / "img")),
                                             "heldout": 2, "resolution": 8, "max_train": None}}},
        ("{src}/img/broken.png", "unreadable image", "remove or replace the file"), dataset_files("celeba"),
        batch="sources"),
    Bad("bad CIFAR pickle",
        lambda src: {"datasets": {"cifar10": {"path": str(cifar_folder_with_bad_pickle(src / "cifar")), "heldout": 5}}},
        ("{src}/cifar/data_batch_3", "not a readable CIFAR-10 pickle batch"), dataset_files("cifar10"),
        batch="sources"),
    # --- runs that go wrong ------------------------------------------------------------------
    Bad("diverging training (absurd learning rate)", const({"realdata": {"gl_unet": {"lr": 1.0e30}}}),
        ("training diverged in cell digits/N32_seed0", "loss = nan", "Lower the learning rate"), GL_MODEL),
    Bad("unwritable results directory", const({}),
        ("results is not a directory", "move that file away, or run with --directory elsewhere"),
        dataset_files("digits"), prepare_workdir=results_is_a_file),
]


START = [c for c in CASES if not c.targets]
RUNS = [c for c in CASES if c.targets]


@pytest.mark.parametrize("case", START, ids=[c.id for c in START])
def test_start_error_names_key_and_fix(case: Bad, tmp_path):
    """In process: the schema and the cross-field checks, as common.smk applies them."""
    src = tmp_path / "src"
    src.mkdir()
    with pytest.raises(Exception) as err:
        validated_config(TINY, case.override(src))
    out = str(err.value)
    missing = [e.format(src=src) for e in case.expect if e.format(src=src) not in out]
    assert not missing, f"the error does not say {missing}:\n{out[-5000:]}"


@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c in START if c.wiring], ids=[c.id for c in START if c.wiring])
def test_start_error_stops_real_dry_run(case: Bad, tmp_path):
    """The real `snakemake -n`: the workflow applies the checks before building the DAG."""
    src, wd = tmp_path / "src", tmp_path / "wd"
    src.mkdir()
    wd.mkdir()
    override = tmp_path / "override.yaml"
    override.write_text(yaml.safe_dump(case.override(src)))
    proc = run_snakemake(wd, "-n", configfiles=(TINY, override), timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"snakemake succeeded on a bad input:\n{out[-3000:]}"
    missing = [e.format(src=src) for e in case.expect if e.format(src=src) not in out]
    assert not missing, f"the error does not say {missing}:\n{out[-5000:]}"
    assert not (wd / "results").exists(), sorted(str(p) for p in (wd / "results").rglob("*"))
    assert "Building DAG of jobs" not in out, "the error came only after the DAG was built"


def merged(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


_BATCH_RUNS: dict[str, tuple] = {}


def batch_run(case: Bad, tmp_path_factory) -> tuple:
    """(snakemake result, source folder, working directory) of the run that holds `case`: one
    `--keep-going` run per batch, shared by its cases (a case without a batch runs alone)."""
    key = case.batch or case.id
    if key not in _BATCH_RUNS:
        members = [c for c in RUNS if (c.batch or c.id) == key]
        root = tmp_path_factory.mktemp("bad_input")
        src, wd = root / "src", root / "wd"
        src.mkdir()
        wd.mkdir()
        override = {}
        for c in members:
            override = merged(override, c.override(src))
            if c.prepare_workdir:
                c.prepare_workdir(wd)
        (root / "override.yaml").write_text(yaml.safe_dump(override))
        targets = [t for c in members for t in c.targets]
        proc = run_snakemake(wd, "--keep-going", *dict.fromkeys(targets), configfiles=(TINY, root / "override.yaml"),
                             timeout=900)
        _BATCH_RUNS[key] = (proc, src, wd)
    return _BATCH_RUNS[key]


@pytest.mark.slow
@pytest.mark.parametrize("case", RUNS, ids=[c.id for c in RUNS])
def test_bad_input_fails_clearly_and_leaves_nothing(case: Bad, tmp_path_factory):
    proc, src, wd = batch_run(case, tmp_path_factory)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, f"snakemake succeeded on a bad input:\n{out[-3000:]}"
    missing = [e.format(src=src) for e in case.expect if e.format(src=src) not in out]
    assert not missing, f"the error does not say {missing}:\n{out[-5000:]}"
    left = [t for t in case.targets if (wd / t).exists() and (wd / t).is_file()]
    assert not left, f"outputs left behind after the failure: {left}"
