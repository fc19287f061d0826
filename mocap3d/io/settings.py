"""Settings files (TOML, YAML): read with one-sentence errors. Moved to :mod:`mocap3d.settings` (below every
config, so that :mod:`mocap3d.config` can read files without importing ``io``); the names stay importable here."""

from __future__ import annotations

from ..settings import (
    CONFIG_ARRAYS,
    CONFIG_TABLES,
    MAX_SETTINGS_BYTES,
    SettingsError,
    check_tables,
    did_you_mean,
    key_hints,
    read_toml,
    read_yaml,
)

__all__ = ["read_toml", "check_tables", "did_you_mean", "key_hints", "read_yaml", "SettingsError", "CONFIG_TABLES",
           "CONFIG_ARRAYS", "MAX_SETTINGS_BYTES"]  # fmt: skip
