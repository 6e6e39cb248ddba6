"""A disk that fills up mid-write: the job fails with an error naming the file, and no partial file is
left that a resume, Snakemake or a later rule could take as complete (checkpoints included).

The disk is a real tmpfs of a few hundred KiB (`mount -t tmpfs -o size=...`): needs root and a
kernel that allows the mount (not in an unprivileged container); skipped with the reason otherwise.
"""
from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest
import torch

from molrg.checkpoint import atomic_save
from molrg.training import TrainConfig, train_denoiser

NET = dict(width=8, channel_mult=(1, 1), num_blocks=1, attn_resolutions=(), dropout=0.0)
# with NET on 3x4x4 data: model.pt ~ 120 KB, checkpoint.pt ~ 510 KB (params, EMA, Adam moments)
SIZE = "256k"


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tmp_path / f"disk_{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or proc.returncode}): no disk-full test")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_atomic_save_on_a_full_disk_names_the_file_and_keeps_the_old_one(small_disk):
    target = small_disk / "cell" / "checkpoint.pt"
    atomic_save({"step": 1}, target)  # a small, complete previous checkpoint
    before = target.read_bytes()
    with pytest.raises(OSError, match="could not write .*checkpoint.pt") as err:
        atomic_save({"w": torch.zeros(200_000)}, target)  # 800 KB into 256 KiB
    assert str(target) in str(err.value)
    assert _files(small_disk) == ["cell/checkpoint.pt"], "a partial temporary file was left behind"
    assert target.read_bytes() == before
    assert torch.load(target, weights_only=True) == {"step": 1}


def test_training_stops_on_a_full_disk_without_partial_checkpoint(small_disk):
    out = small_disk / "d2_N8_seed0" / "model.pt"
    data = torch.randn(8, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    cfg = TrainConfig(iterations=4, batch_size=4, checkpoint_every=2)
    with pytest.raises(OSError, match="could not write") as err:
        train_denoiser(data, cfg, NET, out)
    assert str(out.with_name("checkpoint.pt")) in str(err.value)
    assert _files(small_disk) == [], f"partial files left: {_files(small_disk)}"


def test_snakemake_rule_on_a_full_disk_fails_cleanly(small_disk, tmp_path):
    """Rule molrg_unet_train of the tiny config (one cell: its data set and its training), its model
    folder on the full tmpfs: the job fails, the error names the file, and neither model.pt,
    checkpoint.pt nor a temporary file remains."""
    from conftest import run_snakemake

    work = tmp_path / "wd"
    (work / "results" / "molrg_unet").mkdir(parents=True)
    os.symlink(small_disk, work / "results" / "molrg_unet" / "models")
    proc = run_snakemake(work, "results/molrg_unet/models/d1_N2_seed0/model.pt", cores=1, timeout=900)
    text = proc.stdout + proc.stderr
    if "Error validating config file" in text:
        pytest.fail(f"the tiny config does not validate (not this test's subject):\n{text[-2000:]}")
    logs = "".join(p.read_text(errors="replace") for p in (work / "results" / "logs").rglob("*.log"))
    assert proc.returncode != 0, "training into a full disk succeeded?"
    assert "could not write" in text + logs and "checkpoint.pt" in text + logs, text[-3000:]
    assert [f for f in _files(small_disk) if f.endswith((".pt", ".tmp"))] == [], _files(small_disk)
