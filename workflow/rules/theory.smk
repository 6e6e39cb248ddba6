# Figs 2, 3, 6: phase transitions of subspace recovery on MoLRG data (spec §3-4).
# For K = 1, 2, 3: one tidy table per method (molrg.phase: closed_form with noise, closed_form_noiseless,
# dae (SGD on the theoretical DAE, Algorithm 1); for K > 1 also dae_restarts and dae_random), then one
# heat-map figure per K with one panel per method. Notes for the README: docs/theory.md.

THEORY = config["theory"]
THEORY_EXT = config["plot"]["format"]
# figure name -> K (the paper's numbering: Fig 2 is K = 1, Fig 3 is K = 2, Fig 6 is K = 3)
THEORY_FIGURES = {"fig2_phase_K1": 1, "fig3_phase_K2": 2, "fig6_phase_K3": 3}


# The settings every theory table shares (resources and threads stay out of params, so that
# editing them reruns nothing).
THEORY_DATA = {
    k: THEORY[k] for k in ("n", "noise_std", "success_threshold", "error_reduce")
}
THEORY_SPECTRAL = {
    k: THEORY["closed_form"][k] for k in ("spectral_q", "kmeans_iters", "max_iters")
}
# per K ("1", "2", "3", as the wildcard): the closed form's and the DAE's settings
THEORY_CF = {
    name[1:]: {"grid": cells, **THEORY_SPECTRAL}
    for name, cells in THEORY["closed_form"]["grid"].items()
}
THEORY_DAE = {
    name[1:]: {
        **{
            k: v
            for k, v in THEORY["dae"].items()
            if k not in ("grid", "resources", "restarts")
        },
        "grid": cells,
    }
    for name, cells in THEORY["dae"]["grid"].items()
}
THEORY_RESTARTS = {
    name[1:]: {
        **{
            k: v
            for k, v in THEORY["dae"].items()
            if k
            not in (
                "grid",
                "resources",
                "restarts",
                "init_single",
                "init_mixture",
                "init_perturbation",
            )
        },
        "count": THEORY["dae"]["restarts"]["count"],
        "grid": cells,
    }
    for name, cells in THEORY["dae"]["restarts"]["grid"].items()
}
THEORY_CF_METHODS = ("closed_form", "closed_form_noiseless")
THEORY_DAE_METHODS = {
    1: ("dae",),
    2: ("dae", "dae_restarts", "dae_random"),
    3: ("dae", "dae_restarts", "dae_random"),
}
# figure name -> {method: table}, in panel order
THEORY_TABLES = {
    name: {
        method: f"{RESULTS}/theory/K{K}_{method}.csv"
        for method in THEORY_CF_METHODS + THEORY_DAE_METHODS[K]
    }
    for name, K in THEORY_FIGURES.items()
}

# the data settings per closed-form method: the noise-free grid is the same draw without the noise
THEORY_CF_DATA = {
    "closed_form": THEORY_DATA,
    "closed_form_noiseless": {**THEORY_DATA, "noise_std": 0.0},
}


rule theory_closed_form:
    """Closed-form recovery over the (d, N_k) grid of one K: PCA by SVD (K = 1) or K-subspaces
    with spectral initialisation (K > 1); trials and cells batched as tensors. Method closed_form
    draws the data with noise theory.noise_std, closed_form_noiseless the same draws without it.
    """
    output:
        table=report(
            f"{RESULTS}/theory/K{{K}}_{{method}}.csv",
            caption="../report/theory_table.rst",
            category="Theory (Figs 2, 3, 6)",
            subcategory="Tables",
        ),
    log:
        f"{RESULTS}/logs/theory_closed_form/K{{K}}_{{method}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/theory_closed_form/K{{K}}_{{method}}.tsv"
    wildcard_constraints:
        K="[123]",
        method="|".join(THEORY_CF_METHODS),
    group:
        "theory"
    conda:
        "../../envs/analysis.yaml"
    threads: THEORY["threads"]
    resources:
        mem_mb=THEORY["closed_form"]["resources"]["mem_mb"],
        runtime=THEORY["closed_form"]["resources"]["runtime"],
    params:
        seed=config["seed"],
        data=lambda wildcards: THEORY_CF_DATA[wildcards.method],
        closed_form=lambda wildcards: THEORY_CF[wildcards.K],
    script:
        "../scripts/theory_closed_form.py"


