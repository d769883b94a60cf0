"""A model server process that answers like a SageMaker scikit-learn serving container.

Run as a script (it imports nothing from the repository, as the container imports nothing
from the caller)::

    python model_server.py --model-dir DIR [--code-dir DIR] --port-file FILE --parent-pid PID

The model directory holds the extracted ``model.tar.gz``. The inference script is found as the
SageMaker scikit-learn container finds it: ``SAGEMAKER_PROGRAM`` names the script (default
``inference.py``) inside the code directory, which the caller resolved from
``SAGEMAKER_SUBMIT_DIRECTORY`` or, when unset, the artifact's own ``code/`` dir. The script may
define ``model_fn``, ``input_fn``, ``predict_fn`` and ``output_fn``; a missing one falls back to
the container's default: ``input_fn`` decodes JSON, CSV or NPY into a numpy array,
``predict_fn`` calls ``model.predict``, ``output_fn`` encodes to the Accept type (JSON by
default, or ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``). There is no default ``model_fn``: like
the container, a model without one fails to load. ``output_fn`` may return ``body`` or
``(body, content_type)``.

The model is loaded before the server listens: a model that cannot load makes the process exit
with status 1 and the error as the last line of stderr, so it never answers ``/ping``. Once
listening, the chosen port is written to ``--port-file``. ``GET /ping`` answers 200;
``POST /invocations`` runs the four functions and answers 200, or 415 for a content type the
defaults cannot decode, or 500 with the error text when the script raises. The server exits on
its own if the parent process disappears, so no server outlives the localcloud that started it.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
DEFAULT_PROGRAM = "inference.py"


class UnsupportedFormatError(ValueError):
    """The default handlers cannot decode or encode this media type (HTTP 415)."""


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def default_input_fn(body: bytes, content_type: str | None) -> Any:
    import numpy as np

    media = _media_type(content_type)
    if media == JSON:
        return np.array(json.loads(body))
    if media == CSV:
        rows = [
            [float(cell) for cell in line.split(",")]
            for line in body.decode("utf-8").splitlines()
            if line.strip()
        ]
        return np.array(rows)
    if media == NPY:
        return np.load(io.BytesIO(body), allow_pickle=False)
    raise UnsupportedFormatError(f"Content type {content_type} is not supported by this framework.")


def default_predict_fn(data: Any, model: Any) -> Any:
    return model.predict(data)


def default_output_fn(prediction: Any, accept: str) -> tuple[bytes | str, str]:
    import numpy as np

    media = _media_type(accept)
    array = np.asarray(prediction)
    if media == JSON:
        return json.dumps(array.tolist()), JSON
    if media == CSV:
        rows = array.reshape(len(array), -1) if array.ndim else array.reshape(1, 1)
        return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows), CSV
    if media == NPY:
        buffer = io.BytesIO()
        np.save(buffer, array)
        return buffer.getvalue(), NPY
    raise UnsupportedFormatError(f"Accept type {accept} is not supported by this framework.")


class LoadedModel:
    """The user script's functions (or the defaults) and the object ``model_fn`` returned."""

    def __init__(self, model_dir: Path, code_dir: Path | None, program: str) -> None:
        script = _load_script(code_dir, program)
        model_fn = getattr(script, "model_fn", None)
        if model_fn is None:
            raise RuntimeError(
                "no model_fn: the inference script must define model_fn(model_dir) "
                f"(looked for {program} in {code_dir or 'no code dir'})"
            )
        self.input_fn = getattr(script, "input_fn", default_input_fn)
        self.predict_fn = getattr(script, "predict_fn", default_predict_fn)
        self.output_fn = getattr(script, "output_fn", default_output_fn)
        self.model = model_fn(str(model_dir))

    def invoke(self, body: bytes, content_type: str | None, accept: str) -> tuple[bytes, str]:
        data = self.input_fn(body, content_type)
        prediction = self.predict_fn(data, self.model)
        result = self.output_fn(prediction, accept)
        payload, media = result if isinstance(result, tuple) else (result, accept)
        return (payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)), media


def _load_script(code_dir: Path | None, program: str) -> ModuleType | None:
    if code_dir is None or not (code_dir / program).is_file():
        return None
    sys.path.insert(0, str(code_dir))  # the script may import its neighbours in code/
    name = Path(program).stem
    spec = importlib.util.spec_from_file_location(name, code_dir / program)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot import {program}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _handler(loaded: LoadedModel, default_accept: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/ping":
                self._send(200, b"")
            else:
                self._send(404, b"not found")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.path != "/invocations":
                self._send(404, b"not found")
                return
            accept = self.headers.get("Accept") or default_accept
            if _media_type(accept) in ("", "*/*"):
                accept = default_accept
            try:
                payload, media = loaded.invoke(body, self.headers.get("Content-Type"), accept)
            except UnsupportedFormatError as error:
                self._send(415, str(error).encode())
            except Exception as error:  # a script error is the caller's ModelError
                traceback.print_exc()
                self._send(500, f"{type(error).__name__}: {error}".encode())
            else:
                self._send(200, payload, media)

    return Handler


def _exit_with_parent(parent_pid: int) -> None:
    while True:
        if os.getppid() != parent_pid:
            os._exit(0)
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve one model like a SageMaker container.")
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--code-dir", type=Path)
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    args = parser.parse_args(argv)
    threading.Thread(target=_exit_with_parent, args=(args.parent_pid,), daemon=True).start()
    program = os.environ.get("SAGEMAKER_PROGRAM") or DEFAULT_PROGRAM
    try:
        loaded = LoadedModel(args.model_dir, args.code_dir, program)
    except Exception as error:
        traceback.print_exc()
        print(f"model load failed: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        sys.exit(1)
    default_accept = os.environ.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT") or JSON
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(loaded, default_accept))
    server.daemon_threads = True
    partial = args.port_file.with_suffix(".partial")
    partial.write_text(str(server.server_address[1]))
    partial.replace(args.port_file)  # the reader never sees a half-written port
    server.serve_forever()


if __name__ == "__main__":
    main()
