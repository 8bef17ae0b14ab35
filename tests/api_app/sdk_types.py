"""Reads the pinned @immich/sdk (node_modules/@immich/sdk/build): its TypeScript declarations (DTO types,
enums, each function's parameters and result) and, from its generated JavaScript, each function's HTTP
method and path. A small parser for the subset of TypeScript that oazapfts generates."""

import re
from dataclasses import dataclass, field
from functools import cache

from tests.node_packages import NODE_MODULES, ensure_node_modules

SDK_BUILD = NODE_MODULES / "@immich" / "sdk" / "build"
PRIMITIVES = {"string", "number", "boolean", "null", "any", "unknown", "never", "Blob", "object", "undefined"}


# --- Type expressions: ("prim", name) | ("ref", name) | ("array", t) | ("union", [t]) | ("literal", v)
# | ("object", {name: (t, optional)}) --------------------------------------------------------------------

TOKEN = re.compile(r'\s*(?:(?P<str>"[^"]*")|(?P<num>-?\d+(?:\.\d+)?)|(?P<id>[A-Za-z_$][\w$.]*)'
                   r'|(?P<op>\[\]|[|(){}<>,;:?\[\]]))')


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if not match:
            raise ValueError(f"cannot read TypeScript at {text[position:position + 40]!r}")
        tokens.append(match.group(match.lastgroup))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokens(text)
        self.position = 0

    def peek(self):
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected=None):
        token = self.peek()
        if expected is not None and token != expected:
            raise ValueError(f"expected {expected!r}, found {token!r} in {' '.join(self.tokens)}")
        self.position += 1
        return token

    def type(self):
        if self.peek() == "|":
            self.take()
        options = [self.postfix()]
        while self.peek() == "|":
            self.take()
            options.append(self.postfix())
        return options[0] if len(options) == 1 else ("union", options)

    def postfix(self):
        node = self.primary()
        while self.peek() == "[]":
            self.take()
            node = ("array", node)
        return node

    def primary(self):
        token = self.take()
        if token == "(":
            node = self.type()
            self.take(")")
            return node
        if token == "{":
            return ("object", self.fields("}"))
        if token.startswith('"'):
            return ("literal", token.strip('"'))
        if token[0].isdigit() or token[0] == "-":
            return ("literal", float(token))
        if self.peek() == "<":  # Record<string, T>, Promise<T>: the last argument is the value type
            self.take("<")
            arguments = [self.type()]
            while self.peek() == ",":
                self.take()
                arguments.append(self.type())
            self.take(">")
            return ("generic", token, arguments)
        return ("prim", token) if token in PRIMITIVES else ("ref", token)

    def fields(self, closing: str) -> dict:
        result = {}
        while self.peek() != closing:
            if self.peek() == "[":  # an index signature, [key: string]: T
                self.take("[")
                self.take()
                self.take(":")
                self.type()
                self.take("]")
                self.take(":")
                result["[key]"] = (self.type(), True)
                if self.peek() in (";", ","):
                    self.take()
                continue
            name = self.take().strip('"')
            optional = self.peek() == "?"
            if optional:
                self.take()
            self.take(":")
            result[name] = (self.type(), optional)
            if self.peek() in (";", ","):
                self.take()
        self.take(closing)
        return result


def parse_type(text: str):
    return _Parser(text).type()


def parse_fields(text: str) -> dict:
    return _Parser(text + " }").fields("}")


# --- The SDK ----------------------------------------------------------------------------------------------


@dataclass
class SdkFunction:
    name: str
    method: str
    path: str  # "/admin/users/{}" (parameters unnamed)
    parameters: dict = field(default_factory=dict)  # name -> (type, optional)
    result: object = None
    path_parameters: tuple = ()

    @property
    def body(self) -> tuple[str, object] | None:
        """(parameter name, type) of the JSON/multipart body: the parameter typed by a *Dto."""
        for name, (kind, _optional) in self.parameters.items():
            if name.endswith("Dto") and kind[0] == "ref":
                return name, kind
        return None

    @property
    def query(self) -> set[str]:
        body = self.body
        return {name.lstrip("$") for name in self.parameters if name not in self.path_parameters and
                (body is None or name != body[0])}


