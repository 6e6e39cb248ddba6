"""Cross-field checks of the pipeline configuration that JSON schema cannot express.

`check_config(config)` runs at workflow start (workflow/rules/common.smk), after the schema.
Each error names the offending key and how to fix it, and is raised before any job starts.
One function per config section.
"""
from __future__ import annotations

from .cells import parse_cell


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key and the fix."""


def _theory(cfg: dict) -> None:
    """Grid ranges are non-empty and every grid fits: K * d_max <= n (orthogonal bases, spec §1.4)."""
    n = cfg["n"]
    grids = [(f"theory.{method}.grid", cfg[method]["grid"]) for method in ("closed_form", "dae")]
    grids.append(("theory.dae.restarts.grid", cfg["dae"]["restarts"]["grid"]))
    for prefix, grid in grids:
        for name, cell in grid.items():
            key = f"{prefix}.{name}"
            K = int(name[1:])
            for lo, hi in (("d_min", "d_max"), ("N_k_min", "N_k_max")):
                if cell[lo] > cell[hi]:
                    raise ConfigError(f"{key}.{lo} = {cell[lo]} exceeds {key}.{hi} = {cell[hi]}: make {lo} <= {hi}")
            if K * cell["d_max"] > n:
                raise ConfigError(
                    f"{key}.d_max = {cell['d_max']}: K * d = {K} * {cell['d_max']} = {K * cell['d_max']} exceeds "
                    f"theory.n = {n} (the K bases are disjoint blocks of one orthogonal n x n matrix); "
                    f"lower d_max to at most {n // K} or raise theory.n"
                )


def _molrg_unet(cfg: dict) -> None:
    n = 3 * cfg["resolution"] ** 2
    if cfg["K"] * max(cfg["d_values"]) > n:
        raise ConfigError(f"molrg_unet: K * max(d_values) = {cfg['K']} * {max(cfg['d_values'])} exceeds "
                          f"n = 3 * resolution^2 = {n} (the subspaces must be orthogonal): lower d_values or K, "
                          f"or raise resolution")
    levels = len(cfg["channel_mult"])
    if cfg["resolution"] % 2 ** (levels - 1):
        raise ConfigError(f"molrg_unet.channel_mult has {levels} levels, so molrg_unet.resolution must be "
                          f"divisible by {2 ** (levels - 1)}; it is {cfg['resolution']}")
    if cfg["width"] % 2:
        raise ConfigError(f"molrg_unet.width = {cfg['width']} must be even (sinusoidal noise embedding)")
    if cfg["sigma_min"] >= cfg["sigma_max"]:
        raise ConfigError(f"molrg_unet.sigma_min = {cfg['sigma_min']} must be below sigma_max = {cfg['sigma_max']}")
    if cfg["num_fresh"] * cfg["eps_quantile"] < 1:
        raise ConfigError(f"molrg_unet.num_fresh = {cfg['num_fresh']} is too small for eps_quantile = "
                          f"{cfg['eps_quantile']}: raise num_fresh to at least {int(1 / cfg['eps_quantile']) + 1}")


def _datasets(cfg: dict) -> None:
    for name, spec in cfg.items():
        key = f"datasets.{name}"
        if spec["format"] == "pca_projection":
            src = cfg.get(spec["source"])
            if src is None or src["format"] == "pca_projection":
                raise ConfigError(f"{key}.source = {spec['source']!r} must name a non-derived entry of `datasets` "
                                  f"(known: {sorted(n for n, s in cfg.items() if s['format'] != 'pca_projection')})")
            for k in ("resolution", "channels"):
                if spec[k] != src[k]:
                    raise ConfigError(f"{key}.{k} = {spec[k]} differs from its source's ({spec['source']}: {src[k]}); "
                                      f"a projection keeps the source's image shape: set {key}.{k}: {src[k]}")
            n = src["channels"] * src["resolution"] ** 2
            if spec["k"] > n:
                raise ConfigError(f"{key}.k = {spec['k']} exceeds the image dimension n = {n} of {spec['source']}")
            if spec["heldout"] > src["heldout"]:
                raise ConfigError(f"{key}.heldout = {spec['heldout']} exceeds its source's held-out images "
                                  f"({spec['source']}: {src['heldout']}): lower it")
        elif spec["format"] != "digits" and not spec["path"]:
            raise ConfigError(f"{key}.path is empty: give the folder/archive of the {spec['format']} files")
        if spec["folder_labels"] and spec["format"] != "image_folder":
            raise ConfigError(f"{key}.folder_labels applies to image_folder datasets only; set it to false")
        if spec["max_train"] is not None and spec["max_train"] < 2:
            raise ConfigError(f"{key}.max_train = {spec['max_train']}: need at least 2 training images")


def _realdata(cfg: dict, full: dict) -> None:
    data = full["datasets"]

    def n_of(name):
        return data[name]["channels"] * data[name]["resolution"] ** 2

    for name in cfg["table1_datasets"]:
        if name not in cfg["molrg"]:
            raise ConfigError(f"realdata.table1_datasets lists '{name}' but realdata.molrg has no entry for it: "
                              f"add realdata.molrg.{name}: {{K: ..., d: ..., clusters: labels|gmm}}")
        m, spec = cfg["molrg"][name], data[name]
        if m["d"] > n_of(name):
            raise ConfigError(f"realdata.molrg.{name}.d = {m['d']} exceeds the image dimension n = {n_of(name)} "
                              f"(datasets.{name}: {spec['channels']} x {spec['resolution']}^2)")
        if m["clusters"] == "labels" and spec["format"] == "image_folder" and not spec["folder_labels"]:
            raise ConfigError(f"realdata.molrg.{name}.clusters = labels, but datasets.{name} has no labels "
                              f"(folder_labels: false): use clusters: gmm")
        if m["clusters"] == "gmm" and cfg["gmm"]["pca_dim"] > n_of(name):
            raise ConfigError(f"realdata.gmm.pca_dim = {cfg['gmm']['pca_dim']} exceeds n = {n_of(name)} of {name}")
    for unet_key, names in (("unet", cfg["table1_datasets"]), ("gl_unet", cfg["gl_datasets"])):
        levels = len(cfg[unet_key]["channel_mult"])
        for name in names:
            if data[name]["resolution"] % 2 ** (levels - 1):
                raise ConfigError(f"realdata.{unet_key}.channel_mult has {levels} levels, so the resolution must be "
                                  f"divisible by {2 ** (levels - 1)}; datasets.{name}.resolution = {data[name]['resolution']}")
    conv, iters = cfg["unet_convergence"], cfg["unet"]["iterations"]
    if conv["checkpoint_spacing"] % conv["every"]:
        raise ConfigError(f"realdata.unet_convergence.checkpoint_spacing = {conv['checkpoint_spacing']} must be a "
                          f"multiple of realdata.unet_convergence.every = {conv['every']} (the kept EMA weights are "
                          f"taken at held-out evaluations)")
    if iters <= (conv["checkpoints"] - 1) * conv["checkpoint_spacing"]:
        raise ConfigError(f"realdata.unet.iterations = {iters} leaves no room for "
                          f"realdata.unet_convergence.checkpoints = {conv['checkpoints']} kept checkpoints "
                          f"{conv['checkpoint_spacing']} steps apart: raise iterations above "
                          f"{(conv['checkpoints'] - 1) * conv['checkpoint_spacing']} or lower checkpoints/checkpoint_spacing")
    gl = cfg["gl"]
    for name in cfg["gl_datasets"]:
        cap = data[name]["max_train"]
        if cap is not None and min(gl["N"]) > cap:  # larger sizes are left out per dataset
            raise ConfigError(f"realdata.gl.N: every size exceeds datasets.{name}.max_train = {cap}")
        if name not in gl["d_intr"]:  # with table2 too: its row may fail the validity check after training
            need = ("with d_intr_source: config" if gl["d_intr_source"] == "config" else
                    "as the fallback wherever Table 2's row fails its validity check" if gl["d_intr_source"] == "table2"
                    else "as the fallback wherever the Jacobian rank curve has no significant minimum")
            raise ConfigError(f"realdata.gl.d_intr has no value for '{name}' (needed {need}): add "
                              f"realdata.gl.d_intr.{name}: <number> or 'mle' (Levina-Bickel MLE of its training images)")
    if gl["d_intr_source"] == "table2":
        missing = [n for n in cfg["gl_datasets"] if n not in full.get("jacobian", {}).get("datasets", [])]
        if missing:
            raise ConfigError(f"realdata.gl.d_intr_source = table2, but Table 2 (jacobian.datasets) has no row for "
                              f"{missing}: add them to jacobian.datasets or use d_intr_source: config")
    if cfg["table1"]["fig_noises"] > cfg["table1"]["num_samples"]:
        raise ConfigError(f"realdata.table1.fig_noises = {cfg['table1']['fig_noises']} exceeds "
                          f"realdata.table1.num_samples = {cfg['table1']['num_samples']}")
    s = cfg["sampler"]
    if not s["sigma_min"] < s["sigma_max"]:
        raise ConfigError(f"realdata.sampler.sigma_min ({s['sigma_min']}) must be below sigma_max ({s['sigma_max']})")
    if cfg["descriptor"]["kind"] == "sscd" and not cfg["descriptor"]["sscd_path"]:
        raise ConfigError("realdata.descriptor.kind = sscd needs realdata.descriptor.sscd_path (a local "
                          "sscd_disc_large.torchscript.pt); or use kind: classifier or pixel")


def _jacobian(cfg: dict, full: dict) -> None:
    if not cfg["sigma_min"] < cfg["sigma_max"]:
        raise ConfigError(f"jacobian.sigma_min ({cfg['sigma_min']}) must be below jacobian.sigma_max ({cfg['sigma_max']})")
    if cfg["steps"] is not None:
        bad = [s for s in cfg["steps"] if s >= cfg["num_steps"]]
        if bad:
            raise ConfigError(f"jacobian.steps {bad} outside the trajectory: indices run 0..{cfg['num_steps'] - 1} "
                              f"(jacobian.num_steps = {cfg['num_steps']}); drop them or use steps: null for all")
    unknown = [name for name in cfg["datasets"] if name not in full.get("datasets", {})]
    if unknown:
        raise ConfigError(f"jacobian.datasets {unknown} are not defined in the `datasets` section "
                          f"(known: {sorted(full.get('datasets', {}))}); add them there or drop them")
    chk, eta = cfg["molrg_check"], cfg["eta"]
    K, d, n = chk["K"], chk["d"], chk["n"]
    if chk["unet_cells"]:
        # the MoLRG grid's U-Nets (Fig 4 left) are compared with the closed form drawn with the same n, K, d
        mu = full.get("molrg_unet", {})
        if "K" in mu and mu["K"] != K:
            raise ConfigError(f"jacobian.molrg_check.K = {K} differs from molrg_unet.K = {mu['K']}: "
                              f"set them equal to compare the U-Nets with the closed form")
        if "resolution" in mu and 3 * mu["resolution"] ** 2 != n:
            raise ConfigError(f"jacobian.molrg_check.n = {n} differs from molrg_unet's n = 3 * resolution^2 = "
                              f"{3 * mu['resolution'] ** 2}: set them equal")
        other_d = [c for c in chk["unet_cells"] if parse_cell(c).d != d]
        if other_d:
            raise ConfigError(f"jacobian.molrg_check.unet_cells {other_d} are not of d = {d} "
                              f"(jacobian.molrg_check.d): use cells d{d}_N<N>_seed<s> or change d")
    if K * d > n:
        raise ConfigError(f"jacobian.molrg_check: K*d = {K}*{d} exceeds n = {n}; lower K or d, or raise n")
    # With equal singular values the Frobenius rule of Eq. 51 can only tell ranks r with
    # (r - 1) / r <= eta^2 apart: beyond 1/(1 - eta^2) (50 for eta = 0.99) the check is meaningless.
    if K * d > 1 / (1 - eta**2):
        raise ConfigError(f"jacobian.molrg_check: K*d = {K * d} is beyond what the rank rule resolves at "
                          f"jacobian.eta = {eta} (at most {int(1 / (1 - eta**2))}); lower K or d")


def _external_file(key: str, path) -> None:
    """A configured input path must exist unless the pipeline makes it (a path under results/)."""
    import os

    if path and not str(path).startswith("results/") and not os.path.exists(path):
        raise ConfigError(f"{key}: file {path!r} not found (relative paths are taken from the working "
                          f"directory {os.getcwd()}); give an existing path or null")


def _editing(cfg: dict, full: dict) -> None:
    if not cfg["t_min"] < cfg["edit_t"]:
        raise ConfigError(f"editing.t_min ({cfg['t_min']}) must be below editing.edit_t ({cfg['edit_t']})")
    if cfg["checkpoint_kind"] == "vp_epsilon" and not cfg["checkpoint"]:
        raise ConfigError("editing.checkpoint_kind = vp_epsilon applies to an external checkpoint: set "
                          "editing.checkpoint, or use checkpoint_kind: denoiser for the pipeline's U-Nets")
    needs_dataset = not cfg["checkpoint"] or not cfg["image_file"]  # its U-Net or its images
    if needs_dataset and cfg["dataset"] not in full.get("datasets", {}):
        raise ConfigError(f"editing.dataset = {cfg['dataset']!r} is not defined in the `datasets` section "
                          f"(known: {sorted(full.get('datasets', {}))})")
    if cfg["strength_units"] == "norm_fraction" and any(abs(s) > 1 for s in cfg["strengths"]):
        raise ConfigError(f"editing.strengths {cfg['strengths']} are fractions of the state's norm "
                          "(strength_units: norm_fraction) and must lie in [-1, 1]; for absolute strengths "
                          "set editing.strength_units to vp or edm")
    _external_file("editing.checkpoint", cfg["checkpoint"])
    _external_file("editing.image_file", cfg["image_file"])


def check_config(config: dict) -> None:
    _theory(config["theory"])
    _molrg_unet(config["molrg_unet"])
    _datasets(config["datasets"])
    _realdata(config["realdata"], config)
    _jacobian(config["jacobian"], config)
    _editing(config["editing"], config)
