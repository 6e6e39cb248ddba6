"""The layout rules of docs/DEVELOPING.md, checked: a rule file stays under RULE_FILE_MAX lines and a
script called by a rule under SCRIPT_LOGIC_MAX lines of logic (lines carrying code, not counting
blank lines, comments, docstrings and imports). Each limit is tested on constructed files that
break it, so the check can fail."""
from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RULE_FILE_MAX = 300
SCRIPT_LOGIC_MAX = 60


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
