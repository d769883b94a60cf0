"""Model names the configuration accepts must give SageMaker names that fit: hubspoke derives
``<model>-v<version>-<environment>-<8 hex>`` and others from them, and SageMaker allows 63
characters."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hubspoke.config import ConfigError, load_models
from hubspoke.config.names import MAX_VERSION, SAGEMAKER_NAME_LIMIT, max_model_name_length
from hubspoke.deploy import NameTooLong, plan

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "config"
KMS = "arn:aws:kms:us-east-1:333333333333:key/k"
LONGEST = max_model_name_length(("staging", "prod"))


def _models_named(directory: Path, name: str) -> Path:
    data = yaml.safe_load((CONFIG / "models.yaml").read_text())
    data["models"][0]["name"] = name
    path = directory / "models.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _name(length: int) -> str:
    return ("fraud-detection-" * 4)[: length - 1] + "x"


def test_the_longest_name_allowed_is_what_the_derived_names_leave() -> None:
    # <model>-v99999-staging-<8 hex>: 24 characters beyond the model's name.
    assert LONGEST == SAGEMAKER_NAME_LIMIT - len("-v99999-staging-") - 8 == 39


def test_a_name_that_fits_derives_names_that_fit(tmp_path: Path) -> None:
    model = load_models(_models_named(tmp_path, _name(LONGEST)), root=ROOT).models[0]
    arn = f"arn:aws:sagemaker:us-east-1:111111111111:model-package/{model.name}/{MAX_VERSION}"
    lengths = []
    for environment in ("staging", "prod"):
        deployment = plan(model, environment, arn, KMS)
        names = (deployment.endpoint, deployment.model_name, deployment.config_name)
        lengths += [len(n) for n in names]
    assert max(lengths) == SAGEMAKER_NAME_LIMIT


def test_a_version_beyond_the_budget_is_refused_before_anything_is_created(
    tmp_path: Path,
) -> None:
    model = load_models(_models_named(tmp_path, _name(LONGEST)), root=ROOT).models[0]
    arn = f"arn:aws:sagemaker:us-east-1:111111111111:model-package/{model.name}/{MAX_VERSION + 1}"
    with pytest.raises(NameTooLong) as info:
        plan(model, "staging", arn, KMS)
    config_name = f"{model.name}-v{MAX_VERSION + 1}-staging-"
    assert str(info.value).startswith(
        f"cannot deploy v{MAX_VERSION + 1} of {model.name} to staging: the SageMaker name "
        f"{config_name}"
    )
    assert "has 64 characters and SageMaker allows at most 63" in str(info.value)
    plan(model, "prod", arn, KMS)  # prod's names are shorter and still fit


@pytest.mark.parametrize("length", [LONGEST + 1, 44, 63])
def test_a_name_too_long_for_its_derived_names_is_one_config_error(
    tmp_path: Path, length: int
) -> None:
    name = _name(length)
    path = _models_named(tmp_path, name)
    with pytest.raises(ConfigError) as info:
        load_models(path, root=ROOT)
    message = str(info.value)
    assert message.startswith(f"{path}: models[0] ({name}).name: "), message
    assert f"{length} characters is too long" in message
    assert f"the longest {length + 24} characters (<model>-v99999-staging-<8 hex>" in message
    assert "SageMaker allows at most 63; use a name of at most 39 characters" in message
    assert "\n" not in message


def test_config_check_refuses_it_in_one_line(tmp_path: Path) -> None:
    directory = tmp_path / "cfg"
    shutil.copytree(CONFIG, directory)
    name = _name(44)
    _models_named(directory, name)
    hubspoke = str(Path(sys.executable).with_name("hubspoke"))
    result = subprocess.run(
        [hubspoke, "config", "check", "--config-dir", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 2, result
    assert result.stderr.startswith(f"error: {directory / 'models.yaml'}: models[0] ({name}).name")
    assert "use a name of at most 39 characters" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
