"""Model server processes for endpoint variants: stage the artifact, start, check, stop.

A variant's model is staged as SageMaker hosting stages it: ``model.tar.gz`` is fetched from S3
with the model's execution role (the caller supplies the fetch, so it goes through localcloud's
S3 endpoint and its governance) and extracted into a model dir; the inference code comes from
``SAGEMAKER_SUBMIT_DIRECTORY`` (an ``s3://`` source tarball, fetched the same way, or a
container path under ``/opt/ml/model``) or else the artifact's ``code/`` dir. One process serves
one variant whatever its instance count (a documented local simplification).

Every process started here is tracked; :func:`stop_all` (also run at interpreter exit) stops
those still running, and each server exits by itself if this process dies.
"""

from __future__ import annotations

import atexit
import contextlib
import http.client
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

SERVER_SCRIPT = Path(__file__).with_name("model_server.py")
HEALTH_TIMEOUT_SECONDS = 60.0
CONTAINER_MODEL_DIR = PurePosixPath("/opt/ml/model")
# Host settings a container would have of its own; credentials are never passed on.
_HOST_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PYTHONPYCACHEPREFIX")

# (execution role ARN, s3:// URL) → object bytes, read as that role.
FetchAsRole = Callable[[str, str], bytes]


class VariantLoadError(RuntimeError):
    """A variant's model could not be staged or did not become healthy; the message is the
    FailureReason to show."""


@dataclass(frozen=True)
class ModelSpec:
    """What one production variant runs: the model's container as CreateModel stored it."""

    model_name: str
    execution_role_arn: str
    model_data_url: str
    image: str
    environment: Mapping[str, str] = field(default_factory=dict)


class ModelProcess:
    """One running model server; ``invoke`` forwards a request to its ``/invocations``.

    ``variant`` names the production variant it serves, so whoever routes a request to it
    (the old or the new fleet during a blue/green update) can report the variant that really
    answered."""

    def __init__(
        self, process: subprocess.Popen[bytes], port: int, workdir: Path, variant: str = ""
    ) -> None:
        self.process = process
        self.port = port
        self.workdir = workdir
        self.variant = variant
        self.started_at = time.time()

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def ping(self, timeout: float = 2.0) -> bool:
        if not self.alive():
            return False
        try:
            status, _, _ = self._request("GET", "/ping", b"", {}, timeout)
        except OSError:
            return False
        return status == 200

    def invoke(
        self, body: bytes, content_type: str | None, accept: str | None, timeout: float = 60.0
    ) -> tuple[int, str, bytes]:
        """``(status, content type, body)`` of the container's answer."""
        headers = {"Content-Type": content_type or "application/octet-stream"}
        if accept:
            headers["Accept"] = accept
        return self._request("POST", "/invocations", body, headers, timeout)

    def _request(
        self, method: str, path: str, body: bytes, headers: dict[str, str], timeout: float
    ) -> tuple[int, str, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.getheader("Content-Type", ""), response.read()
        finally:
            connection.close()

    def stop(self) -> None:
        """Stop the server and everything it started, then remove its files."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        _forget(self)
        shutil.rmtree(self.workdir, ignore_errors=True)


_live: set[ModelProcess] = set()
_live_lock = threading.Lock()


def _track(process: ModelProcess) -> None:
    with _live_lock:
        _live.add(process)


def _forget(process: ModelProcess) -> None:
    with _live_lock:
        _live.discard(process)


def live_processes() -> list[ModelProcess]:
    """Model servers started and not yet stopped (for shutdown and tests)."""
    with _live_lock:
        return list(_live)


def stop_all() -> None:
    """Stop every model server this process started."""
    for process in live_processes():
        process.stop()


atexit.register(stop_all)


def _s3_location(url: str) -> tuple[str, str]:
    if not url.startswith("s3://"):
        raise VariantLoadError(f"ModelDataUrl {url!r} is not an s3:// URL")
    bucket, _, key = url[len("s3://") :].partition("/")
    return bucket, key


def _extract(archive: bytes, destination: Path, what: str) -> None:
    destination.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
            tar.extractall(destination, filter="data")
    except (tarfile.TarError, OSError) as error:
        raise VariantLoadError(f"{what} is not a readable tar.gz archive: {error}") from None


def stage_model(spec: ModelSpec, fetch: FetchAsRole, workdir: Path) -> tuple[Path, Path | None]:
    """Fetch and extract the artifact (and source tarball); return (model dir, code dir)."""
    model_dir = workdir / "model"
    _s3_location(spec.model_data_url)
    _extract(fetch(spec.execution_role_arn, spec.model_data_url), model_dir, spec.model_data_url)
    submit = spec.environment.get("SAGEMAKER_SUBMIT_DIRECTORY", "")
    if submit.startswith("s3://"):
        code_dir = workdir / "code"
        _extract(fetch(spec.execution_role_arn, submit), code_dir, submit)
        return model_dir, code_dir
    if submit:
        path = PurePosixPath(submit)
        if not path.is_relative_to(CONTAINER_MODEL_DIR):
            raise VariantLoadError(
                f"SAGEMAKER_SUBMIT_DIRECTORY {submit!r} must be an s3:// URL or a path under "
                f"{CONTAINER_MODEL_DIR}"
            )
        return model_dir, model_dir / path.relative_to(CONTAINER_MODEL_DIR)
    code_dir = model_dir / "code"
    return model_dir, code_dir if code_dir.is_dir() else None


def start_model_server(
    spec: ModelSpec,
    fetch: FetchAsRole,
    variant_name: str,
    timeout: float = HEALTH_TIMEOUT_SECONDS,
) -> ModelProcess:
    """Stage ``spec`` and start its server; return once ``/ping`` answers 200.

    Raises :class:`VariantLoadError` worded as SageMaker's FailureReason when the artifact
    cannot be fetched or the model does not load; nothing is left running then.
    """
    workdir = Path(tempfile.mkdtemp(prefix="localcloud-variant-"))
    try:
        model_dir, code_dir = stage_model(spec, fetch, workdir)
    except VariantLoadError:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    except Exception as error:  # a denied or missing object: the fetch names it
        shutil.rmtree(workdir, ignore_errors=True)
        raise VariantLoadError(
            f"Failed to download model data for container of production variant "
            f"{variant_name} from {spec.model_data_url}: {error}"
        ) from None
    port_file = workdir / "port"
    command = [sys.executable, str(SERVER_SCRIPT), "--model-dir", str(model_dir)]
    command += ["--port-file", str(port_file), "--parent-pid", str(os.getpid())]
    if code_dir is not None:
        command += ["--code-dir", str(code_dir)]
    env = {name: os.environ[name] for name in _HOST_ENV if name in os.environ}
    env.update({k: str(v) for k, v in spec.environment.items()})
    env["SM_MODEL_DIR"] = str(model_dir)
    stderr_path = workdir / "stderr.log"
    with open(stderr_path, "wb") as stderr:
        popen = subprocess.Popen(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )
    process = ModelProcess(popen, 0, workdir, variant_name)
    _track(process)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_file.is_file():
            process.port = int(port_file.read_text())
            if process.ping():
                return process
        if not process.alive():
            break
        time.sleep(0.05)
    detail = _last_line(stderr_path) or "it did not answer /ping in time"
    process.stop()
    raise VariantLoadError(
        f"The primary container for production variant {variant_name} did not pass the ping "
        f"health check: {detail}"
    )


def _last_line(path: Path) -> str:
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1].strip()[:700] if lines else ""
