"""molrg.codeid on a constructed package: the import graph (absolute, relative, `from pkg import
sub`, lazy imports inside functions, import cycles), and an identity that changes with every module
a script runs and with no other."""
from __future__ import annotations

from pathlib import Path

import pytest

from molrg.codeid import CodeIdentity

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def pkg(tmp_path):
    """pkg/: a <- b (relative) <- c (absolute, inside a function); d imports a and is imported by
    nobody; e and f import each other; sub/ is a subpackage whose g imports `..a`."""
    root = tmp_path / "pkg"
    (root / "sub").mkdir(parents=True)
    files = {
        "__init__.py": '"""the package"""\n',
        "a.py": "from .b import helper\nimport numpy as np\n",
        "b.py": "def helper():\n    from pkg import c\n    return c\n",
        "c.py": "import os\nX = 1\n",
        "d.py": "import pkg.a\n",
        "e.py": "from pkg import f\n",
        "f.py": "from . import e\n",
        "sub/__init__.py": "",
        "sub/g.py": "from ..a import helper\nfrom pkg import NOT_A_MODULE\n",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "uses_a.py").write_text("import sys\nfrom pkg.a import helper\n")
    (scripts / "uses_g.py").write_text("import pkg.sub.g\n")
    (scripts / "uses_e.py").write_text("from pkg import e\n")
    (scripts / "uses_none.py").write_text("import json\nfrom .local import x\n")
    return root, scripts


def test_closure_follows_every_kind_of_import(pkg):
    root, scripts = pkg
    ids = CodeIdentity(root)
    assert ids.closure(scripts / "uses_a.py") == ["pkg", "pkg.a", "pkg.b", "pkg.c"]
    # a subpackage runs its own __init__; `from pkg import NOT_A_MODULE` names no module
    assert ids.closure(scripts / "uses_g.py") == ["pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.sub", "pkg.sub.g"]
    # an import cycle ends
    assert ids.closure(scripts / "uses_e.py") == ["pkg", "pkg.e", "pkg.f"]
    assert ids.closure(scripts / "uses_none.py") == []


def test_identity_changes_with_an_imported_module_only(pkg):
    root, scripts = pkg
    before = {s.name: CodeIdentity(root).identity(s) for s in scripts.iterdir()}
    with open(root / "c.py", "a") as f:  # imported lazily, two steps away from uses_a
        f.write("# an edit\n")
    after_c = {s.name: CodeIdentity(root).identity(s) for s in scripts.iterdir()}
    assert after_c["uses_a.py"] != before["uses_a.py"]
    assert after_c["uses_g.py"] != before["uses_g.py"]
    assert after_c["uses_e.py"] == before["uses_e.py"]
    assert after_c["uses_none.py"] == before["uses_none.py"]
    with open(root / "d.py", "a") as f:  # imported by no script
        f.write("# an edit\n")
    assert {s.name: CodeIdentity(root).identity(s) for s in scripts.iterdir()} == after_c


def test_identity_is_stable_and_independent_of_location(pkg, tmp_path):
    import shutil

    root, scripts = pkg
    first = CodeIdentity(root).identity(scripts / "uses_a.py")
    assert CodeIdentity(root).identity(scripts / "uses_a.py") == first
    moved = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "pkg", moved / "pkg")
    shutil.copytree(scripts, moved / "scripts")
    # another checkout of the same code: the same identity (the cache key is shared across clones)
    assert CodeIdentity(moved / "pkg").identity(moved / "scripts" / "uses_a.py") == first


def test_not_a_package(tmp_path):
    with pytest.raises(ValueError, match="no __init__.py"):
        CodeIdentity(tmp_path)


def test_workflow_scripts_import_molrg():
    """The real scripts: the fit imports molrg.sigmoid, training molrg.precond, the claims report
    molrg.claims; molrg.config_checks runs only while the DAG is built (no job imports it)."""
    ids = CodeIdentity(ROOT / "molrg")
    scripts = ROOT / "workflow" / "scripts"
    assert "molrg.sigmoid" in ids.closure(scripts / "molrg_unet_fit.py")
    assert "molrg.precond" in ids.closure(scripts / "molrg_unet_train.py")
    assert "molrg.claims" in ids.closure(scripts / "claims_report.py")
    assert not any("molrg.config_checks" in ids.closure(s) for s in scripts.glob("*.py"))
