"""Load and validate the configuration files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from hubspoke.config.accounts import AccountsConfig
from hubspoke.config.errors import ConfigError, from_validation_error
from hubspoke.config.files import read_yaml_mapping
from hubspoke.config.models import STRATEGY_TAGS, ModelsConfig

CONFIG_DIR_ENV = "HUBSPOKE_CONFIG_DIR"


def project_root() -> Path:
    """The checkout (or MWAA bundle) root: the folder holding ``config/`` and ``pipelines/``."""
    return Path(__file__).resolve().parents[3]


def config_dir() -> Path:
    """``$HUBSPOKE_CONFIG_DIR`` if set, else ``<project root>/config``."""
    env = os.environ.get(CONFIG_DIR_ENV)
    return Path(env) if env else project_root() / "config"


def models_root(config_folder: Path | None = None) -> Path:
    """Where ``pipeline`` directories of models.yaml resolve: the config folder's parent when
    it holds ``pipelines/`` (an MWAA bundle ships config/ and pipelines/ inside the DAGs
    folder), else the project root (a checkout, or a config folder copied elsewhere).
    """
    parent = (config_folder or config_dir()).resolve().parent
    return parent if (parent / "pipelines").is_dir() else project_root()


def load_accounts(path: Path | None = None) -> AccountsConfig:
    path = path or config_dir() / "accounts.yaml"
    data = read_yaml_mapping(path)
    try:
        return AccountsConfig.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(path, exc) from None


def load_models(path: Path | None = None, *, root: Path | None = None) -> ModelsConfig:
    """Load ``models.yaml``; ``root`` is where relative ``pipeline`` directories resolve."""
    path = path or config_dir() / "models.yaml"
    data = read_yaml_mapping(path)
    raw_models = data.get("models")
    names = (
        [str(m.get("name", "?")) for m in raw_models if isinstance(m, dict)]
        if isinstance(raw_models, list)
        else None
    )
    try:
        models = ModelsConfig.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(path, exc, names=names, union_tags=STRATEGY_TAGS) from None
    root = root or models_root(path.parent)
    for index, model in enumerate(models.models):
        pipeline_file = root / model.pipeline / "pipeline.py"
        if not pipeline_file.is_file():
            raise ConfigError(
                path,
                f"models[{index}] ({model.name}).pipeline",
                f"no pipeline.py in {model.pipeline!r}; point it at a directory holding "
                "pipeline.py with get_pipeline()",
            )
    return models


@dataclass(frozen=True)
class Config:
    accounts: AccountsConfig
    models: ModelsConfig


def load_config(directory: Path | None = None) -> Config:
    """Load both files from ``directory`` (default :func:`config_dir`)."""
    directory = directory or config_dir()
    return Config(
        accounts=load_accounts(directory / "accounts.yaml"),
        models=load_models(directory / "models.yaml"),
    )