@dataclass
class Sdk:
    types: dict  # name -> type expression
    enums: dict  # name -> [values]
    functions: dict  # name -> SdkFunction

    def resolve(self, node):
        """Follow aliases (`type A = B`) to the definition."""
        while node[0] == "ref" and node[1] in self.types:
            node = self.types[node[1]]
        return node


def _without_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def _routes(javascript: str) -> dict[str, tuple[str, str, tuple]]:
    """function name -> (method, path, path parameter names) from the generated fetch client."""
    routes = {}
    for match in re.finditer(r"^export function (\w+)\(.*?^}", javascript, flags=re.S | re.M):
        body = match.group(0)
        call = re.search(r"oazapfts\.fetch\w+\(\s*([`\"])(.*?)\1", body, flags=re.S)
        if not call:
            continue
        path = re.sub(r"\$\{QS\..*", "", call.group(2), flags=re.S)
        names = tuple(re.findall(r"\$\{encodeURIComponent\((\w+)\)\}", path))
        path = re.sub(r"\$\{encodeURIComponent\([^)]*\)\}", "{}", path)
        method = re.search(r'method: "(\w+)"', body)
        routes[match.group(1)] = (method.group(1) if method else "GET", path, names)
    return routes


@cache
def load_sdk() -> Sdk:
    ensure_node_modules("@immich/sdk")
    declarations = _without_comments((SDK_BUILD / "fetch-client.d.ts").read_text())
    types, enums, functions = {}, {}, {}
    for name, body in re.findall(r"^export type (\w+) = (.*?);\n(?=export |$)", declarations, flags=re.S | re.M):
        types[name] = parse_type(body)
    for name, body in re.findall(r"^export declare enum (\w+) \{(.*?)\n\}", declarations, flags=re.S | re.M):
        enums[name] = re.findall(r'= "([^"]*)"', body)
    routes = _routes((SDK_BUILD / "fetch-client.js").read_text())
    for match in re.finditer(r"^export declare function (\w+)\((.*?)\): Promise<(.*?)>;$", declarations,
                             flags=re.S | re.M):
        name, arguments, result = match.groups()
        parameters = {}
        typed = re.search(r"^\{[^}]*\}: \{(.*)\}, opts", arguments, flags=re.S)
        if typed:
            parameters = parse_fields(typed.group(1))
        if name in routes:
            method, path, names = routes[name]
            functions[name] = SdkFunction(name, method, path, parameters, parse_type(result), names)
    return Sdk(types, enums, functions)


# --- Values against the declarations ------------------------------------------------------------------


def shape_problems(sdk: Sdk, node, value, where: str = "") -> list[str]:
    """Where a JSON value does not fit a declared type: a missing required property, one the type lacks,
    a null where none is allowed, a wrong type or an unknown enum value."""
    node = sdk.resolve(node)
    kind = node[0]
    if kind == "union":
        options = [shape_problems(sdk, option, value, where) for option in node[1]]
        return [] if any(not problems for problems in options) else min(options, key=len)
    if kind == "literal":
        return [] if value == node[1] else [f"{where}: {value!r} is not {node[1]!r}"]
    if kind == "ref" and node[1] in sdk.enums:
        return [] if value in sdk.enums[node[1]] else [f"{where}: {value!r} is not one of {node[1]}"]
    if kind == "prim":
        expected = {"string": str, "number": (int, float), "boolean": bool, "null": type(None)}.get(node[1])
        if expected is None:
            return []
        if isinstance(value, bool) and node[1] == "number" or not isinstance(value, expected):
            return [f"{where}: {value!r} is not a {node[1]}"]
        return []
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where}: {value!r} is not an array"]
        return [problem for index, item in enumerate(value)
                for problem in shape_problems(sdk, node[1], item, f"{where}[{index}]")]
    if kind == "object":
        if not isinstance(value, dict):
            return [f"{where}: {value!r} is not an object"]
        fields = node[1]
        if "[key]" in fields:
            return []
        problems = [f"{where}.{name}: not in the SDK's type" for name in value if name not in fields]
        for name, (field_type, optional) in fields.items():
            if name not in value:
                if not optional:
                    problems.append(f"{where}.{name}: required by the SDK, missing")
                continue
            problems += shape_problems(sdk, field_type, value[name], f"{where}.{name}")
        return problems
    return []
