"""Typed configuration: ``config/accounts.yaml`` and ``config/models.yaml``.

Everything that differs between deployments is declared there once; onboarding a model or a
spoke is an entry in a file, not code.
"""

from __future__ import annotations

from hubspoke.config.accounts import AccountsConfig
from hubspoke.config.errors import ConfigError
from hubspoke.config.loader import (
    Config,
    config_dir,
    load_accounts,
    load_config,
    load_models,
    models_root,
    project_root,
)
from hubspoke.config.models import ModelConfig, ModelsConfig

__all__ = [
    "AccountsConfig",
    "Config",
    "ConfigError",
    "ModelConfig",
    "ModelsConfig",
    "config_dir",
    "load_accounts",
    "load_config",
    "load_models",
    "models_root",
    "project_root",
]
