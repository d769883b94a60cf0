"""The configuration loader: the shipped files load, bad files give one clear line."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
import yaml

from hubspoke.config import ConfigError, load_accounts, load_config, load_models
from hubspoke.config.models import Canary

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "config"


def test_shipped_config_loads_with_canonical_names() -> None:
    config = load_config(CONFIG)
    accounts = config.accounts
    assert accounts.account_id("hub") == "111111111111"
    assert accounts.orchestrator_arn == "arn:aws:iam::111111111111:role/hubspoke-orchestrator"
    assert accounts.deployer_arn("prod") == "arn:aws:iam::444444444444:role/hubspoke-spoke-deployer"
    assert accounts.artifacts_bucket == "hubspoke-artifacts-111111111111"
    assert accounts.dev_bucket == "hubspoke-dev-222222222222"
    assert accounts.ou_paths()[:2] == ["ml-hub", "ml-workloads"]
    model = config.models.get("breast-cancer")
    assert model.dag_suffix == "breast_cancer"
    assert isinstance(model.environments.prod.deployment, Canary)
    assert model.environments.prod.deployment.canary_percent == 10
    assert model.environments.prod.deployment.alarm_names == [
        "breast-cancer-prod-invocation-errors",
        "breast-cancer-prod-latency",
    ]
    assert model.metric_gate.passes(0.97) and not model.metric_gate.passes(0.90)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def _models_with(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    data = yaml.safe_load((CONFIG / "models.yaml").read_text())
    mutate(data["models"][0])
    return _write(tmp_path, "models.yaml", yaml.safe_dump(data))


def _accounts_with(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    data = yaml.safe_load((CONFIG / "accounts.yaml").read_text())
    mutate(data)
    return _write(tmp_path, "accounts.yaml", yaml.safe_dump(data))


BAD_MODELS = [
    (
        lambda m: m["metric_gate"].update(threshold="high"),
        "models[0] (breast-cancer).metric_gate.threshold: Input should be a valid number",
    ),
    (
        lambda m: m["metric_gate"].update(threshold=1.5),
        "models[0] (breast-cancer).metric_gate.threshold: Input should be less than or equal to 1",
    ),
    (
        lambda m: m["environments"]["prod"]["deployment"].update(canary_percent=80),
        "models[0] (breast-cancer).environments.prod.deployment.canary_percent: "
        "Input should be less than or equal to 50",
    ),
    (
        lambda m: m["environments"]["prod"]["deployment"].update(type="rolling"),
        "models[0] (breast-cancer).environments.prod.deployment: Input tag 'rolling'",
    ),
    (lambda m: m.update(schedule="every monday"), "models[0] (breast-cancer).schedule: "),
    (lambda m: m.update(name="breast_cancer!"), "models[0] (breast-cancer_!"),
    (lambda m: m.update(treshold=0.9), "treshold: unknown key"),
    (lambda m: m.pop("metric_gate"), "models[0] (breast-cancer).metric_gate: Field required"),
    (lambda m: m["approval"].update(production="sometimes"), "approval.production"),
    (lambda m: m.update(pipeline="pipelines/missing"), "no pipeline.py in 'pipelines/missing'"),
    (
        lambda m: _prod_alarms(m)[1].update(statistic="p955"),
        "deployment.rollback_alarms[1].definition.statistic: Value error, statistic 'p955': "
        "use SampleCount, Average, Sum, Minimum, Maximum or a percentile",
    ),
    (
        lambda m: _prod_alarms(m)[0].update(period_seconds=45),
        "rollback_alarms[0].definition.period_seconds: Value error, period_seconds 45: "
        "use 10, 30 or a multiple of 60",
    ),
    (
        lambda m: _prod_alarms(m)[1].update(datapoints_to_alarm=3),
        "datapoints_to_alarm (3) exceeds evaluation_periods (2)",
    ),
    (
        lambda m: _prod_alarms(m).append("breast-cancer-prod-latency"),
        "rollback_alarms: Value error, alarm 'breast-cancer-prod-latency' is listed twice",
    ),
    (
        lambda m: _prod_alarms(m)[0].update(metric="CPUUtilization"),
        "rollback_alarms[0].definition.metric: Input should be 'Invocation5XXErrors'",
    ),
    (
        lambda m: _prod_alarms(m)[0].update(threshhold=2),
        "rollback_alarms[0].definition.threshhold: unknown key",
    ),
]


def _prod_alarms(model: dict) -> list:  # type: ignore[type-arg]
    return model["environments"]["prod"]["deployment"]["rollback_alarms"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(("mutate", "expected"), BAD_MODELS)
def test_bad_models_file_names_file_key_and_problem(tmp_path: Path, mutate, expected: str) -> None:  # type: ignore[no-untyped-def]
    path = _models_with(tmp_path, mutate)
    with pytest.raises(ConfigError) as info:
        load_models(path, root=ROOT)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    if "(breast-cancer_!" in expected:
        assert "models[0]" in message and ".name:" in message and "1-63 letters" in message
    else:
        assert expected in message, message
    assert "\n" not in message


BAD_ACCOUNTS = [
    (lambda d: d["accounts"]["hub"].update(id="1111"), "accounts.hub.id: String should match"),
    (lambda d: d["accounts"]["hub"].update(id=111111111111), "accounts.hub.id: Value error, quote"),
    (lambda d: d["accounts"].pop("prod"), "accounts.prod: Field required"),
    (lambda d: d.update(region="mars-1"), "region: Value error, not an AWS region"),
    (lambda d: d["accounts"]["prod"].update(id="333333333333"), "share ID 333333333333"),
    (lambda d: d["roles"].update(approver="bad role!"), "roles.approver: Value error"),
    (lambda d: d.update(region="eu-west-1"), "must be one of allowed_regions"),
    (lambda d: d["accounts"]["dev"].pop("ou"), "accounts.dev.ou is required"),
]


@pytest.mark.parametrize(("mutate", "expected"), BAD_ACCOUNTS)
def test_bad_accounts_file(tmp_path: Path, mutate, expected: str) -> None:  # type: ignore[no-untyped-def]
    path = _accounts_with(tmp_path, mutate)
    with pytest.raises(ConfigError) as info:
        load_accounts(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and expected in message, message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty"),
        ("- a\n- b\n", "the top level must be a mapping, not a list"),
        ("models: [\n  {name: x\n", "invalid YAML"),
        ("models: []\n", "models: List should have at least 1 item"),
    ],
)
def test_unreadable_models_files(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, "models.yaml", text)
    with pytest.raises(ConfigError, match=expected):
        load_models(path, root=ROOT)


def test_missing_file_says_how_to_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found; create it or set HUBSPOKE_CONFIG_DIR"):
        load_accounts(tmp_path / "accounts.yaml")


def test_duplicate_model_names(tmp_path: Path) -> None:
    data = yaml.safe_load((CONFIG / "models.yaml").read_text())
    twin = dict(data["models"][0], name="breast_cancer".replace("_", "-"))
    data["models"].append(twin)
    path = _write(tmp_path, "models.yaml", yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="model name 'breast-cancer' is used twice"):
        load_models(path, root=ROOT)


def test_config_dir_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(CONFIG, tmp_path / "cfg")
    monkeypatch.setenv("HUBSPOKE_CONFIG_DIR", str(tmp_path / "cfg"))
    assert load_config().accounts.region == "us-east-1"
