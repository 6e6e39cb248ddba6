"""molrg.timing on real Snakemake benchmark files (tests/data/snakemake_benchmarks/, written by
Snakemake 9.27 running the toy workflow Snakefile.txt beside them: a job that burns ~1.5 s of CPU,
one benchmarked twice with repeat(), one shorter than the first psutil sample), and on constructed
cases (NA values, a file that is not a benchmark table)."""
from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from molrg.timing import BUDGET_CPU_MIN, FAMILIES, SMALL_JOBS, family_of, job_times, read_benchmark, summed_times

DATA = Path(__file__).resolve().parent / "data" / "snakemake_benchmarks"


def test_read_real_benchmark_file():
    rec = read_benchmark(DATA / "burn" / "cpu.tsv")
    # the file: s=17.91, max_rss=16.35, cpu_time=1.55 (the job busy-waited 1.5 s of CPU)
    assert rec == {"wall_s": 17.91, "cpu_s": 1.55, "max_rss_mb": 16.35, "repeats": 1}
    assert rec["cpu_s"] >= 1.5 and rec["wall_s"] >= rec["cpu_s"]


def test_repeats_are_averaged():
    rec = read_benchmark(DATA / "twice" / "sleep.tsv")
    assert rec["repeats"] == 2
    assert rec["wall_s"] == pytest.approx((1.22 + 1.26) / 2)
    assert rec["max_rss_mb"] == pytest.approx((4.90 + 4.62) / 2)


def test_na_values_become_nan_and_do_not_poison_the_mean(tmp_path):
    head = (DATA / "burn" / "cpu.tsv").read_text().splitlines()[0]
    f = tmp_path / "na.tsv"
    f.write_text(head + "\n" + "0.01\t0:00:00\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\n"
                 + "2.00\t0:00:02\t10\t20\t5\t6\t0\t0\t50\t1.00\n")
    rec = read_benchmark(f)
    assert rec["wall_s"] == pytest.approx(1.005) and rec["cpu_s"] == 1.0 and rec["max_rss_mb"] == 10.0
    g = tmp_path / "all_na.tsv"
    g.write_text(head + "\n" + "0.01\t0:00:00\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\n")
    assert math.isnan(read_benchmark(g)["cpu_s"])


@pytest.mark.parametrize("text", ["", "a\tb\n1\t2\n", "s\th:m:s\tmax_rss\tcpu_time\n"])
def test_not_a_benchmark_file_is_named(tmp_path, text):
    f = tmp_path / "bad.tsv"
    f.write_text(text)
    with pytest.raises(ValueError, match=str(f)):
        read_benchmark(f)


def test_job_times_reads_every_file_with_rule_and_job(tmp_path):
    root = tmp_path / "benchmarks"
    shutil.copytree(DATA, root)
    (root / "burn" / "d1_N16").mkdir()  # nested job stem (wildcards with a slash)
    shutil.copy(DATA / "burn" / "cpu.tsv", root / "burn" / "d1_N16" / "seed0.tsv")
    (root / "stray.tsv").write_text("not in a rule folder")
    jobs = job_times(root, local_rules=["instant"], exclude_rules=["twice"])
    assert list(jobs[["rule", "job"]].itertuples(index=False, name=None)) == [
        ("burn", "cpu"), ("burn", "d1_N16/seed0"), ("instant", "touch")]
    assert jobs["cpu_s"].tolist() == [1.55, 1.55, 0.0]
    assert (jobs["family"] == SMALL_JOBS).all()  # unknown prefixes and local rules: the small-jobs family


def test_summed_times_per_rule_family_and_total(tmp_path):
    root = tmp_path / "benchmarks"
    for rule, job in [("molrg_unet_train", "d1_N16_seed0"), ("molrg_unet_train", "d1_N32_seed0"),
                      ("realdata_gl_train", "digits/N32_seed0"), ("plot_phase", "K1")]:
        (root / rule / job).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA / "burn" / "cpu.tsv", root / rule / f"{job}.tsv")
    s = summed_times(job_times(root, local_rules=["plot_phase"])).set_index(["level", "name"])
    assert s.loc[("rule", "molrg_unet_train"), "jobs"] == 2
    assert s.loc[("rule", "molrg_unet_train"), "cpu_s"] == pytest.approx(3.10)
    assert s.loc[("family", "Fig 4 left (MoLRG U-Nets)"), "wall_s"] == pytest.approx(2 * 17.91)
    assert s.loc[("family", "Fig 4 left (MoLRG U-Nets)"), "family_budget_cpu_min"] == 14
    assert s.loc[("rule", "molrg_unet_train"), "family_budget_cpu_min"] == 14
    assert s.loc[("family", "Fig 4 right (real-data GL grid)"), "jobs"] == 1
    assert s.loc[("family", SMALL_JOBS), "jobs"] == 1
    assert s.loc[("total", "all jobs"), "jobs"] == 4
    assert s.loc[("total", "all jobs"), "cpu_s"] == pytest.approx(4 * 1.55)
    assert s.loc[("total", "all jobs"), "family_budget_cpu_min"] == sum(BUDGET_CPU_MIN.values())
    assert not s.isna().any().any(), "the summary must hold no NaN (the end-to-end test rejects them)"
    # families partition the jobs: their sums add up to the total
    fam = s.xs("family", level="level")
    assert fam["jobs"].sum() == 4 and fam["cpu_s"].sum() == pytest.approx(s.loc[("total", "all jobs"), "cpu_s"])


@pytest.mark.parametrize("rule, local, family", [
    ("theory_dae", False, "theory (Figs 2, 3, 6)"),
    ("molrg_unet_sample", False, "Fig 4 left (MoLRG U-Nets)"),
    ("realdata_gl_eval", False, "Fig 4 right (real-data GL grid)"),
    ("realdata_unet", False, "Table 1, Fig 1, FID, classifier"),
    ("jacobian_rank", False, "Fig 7, Table 2, Fig 5"),
    ("editing", False, "Fig 7, Table 2, Fig 5"),
    ("realdata_gl_table", True, SMALL_JOBS),  # a local table rule, whatever its prefix
    ("data_idx", False, SMALL_JOBS),
])
def test_family_of(rule, local, family):
    assert family_of(rule, local) == family
    assert family in BUDGET_CPU_MIN and len(BUDGET_CPU_MIN) == len(FAMILIES) + 1
