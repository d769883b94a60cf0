"""What loading the plugins folder costs each task process.

Every Airflow task process loads the plugins folder (the task runner integrates plugin macros
while building the template context), so whatever ``plugins/`` imports at module level is paid
once per task. hubspoke's UI plugin imports its FastAPI app (and Airflow's API security) only
when the API server asks for ``fastapi_apps``.

Each round starts a fresh Python process with a private ``AIRFLOW_HOME``, imports Airflow's
task-side plugins manager untimed, then times only ``integrate_macros_plugins()`` (what the task
runner calls) for three folders, in alternating order:

- ``empty``: an empty plugins folder (the floor);
- ``hubspoke``: the repository's ``plugins/``;
- ``eager app``: ``plugins/`` plus a file that imports ``hubspoke.ui.app`` at module level, as a
  plugin declaring ``fastapi_apps`` as a plain class attribute would.

Prints every round, the medians and the differences to ``empty``.

    uv run python benchmarks/plugin_load.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import sys, time
from airflow.sdk import plugins_manager
started = time.perf_counter()
plugins_manager.integrate_macros_plugins()
elapsed = time.perf_counter() - started
loaded, errors = plugins_manager._get_plugins()
assert not errors, errors
print(elapsed, len(loaded))
"""


def _folders(tmp: Path) -> dict[str, Path]:
    empty = tmp / "empty"
    empty.mkdir()
    eager = tmp / "eager"
    shutil.copytree(ROOT / "plugins", eager, ignore=shutil.ignore_patterns("__pycache__"))
    (eager / "eager_app.py").write_text("import hubspoke.ui.app  # noqa: F401\n")
    return {"empty": empty, "hubspoke": ROOT / "plugins", "eager app": eager}


def _time(folder: Path, home: Path) -> tuple[float, int]:
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(folder),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=300
    )
    if done.returncode:
        raise SystemExit(f"child failed for {folder}:\n{done.stderr[-2000:]}")
    elapsed, count = done.stdout.split()[-2:]
    return float(elapsed), int(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as raw:
        tmp = Path(raw)
        home = tmp / "home"
        home.mkdir()
        folders = _folders(tmp)
        times: dict[str, list[float]] = {name: [] for name in folders}
        names = list(folders)
        for round_ in range(args.rounds):
            order = names if round_ % 2 == 0 else names[::-1]
            for name in order:
                elapsed, count = _time(folders[name], home)
                times[name].append(elapsed)
                print(f"round {round_ + 1}  {name:<10} {elapsed * 1000:8.1f} ms  {count} plugins")
    medians = {name: statistics.median(values) for name, values in times.items()}
    print("\nmedian per task process (integrate_macros_plugins):")
    for name, value in medians.items():
        extra = (value - medians["empty"]) * 1000
        print(f"  {name:<10} {value * 1000:8.1f} ms   (+{extra:.1f} ms over empty)")


if __name__ == "__main__":
    main()
