"""Reading CloudFormation templates written in YAML (or JSON) with short-form intrinsic tags.

``!Ref X`` becomes ``{"Ref": "X"}``, ``!Condition X`` becomes ``{"Condition": "X"}``,
``!GetAtt A.B`` becomes ``{"Fn::GetAtt": ["A", "B"]}`` and every other ``!Name v`` becomes
``{"Fn::Name": v}``: the long form CloudFormation itself reads, so the resolver only ever sees
one shape. Scalars follow CloudFormation rather than YAML 1.1: ``2012-10-17`` stays a string
(it would otherwise become a date and break every policy ``Version``), and a key repeated in one
mapping is an error, as it is for CloudFormation, instead of silently keeping the last one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hubspoke.governance.cfn_errors import TemplateError

_NO_PREFIX = {"Ref", "Condition"}


class _TemplateLoader(yaml.SafeLoader):
    """SafeLoader without timestamps, with CloudFormation tags and duplicate-key detection."""


# Copy the resolvers so removing timestamps does not change yaml.SafeLoader for everyone else.
_TemplateLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_mapping(loader: _TemplateLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            line = key_node.start_mark.line + 1
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (line {line})", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


def _construct_tag(loader: _TemplateLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = _construct_mapping(loader, node)
    else:  # pragma: no cover - yaml has no other node kinds
        raise yaml.constructor.ConstructorError(
            None, None, f"unexpected !{suffix}", node.start_mark
        )
    if suffix == "GetAtt" and isinstance(value, str):
        logical_id, dot, attribute = value.partition(".")
        if not dot:
            raise yaml.constructor.ConstructorError(
                None, None, f"!GetAtt {value!r} needs the form Resource.Attribute", node.start_mark
            )
        value = [logical_id, attribute]
    key = suffix if suffix in _NO_PREFIX else f"Fn::{suffix}"
    return {key: value}


_TemplateLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)
_TemplateLoader.add_multi_constructor("!", _construct_tag)


def parse_template(text: str, source: str = "<template>") -> dict[str, Any]:
    """Parse template text; raise :class:`TemplateError` naming ``source`` and the line."""
    try:
        data = yaml.load(text, Loader=_TemplateLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise TemplateError(source, where, f"invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise TemplateError(source, "", f"invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise TemplateError(source, "", "a template must be a mapping at the top level")
    if not isinstance(data.get("Resources"), dict):
        raise TemplateError(source, "Resources", "a template needs a Resources mapping")
    return data


def load_template(path: Path) -> dict[str, Any]:
    """Read and parse one template file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(str(path), "", f"cannot read the template: {exc.strerror}") from None
    return parse_template(text, str(path))
