"""Normalise a SageMaker pipeline definition so that two builds of the same code compare equal.

Building a definition uploads the step code and names the uploads after generated job names
that carry the build time, e.g. ``.../breast-cancer-preprocess-2025-01-31-12-00-00-123/source/``
(processing) or ``.../breast-cancer-train-20250131120000/input/code`` (training). Job names
themselves are dropped from the definition by the SDK unless custom job prefixes are enabled;
when present, they carry the same timestamps.

``normalised_definition`` replaces those timestamps with :data:`BUILD_TIME` and leaves
everything else alone. In particular the code fingerprint in the code S3 URIs stays, so a change
to the step code still changes the normalised definition. Pure standard library: no SDK, no AWS.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Protocol

__all__ = ["BUILD_TIME", "normalised_definition"]

#: Placeholder that replaces a build timestamp.
BUILD_TIME = "<build-time>"

# "<base>-<timestamp>" as a whole job name or S3 key segment; the SDK's two timestamp forms:
# processing "YYYY-MM-DD-HH-MM-SS-mmm" (name_from_base), training "YYYYMMDDHHMMSS".
_TIMESTAMPED_NAME = re.compile(
    r"(?P<base>[A-Za-z0-9][A-Za-z0-9-]*?)-(?:\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-\d{3}|\d{14})"
)
_S3_SCHEME = "s3://"


class _HasDefinition(Protocol):
    def definition(self) -> str: ...


def _strip_timestamp(name: str) -> str:
    match = _TIMESTAMPED_NAME.fullmatch(name)
    return f"{match['base']}-{BUILD_TIME}" if match else name


def _normalise_s3_uri(uri: str) -> str:
    bucket_and_key = uri[len(_S3_SCHEME) :]
    return _S3_SCHEME + "/".join(_strip_timestamp(part) for part in bucket_and_key.split("/"))


def _normalise(value: Any, key: str | None = None) -> Any:
    if isinstance(value, Mapping):
        return {name: _normalise(item, name) for name, item in value.items()}
    if isinstance(value, list):
        return [_normalise(item) for item in value]
    if isinstance(value, str):
        if value.startswith(_S3_SCHEME):
            return _normalise_s3_uri(value)
        if key is not None and key.endswith("JobName"):
            return _strip_timestamp(value)
    return value


def normalised_definition(pipeline: _HasDefinition | str | Mapping[str, Any]) -> dict[str, Any]:
    """Return the pipeline definition as a dict with build timestamps replaced by BUILD_TIME.

    Args:
        pipeline: a ``Pipeline`` (its ``definition()`` is called, which uploads the step code),
            a definition JSON string (e.g. ``PipelineDefinition`` from ``DescribePipeline``), or
            an already parsed definition.

    Returns:
        A new dict; equal for two builds of the same pipeline from the same code and arguments.
    """
    if isinstance(pipeline, Mapping):
        parsed: Any = pipeline
    elif isinstance(pipeline, str):
        parsed = json.loads(pipeline)
    else:
        parsed = json.loads(pipeline.definition())
    if not isinstance(parsed, Mapping):
        raise ValueError(
            f"a pipeline definition is a JSON object, not {type(parsed).__name__}; "
            "pass a Pipeline, its definition() string or the parsed dict."
        )
    normalised: dict[str, Any] = _normalise(parsed)
    return normalised
