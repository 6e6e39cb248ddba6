"""What the workflow declares, asked from Snakemake itself: rules with their inputs, conda env,
script, group, resources, locality and report() outputs, for a given config (`workflow_rules`,
parsed once per config and test session), the final outputs of `rule all` (`final_outputs`), the
config a run starts with after the schema and cross-field checks (`validated_config`, in process),
and the jobs of a dry run's log (`parse_jobs`). Used by test_envs, test_lint, test_profile,
test_report, test_reruns, test_slurm, test_workflow_e2e, test_bad_inputs and
test_config_errors_theory, so that they follow the rule files as they grow instead of hard-coding
rule names or outputs.

Snakemake parses the workflow in a subprocess (it edits sys.path, os.environ and the working
directory while doing so); the answer comes back as JSON.
"""
from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
PYTHON = ROOT / ".venv" / "bin" / "python"
SNAKEMAKE = ROOT / ".venv" / "bin" / "snakemake"
MARK = "@@workflow-info@@"

# Runs inside the venv's Python. Snakemake 9 has no public call that lists rules with their
# directives, so this reads the parsed Workflow object (snakemake is pinned in requirements.txt).
_PROBE = r"""
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.enums import Quietness
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings, StorageSettings

snakefile, workdir, *configfiles = sys.argv[1:]

def plain(value):
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return "<function>" if callable(value) else str(value)

with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
    wf = api.workflow(
        resource_settings=ResourceSettings(),
        config_settings=ConfigSettings(configfiles=[Path(c) for c in configfiles]),
        storage_settings=StorageSettings(),
        snakefile=Path(snakefile),
        workdir=Path(workdir),
    )
    rules = []
    for r in wf._workflow.rules:
        rules.append({
            "name": r.name,
            "rulefile": str(r.snakefile),
            "input": [str(f) for f in r.input],
            "conda": None if r.conda_env is None else str(r.conda_env),
            "script": None if r.script is None else str(r.script),
            "shell": r.shellcmd is not None,
            "norun": bool(r.norun),
            # the declared group: Rule.group answers None outside dry or cluster runs
            "group": r._group if isinstance(getattr(r, "_group", None), str) else None,
            # localrule: True / localrules:, or no action at all (like `all`)
            "local": r.name in wf._workflow._localrules or bool(r.norun),
            "resources": {k: "<function>" if v.is_evaluable() else plain(v.value)
                          for k, v in r.resources.items() if not k.startswith("_")},
            # outputs registered with report(): pattern and whether a caption is given
            "report_outputs": [{"pattern": str(f), "caption": bool(getattr(f.flags["report"], "caption", None))}
                               for f in r.output if f.flags.get("report")],
        })
print("@@workflow-info@@" + json.dumps(rules))
"""


# One parse per config for the whole test session (each costs a Snakemake start-up, 3-10 s on
# 2 busy cores): keyed by the config files and their contents. The answer does not depend on
# the working directory, which only has to exist.
_CACHE: dict[tuple, list[dict]] = {}


def _key(configfiles) -> tuple:
    paths = [Path(c).resolve() for c in configfiles]
    return tuple((str(p), p.read_bytes() if p.is_file() else None) for p in paths)


