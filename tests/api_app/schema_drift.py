"""Compares our OpenAPI document (/api/spec.json) with the pinned @immich/sdk's declarations (sdk_types):
for each of our operations that the SDK also has (same method and path), the request body, the query
parameters and the success response. A response must fit what the SDK's clients expect (no property they
lack, every property they require, null only where they allow it, enum values they know); a request must
accept what the SDK sends (nothing required that the SDK may leave out, null where the SDK may send it)."""

import re

RESPONSE, REQUEST = "response", "request"
NUMBER_TYPES = {"integer", "number"}


def _is_null(node) -> bool:
    return node == ("prim", "null") or node == ("prim", "undefined")


class Comparison:
    def __init__(self, spec: dict, sdk):
        self.spec = spec
        self.sdk = sdk
        self.problems: list[str] = []

    # --- OpenAPI side ---------------------------------------------------------------------------------

    def schema(self, schema: dict) -> dict:
        while "$ref" in schema:
            schema = self.spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.schema(schema["allOf"][0])
        return schema

    def split_null(self, schema: dict) -> tuple[bool, list[dict]]:
        schema = self.schema(schema)
        options = [self.schema(option) for option in schema.get("anyOf", schema.get("oneOf", [schema]))]
        nullable = any(option.get("type") == "null" for option in options)
        return nullable, [option for option in options if option.get("type") != "null"]

    # --- TypeScript side ------------------------------------------------------------------------------

    def split_ts(self, node) -> tuple[bool, list]:
        node = self.sdk.resolve(node)
        options = node[1] if node[0] == "union" else [node]
        options = [self.sdk.resolve(option) for option in options]
        return any(_is_null(option) for option in options), [option for option in options if not _is_null(option)]

    def enum_values(self, options) -> set | None:
        values = set()
        for option in options:
            if option[0] == "literal":
                values.add(option[1])
            elif option[0] == "ref" and option[1] in self.sdk.enums:
                values.update(self.sdk.enums[option[1]])
            else:
                return None
        return values

    # --- Comparing ----------------------------------------------------------------------------------------

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def compare(self, ts, schema: dict, where: str, direction: str) -> None:
        ts_nullable, ts_options = self.split_ts(ts)
        ours_nullable, ours_options = self.split_null(schema)
        if direction == RESPONSE and ours_nullable and not ts_nullable:
            self.problem(where, "ours may be null; the SDK's type never is")
        if direction == REQUEST and ts_nullable and not ours_nullable:
            self.problem(where, "the SDK may send null; ours refuses it")
        if not ts_options or not ours_options:
            if direction == RESPONSE and not ours_options and not ts_nullable:
                self.problem(where, "ours is always null; the SDK's type never is")
            return
        if len(ours_options) > 1:
            self.problem(where, f"ours is one of several types {ours_options}; the SDK expects one")
            return
        ours = ours_options[0]
        enum = self.enum_values(ts_options)
        if enum is not None:
            self.compare_enum(enum, ours, where, direction)
            return
        if len(ts_options) > 1:
            return  # a union of unlike types (string | number): any of them will do
        self.compare_kind(ts_options[0], ours, where, direction)

    def compare_enum(self, enum: set, ours: dict, where: str, direction: str) -> None:
        if ours.get("type") != "string" and not ours.get("enum"):
            self.problem(where, f"the SDK expects one of {sorted(enum)}; ours is {ours.get('type')}")
            return
        ours_values = set(ours.get("enum", [ours["const"]] if "const" in ours else ()))  # a one-value Literal
        if direction == RESPONSE and (not ours_values or ours_values - enum):
            self.problem(where, f"ours may answer {sorted(ours_values - enum) or 'any string'}, which the SDK's "
                                f"enum {sorted(enum)} lacks")
        if direction == REQUEST and ours_values and enum - ours_values:
            self.problem(where, f"the SDK may send {sorted(enum - ours_values)}, which ours refuses")

    def compare_kind(self, ts, ours: dict, where: str, direction: str) -> None:
        kind = ts[0]
        ours_type = ours.get("type")
        if kind == "prim":
            expected = {"string": {"string"}, "number": NUMBER_TYPES, "boolean": {"boolean"}}.get(ts[1])
            if expected is not None and ours_type not in expected:
                self.problem(where, f"the SDK's type is {ts[1]}; ours is {ours_type or ours}")
            return
        if kind == "array":
            if ours_type != "array":
                self.problem(where, f"the SDK's type is an array; ours is {ours_type}")
            else:
                self.compare(ts[1], ours.get("items", {}), f"{where}[]", direction)
            return
        if kind == "object":
            self.compare_objects(ts[1], ours, where, direction)
            return
        if kind == "generic":  # Record<string, T>
            return

    def compare_objects(self, ts_fields: dict, ours: dict, where: str, direction: str) -> None:
        if ours.get("type") != "object" and "properties" not in ours:
            self.problem(where, f"the SDK's type is an object; ours is {ours.get('type')}")
            return
        if "[key]" in ts_fields:
            return
        properties = ours.get("properties", {})
        required = set(ours.get("required", ()))
        for name in sorted(set(properties) - set(ts_fields)):
            self.problem(f"{where}.{name}", "ours has it; the SDK's type has no such property")
        for name, (ts, optional) in sorted(ts_fields.items()):
            if name not in properties:
                if direction == RESPONSE and not optional:
                    self.problem(f"{where}.{name}", "the SDK requires it; ours lacks it")
                continue
            if direction == RESPONSE and not optional and name not in required:
                self.problem(f"{where}.{name}", "the SDK requires it; ours may leave it out")
            if direction == REQUEST and optional and name in required:
                self.problem(f"{where}.{name}", "ours requires it; the SDK may leave it out")
            self.compare(ts, properties[name], f"{where}.{name}", direction)


