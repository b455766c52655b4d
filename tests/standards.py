"""The standards' own schemas, for tests that validate what the hub produces.

They live beside the project, in `../shared/standards` (third-party documents:
read, never copied in). Without them a test is skipped and says why; under
CI=true, where they are always provided, their absence fails the test.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

STANDARDS = Path(__file__).resolve().parent.parent.parent / "shared" / "standards"
CAP_XSD = STANDARDS / "cap" / "CAP-v1.2.xsd"
EIDO_DIR = STANDARDS / "eido" / "Schema"


def standard(path: Path) -> Path:
    """`path` if present; else skip (or fail under CI=true) naming what is missing."""
    if path.exists():
        return path
    reason = f"standards reference material missing: {path} (see ../shared/standards)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@cache
def cap_schema() -> Any:
    """The CAP 1.2 XML schema (xmlschema)."""
    import xmlschema

    return xmlschema.XMLSchema(str(standard(CAP_XSD)))


def _fix_quirks(node: Any) -> Any:
    """The EIDO files' known slips, repaired in memory (the files stay as published).

    `minItems: 1,` (openapi.yaml, AgentType) reads as the string "1,".
    """
    if isinstance(node, dict):
        fixed = {k: _fix_quirks(v) for k, v in node.items()}
        if isinstance(fixed.get("minItems"), str):
            fixed["minItems"] = int(fixed["minItems"].rstrip(","))
        return fixed
    if isinstance(node, list):
        return [_fix_quirks(v) for v in node]
    return node


@cache
def _load_yaml(path: Path) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 10x faster
    return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)


@cache
def eido_validator() -> Any:
    """A jsonschema validator of EmergencyIncidentDataObjectType, NIEM files resolved.

    The schema is OpenAPI 3.0 components (a JSON Schema draft-4 dialect);
    `NIEMComponents//j.yaml` (a doubled slash in one `$ref`) is served the
    same resource as `NIEMComponents/j.yaml`.
    """
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    root = standard(EIDO_DIR / "openapi.yaml")
    resources = []
    for path in [root, *sorted((EIDO_DIR / "NIEMComponents").glob("*.yaml"))]:
        contents = _fix_quirks(_load_yaml(path))
        resource = Resource.from_contents(contents, default_specification=DRAFT4)
        resources.append((path.as_uri(), resource))
        if path.name == "j.yaml":
            resources.append((path.parent.as_uri() + "//j.yaml", resource))
    registry: Registry[Any] = Registry().with_resources(resources)
    schema = {"$ref": root.as_uri() + "#/components/schemas/EmergencyIncidentDataObjectType"}
    return jsonschema.Draft4Validator(schema, registry=registry)


@cache
def eido_properties(type_name: str) -> frozenset[str]:
    """The properties an EIDO component type declares (its allOf parts merged).

    The schema does not forbid unknown properties, so a misspelt field would
    pass validation unseen; tests check names against this set as well.
    """
    root = _load_yaml(standard(EIDO_DIR / "openapi.yaml"))
    schemas = root["components"]["schemas"]

    def walk(schema: dict[str, Any]) -> set[str]:
        names = set(schema.get("properties", {}))
        for part in schema.get("allOf", []):
            if "$ref" in part:
                names |= walk(schemas[part["$ref"].rsplit("/", 1)[1]])
            else:
                names |= walk(part)
        return names

    return frozenset(walk(schemas[type_name]))
