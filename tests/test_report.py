"""`snakemake --report` on the completed tiny run: the report builds, and every output
the workflow registers with report() is in it, with its caption and its embedded data. The
registered outputs are asked from the parsed workflow (not listed here), so the test follows the
rule files as their owners register more figures and tables.

The report is written outside the fixture's directory; Snakemake only adds a run log under its
.snakemake/log."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from snakemake.io import regex_from_filepattern

from conftest import TINY, run_snakemake
from workflow_info import workflow_rules

pytestmark = pytest.mark.slow

def report_outputs(workdir: Path) -> list[dict]:
    """rule, output pattern and whether a caption is given, for every report() output (tiny config)."""
    return [{"rule": r["name"], **o} for r in workflow_rules(workdir, [TINY]) for o in r["report_outputs"]]


def entry(html: str, path: str) -> str | None:
    """The report's record of result file `path` (a JSON object in the page's data), or None."""
    start = html.find(json.dumps(path) + ": {")
    if start < 0:
        return None
    end = html.find('"data_uri"', start)
    return html[start : end + 200] if end > 0 else html[start : start + 20000]


@pytest.fixture(scope="module")
def report_html(tiny_run, tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("report") / "report.html"
    proc = run_snakemake(tiny_run, "--report", out)
    assert proc.returncode == 0, f"snakemake --report failed:\n{proc.stdout[-3000:]}{proc.stderr[-6000:]}"
    assert out.is_file() and out.stat().st_size > 0, "snakemake --report wrote no file"
    return out.read_text()


def test_every_registered_output_is_in_the_report(tiny_run, report_html, tmp_path):
    registered = report_outputs(tmp_path)
    assert registered, "no rule registers an output with report()"
    results = sorted(str(p.relative_to(tiny_run)) for p in (Path(tiny_run) / "results").rglob("*") if p.is_file())
    problems = []
    for reg in registered:
        regex = re.compile(regex_from_filepattern(reg["pattern"]))
        files = [f for f in results if regex.match(f)]
        if not files:
            problems.append(f"{reg['rule']}: no file of the tiny run matches {reg['pattern']}")
        if not reg["caption"]:
            problems.append(f"{reg['rule']}: {reg['pattern']} is registered without a caption")
        for f in files:
            rec = entry(report_html, f)
            if rec is None:
                problems.append(f"{reg['rule']}: {f} is not in the report")
            elif re.search(r'"caption": "\s*"', rec) or '"caption": "' not in rec:
                problems.append(f"{reg['rule']}: {f} has an empty caption in the report")
            elif '"data_uri": "data:' not in rec:
                problems.append(f"{reg['rule']}: {f} is not embedded in the report")
    assert not problems, "\n".join(problems)


# Every figure and table belongs in the report (and the theory tables behind Figs 2/3/6).
def test_every_figure_and_table_is_in_the_report(tiny_run, report_html):
    results = Path(tiny_run) / "results"
    wanted = sorted(
        str(p.relative_to(tiny_run))
        for folder, suffixes in (
            ("figures", (".png", ".pdf", ".svg")),
            ("tables", (".csv", ".md")),
            ("theory", (".csv",)),
        )
        for p in (results / folder).glob("*")
        if p.suffix in suffixes
    )
    assert wanted, "the tiny run made no figures or tables"
    missing = [f for f in wanted if entry(report_html, f) is None]
    assert not missing, f"{len(missing)} of {len(wanted)} figures/tables are not in the report: {missing}"


def test_captions_show_config_values_and_paper_differences(tiny_run, report_html, tmp_path):
    """Every registered output's caption is rendered (no Jinja left), shows config values of the run
    (the tiny config's theory.n = 12 and realdata datasets [digits] where they apply) and says which
    settings differ from the paper's."""
    registered = report_outputs(tmp_path)
    results = sorted(str(p.relative_to(tiny_run)) for p in (Path(tiny_run) / "results").rglob("*") if p.is_file())
    problems = []
    for reg in registered:
        regex = re.compile(regex_from_filepattern(reg["pattern"]))
        for f in (f for f in results if regex.match(f)):
            rec = entry(report_html, f)
            if rec is None:
                continue  # reported by test_every_registered_output_is_in_the_report
            caption = rec[rec.find('"caption": "') : rec.find('"data_uri"')]
            if "{{" in caption or "{%" in caption:
                problems.append(f"{f}: caption has unrendered Jinja")
            if "Differences from the paper" not in caption and "UNCONFIRMED" not in caption:
                problems.append(f"{f}: caption does not say which settings differ from the paper's")
            # the value is rendered as an HTML literal: n = <tt ...>12</tt>
            if reg["rule"].startswith(("plot_phase", "theory_")) and not re.search(r"n = <tt[^>]*>12<", caption):
                problems.append(f"{f}: caption does not show theory.n of the run (12)")
            if reg["rule"] in ("realdata_table1", "realdata_gl_table", "realdata_fid_table") and "digits" not in caption:
                problems.append(f"{f}: caption does not show the run's datasets ([digits])")
    assert not problems, "\n".join(problems)
