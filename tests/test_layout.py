"""The layout rules of docs/DEVELOPING.md, checked: a rule file stays under RULE_FILE_MAX lines and a
script called by a rule under SCRIPT_LOGIC_MAX lines of logic (lines carrying code, not counting
blank lines, comments, docstrings and imports). Comments say what the code is and why, not its
history: no tracked source or config file refers to an issue by number (history belongs in git and
docs/), and no line of config.yaml or presets/*.yaml is over CONFIG_LINE_MAX characters (a long
explanation goes in a comment block above its key, or in docs/). A script that only turns results
into tables or figures starts without torch (its import costs about 1 s of every such job's start-up,
and the test runs start a few hundred jobs): only the scripts in TORCH_SCRIPTS may import it. Each
limit is tested on constructed text that breaks it, so the check can fail."""
from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RULE_FILE_MAX = 300
SCRIPT_LOGIC_MAX = 60
CONFIG_LINE_MAX = 160
# where an issue reference is history, not an explanation: the importable core, the workflow, the tools
SOURCE_ROOTS = ("molrg", "workflow", "tools", "benchmarks", "tests", "config.yaml", "presets", "profiles")
ISSUE_REF = re.compile(r"\bissues? #\d", re.IGNORECASE)  # a number after the word, any case, singular or plural
# the scripts that compute with networks or tensors (training, sampling, estimation, evaluation, Jacobians)
TORCH_SCRIPTS = {
    "editing_run", "jacobian_molrg", "jacobian_rank", "molrg_unet_dataset", "molrg_unet_gl", "molrg_unet_sample",
    "molrg_unet_train", "realdata_classifier", "realdata_estimate", "realdata_external", "realdata_fid",
    "realdata_gl_eval", "realdata_gl_jacobian", "realdata_labels", "realdata_sample", "realdata_table1",
    "realdata_train_unet", "theory_closed_form", "theory_dae", "theory_dae_restarts",
}


def logic_lines(source: str) -> int:
    """Lines of `source` that carry code other than an import or a docstring."""
    tree = ast.parse(source)
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            skip.update(range(node.lineno, node.end_lineno + 1))
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body:
            first = body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                skip.update(range(first.lineno, first.end_lineno + 1))
    code: set[int] = set()
    ignored = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in ignored:
            code.update(range(tok.start[0], tok.end[0] + 1))
    return len(code - skip)


def rule_files():
    return sorted((REPO / "workflow" / "rules").glob("*.smk")) + [REPO / "Snakefile"]


def scripts():
    return sorted((REPO / "workflow" / "scripts").glob("*.py"))


def test_logic_line_count_skips_docstrings_comments_and_imports():
    src = '"""doc\nstring"""\nimport os\nfrom a import (b,\n    c)\n\n# comment\nx = 1  # trailing\n' \
          'def f():\n    """doc"""\n    return [1,\n            2]\n'
    assert logic_lines(src) == 4  # x = 1, def f, and the two lines of the return


def test_limits_fail_on_constructed_files():
    long_script = "\n".join(f"x{i} = {i}" for i in range(SCRIPT_LOGIC_MAX + 1))
    assert logic_lines(long_script) > SCRIPT_LOGIC_MAX
    long_rules = "rule a:\n" + "    # line\n" * RULE_FILE_MAX
    assert len(long_rules.splitlines()) > RULE_FILE_MAX


@pytest.mark.parametrize("path", rule_files(), ids=lambda p: p.name)
def test_rule_file_is_short(path):
    n = len(path.read_text().splitlines())
    assert n <= RULE_FILE_MAX, f"{path.relative_to(REPO)} has {n} lines (limit {RULE_FILE_MAX}): split it by figure family"


@pytest.mark.parametrize("path", scripts(), ids=lambda p: p.name)
def test_script_is_thin(path):
    n = logic_lines(path.read_text())
    assert n <= SCRIPT_LOGIC_MAX, (f"{path.relative_to(REPO)} has {n} lines of logic (limit {SCRIPT_LOGIC_MAX}): "
                                   "move the computation into a molrg function with a unit test")


def tracked_files(roots=SOURCE_ROOTS) -> list[Path]:
    """Text files git tracks under `roots` (every file under them where the tree is not a git checkout)."""
    ls = subprocess.run(["git", "ls-files", "-z", "--", *roots], cwd=REPO, capture_output=True, text=True)
    if ls.returncode == 0 and ls.stdout:
        paths = [REPO / p for p in ls.stdout.split("\0") if p]
    else:
        paths = [p for r in roots for p in ([REPO / r] if (REPO / r).is_file() else (REPO / r).rglob("*"))]
    out = []
    for p in paths:
        if p.is_file() and "__pycache__" not in p.parts:
            try:
                p.read_text(encoding="utf-8")
            except UnicodeDecodeError:  # binary fixtures
                continue
            out.append(p)
    return sorted(out)


