"""The conda environments in envs/ (used by `snakemake --sdm conda`; conda cannot run here):
each parses and pins every package exactly, agrees with requirements.txt (the pip pins the README
installs), and pins every third-party package that the scripts of its rules import, directly or
through molrg. Imports are scanned with `ast` over workflow/scripts/ and molrg/, and rules are
asked from Snakemake, so the checks follow the code as it grows."""
from __future__ import annotations

import ast
import re
import sys
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from molrg.codeid import CodeIdentity
from workflow_info import ROOT, workflow_rules

ENVS = ["data", "train", "analysis", "plots"]
PAPER = ROOT / "presets" / "paper.yaml"
CORE = CodeIdentity(ROOT / "molrg")

# import name -> PyPI distribution (as pinned in requirements.txt). An import missing here fails
# test_every_import_is_pinned: add it here and to requirements.txt.
IMPORT_TO_PACKAGE = {
    "torch": "torch",
    "torchvision": "torchvision",
    "numpy": "numpy",
    "scipy": "scipy",
    "pandas": "pandas",
    "matplotlib": "matplotlib",
    "seaborn": "seaborn",
    "sklearn": "scikit-learn",
    "PIL": "pillow",
    "cleanfid": "clean-fid",
    "yaml": "pyyaml",
    "jsonschema": "jsonschema",
}
# Provided by the host: Snakemake's script preamble puts its own installation on sys.path.
HOST_PROVIDED = {"snakemake"}
# Packages that import others at import time; the env must pin those too, or pip/conda would pick
# any version (clean-fid imports torchvision, which must match the conda pytorch).
IMPORT_TIME_DEPENDENCIES = {"clean-fid": ["torchvision"]}
# conda-forge names of PyPI distributions, where they differ
CONDA_NAME = {"torch": "pytorch", "matplotlib": "matplotlib-base", "seaborn": "seaborn-base"}
PYPI_NAME = {v: k for k, v in CONDA_NAME.items()}
# conda packages that are tooling, not code dependencies (pinned, but not in requirements.txt)
TOOLING = {"python", "pip"}

CONDA_PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)==?(?P<version>\d[\w.]*)(=(?P<build>\S+))?$")
PIP_PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)==(?P<version>\d[\w.]*)$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@lru_cache(maxsize=None)
def requirements() -> dict:
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[canonical(name)] = version.strip()
    return pins


@lru_cache(maxsize=None)
def load_env(name: str) -> dict:
    return yaml.safe_load((ROOT / "envs" / f"{name}.yaml").read_text())


@lru_cache(maxsize=None)
def env_pins(name: str) -> dict:
    """PyPI name -> {version, build, via} of every package the env installs."""
    pins = {}
    for dep in load_env(name)["dependencies"]:
        if isinstance(dep, dict):
            for spec in dep["pip"]:
                m = PIP_PIN.match(spec.strip())
                assert m, f"envs/{name}.yaml: pip entry '{spec}' is not pinned as NAME==VERSION"
                pins[canonical(m["name"])] = {"version": m["version"], "build": None, "via": "pip"}
        else:
            m = CONDA_PIN.match(str(dep).replace(" ", ""))
            assert m, f"envs/{name}.yaml: '{dep}' is not pinned as NAME=VERSION[=BUILD]"
            pypi = PYPI_NAME.get(m["name"], m["name"])
            pins[canonical(pypi)] = {"version": m["version"], "build": m["build"], "via": "conda"}
    return pins


# --- imports --------------------------------------------------------------------------------