rule theory_dae:
    """SGD on the theoretical DAE (Eq. 11 for K = 1, Eq. 15/16 or Eq. 7 for K > 1) with Algorithm
    1 over the (d, N_k) grid of one K, every problem of the grid trained in one batch, from the
    start `theory.dae.init_single` (K = 1, random Haar bases) / `init_mixture` (K > 1, the truth
    perturbed by delta = init_perturbation: a reading of the paper's Eq. 45); the table keeps the
    error of that start (`init_error`) next to the final one.
    """
    output:
        table=report(
            f"{RESULTS}/theory/K{{K}}_dae.csv",
            caption="../report/theory_table.rst",
            category="Theory (Figs 2, 3, 6)",
            subcategory="Tables",
        ),
    log:
        f"{RESULTS}/logs/theory_dae/K{{K}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/theory_dae/K{{K}}.tsv"
    wildcard_constraints:
        K="[123]",
    group:
        "theory"
    conda:
        "../../envs/train.yaml"
    threads: THEORY["threads"]
    resources:
        gpu=THEORY["dae"]["resources"]["gpu"],
        mem_mb=THEORY["dae"]["resources"]["mem_mb"],
        runtime=THEORY["dae"]["resources"]["runtime"],
    params:
        seed=config["seed"],
        device=config["device"],
        data=THEORY_DATA,
        dae=lambda wildcards: THEORY_DAE[wildcards.K],
        # the DAE's optional spectral initialisation (K > 1) uses the closed form's clustering settings
        spectral=THEORY_SPECTRAL,
    script:
        "../scripts/theory_dae.py"


rule theory_dae_restarts:
    """K > 1, the truth-free alternative: Algorithm 1 from `theory.dae.restarts.count` random Haar
    starts per problem of the (reduced) restarts grid, all in one batch; the run with the lowest
    training objective is kept (dae_restarts); run 0 alone is the single random start (dae_random).
    """
    output:
        restarts=report(
            f"{RESULTS}/theory/K{{K}}_dae_restarts.csv",
            caption="../report/theory_table.rst",
            category="Theory (Figs 2, 3, 6)",
            subcategory="Tables",
        ),
        random=report(
            f"{RESULTS}/theory/K{{K}}_dae_random.csv",
            caption="../report/theory_table.rst",
            category="Theory (Figs 2, 3, 6)",
            subcategory="Tables",
        ),
    log:
        f"{RESULTS}/logs/theory_dae_restarts/K{{K}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/theory_dae_restarts/K{{K}}.tsv"
    wildcard_constraints:
        K="[23]",
    group:
        "theory"
    conda:
        "../../envs/train.yaml"
    threads: THEORY["threads"]
    resources:
        gpu=THEORY["dae"]["resources"]["gpu"],
        mem_mb=THEORY["dae"]["resources"]["mem_mb"],
        runtime=THEORY["dae"]["resources"]["runtime"],
    params:
        seed=config["seed"],
        device=config["device"],
        data=THEORY_DATA,
        dae=lambda wildcards: THEORY_RESTARTS[wildcards.K],
    script:
        "../scripts/theory_dae_restarts.py"


rule plot_phase:
    """Heat-maps of the success probability over (N_k, d), one panel per method (closed form with
    noise, noise-free closed form, DAE; for K > 1 also the random-restart and single-random-start
    DAEs), line N_k = d."""
    input:
        unpack(lambda wildcards: THEORY_TABLES[wildcards.name]),
    output:
        figure=report(
            f"{RESULTS}/figures/{{name}}.{THEORY_EXT}",
            caption="../report/phase_transition.rst",
            category="Theory (Figs 2, 3, 6)",
            subcategory="Figures",
        ),
    log:
        f"{RESULTS}/logs/plot_phase/{{name}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/plot_phase/{{name}}.tsv"
    wildcard_constraints:
        name="|".join(THEORY_FIGURES),
    localrule: True
    conda:
        "../../envs/plots.yaml"
    params:
        plot=config["plot"],
    script:
        "../scripts/plot_phase.py"


FINAL_OUTPUTS.extend(
    [path for tables in THEORY_TABLES.values() for path in tables.values()]
    + [f"{RESULTS}/figures/{name}.{THEORY_EXT}" for name in THEORY_FIGURES]
)
