"""`assert_valid_r4(resource)`: a FHIR R4 resource (a dict) is valid by fhirclient's R4 models.

fhirclient checks element names, types, cardinality, required elements and the formats of dates
and times. On top of that this helper checks what it does not: that the resource is plain JSON
(as the API and bulk export send it) and that no element is empty ("", [], {}), which FHIR
forbids. Used by the mapping, API, import and export tests alike.
"""

import importlib
import json
from typing import Any

from fhirclient.models.fhirabstractbase import FHIRValidationError


def r4_class(resource_type: str) -> type:
    """The fhirclient R4 model class of a resource type ("Patient" -> patient.Patient)."""
    try:
        module = importlib.import_module(f"fhirclient.models.{resource_type.lower()}")
        return getattr(module, resource_type)
    except (ImportError, AttributeError):
        raise AssertionError(f"{resource_type!r} is not an R4 resource type") from None


def assert_valid_r4(resource: dict[str, Any]) -> None:
    assert isinstance(resource, dict), f"a resource is a JSON object, not {type(resource)}"
    kind = resource.get("resourceType")
    assert isinstance(kind, str) and kind, "resourceType is missing"
    json.dumps(resource, allow_nan=False)
    empty = list(_empty_elements(resource, kind))
    assert not empty, f"{kind} has empty elements (FHIR forbids them): {empty}"
    try:
        r4_class(kind)(resource, strict=True)
    except FHIRValidationError as exc:
        raise AssertionError(f"{kind}/{resource.get('id', '?')} is not valid R4:\n{exc}") from None


def _empty_elements(value: Any, path: str):
    if value in ("", [], {}) or value is None:
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _empty_elements(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _empty_elements(item, f"{path}[{index}]")


WRONG_VALUES = (5, 1.5, True, "x", [], {}, [1], ["s"], {"a": 1}, [{"x": 1}], None)


def mutations(resource: dict[str, Any]):
    """Copies of `resource` with one element replaced by a value of the wrong type (or removed),
    for every element and every such value: input a server must refuse cleanly, never crash on."""
    for path in _paths(resource, ()):
        if path in ((), ("resourceType",)):
            continue
        for wrong in WRONG_VALUES:
            copy = json.loads(json.dumps(resource))
            node = copy
            for step in path[:-1]:
                node = node[step]
            node[path[-1]] = wrong
            yield path, copy


def _paths(node: Any, prefix: tuple):
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))
