"""Build the MWAA bundle from the repository (standard library only).

    python mwaa/build.py [--out dist/mwaa] [--revision SHA]

writes

    <out>/plugins.zip       the hubspoke package and the top-level Airflow plugin modules of
                            plugins/, with an .airflowignore so that Airflow loads only those
                            modules as plugins (hubspoke itself is imported as a library)
    <out>/dags/             dags/*.py, pipelines/, config/, an .airflowignore, and
                            constraints.txt: every package of the runtime closure in uv.lock
    <out>/requirements.txt  mwaa/requirements.txt (its --constraint names dags/constraints.txt)
    <out>/startup.sh        mwaa/startup.sh with the git revision filled in

Upload ``dags/`` to the environment's DAG folder in S3 and the other three files to the paths
the environment names (see README.md, "Deploying to AWS (MWAA)").
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "hubspoke"
REVISION_PLACEHOLDER = "__HUBSPOKE_GIT_REVISION__"
SKIP_DIRS = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
SKIP_SUFFIXES = {".pyc", ".pyo"}
# MWAA's Airflow loads every .py of the plugins folder as a plugin module; the package is not.
PLUGINS_AIRFLOWIGNORE = "hubspoke/\n"
# The dags bundle holds the pipelines and config next to the DAG file; neither holds DAGs.
DAGS_AIRFLOWIGNORE = "pipelines/\nconfig/\n"


def _files(directory: Path) -> list[Path]:
    """Files under ``directory``, sorted, without caches and compiled files."""
    return sorted(
        path
        for path in directory.rglob("*")
        if path.is_file()
        and not SKIP_DIRS.intersection(path.relative_to(directory).parts)
        and path.suffix not in SKIP_SUFFIXES
    )


def git_revision(root: Path) -> str:
    """The checkout's HEAD, with ``-dirty`` when tracked files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}-dirty" if dirty else head


def runtime_constraints(lock_path: Path) -> list[str]:
    """``name==version`` for the project's runtime closure in uv.lock (no dev group)."""
    lock = tomllib.loads(lock_path.read_text(encoding="utf-8"))
    by_name: dict[str, list[dict]] = {}
    for package in lock["package"]:
        by_name.setdefault(package["name"], []).append(package)
    seen: set[str] = set()
    pending: list[tuple[str, tuple[str, ...]]] = [(PROJECT, ())]
    while pending:
        name, extras = pending.pop()
        for package in by_name.get(name, []):
            deps = list(package.get("dependencies", []))
            for extra in extras:
                deps += package.get("optional-dependencies", {}).get(extra, [])
            for dep in deps:
                key = (dep["name"], tuple(dep.get("extra", [])))
                if f"{key[0]}[{','.join(key[1])}]" not in seen:
                    seen.add(f"{key[0]}[{','.join(key[1])}]")
                    pending.append(key)
    names = sorted({entry.split("[", 1)[0] for entry in seen} - {PROJECT})
    lines = []
    for name in names:
        versions = sorted({p["version"] for p in by_name[name] if "version" in p})
        if len(versions) == 1:  # a package locked at several versions (per marker) is left free
            lines.append(f"{name}=={versions[0]}")
    return lines


def build_plugins_zip(root: Path, target: Path) -> None:
    plugins = root / "plugins"
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr(".airflowignore", PLUGINS_AIRFLOWIGNORE)
        for path in sorted(plugins.glob("*.py")):  # the Airflow plugin modules
            bundle.write(path, path.name)
        for path in _files(plugins / PROJECT):
            bundle.write(path, path.relative_to(plugins).as_posix())


def build_dags(root: Path, target: Path) -> None:
    target.mkdir(parents=True)
    for path in sorted((root / "dags").glob("*.py")):
        shutil.copy2(path, target / path.name)
    for folder in ("pipelines", "config"):
        for path in _files(root / folder):
            destination = target / folder / path.relative_to(root / folder)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
    (target / ".airflowignore").write_text(DAGS_AIRFLOWIGNORE, encoding="utf-8")
    header = "# The runtime closure of uv.lock, written by mwaa/build.py; do not edit.\n"
    constraints = runtime_constraints(root / "uv.lock")
    (target / "constraints.txt").write_text(header + "\n".join(constraints) + "\n", "utf-8")


def build(root: Path, out: Path, revision: str | None = None) -> Path:
    """Write the bundle into ``out`` (replacing it) and return ``out``."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    build_plugins_zip(root, out / "plugins.zip")
    build_dags(root, out / "dags")
    shutil.copy2(root / "mwaa" / "requirements.txt", out / "requirements.txt")
    startup = (root / "mwaa" / "startup.sh").read_text(encoding="utf-8")
    revision = revision or git_revision(root)
    (out / "startup.sh").write_text(startup.replace(REVISION_PLACEHOLDER, revision), "utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "mwaa")
    parser.add_argument("--revision", help="the code revision to record (default: git HEAD)")
    args = parser.parse_args(argv)
    out = build(ROOT, args.out, args.revision)
    print(f"MWAA bundle written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