def issue_refs(text: str) -> list[int]:
    """Line numbers (1-based) of `text` that refer to an issue by number."""
    return [i for i, line in enumerate(text.splitlines(), 1) if ISSUE_REF.search(line)]


def long_lines(text: str, limit: int = CONFIG_LINE_MAX) -> list[int]:
    """Line numbers (1-based) of `text` longer than `limit` characters."""
    return [i for i, line in enumerate(text.splitlines(), 1) if len(line) > limit]


def config_files() -> list[Path]:
    return [REPO / "config.yaml"] + sorted((REPO / "presets").glob("*.yaml"))


def test_history_and_line_checks_fail_on_constructed_text():
    # the references are built from pieces, so that this file itself holds none
    ref = "lr: 2.0 # ours (" + "issue" + " #9: 0.1 before)"
    assert issue_refs("seed: 0\n" + ref) == [2]
    assert issue_refs("Issues" + " #2-#5") == [1] and issue_refs("(" + "issue" + " #9.4)") == [1]
    assert issue_refs("# see the issue tracker; colour #fff; tissue #1 is no issue") == []
    long = "plateau: fit # " + "x" * CONFIG_LINE_MAX
    assert long_lines("a: 1\n" + long + "\nb: 2") == [2]
    assert long_lines("a: 1 # " + "x" * (CONFIG_LINE_MAX - 7)) == []  # exactly at the limit
    assert REPO / "config.yaml" in tracked_files(("config.yaml",))


@pytest.mark.parametrize("path", tracked_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_no_issue_reference(path):
    hits = issue_refs(path.read_text(encoding="utf-8"))
    assert not hits, (f"{path.relative_to(REPO)} lines {hits} refer to an issue by number: say what the code is "
                      "and why (history belongs in git and docs/)")


@pytest.mark.parametrize("path", config_files(), ids=lambda p: p.name)
def test_config_lines_are_short(path):
    hits = long_lines(path.read_text(encoding="utf-8"))
    assert not hits, (f"{path.relative_to(REPO)} lines {hits} are over {CONFIG_LINE_MAX} characters: move the "
                      "explanation into a comment block above the key, or into docs/")


def top_level_imports(source: str) -> str:
    """The import statements at the top level of a script, as source text."""
    return "\n".join(ast.get_source_segment(source, node) for node in ast.parse(source).body
                     if isinstance(node, (ast.Import, ast.ImportFrom)))


def importers_of(module: str, sources: dict[str, str]) -> list[str]:
    """The names of `sources` whose top-level imports import `module`, directly or through others:
    one interpreter for all of them (`module` is then loaded only if one did), a second pass one by
    one only when one did."""
    def imports_it(names) -> bool:
        code = "\n".join(top_level_imports(sources[n]) for n in names)
        code += f"\nimport sys\nsys.exit(3 if {module!r} in sys.modules else 0)"
        proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
        assert proc.returncode in (0, 3), f"the imports of {list(names)} fail:\n{proc.stderr[-3000:]}"
        return proc.returncode == 3

    return [n for n in sources if imports_it([n])] if imports_it(list(sources)) else []


def test_import_check_fails_on_constructed_scripts():
    # pandas stands in for torch (the same check, a tenth of the start-up): molrg.phase_table imports it
    sources = {"plain": "import json\nfrom molrg.cells import parse_cell\nx = 1\n",
               "indirect": "from molrg.phase_table import success_table\n"}
    assert importers_of("pandas", sources) == ["indirect"]
    assert importers_of("pandas", {"plain": sources["plain"]}) == []


def test_table_and_figure_scripts_start_without_torch():
    sources = {p.stem: p.read_text() for p in scripts() if p.stem not in TORCH_SCRIPTS}
    assert len(sources) >= 10 and TORCH_SCRIPTS <= {p.stem for p in scripts()}, "TORCH_SCRIPTS names a missing script"
    offenders = importers_of("torch", sources)
    assert not offenders, (f"{offenders} import torch at start-up, but make only tables or figures: import what "
                           "needs torch inside the function that uses it, or move the torch-free part to its own "
                           "module (as molrg.phase_table); a script that computes with torch belongs in TORCH_SCRIPTS")
