"""Resolve a CloudFormation template for given Parameters into the resources it would create.

:func:`resolve_stack` evaluates Conditions, expands ``Fn::ForEach``, and resolves every
intrinsic (``Ref``, ``Fn::Sub``, ``Fn::GetAtt``, ``Fn::If``, ``Fn::Join``, ``Fn::Select``,
``Fn::Split``, ``Fn::FindInMap``, ``Fn::ImportValue``, ``Fn::GetAZs``, ``Fn::Base64``,
``Fn::Length``, ``Fn::ToJsonString``) for the parameters and pseudo-parameters
(``AWS::AccountId``, ``AWS::Region``, ``AWS::Partition``, ``AWS::StackName``, ``AWS::StackId``,
``AWS::URLSuffix``, ``AWS::NoValue``, ``AWS::NotificationARNs``) of one deployment. What
``Ref``/``Fn::GetAtt`` of a resource return is in :mod:`hubspoke.governance.cfn_resources`.

Anything that cannot be resolved raises :class:`TemplateError` naming the template, the
location (``Resources.<id>.Properties...``) and the problem. Only the taken branch of an
``Fn::If`` is resolved, as CloudFormation does.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hubspoke.governance.cfn_conditions import ConditionEvaluator
from hubspoke.governance.cfn_errors import TemplateError, format_path
from hubspoke.governance.cfn_foreach import expand_for_each
from hubspoke.governance.cfn_parameters import resolve_parameters
from hubspoke.governance.cfn_resources import (
    StackEnv,
    UnknownAttribute,
    attribute_value,
    ref_value,
)

__all__ = ["ResolvedResource", "ResolvedStack", "StackEnv", "TemplateError", "resolve_stack"]

Path = tuple[str | int, ...]


class _NoValue:
    """``AWS::NoValue``: removes the enclosing property or list item."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class ResolvedResource:
    """One resource as it would be created: every intrinsic in ``properties`` resolved."""

    logical_id: str
    type: str
    properties: dict[str, Any]
    ref: str | None  # what Ref returns; None for types that are not modelled


@dataclass(frozen=True)
class ResolvedStack:
    """A template resolved for one deployment (account, region, parameters)."""

    source: str
    env: StackEnv
    parameters: dict[str, Any]
    conditions: dict[str, bool]
    resources: dict[str, ResolvedResource]
    outputs: dict[str, Any] = field(default_factory=dict)
    exports: dict[str, Any] = field(default_factory=dict)

    def of_type(self, resource_type: str) -> list[ResolvedResource]:
        return [r for r in self.resources.values() if r.type == resource_type]