def third_party_imports(path: Path) -> set:
    """Top-level names of the modules that `path` imports anywhere, other than the standard library
    and molrg."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level:  # relative imports stay inside molrg
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in ("__future__", "molrg")}


def import_closure(script: Path) -> set:
    """Third-party top-level modules that running `script` imports, through molrg modules too (the
    molrg modules it runs: molrg.codeid's import graph, subpackages included)."""
    files = [script] + CORE.files(script)
    return set().union(*(third_party_imports(f) for f in files))


def code_files() -> list[Path]:
    return sorted((ROOT / "molrg").rglob("*.py")) + sorted((ROOT / "workflow" / "scripts").glob("*.py"))


def packages_for(modules: set) -> set:
    pkgs = {canonical(IMPORT_TO_PACKAGE[m]) for m in modules if m not in HOST_PROVIDED}
    for p in list(pkgs):
        pkgs |= {canonical(d) for d in IMPORT_TIME_DEPENDENCIES.get(p, [])}
    return pkgs


@pytest.fixture(scope="module")
def paper_rules(tmp_path_factory):
    # the paper preset switches on every stage, so its DAG has every rule
    return workflow_rules(tmp_path_factory.mktemp("envs"), [PAPER])


# --- tests ------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ENVS)
def test_env_parses_and_pins_everything(name):
    env = load_env(name)
    assert set(env) <= {"name", "channels", "dependencies"}, f"envs/{name}.yaml: unexpected keys {set(env)}"
    # conda-forge only: `nodefaults` keeps the Anaconda defaults channel (and its licence) out
    assert env["channels"] == ["conda-forge", "nodefaults"], f"envs/{name}.yaml channels"
    pins = env_pins(name)  # asserts every entry is pinned
    assert pins["python"]["version"] == f"{sys.version_info.major}.{sys.version_info.minor}", (
        f"envs/{name}.yaml: python must be the venv's {sys.version_info.major}.{sys.version_info.minor} "
        "(Snakemake's script preamble imports the host's snakemake into the env's Python)"
    )
    if any(p["via"] == "pip" for p in pins.values()):
        assert "pip" in pins, f"envs/{name}.yaml has a pip: section but does not pin pip itself"


@pytest.mark.parametrize("name", ENVS)
def test_env_agrees_with_requirements(name):
    req = requirements()
    for pkg, pin in env_pins(name).items():
        if pkg in TOOLING:
            continue
        assert pkg in req, f"envs/{name}.yaml pins {pkg}, which requirements.txt does not: add it there"
        assert pin["version"] == req[pkg], (
            f"envs/{name}.yaml pins {pkg} {pin['version']}, requirements.txt {req[pkg]}: make them equal"
        )


def test_torch_builds():
    # train runs on GPU nodes: a CUDA build; the others run anywhere: CPU builds (much smaller)
    for name in ENVS:
        torch = env_pins(name).get("torch")
        if torch is None:
            continue
        want = "cuda*" if name == "train" else "cpu*"
        assert torch["build"] == want, f"envs/{name}.yaml: pytorch build must be '{want}'"


def test_every_import_is_pinned():
    req = requirements()
    for path in code_files():
        for module in sorted(third_party_imports(path) - HOST_PROVIDED):
            assert module in IMPORT_TO_PACKAGE, (
                f"{path.relative_to(ROOT)} imports '{module}': add it to IMPORT_TO_PACKAGE in "
                "tests/test_envs.py, pin it in requirements.txt and in the envs that need it"
            )
            assert canonical(IMPORT_TO_PACKAGE[module]) in req, f"{module} ({path.name}) is not in requirements.txt"


def test_import_scan_sees_through_molrg(tmp_path):
    # the scanner itself: a script importing molrg.mixture needs torch through it, one importing a
    # module of a molrg subpackage needs what that module imports
    script = tmp_path / "s.py"
    script.write_text("import json\nfrom molrg.mixture import MoLRG\nif False:\n    import pandas as pd\n")
    assert {"torch", "pandas"} <= import_closure(script)
    assert "json" not in import_closure(script)
    plot = tmp_path / "p.py"
    plot.write_text("from molrg.plots.gl import gl_figure\n")
    assert {"matplotlib", "seaborn", "scipy"} <= import_closure(plot)


def test_each_rule_env_covers_its_script(paper_rules):
    problems = []
    for rule in paper_rules:
        if rule["norun"]:
            continue
        if not rule["conda"]:
            problems.append(f"rule {rule['name']} ({rule['rulefile']}): no conda: directive")
            continue
        env_file = (Path(rule["rulefile"]).parent / rule["conda"]).resolve()
        if env_file.parent != ROOT / "envs" or not env_file.exists():
            problems.append(f"rule {rule['name']}: conda env {rule['conda']} is not one of envs/*.yaml")
            continue
        if not rule["script"] or not rule["script"].endswith(".py"):
            continue
        script = (Path(rule["rulefile"]).parent / rule["script"]).resolve()
        needed = packages_for(import_closure(script) - HOST_PROVIDED)
        missing = needed - set(env_pins(env_file.stem))
        if missing:
            problems.append(f"rule {rule['name']}: envs/{env_file.name} lacks {sorted(missing)} "
                            f"(imported by {script.name} or the molrg modules it uses)")
    assert not problems, "\n".join(problems)


def test_gpu_rules_use_the_cuda_env(paper_rules):
    # a rule asking for a GPU at paper scale must get a CUDA torch under --sdm conda
    wrong = [f"rule {r['name']} asks for a GPU but uses {r['conda']}" for r in paper_rules
             if r["resources"].get("gpu") not in (None, 0) and r["conda"]
             and env_pins(Path(r["conda"]).stem).get("torch", {}).get("build") != "cuda*"]
    assert not wrong, "\n".join(wrong) + "\n(use envs/train.yaml, the CUDA one)"
