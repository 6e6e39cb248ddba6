"""Cross-field checks of the pipeline configuration that JSON schema cannot express.

`check_config(config)` runs at workflow start (workflow/rules/common.smk), after the schema.
Each error names the offending key and how to fix it, and is raised before any job starts.
One function per config section; each issue's owner edits only its own function.
"""
from __future__ import annotations


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the key and the fix."""


def _theory(cfg: dict) -> None:
    pass


def _molrg_unet(cfg: dict) -> None:
    pass


def _datasets(cfg: dict) -> None:
    pass


def _realdata(cfg: dict, full: dict) -> None:
    pass


def _jacobian(cfg: dict, full: dict) -> None:
    pass


def _editing(cfg: dict, full: dict) -> None:
    pass


def check_config(config: dict) -> None:
    _theory(config["theory"])
    _molrg_unet(config["molrg_unet"])
    _datasets(config["datasets"])
    _realdata(config["realdata"], config)
    _jacobian(config["jacobian"], config)
    _editing(config["editing"], config)
