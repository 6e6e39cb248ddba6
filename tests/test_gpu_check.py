"""tools/gpu_check.py works end to end except for CUDA: `--cpu-smoke` runs every part (tiny config
cells, kill/resume and identical runs in child processes, speeds, projected hours) at tiny sizes on
the CPU and prints one summary table; the projection arithmetic is checked on constructed rates."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from molrg.cells import molrg_cells

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "tools" / "gpu_check.py"


def _module():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cpu_smoke_runs_every_part(tmp_path):
    from conftest import heavy_slot

    with heavy_slot():
        proc = subprocess.run([sys.executable, str(SCRIPT), "--cpu-smoke", "--cores", "2", "--workdir", str(tmp_path)],
                              capture_output=True, text=True, timeout=1200)
    out = proc.stdout
    assert "GPU CHECK SUMMARY" in out, proc.stderr[-3000:]
    table = out[out.index("GPU CHECK SUMMARY"):]
    assert proc.returncode == 0, f"a part failed:\n{table}\n{proc.stderr[-3000:]}"
    for needle in ("tiny config", "two identical runs (default)", "killed after 1st checkpoint + resumed",
                   "(deterministic)", "train MoLRG U-Net", "realdata.unet (EDM)", "realdata.gl_unet (VP)",
                   "stacked MoLRG cells", "accel.autocast_bf16", "accel.compile", "Heun sampler", "one Jacobian",
                   "Fig 4 left", "Fig 4 right", "Fig 7 / Table 2", "Fig 5 editing", "reference U-Nets"):
        assert needle in table, f"{needle!r} missing from the summary table:\n{table}"
    # on a CPU, resume and identical runs are bitwise reproducible (the README's determinism claim)
    for line in table.splitlines():
        if line.startswith("repro"):
            assert line.count("bitwise equal") == 2, line
    # the tiny part really trained models in its scratch folder
    assert list((tmp_path / "tiny").glob("results/molrg_unet/models/*/model.pt"))


def test_projected_hours_arithmetic(capsys):
    gc = _module()
    gc.ROWS.clear()
    pc = gc.paper_config()
    s = {"batches": (512, 128)}
    rates = {"jacobian": (2.0, 100), "molrg_512": (10.0, 5120.0), "sample_molrg": 1000.0, "stack_8": 40.0}
    gc.part_hours(pc, s, rates)
    rows = {r[1]: r[2] for r in gc.ROWS}
    jac = pc["jacobian"]
    n_j = len(jac["datasets"]) * jac["num_noises"] * jac["num_steps"]
    assert rows[f"Fig 7 / Table 2: {n_j} Jacobians"] == f"{n_j * 2.0 / 3600:.1f} GPU h"
    mu = pc["molrg_unet"]
    cells = len(molrg_cells(mu))
    key = f"Fig 4 left: {cells} cells x {mu['iterations']} steps + {mu['num_generated']} samples"
    expected = cells * mu["iterations"] / 10.0 + cells * mu["num_generated"] / 1000.0
    assert rows[key] == f"{expected / 3600:.1f} GPU h"
    stacked = cells * mu["iterations"] / 40.0 + cells * mu["num_generated"] / 1000.0
    assert rows["Fig 4 left, stacked (8 cells per process)"] == f"{stacked / 3600:.1f} GPU h"
    # families whose rates are missing are left out, not guessed
    assert not any(k.startswith("Fig 4 right") for k in rows)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_without_cuda_the_full_check_refuses_and_names_the_smoke_flag():
    proc = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "--cpu-smoke" in proc.stderr
