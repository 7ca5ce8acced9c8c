"""The specifications' own schemas, pinned beside the repository in ``../shared/schemas``:
mds-openapi's models (YAML, JSON Schema 2020-12, relative ``$ref``) and gbfs-json-schema v3.0
(JSON, draft-07), loaded with python-jsonschema and ``referencing``.

The MDS models end in a ``oneOf`` over the four modes that a micromobility object matches
several branches of (the schemas' README); :func:`mds_validator` validates against the base
model with that ``oneOf`` replaced by the micromobility branch, which is what the models mean.
Tests that need the schemas skip, saying so, when the folder is absent.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT.parent / "shared" / "schemas"
MDS = SCHEMAS / "mds-openapi"
GBFS = SCHEMAS / "gbfs-json-schema" / "v3.0"
#: The models whose trailing ``oneOf`` over the modes is replaced by the micromobility branch.
_MODE_MODELS = {"event.yaml": "event", "vehicle.yaml": "vehicle", "trip.yaml": "trip"}


def require_schemas() -> None:
    """Skip the calling test when the pinned schemas are not beside the repository."""
    if not (MDS / "models").is_dir() or not GBFS.is_dir():
        pytest.skip(f"the pinned MDS and GBFS schemas are not at {SCHEMAS} (../shared/schemas)")


def _micromobility(path: Path, document: dict[str, Any]) -> dict[str, Any]:
    """The model with its modes' ``oneOf`` replaced by the micromobility branch."""
    kind = _MODE_MODELS.get(path.name) if path.parent == MDS / "models" else None
    if kind is None:
        return document
    parts = []
    for part in document.get("allOf", []):
        if "oneOf" in part and any("modes/" in json.dumps(b) for b in part["oneOf"]):
            parts.append({"$ref": f"./modes/micromobility/{kind}.yaml"})
        else:
            parts.append(part)
    return {**document, "allOf": parts}


@cache
def _registry() -> Registry[Any]:
    """Every YAML file of mds-openapi, loaded once, under its file URI."""
    resources = []
    for path in sorted(MDS.rglob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            continue  # an example list, not a schema
        resource = Resource.from_contents(
            _micromobility(path, document), default_specification=DRAFT202012
        )
        resources.append((path.as_uri(), resource))
    return Registry().with_resources(resources)


def mds_validator(schema: dict[str, Any], base: Path) -> jsonschema.Draft202012Validator:
    """A validator of ``schema``, whose relative ``$ref`` resolve from the file ``base``."""
    schema = {"$id": base.as_uri(), **schema}
    return jsonschema.Draft202012Validator(
        schema, registry=_registry(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@cache
def mds_model(name: str) -> jsonschema.Draft202012Validator:
    """The validator of ``models/<name>.yaml`` (micromobility)."""
    path = MDS / "models" / f"{name}.yaml"
    return mds_validator({"$ref": path.as_uri()}, MDS / "models" / "__test__.yaml")


@cache
def provider_response(path: str, status: str = "200") -> jsonschema.Draft202012Validator:
    """The validator of a Provider endpoint's answer, from ``reference/provider.yaml``."""
    reference = MDS / "reference" / "provider.yaml"
    spec = yaml.safe_load(reference.read_text(encoding="utf-8"))
    content = spec["paths"][path]["get"]["responses"][status]["content"]
    schema = next(iter(content.values()))["schema"]
    return mds_validator(schema, reference)


def gbfs_validator(name: str) -> jsonschema.Draft7Validator:
    """The validator of GBFS 3.0's ``<name>.json``."""
    schema = json.loads((GBFS / f"{name}.json").read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def errors(validator: jsonschema.protocols.Validator, instance: Any) -> list[str]:
    """Every violation, each as ``path: message`` (empty when valid)."""
    return [
        f"{'/'.join(str(p) for p in e.absolute_path)}: {e.message}"
        for e in validator.iter_errors(instance)
    ]
