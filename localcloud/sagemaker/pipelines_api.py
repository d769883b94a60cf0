"""CreatePipeline / UpdatePipeline: the definition must have the pipeline schema's shape.

SageMaker parses ``PipelineDefinition`` against its JSON schema and answers a
ValidationException naming what is wrong; moto stores any string. localcloud checks the
top-level shape the runtime relies on (``Version``, ``Steps`` as named, typed objects with
unique names, optional ``Parameters`` and ``Metadata``), then lets moto store it. A
definition given as ``PipelineDefinitionS3Location`` is left to moto.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from localcloud.sagemaker.registry_shapes import RegistryError, answering

if TYPE_CHECKING:
    from collections.abc import Callable

    from localcloud.credentials import Session
    from localcloud.protocol import AwsRequest
    from localcloud.server import LocalCloud

Response = tuple[int, dict[str, str], bytes]


def _named_objects(value: object, where: str, required: tuple[str, ...]) -> list[str]:
    """Problems with a list of objects that each need string ``required`` members."""
    if not isinstance(value, list):
        return [f"{where} must be a list"]
    problems: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            problems.append(f"{where}[{index}] must be an object")
            continue
        for key in required:
            if not isinstance(item.get(key), str) or not item[key]:
                problems.append(f"{where}[{index}] is missing the string member {key}")
    return problems


def definition_problems(text: str) -> list[str]:
    """What makes ``text`` not a pipeline definition (empty when it is one)."""
    try:
        definition: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        return [f"PipelineDefinition is not valid JSON ({exc.msg} at line {exc.lineno})"]
    if not isinstance(definition, dict):
        return ["PipelineDefinition must be a JSON object"]
    problems: list[str] = []
    if not isinstance(definition.get("Version"), str):
        problems.append("PipelineDefinition is missing the string member Version")
    if "Steps" not in definition:
        problems.append("PipelineDefinition is missing the member Steps")
    else:
        steps = definition["Steps"]
        problems += _named_objects(steps, "Steps", ("Name", "Type"))
        if isinstance(steps, list):
            names = [s.get("Name") for s in steps if isinstance(s, dict)]
            duplicates = sorted({n for n in names if isinstance(n, str) and names.count(n) > 1})
            problems += [f"step name {n} is used more than once" for n in duplicates]
    if "Parameters" in definition:
        problems += _named_objects(definition["Parameters"], "Parameters", ("Name", "Type"))
    if "Metadata" in definition and not isinstance(definition["Metadata"], dict):
        problems.append("Metadata must be an object")
    return problems


def validate_definition(session: Session, request: AwsRequest) -> Response | None:
    text = request.params.get("PipelineDefinition")
    if text is None:
        return None
    problems = definition_problems(str(text))
    if problems:
        raise RegistryError("Invalid PipelineDefinition: " + "; ".join(problems) + ".")
    return None


def register(cloud: LocalCloud) -> dict[str, Callable[[Session, AwsRequest], Response | None]]:
    handler = answering(validate_definition)
    return {"CreatePipeline": handler, "UpdatePipeline": handler}
