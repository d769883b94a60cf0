"""``Fn::ForEach`` (the ``AWS::LanguageExtensions`` transform): copy a fragment per item.

``"Fn::ForEach::Loop": [Identifier, Collection, {OutputKey: OutputValue}]`` in Conditions,
Resources (including inside properties) or Outputs is replaced by one ``OutputKey: OutputValue``
per item of the collection. In keys and values, ``${Identifier}`` becomes the item and
``&{Identifier}`` the item with its non-alphanumeric characters removed; ``{"Ref": Identifier}``
becomes the item. Loops nest: the inner loop's collection may use the outer identifier.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from hubspoke.governance.cfn_errors import TemplateError, format_path

Path = tuple[str | int, ...]
Resolve = Callable[[Any, Path], Any]

_PREFIX = "Fn::ForEach::"
_SECTIONS = ("Conditions", "Resources", "Outputs")


def _substitute(value: Any, identifier: str, item: str) -> Any:
    if isinstance(value, str):
        compact = re.sub(r"[^A-Za-z0-9]", "", item)
        return value.replace("${" + identifier + "}", item).replace(
            "&{" + identifier + "}", compact
        )
    if isinstance(value, list):
        return [_substitute(v, identifier, item) for v in value]
    if isinstance(value, dict):
        if value == {"Ref": identifier}:
            return item
        return {
            _substitute(k, identifier, item): _substitute(v, identifier, item)
            for k, v in value.items()
        }
    return value


class _Expander:
    def __init__(self, resolve: Resolve, source: str) -> None:
        self.resolve = resolve
        self.source = source

    def fail(self, path: Path, problem: str) -> TemplateError:
        return TemplateError(self.source, format_path(path), problem)

    def value(self, value: Any, path: Path) -> Any:
        if isinstance(value, list):
            return [self.value(v, (*path, i)) for i, v in enumerate(value)]
        if isinstance(value, dict):
            return self.mapping(value, path)
        return value

    def mapping(self, mapping: Mapping[Any, Any], path: Path) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key, value in mapping.items():
            here = (*path, key)
            if isinstance(key, str) and key.startswith(_PREFIX):
                for new_key, new_value in self.loop(value, here).items():
                    if new_key in out:
                        raise self.fail(here, f"Fn::ForEach produces {new_key!r} twice")
                    out[new_key] = new_value
            else:
                if key in out:
                    raise self.fail(here, f"{key!r} is also produced by an Fn::ForEach loop")
                out[key] = self.value(value, here)
        return out

    def loop(self, args: Any, path: Path) -> dict[Any, Any]:
        if not (isinstance(args, list) and len(args) == 3 and isinstance(args[0], str)):
            raise self.fail(path, "Fn::ForEach needs [Identifier, Collection, {OutputKey: Value}]")
        identifier, collection, fragment = args
        if not isinstance(fragment, dict) or not fragment:
            raise self.fail((*path, 2), "the Fn::ForEach fragment must be a mapping")
        items = self.resolve(collection, (*path, 1))
        if not isinstance(items, list):
            raise self.fail((*path, 1), f"the Fn::ForEach collection is not a list: {items!r}")
        out: dict[Any, Any] = {}
        for item in items:
            text = "true" if item is True else "false" if item is False else str(item)
            copy = _substitute(fragment, identifier, text)
            expanded = self.mapping(copy, (*path, 2))
            for key, value in expanded.items():
                if key in out:
                    raise self.fail(
                        (*path, 2),
                        f"the output key {key!r} repeats: include ${{{identifier}}} "
                        f"or &{{{identifier}}} in it",
                    )
                out[key] = value
        return out


def expand_for_each(template: Mapping[str, Any], resolve: Resolve, source: str) -> dict[str, Any]:
    """A copy of ``template`` with every ``Fn::ForEach`` loop expanded.

    ``resolve`` evaluates a collection that is an intrinsic (``Ref`` to a
    ``CommaDelimitedList`` parameter, ``Fn::Split``, ...).
    """
    expander = _Expander(resolve, source)
    out = dict(template)
    for section in _SECTIONS:
        if isinstance(template.get(section), dict):
            out[section] = expander.mapping(template[section], (section,))
    return out