class _Resolver:
    def __init__(
        self,
        template: Mapping[str, Any],
        source: str,
        env: StackEnv,
        parameters: Mapping[str, Any],
        exports: Mapping[str, Any],
    ) -> None:
        self.source = source
        self.env = env
        self.exports = dict(exports)
        self.mappings: dict[str, Any] = dict(template.get("Mappings") or {})
        self.parameters = resolve_parameters(template.get("Parameters") or {}, parameters, source)
        self.pseudo: dict[str, Any] = {
            "AWS::AccountId": env.account,
            "AWS::Region": env.region,
            "AWS::Partition": env.partition,
            "AWS::StackName": env.stack_name,
            "AWS::StackId": (
                f"arn:{env.partition}:cloudformation:{env.region}:{env.account}:stack/"
                f"{env.stack_name}/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        # Fn::ForEach collections may Ref parameters and use Fn::Split/FindInMap: resolve them
        # before any resource or condition exists.
        self.resources_raw: dict[str, Any] = {}
        self.conditions = ConditionEvaluator({}, self.resolve, source)
        expanded = expand_for_each(template, self.resolve, source)
        self.resources_raw = expanded.get("Resources") or {}
        self.outputs_raw: dict[str, Any] = expanded.get("Outputs") or {}
        self.conditions = ConditionEvaluator(expanded.get("Conditions") or {}, self.resolve, source)
        self._naming: list[str] = []

    # --- errors ---

    def fail(self, path: Path, problem: str) -> TemplateError:
        return TemplateError(self.source, format_path(path), problem)

    # --- resources ---

    def resource(self, logical_id: str, path: Path) -> Mapping[str, Any]:
        raw = self.resources_raw.get(logical_id)
        if not isinstance(raw, dict) or "Type" not in raw:
            raise self.fail(path, f"Resources.{logical_id} is not a resource with a Type")
        condition = raw.get("Condition")
        if condition is not None and not self.conditions.value(
            condition, ("Resources", logical_id, "Condition")
        ):
            raise self.fail(
                path,
                f"refers to {logical_id}, which is not created "
                f"(its Condition {condition} is false)",
            )
        return raw

    def _reader(self, logical_id: str, raw: Mapping[str, Any]) -> Any:
        properties = raw.get("Properties") or {}

        def read(name: str) -> Any:
            if name not in properties:
                return None
            value = self.resolve(properties[name], ("Resources", logical_id, "Properties", name))
            return None if value is NO_VALUE else value

        return read

    def _named(self, logical_id: str, path: Path, compute: Any) -> Any:
        if logical_id in self._naming:
            chain = " -> ".join([*self._naming, logical_id])
            raise self.fail(path, f"circular reference while naming resources: {chain}")
        self._naming.append(logical_id)
        try:
            return compute()
        except UnknownAttribute as exc:
            raise self.fail(path, str(exc)) from None
        finally:
            self._naming.pop()

    def ref(self, name: Any, path: Path) -> Any:
        if not isinstance(name, str):
            raise self.fail(path, f"Ref needs a name, got {name!r}")
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources_raw:
            raw = self.resource(name, path)
            return self._named(
                name,
                path,
                lambda: ref_value(raw["Type"], self.env, name, self._reader(name, raw)),
            )
        raise self.fail(
            path, f"Ref to {name!r}, which is no parameter, pseudo-parameter or resource"
        )

    def get_att(self, args: Any, path: Path) -> Any:
        if isinstance(args, str) and "." in args:
            args = args.split(".", 1)
        if not (isinstance(args, list) and len(args) == 2):
            raise self.fail(path, "Fn::GetAtt needs [LogicalId, Attribute]")
        logical_id = args[0]
        attribute = self.resolve(args[1], (*path, 1))
        if logical_id not in self.resources_raw:
            raise self.fail(path, f"Fn::GetAtt of {logical_id!r}, which is no resource")
        raw = self.resource(logical_id, path)
        return self._named(
            logical_id,
            path,
            lambda: attribute_value(
                raw["Type"], str(attribute), self.env, logical_id, self._reader(logical_id, raw)
            ),
        )

    # --- intrinsics ---

    def resolve(self, value: Any, path: Path) -> Any:
        if isinstance(value, list):
            items = [self.resolve(item, (*path, i)) for i, item in enumerate(value)]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, args),) = value.items()
            if key == "Ref" or (isinstance(key, str) and key.startswith("Fn::")):
                return self.intrinsic(key, args, (*path, key))
        out: dict[Any, Any] = {}
        for key, item in value.items():
            resolved = self.resolve(item, (*path, key))
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    def intrinsic(self, name: str, args: Any, path: Path) -> Any:
        if name == "Ref":
            return self.ref(args, path)
        handler = getattr(self, "fn_" + name[4:].lower(), None)
        if handler is None:
            raise self.fail(path, f"{name} is not supported here")
        return handler(args, path)

    def _string(self, value: Any, path: Path, what: str) -> str:
        value = self.resolve(value, path)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (str, int, float)):
            return str(value)
        raise self.fail(path, f"{what} must be a string, got {type(value).__name__}: {value!r}")

    def _list(self, value: Any, path: Path, what: str) -> list[Any]:
        value = self.resolve(value, path)
        if not isinstance(value, list):
            raise self.fail(path, f"{what} must be a list, got {type(value).__name__}: {value!r}")
        return value

    def fn_getatt(self, args: Any, path: Path) -> Any:
        return self.get_att(args, path)

    def fn_sub(self, args: Any, path: Path) -> str:
        variables: dict[str, Any] = {}
        if isinstance(args, list):
            if len(args) != 2 or not isinstance(args[1], dict):
                raise self.fail(path, "Fn::Sub needs a string or [string, {variables}]")
            text, raw_vars = args
            variables = {k: (raw_vars[k], (*path, 1, k)) for k in raw_vars}
        else:
            text = args
        if not isinstance(text, str):
            raise self.fail(path, "the Fn::Sub template must be a literal string")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                raw, var_path = variables[name]
                return self._string(raw, var_path, f"Fn::Sub variable {name}")
            if name in self.pseudo or name in self.parameters or name in self.resources_raw:
                return self._string({"Ref": name}, path, f"${{{name}}}")
            if "." in name:
                resource, attribute = name.split(".", 1)
                if resource in self.resources_raw:
                    return self._string({"Fn::GetAtt": [resource, attribute]}, path, name)
            raise self.fail(
                path, f"${{{name}}} names no variable, parameter, pseudo-parameter or resource"
            )

        return _SUB_VARIABLE.sub(replace, text)

    def fn_join(self, args: Any, path: Path) -> str:
        if not (isinstance(args, list) and len(args) == 2 and isinstance(args[0], str)):
            raise self.fail(path, "Fn::Join needs [delimiter, [values]]")
        items = self._list(args[1], (*path, 1), "Fn::Join values")
        return args[0].join(self._string(item, (*path, 1), "a Fn::Join value") for item in items)

    def fn_select(self, args: Any, path: Path) -> Any:
        if not (isinstance(args, list) and len(args) == 2):
            raise self.fail(path, "Fn::Select needs [index, [values]]")
        index_text = self._string(args[0], (*path, 0), "the Fn::Select index")
        items = self._list(args[1], (*path, 1), "Fn::Select values")
        if not index_text.isdigit() or int(index_text) >= len(items):
            raise self.fail(path, f"Fn::Select index {index_text} is out of range for {items!r}")
        return items[int(index_text)]

    def fn_split(self, args: Any, path: Path) -> list[str]:
        if not (isinstance(args, list) and len(args) == 2 and isinstance(args[0], str)):
            raise self.fail(path, "Fn::Split needs [delimiter, string]")
        return self._string(args[1], (*path, 1), "the Fn::Split source").split(args[0])

    def fn_if(self, args: Any, path: Path) -> Any:
        if not (isinstance(args, list) and len(args) == 3 and isinstance(args[0], str)):
            raise self.fail(path, "Fn::If needs [ConditionName, value if true, value if false]")
        taken = 1 if self.conditions.value(args[0], (*path, 0)) else 2
        return self.resolve(args[taken], (*path, taken))

    def fn_findinmap(self, args: Any, path: Path) -> Any:
        if not (isinstance(args, list) and len(args) in (3, 4)):
            raise self.fail(path, "Fn::FindInMap needs [MapName, TopLevelKey, SecondLevelKey]")
        keys = [self._string(a, (*path, i), "a Fn::FindInMap key") for i, a in enumerate(args[:3])]
        node: Any = self.mappings
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                if len(args) == 4 and isinstance(args[3], dict) and "DefaultValue" in args[3]:
                    return self.resolve(args[3]["DefaultValue"], (*path, 3, "DefaultValue"))
                raise self.fail(path, f"Mappings has no {'.'.join(keys)} (missing {key!r})")
            node = node[key]
        return node

    def fn_importvalue(self, args: Any, path: Path) -> Any:
        name = self._string(args, path, "the Fn::ImportValue name")
        if name not in self.exports:
            raise self.fail(path, f"Fn::ImportValue {name!r}: no stack resolved so far exports it")
        return self.exports[name]

    def fn_getazs(self, args: Any, path: Path) -> list[str]:
        region = self._string(args, path, "the Fn::GetAZs region") or self.env.region
        return [f"{region}{zone}" for zone in "abc"]

    def fn_base64(self, args: Any, path: Path) -> str:
        text = self._string(args, path, "the Fn::Base64 value")
        return base64.b64encode(text.encode()).decode()

    def fn_length(self, args: Any, path: Path) -> int:
        return len(self._list(args, path, "the Fn::Length value"))

    def fn_tojsonstring(self, args: Any, path: Path) -> str:
        return json.dumps(self.resolve(args, path), separators=(",", ":"))

    # --- the stack ---

    def resolved_stack(self) -> ResolvedStack:
        resources: dict[str, ResolvedResource] = {}
        for logical_id, raw in self.resources_raw.items():
            if not isinstance(raw, dict) or "Type" not in raw:
                raise self.fail(("Resources", logical_id), "a resource needs a Type")
            condition = raw.get("Condition")
            if condition is not None and not self.conditions.value(
                condition, ("Resources", logical_id, "Condition")
            ):
                continue
            base: Path = ("Resources", logical_id, "Properties")
            properties = self.resolve(raw.get("Properties") or {}, base)
            try:
                ref: str | None = ref_value(
                    raw["Type"], self.env, logical_id, self._reader(logical_id, raw)
                )
            except UnknownAttribute:
                ref = None
            resources[logical_id] = ResolvedResource(logical_id, raw["Type"], properties, ref)
        outputs: dict[str, Any] = {}
        exports: dict[str, Any] = {}
        for key, raw in self.outputs_raw.items():
            condition = raw.get("Condition") if isinstance(raw, dict) else None
            if condition is not None and not self.conditions.value(
                condition, ("Outputs", key, "Condition")
            ):
                continue
            resolved = self.resolve(raw, ("Outputs", key))
            outputs[key] = resolved.get("Value")
            export = resolved.get("Export")
            if isinstance(export, dict) and "Name" in export:
                exports[str(export["Name"])] = resolved.get("Value")
        return ResolvedStack(
            source=self.source,
            env=self.env,
            parameters=dict(self.parameters),
            conditions=self.conditions.all(),
            resources=resources,
            outputs=outputs,
            exports=exports,
        )


def resolve_stack(
    template: Mapping[str, Any],
    env: StackEnv,
    parameters: Mapping[str, Any] | None = None,
    *,
    source: str = "<template>",
    exports: Mapping[str, Any] | None = None,
) -> ResolvedStack:
    """Resolve ``template`` as deployed with ``parameters`` into ``env``.

    ``parameters`` may hold values for names the template does not declare (they are ignored),
    so one mapping can serve several templates; a declared parameter with neither a value nor a
    ``Default`` is an error. ``exports`` serves ``Fn::ImportValue``.
    """
    resolver = _Resolver(template, source, env, parameters or {}, exports or {})
    return resolver.resolved_stack()