def workflow_rules(workdir: Path | None = None, configfiles=()) -> list[dict]:
    """Every rule of the workflow under the default config merged with `configfiles` (parsed once
    per config and test session; a copy, so callers may modify it)."""
    key = _key(configfiles)
    if key not in _CACHE:
        with tempfile.TemporaryDirectory(prefix="workflow_info_") as scratch:
            wd = Path(workdir) if workdir is not None else Path(scratch)
            proc = subprocess.run(
                [str(PYTHON), "-c", _PROBE, str(ROOT / "Snakefile"), str(wd), *(p for p, _ in key)],
                capture_output=True, text=True, cwd=str(wd), timeout=300,
            )
        for line in proc.stdout.splitlines():
            if line.startswith(MARK):
                _CACHE[key] = json.loads(line[len(MARK):])
                break
        else:
            raise RuntimeError(
                f"parsing the workflow failed (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return copy.deepcopy(_CACHE[key])


def final_outputs(configfiles=()) -> list[str]:
    """The files `rule all` asks for (the workflow's FINAL_OUTPUTS) under that config: what a
    complete run must have made. Taken from the workflow, so it grows with the rule files."""
    rules = workflow_rules(None, configfiles)
    return list(next(r for r in rules if r["name"] == "all")["input"])


if __name__ == "__main__":  # python tests/workflow_info.py [configfile...]: print the rules
    for rule in workflow_rules(None, sys.argv[1:]):
        print(json.dumps(rule))


def validated_config(*overrides) -> dict:
    """The config a run would start with, checked in this process exactly as the workflow checks it
    at start (workflow/rules/common.smk): config.yaml, each override (a dict or a YAML file) merged
    over it as `--configfile` does, then the JSON schema (workflow/schemas/config.schema.yaml,
    defaults filled in) and the cross-field checks of molrg.config_checks. Raises what the workflow
    would raise; tests/test_bad_inputs.py keeps two real `snakemake -n` cases to prove that wiring."""
    from snakemake.utils import update_config, validate

    from molrg.config_checks import check_config

    _cache_schema_files()
    config = _yaml(ROOT / "config.yaml")
    for override in overrides:
        update_config(config, copy.deepcopy(override) if isinstance(override, dict) else (_yaml(override) or {}))
    validate(config, schema=str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    check_config(config)
    return config


_YAML: dict[tuple, object] = {}


def _yaml(path):
    """A YAML file's content, parsed once per content (pure-Python YAML parsing of config.yaml
    and the schemas costs ~1 s a time on a busy CPU); a copy each call."""
    import yaml

    path = Path(path).resolve()
    key = (str(path), path.stat().st_mtime_ns, path.stat().st_size)
    if key not in _YAML:
        _YAML[key] = yaml.safe_load(path.read_text())
    return copy.deepcopy(_YAML[key])


def _cache_schema_files() -> None:
    """Make snakemake.utils.validate read each schema file once per test session (it reads every
    $ref'd file again at each call; validate itself is untouched)."""
    import snakemake.utils as su

    if getattr(su._load_configfile, "_cached", False):
        return
    original = su._load_configfile

    def load(source, filetype="Config"):
        if isinstance(source, (str, Path)) and Path(source).is_file():
            path = Path(source).resolve()
            key = ("schema", str(path), path.stat().st_mtime_ns, path.stat().st_size)
            if key not in _YAML:
                _YAML[key] = original(source, filetype=filetype)
            return copy.deepcopy(_YAML[key])
        return original(source, filetype=filetype)

    load._cached = True
    su._load_configfile = load


# --- the jobs of a dry run (`snakemake -n`), parsed from its log ---------------------------------


class Job(NamedTuple):
    """One job of a dry run: its rule, wildcards, input and output files and Snakemake's reason."""

    rule: str
    wildcards: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    reason: str

    @property
    def key(self) -> tuple[str, tuple[str, ...]]:
        """A job is its rule and its outputs (`all` has none, and there is one of it)."""
        return self.rule, tuple(sorted(self.outputs))


_JOB_HEAD = re.compile(r"^\s*(?:local)?rule (\w+):\s*$")
_FIELD = re.compile(r"^\s+(input|output|reason|wildcards): (.*)$")


def parse_jobs(text: str) -> list[Job]:
    """The job blocks of a dry run's log ('rule NAME:' then indented 'field: value' lines; the
    jobs of a group are indented further). The list is printed once per dry run."""
    jobs, current = [], None
    for line in text.splitlines():
        head = _JOB_HEAD.match(line)
        if head:
            current = {"rule": head.group(1)}
            jobs.append(current)
            continue
        field = _FIELD.match(line)
        if current is not None and field:
            current.setdefault(field.group(1), field.group(2).strip())
        elif current is not None and not line.startswith((" ", "\t")):
            current = None  # a timestamp, a group header or the job table ends the block
    split = lambda s: tuple(f.strip() for f in s.split(",") if f.strip()) if s else ()  # noqa: E731
    return [
        Job(j["rule"], j.get("wildcards", ""), split(j.get("input")), split(j.get("output")), j.get("reason", ""))
        for j in jobs
    ]
