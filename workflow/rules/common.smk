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


# --- Result paths and cell lists that several files read -----------------------------------------
# The steps that write these files spell their outputs out; these helpers build the file lists
# of the steps that gather them (tables, figures, other families). Cells: molrg.cells.
from molrg.cells import real_cells  # noqa: E402

MOLRG_UNET_FILES = {
    "data": "results/molrg_unet/data/{training_set}.npz",
    "model": "results/molrg_unet/models/{name}/model.pt",
    "samples": "results/molrg_unet/samples/{name}.npz",
    "gl": "results/molrg_unet/gl/{name}.csv",
    "nn": "results/molrg_unet/gl/{name}_nn.npz",
    "empirical": "results/molrg_unet/empirical/{name}.csv",
}


def molrg_unet_file(kind, cell):
    """The file `kind` (a key of MOLRG_UNET_FILES) of a MoLRG grid cell (a molrg.cells.Cell; the
    training set alone for data and empirical)."""
    return MOLRG_UNET_FILES[kind].format(name=cell.name, training_set=cell.training_set)


def real_gl_cells(dataset):
    """The cells of a real dataset's GL grid (Fig 4 right): config realdata.gl within the
    dataset's max_train."""
    return real_cells(
        config["realdata"]["gl"], config["datasets"][dataset]["max_train"]
    )


def real_gl_file(dataset, cell, name):
    """File `name` (model.pt, gl.json, samples.npz, nn.npz) of a real dataset's GL grid cell."""
    return f"results/realdata/{dataset}/gl_models/{cell.name}/{name}"


def reference_checkpoints():
    """The reference U-Net's kept checkpoints before the final one, unet_back1, unet_back2, ...:
    the EMA weights at the last realdata.unet_convergence.checkpoints - 1 multiples of its
    checkpoint_spacing (Table 1's checkpoint-stability check)."""
    kept = config["realdata"]["unet_convergence"]["checkpoints"]
    return [f"unet_back{c}" for c in range(1, kept)]


def reference_model_file(dataset, model):
    """The file of a dataset's model `model`: unet (the reference U-Net), a kept checkpoint
    unet_back<c>, gaussian or molrg (the closed forms fitted to the dataset)."""
    if model.startswith("unet_back"):
        return f"results/realdata/{dataset}/unet/ema_back{model[len('unet_back'):]}.pt"
    return {
        "unet": f"results/realdata/{dataset}/unet/model.pt",
        "gaussian": f"results/realdata/{dataset}/gaussian.pt",
        "molrg": f"results/realdata/{dataset}/molrg.pt",
    }[model]
