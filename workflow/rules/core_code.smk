# Included last, after the files that define the steps: settings for the jobs of all of them.
#
# 1. Core-code identity. Snakemake reruns a job when its own script changes, not when a molrg
#    module that the script imports changes. Each job with a script therefore gets the parameter
#    `molrg_code`: a hash of the source of every molrg module its script imports, transitively
#    (molrg.codeid, static `ast` scan, once per module at DAG build). Editing a module changes the
#    parameter of exactly the jobs that run it, and Snakemake's params trigger reruns them and
#    everything downstream. Scripts do not read it. README, "Reruns after a change of the core code".
#
# 2. Between-workflow cache of trained models (--cache, $SNAKEMAKE_OUTPUT_CACHE; README, SLURM
#    section). Snakemake refuses a benchmark file on a cached step, so under --cache the steps of
#    CACHED run without one (the run-time tables then leave them out); without --cache nothing
#    changes. Cache key: script, params (config slice, seed, molrg_code), input files and, with
#    --sdm conda, the env file, chained over every upstream job.
from snakemake.caching.rule import RuleCache

from molrg.codeid import CodeIdentity

CORE = CodeIdentity(os.path.join(workflow.basedir, "molrg"))


def script_path(step):
    """Absolute path of a step's `script:` file."""
    basedir = step.basedir.get_path_or_uri(secret_free=True)
    return os.path.normpath(os.path.join(basedir, step.script))


def core_id(step):
    return CORE.identity(script_path(step))


for _step in workflow.rules:
    if _step.script is not None:
        _step.set_params(molrg_code=core_id(_step))

# Expensive, deterministic steps whose outputs the cache keeps: the trained networks (the MoLRG
# grid's training steps: one, or one per stack with accel.stack_cells > 1; fig4_left_grid.smk).
CACHED = [
    *(step.name for step in workflow.rules if step.name.startswith("molrg_unet_train")),
    "realdata_unet",
    "realdata_gl_train",
    "realdata_classifier",
]


def use_output_cache(names):
    """Mark the steps `names` for the between-workflow cache, as `cache: True` would, and drop their
    benchmark file, which Snakemake does not allow beside it. Only under --cache (all of CACHED, or
    those of CACHED that --cache names)."""
    asked = workflow.workflow_settings.cache
    if asked is None:
        return
    for name in names:
        if asked and name not in asked:
            continue
        step = workflow.get_rule(name)
        step._benchmark = None
        step.cache = RuleCache.from_rule(step, True)


use_output_cache(CACHED)
