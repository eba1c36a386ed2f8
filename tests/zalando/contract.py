"""Validate recorded zDirect exchanges against the OpenAPI files in ``shared/contracts/zalando/``.

The files are loaded as published and corrected in memory only (see SOURCE.md beside them):

- external ``$ref``s to Zalando's Problem schema (``https://opensource.zalando.com/...#/Problem``) point at a
  local copy of RFC 7807 / Zalando Problem 1.0.1 (``type``, ``title``, ``status``, ``detail``, ``instance``);
- keys beside a ``$ref`` (``type: object``) are dropped, as OpenAPI 3.0 ignores them;
- malformed 429 header objects (``type:`` without ``schema:``) are irrelevant here: headers are not validated
  against the spec, only parameters are;
- every object schema with ``properties`` is closed (``additionalProperties: false``) so a field the spec does
  not know fails validation.

Operations not covered by the mirrored contracts (``/auth/token``, ``/auth/me``, ZSS shipping documents) are
reported as uncovered; callers decide what to do with them.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ordersyncd.testing import RecordedExchange

CONTRACTS = Path(__file__).resolve().parents[3] / "shared" / "contracts" / "zalando"
SPEC_FILES = ("orders-openapi.yml", "sales-channels-openapi.yml", "stocks-openapi.yml")
#: Paths the simulator serves that no mirrored contract describes (reference §8: not mirrored).
UNCOVERED = re.compile(r"^/auth/(token|me)$|^/zss/shipping-documents(/[^/]+)?$")

PROBLEM = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
}

FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    return not isinstance(value, str) or bool(uuid.UUID(value))


@FORMATS.checks("date-time", raises=ValueError)
def _is_datetime(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$", value):
        raise ValueError(value)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None


def _fix(node: Any) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            if ref.startswith("http") and ref.endswith("#/Problem"):
                ref = "#/components/schemas/Problem"
            return {"$ref": ref}
        fixed = {k: _fix(v) for k, v in node.items()}
        if "properties" in fixed and "additionalProperties" not in fixed:
            fixed["additionalProperties"] = False
        return fixed
    if isinstance(node, list):
        return [_fix(v) for v in node]
    return node


@dataclass
class Operation:
    spec: dict[str, Any]
    template: str
    pattern: re.Pattern[str]
    method: str
    operation: dict[str, Any]
    parameters: list[dict[str, Any]]


class ContractError(AssertionError):
    """An exchange that does not match the contract."""


class Contracts:
    """The three zDirect contracts, ready to check exchanges."""

    def __init__(self, folder: Path = CONTRACTS) -> None:
        self.operations: list[Operation] = []
        for name in SPEC_FILES:
            raw = yaml.safe_load((folder / name).read_text())
            spec = _fix(copy.deepcopy(raw))
            spec.setdefault("components", {}).setdefault("schemas", {})["Problem"] = _fix(PROBLEM)
            for template, item in spec["paths"].items():
                pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "([^/]+)", template) + "$")
                common = item.get("parameters", [])
                for method, operation in item.items():
                    if method in ("get", "post", "put", "patch", "delete"):
                        params = [self._deref(spec, p) for p in [*common, *operation.get("parameters", [])]]
                        self.operations.append(
                            Operation(spec, template, pattern, method.upper(), operation, params)
                        )

    @staticmethod
    def _deref(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            target: Any = spec
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def find(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        for op in self.operations:
            match = op.pattern.match(path)
            if match and op.method == method:
                names = re.findall(r"\{([^}]+)\}", op.template)
                return op, dict(zip(names, match.groups(), strict=True))
        return None

    def _validate(self, op: Operation, schema: dict[str, Any], value: Any, what: str) -> None:
        root = {**schema, "components": op.spec["components"]}
        validator = jsonschema.Draft7Validator(root, format_checker=FORMATS)
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
        if errors:
            first = errors[0]
            where = "/".join(str(p) for p in first.absolute_path)
            raise ContractError(f"{what}: {first.message} at /{where}")

    def _param(self, op: Operation, param: dict[str, Any], raw: str, what: str) -> None:
        schema = param.get("schema", {})
        value: Any = raw
        if schema.get("type") == "integer":
            if not re.fullmatch(r"-?\d+", raw):
                raise ContractError(f"{what}: {param['name']}={raw!r} is not an integer")
            value = int(raw)
        elif schema.get("type") == "boolean":
            if raw not in ("true", "false"):
                raise ContractError(f"{what}: {param['name']}={raw!r} is not a boolean")
            value = raw == "true"
        self._validate(op, schema, value, f"{what} parameter {param['name']}")

    def check_request(self, exchange: RecordedExchange) -> bool:
        """Validate the request; ``False`` when no contract covers the path (see :data:`UNCOVERED`)."""
        what = f"request {exchange.method} {exchange.path}"
        found = self.find(exchange.method, exchange.path)
        if found is None:
            if UNCOVERED.match(exchange.path):
                return False
            raise ContractError(f"{what}: no such operation in the contracts")
        op, path_values = found
        declared = {(p["in"], p["name"]): p for p in op.parameters}
        for name, value in path_values.items():
            self._param(op, declared[("path", name)], value, what)
        seen = set()
        for name, value in exchange.query:
            param = declared.get(("query", name))
            if param is None:
                raise ContractError(f"{what}: query parameter {name!r} is not in the contract")
            if name in seen:
                raise ContractError(f"{what}: query parameter {name!r} repeated")
            seen.add(name)
            self._param(op, param, value, what)
        for (where, name), param in declared.items():
            if where == "query" and param.get("required") and name not in seen:
                raise ContractError(f"{what}: required query parameter {name!r} missing")
            if where == "header":
                value = exchange.headers.get(name.lower())
                if value is None:
                    if param.get("required"):
                        raise ContractError(f"{what}: required header {name!r} missing")
                    continue
                if name.lower() != "authorization":
                    self._param(op, param, value, what)
        body = op.operation.get("requestBody")
        if body is None:
            if exchange.body:
                raise ContractError(f"{what}: the operation takes no body")
            return True
        media = exchange.headers.get("content-type", "").split(";")[0].strip()
        content = body.get("content", {})
        if media not in content:
            raise ContractError(f"{what}: content type {media!r} not in {sorted(content)}")
        self._validate(op, content[media]["schema"], json.loads(exchange.body), f"{what} body")
        return True

    def check_response(self, exchange: RecordedExchange) -> bool:
        """Validate the response status, content type and body; ``False`` when uncovered."""
        what = f"response {exchange.status} to {exchange.method} {exchange.path}"
        found = self.find(exchange.method, exchange.path)
        if found is None:
            if UNCOVERED.match(exchange.path):
                return False
            raise ContractError(f"{what}: no such operation in the contracts")
        op, _ = found
        responses = op.operation["responses"]
        response = (
            responses.get(str(exchange.status)) or responses.get(exchange.status) or responses.get("default")
        )
        if response is None:
            raise ContractError(f"{what}: status not in the contract")
        response = Contracts._deref(op.spec, response)
        content = response.get("content")
        if not content:
            if exchange.response_body:
                raise ContractError(f"{what}: the contract has no body for this status")
            return True
        media = exchange.response_headers.get("content-type", "").split(";")[0].strip()
        if media not in content:
            raise ContractError(f"{what}: content type {media!r} not in {sorted(content)}")
        self._validate(op, content[media]["schema"], json.loads(exchange.response_body), f"{what} body")
        return True

    def check_all(self, exchanges: Iterable[RecordedExchange]) -> tuple[int, set[str]]:
        """Check every exchange; return how many were validated and the uncovered paths met."""
        checked, uncovered = 0, set()
        for exchange in exchanges:
            covered = self.check_request(exchange)
            self.check_response(exchange)
            if covered:
                checked += 1
            else:
                uncovered.add(exchange.path)
        return checked, uncovered
