# Shared Python of the workflow (config validation, helpers); it defines no rules.
# (Keep it so, comments included: `snakemake --lint` reports "mixed rules and functions" for
# any line holding the word rule, then a blank, then later a colon.)
import os
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

# Validate before any job is planned: a bad key stops the run here, naming the key.
validate(config, schema="../schemas/config.schema.yaml")
# This checkout's `molrg` is importable here and in every script job: Snakemake's script preamble
# appends this process's sys.path to each job's, also under `--sdm conda` (which drops PYTHONPATH
# and runs the env's Python; tests/test_conda_import.py); PYTHONPATH puts it first elsewhere.
sys.path.insert(0, workflow.basedir)
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (workflow.basedir, os.environ.get("PYTHONPATH")) if p
)


# Declared (it is always set by now) so that executors which pass the environment explicitly
# hand it on to remote jobs; this also satisfies `snakemake --lint`.
envvars:
    "PYTHONPATH",


from molrg.config_checks import check_config  # noqa: E402

check_config(config)  # cross-field checks JSON schema cannot express (e.g. K*d <= n)

from molrg.walltime import capped_runtime, max_runtime_minutes  # noqa: E402

# Training jobs resume from their checkpoint, so they ask a cluster for at most the per-job cap
# (env MOLRG_SLURM_MAX_RUNTIME, minutes, default 24 h) and continue across retries; checked here
# so that a bad value stops the run at start, naming the variable.
max_runtime_minutes()

RESULTS = "results"
ENVS = "../../envs"


def check_results_writable(path=RESULTS):
    """Stop at start, naming the folder and the fix, when results/ cannot be written (a file in
    its place, no write permission, a read-only file system); otherwise every job would fail on
    its own with a bare OSError. Reads only: a dry run still writes nothing."""
    target = os.path.abspath(path)
    if os.path.lexists(target) and not os.path.isdir(target):
        raise WorkflowError(
            f"{target} is not a directory, but every output of this pipeline goes under results/ of "
            f"the working directory: move that file away, or run with --directory elsewhere"
        )
    folder = target if os.path.isdir(target) else os.path.dirname(target)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WorkflowError(
            f"{folder} is not writable (permissions or a read-only file system), and the outputs go "
            f"to {target}: make it writable, or run with --directory on a writable disk"
        )


check_results_writable()

# Every rule file appends the files `rule all` should build to this list.
FINAL_OUTPUTS = []


def final_outputs():
    return FINAL_OUTPUTS


def section(name):
    """A rule's settings: one config section (plus the global seed and device where relevant)."""
    return config[name]
