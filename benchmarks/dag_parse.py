"""DAG folder parse time: the real ``DagBag`` over dags/, for 1 and for 100 models.

Each round starts a fresh Python process (so nothing of hubspoke, the Amazon provider or the
SageMaker SDK is imported yet, as in a new DAG-processor process), imports Airflow there
untimed, then times only ``DagBag(dag_folder=<repo>/dags)``: reading
the folder, importing ``dags/hubspoke_dags.py`` with everything it pulls in, loading
config/ and building every DAG. Interpreter start and ``import airflow`` are not timed.

Two configurations:

- ``shipped``: config/ as it is in the repository (one model, three DAGs);
- ``100 models``: config/ copied to a temp dir, ``models.yaml`` rewritten to 100 entries cloned
  from the shipped one, named ``model-000`` .. ``model-099`` (alarm names follow the model
  name), all pointing at ``pipelines/breast_cancer``; the child gets ``HUBSPOKE_CONFIG_DIR``.

The child's Airflow environment is private, as in tests/conftest.py: ``AIRFLOW_HOME`` a temp
dir, ``AIRFLOW__CORE__LOAD_EXAMPLES=False``, ``AIRFLOW__CORE__DAGS_FOLDER=<repo>/dags``,
``AIRFLOW__CORE__UNIT_TEST_MODE=True`` and a SQLite metadata database in that home (parsing
does not touch it). Each round must yield exactly three DAGs per model (retrain, promote,
rollback), no import errors, and the same model-independent DAGs (such as
``hubspoke_approval_events``) for both configurations; those counts are checked, the times
are only reported. Per-DAG cost divides by all DAGs of the bag.

Prints every round, the median per configuration, the median cost per DAG and the marginal
cost of one more model (difference of the two medians over 99 models).

    uv run python benchmarks/dag_parse.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
GENERATED_MODELS = 100
DAG_KINDS = ("retrain", "promote", "rollback")

# Run in the child: import Airflow untimed, then time the DagBag only; print one JSON line.
CHILD = """\
import json, sys, time
import airflow  # noqa: F401  (settings, ORM and plugins load here, outside the timed part)
from airflow.dag_processing.dagbag import DagBag

started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
seconds = time.perf_counter() - started
print(json.dumps({
    "seconds": seconds,
    "dag_ids": sorted(bag.dags),
    "import_errors": {str(k): str(v)[-500:] for k, v in bag.import_errors.items()},
}))
"""


def airflow_env(home: Path, config_dir: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
    )
    env.pop("HUBSPOKE_CONFIG_DIR", None)
    if config_dir is not None:
        env["HUBSPOKE_CONFIG_DIR"] = str(config_dir)
    return env


def generate_config(destination: Path, count: int) -> list[str]:
    """Copy config/ to ``destination`` with ``count`` models cloned from the shipped first one."""
    shutil.copytree(ROOT / "config", destination)
    path = destination / "models.yaml"
    document = yaml.safe_load(path.read_text())
    template = document["models"][0]
    original = template["name"]
    models: list[dict[str, Any]] = []
    for index in range(count):
        name = f"model-{index:03d}"
        # Alarm names are per model in the shipped entry; keep them distinct the same way.
        entry = yaml.safe_load(yaml.safe_dump(template).replace(original, name))
        entry["name"] = name
        entry["pipeline"] = "pipelines/breast_cancer"
        models.append(entry)
    document["models"] = models
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return [m["name"] for m in models]


def expected_dag_ids(names: list[str]) -> list[str]:
    return sorted(f"{kind}_{name.replace('-', '_')}" for name in names for kind in DAG_KINDS)


def parse_once(config_dir: Path | None) -> dict[str, Any]:
    home = Path(tempfile.mkdtemp(prefix="bench-dagparse-airflow-"))
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(DAGS)],
            env=airflow_env(home, config_dir),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if done.returncode != 0:
        raise SystemExit(f"the parse process failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(
    label: str, config_dir: Path | None, names: list[str], rounds: int
) -> tuple[float, list[str]]:
    """Median parse seconds over ``rounds`` fresh processes, and the model-independent DAGs."""
    per_model = expected_dag_ids(names)
    times: list[float] = []
    shared: list[str] = []
    for index in range(rounds):
        result = parse_once(config_dir)
        assert not result["import_errors"], result["import_errors"]
        dag_ids: list[str] = result["dag_ids"]
        found = [d for d in dag_ids if d in set(per_model)]
        assert found == per_model, (
            f"{label}: expected {len(per_model)} per-model DAGs (3 per model), got {len(found)}"
        )
        shared = [d for d in dag_ids if d not in set(per_model)]
        times.append(result["seconds"])
        print(
            f"  {label:<12} round {index + 1}: {result['seconds']:7.3f} s  "
            f"{len(dag_ids)} DAGs ({len(per_model)} per-model + {len(shared)} shared)"
        )
    median = statistics.median(times)
    total = len(per_model) + len(shared)
    print(
        f"  {label:<12} median of {rounds}: {median:7.3f} s for {len(names)} model(s), "
        f"{total} DAGs = {median / total * 1000:7.1f} ms per DAG "
        f"(min {min(times):.3f} s, max {max(times):.3f} s; shared: {', '.join(shared) or '-'})",
        flush=True,
    )
    return median, shared


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="fresh processes per config")
    args = parser.parse_args()

    from hubspoke.config import load_models

    shipped_names = [m.name for m in load_models(ROOT / "config" / "models.yaml").models]
    print(
        f"DagBag({DAGS}) parse time, {args.rounds} fresh process(es) per configuration",
        flush=True,
    )
    shipped, shared = measure("shipped", None, shipped_names, args.rounds)
    workdir = Path(tempfile.mkdtemp(prefix="bench-dagparse-config-"))
    try:
        config_dir = workdir / "config"
        names = generate_config(config_dir, GENERATED_MODELS)
        many, shared_many = measure(f"{GENERATED_MODELS} models", config_dir, names, args.rounds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    assert shared_many == shared, f"model-independent DAGs differ: {shared} vs {shared_many}"
    extra = GENERATED_MODELS - len(shipped_names)
    per_model = (many - shipped) / extra
    print(
        f"  marginal cost: {per_model * 1000:.1f} ms per extra model "
        f"({per_model / len(DAG_KINDS) * 1000:.1f} ms per extra DAG); "
        f"fixed part (imports, first model) {shipped:.3f} s"
    )


if __name__ == "__main__":
    main()
