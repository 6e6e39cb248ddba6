"""molrg.cells: cell names round-trip, the N_k rounding rule on known values, the grids of the
default config and of constructed sections, stack grouping, and the U-Net settings split."""
from __future__ import annotations

import subprocess
import sys

import pytest

from molrg.cells import (NET_KEYS, Cell, class_size, molrg_baselines, molrg_cells, molrg_memorization_cells,
                         molrg_unet_settings, parse_cell, real_baselines, real_cells, real_memorization_cells,
                         split_unet, stack_groups, training_sizes)

MU = {"d_values": [2, 4], "K": 2, "seeds": [0, 1], "N_over_d_intr": [0.25, 1, 1.25, 2],
      "empirical_N_over_d_intr": [1]}


@pytest.mark.parametrize("cell, name", [
    (Cell(d=2, N=16, seed=0), "d2_N16_seed0"),
    (Cell(N=32, seed=1), "N32_seed1"),
    (Cell(d=7, N=1792), "d7_N1792"),
    (Cell(N=128), "N128"),
])
def test_names_round_trip(cell, name):
    assert cell.name == name
    assert parse_cell(name) == cell
    assert parse_cell(cell.name) == cell


def test_training_set_drops_the_seed():
    assert Cell(d=2, N=16, seed=3).training_set == "d2_N16"
    assert Cell(N=32, seed=0).training_set == "N32"


def test_wildcard_fields_give_path_patterns():
    cell = Cell(d="{mu_d}", N="{mu_N}", seed="{mu_seed}")
    assert cell.name == "d{mu_d}_N{mu_N}_seed{mu_seed}"
    assert cell.training_set == "d{mu_d}_N{mu_N}"


@pytest.mark.parametrize("bad", ["", "d2_N16_seed", "N", "d2_seed0", "x_N16", "d2_N16_seed0/model.pt", "N-1"])
def test_parse_refuses_other_strings(bad):
    with pytest.raises(ValueError, match="not a cell name"):
        parse_cell(bad)


@pytest.mark.parametrize("ratio, d, nk", [
    (2.5, 1, 3),   # half rounds up (round() would give 2)
    (0.5, 1, 1),   # 0.5 rounds up to 1
    (0.25, 1, 1),  # below one point: at least 1
    (0.5, 3, 2),   # 1.5 -> 2
    (1.25, 2, 3),  # 2.5 -> 3
    (1.2, 2, 2),   # 2.4 -> 2
    (256, 7, 1792),
])
def test_class_size_rounds_half_up_and_at_least_one(ratio, d, nk):
    assert class_size(ratio, d) == nk


def test_training_sizes_are_distinct_and_ascending():
    # d = 2: N_k of 0.25, 1, 1.25, 2 is 1, 2, 3, 4; d = 4: 1, 4, 5, 8
    assert training_sizes(2, [2, 1.25, 1, 0.25], 2) == [2, 4, 6, 8]
    assert training_sizes(4, [0.25, 1, 1.25, 2], 2) == [2, 8, 10, 16]
    assert training_sizes(1, [0.5, 0.25, 1], 3) == [3]  # every ratio gives N_k = 1


def test_molrg_grid_order_and_baselines():
    cells = molrg_cells(MU)
    assert len(cells) == 2 * 4 * 2
    assert [c.name for c in cells[:3]] == ["d2_N2_seed0", "d2_N2_seed1", "d2_N4_seed0"]
    assert cells[-1].name == "d4_N16_seed1"
    assert [c.name for c in molrg_baselines(MU)] == ["d2_N4", "d4_N8"]
    assert [c.name for c in molrg_memorization_cells(MU)] == ["d2_N2_seed0", "d2_N8_seed0", "d4_N2_seed0",
                                                              "d4_N16_seed0"]
    one = dict(MU, N_over_d_intr=[1])  # smallest = largest N: one cell per d
    assert [c.name for c in molrg_memorization_cells(one)] == ["d2_N4_seed0", "d4_N8_seed0"]


def test_real_grid_respects_max_train():
    gl = {"N": [32, 128, 20000], "repeats": 2, "empirical_N": [32, 20000]}
    assert [c.name for c in real_cells(gl, None)] == ["N32_seed0", "N32_seed1", "N128_seed0", "N128_seed1",
                                                      "N20000_seed0", "N20000_seed1"]
    assert [c.name for c in real_cells(gl, 14630)][-1] == "N128_seed1"
    assert [c.name for c in real_baselines(gl, 14630)] == ["N32"]
    assert [c.name for c in real_memorization_cells(real_cells(gl, 14630))] == ["N32_seed0", "N128_seed0"]
    single = real_cells({"N": [32], "repeats": 1}, None)
    assert [c.name for c in real_memorization_cells(single)] == ["N32_seed0"]


def test_stack_groups():
    assert stack_groups(list(range(5)), 2) == [[0, 1], [2, 3], [4]]
    assert stack_groups(list(range(3)), 1) == [[0], [1], [2]]
    assert stack_groups(list(range(3)), 8) == [[0, 1, 2]]
    with pytest.raises(ValueError, match="stack_cells"):
        stack_groups([1], 0)


def test_split_unet():
    settings = {"width": 8, "channel_mult": [1, 2], "num_blocks": 1, "attn_resolutions": [], "dropout": 0.1,
                "precond": "vp", "iterations": 3, "batch_size": 16}
    net, train = split_unet(settings)
    assert net == {"width": 8, "channel_mult": (1, 2), "num_blocks": 1, "attn_resolutions": (), "dropout": 0.1}
    assert train == {"precond": "vp", "iterations": 3, "batch_size": 16}
    assert list(net) == list(NET_KEYS)


def test_default_config_grid_and_settings():
    import yaml
    from pathlib import Path

    mu = yaml.safe_load((Path(__file__).resolve().parent.parent / "config.yaml").read_text())["molrg_unet"]
    settings = molrg_unet_settings(mu)
    assert "d_values" not in settings and "resources" not in settings and settings["width"] == mu["width"]
    net, train = split_unet(settings)
    assert set(net) | set(train) == set(settings)
    # every cell's data set size is a multiple of K, ascending within each d
    for d in mu["d_values"]:
        sizes = [c.N for c in molrg_cells(mu) if c.d == d]
        assert sizes == sorted(sizes) and all(N % mu["K"] == 0 for N in sizes)


def test_module_imports_no_torch():
    code = "import sys, molrg.cells; assert 'torch' not in sys.modules and 'numpy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
