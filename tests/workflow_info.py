"""What the workflow declares, asked from Snakemake itself: rules with their inputs, conda env,
script, group, resources, locality and report() outputs, for a given config. Used by test_envs, test_lint and
test_slurm, so that they follow the rule files as they grow instead of hard-coding rule names.

Snakemake parses the workflow in a subprocess (it edits sys.path, os.environ and the working
directory while doing so); the answer comes back as JSON.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
            "group": r.group if isinstance(r.group, str) else None,
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


def workflow_rules(workdir: Path, configfiles=()) -> list[dict]:
    """Every rule of the workflow under the default config merged with `configfiles`."""
    proc = subprocess.run(
        [str(PYTHON), "-c", _PROBE, str(ROOT / "Snakefile"), str(workdir), *(str(Path(c).resolve()) for c in configfiles)],
        capture_output=True, text=True, cwd=str(workdir), timeout=300,
    )
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    raise RuntimeError(f"parsing the workflow failed (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")


if __name__ == "__main__":  # python tests/workflow_info.py [configfile...]: print the rules
    import tempfile

    for rule in workflow_rules(Path(tempfile.mkdtemp()), sys.argv[1:]):
        print(json.dumps(rule))