def normalized_path(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path.removeprefix("/api"))


def success_response(operation: dict) -> tuple[str, dict | None]:
    """(status, JSON schema or None) of the operation's first 2xx response."""
    for status, response in sorted(operation.get("responses", {}).items()):
        if status.startswith("2"):
            content = response.get("content", {})
            return status, content.get("application/json", {}).get("schema")
    return "", None


def compare_operations(spec: dict, sdk) -> tuple[dict, list[str], list[str]]:
    """({(method, path): SDK function name} compared, problems, operations without a declared response)."""
    by_route = {(function.method, function.path): function for function in sdk.functions.values()}
    comparison = Comparison(spec, sdk)
    matched, undeclared = {}, []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            function = by_route.get((method.upper(), normalized_path(path)))
            if function is None:
                continue  # beyond Immich (HLS sessions, ...)
            where = f"{method.upper()} {path} ({function.name})"
            matched[(method.upper(), path)] = function.name
            compare_request(comparison, function, operation, where)
            _status, schema = success_response(operation)
            result = sdk.resolve(function.result)
            if result[0] == "prim" and result[1] in ("never", "Blob"):
                continue
            if schema is None or schema == {} or (schema.get("type") == "object" and "properties" not in schema
                                                   and "additionalProperties" in schema):
                undeclared.append(where)
                continue
            comparison.compare(function.result, schema, f"{where} response", RESPONSE)
    return matched, comparison.problems, undeclared


def compare_request(comparison: Comparison, function, operation: dict, where: str) -> None:
    query = {parameter["name"] for parameter in operation.get("parameters", ()) if parameter["in"] == "query"}
    for name in sorted(query - function.query):
        comparison.problem(where, f"query parameter {name!r} is not one the SDK sends")
    content = operation.get("requestBody", {}).get("content", {})
    schema = (content.get("application/json") or content.get("multipart/form-data") or {}).get("schema")
    body = function.body
    if body is None:
        if schema is not None and operation["requestBody"].get("required"):
            comparison.problem(where, "ours requires a body; the SDK sends none")
        return
    if schema is None:
        comparison.problem(where, f"the SDK sends a body ({body[1][1]}); ours declares none")
        return
    comparison.compare(body[1], schema, f"{where} body", REQUEST)
