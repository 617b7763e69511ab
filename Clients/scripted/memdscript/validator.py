"""The response validator: the envelope, results against openrpc.json (a JSON Schema subset),
errors against protocol.md's codes and kinds, and a step's `expect` (equals, fields, relations in
a safe expression language, batches, notifications)."""

import ast
import json
import operator
import re
from pathlib import Path

from .common import _ANY, StepFailure, _describe, _number_text, _short
from .connection import _idkey

REPO_ROOT = Path(__file__).resolve().parent.parent.parent.parent

# error.data.kind allowed for each code (protocol.md)
KINDS_BY_CODE = {
    -32700: {"parseError"},
    -32600: {"invalidRequest", "requestTooLarge"},
    -32601: {"methodNotFound"},
    -32602: {"invalidParams"},
    -32603: {"internal"},
    -32001: {"processNotFound"},
    -32002: {"permissionDenied"},
    -32003: {"resourceLimit"},
    -32004: {"unsupported"},
    -32005: {"simNotFound"},
    -32006: {"timeout"},
}


# ====================================================================== JSON Schema (subset)

def _json_type_ok(value, t):
    if t == "null":
        return value is None
    if t == "boolean":
        return isinstance(value, bool)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "string":
        return isinstance(value, str)
    if t == "array":
        return isinstance(value, list)
    if t == "object":
        return isinstance(value, dict)
    return False


def _id_equal(a, b):
    """Ids match when they are the same JSON text: 1.50 is not 1.5, nor 2^64 - 1 2^64."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) \
            and not isinstance(b, bool):
        return _number_text(a) == _number_text(b)
    return _json_equal(a, b)


def _json_equal(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


class SchemaValidator:
    """type, properties, required, additionalProperties, patternProperties, items, enum, const,
    oneOf, anyOf, allOf, not, minimum, maximum, exclusiveMinimum/Maximum, minLength, maxLength,
    pattern, minItems, maxItems, $ref (JSON pointer into the document)."""

    def __init__(self, document):
        self.doc = document

    def resolve(self, ref):
        if not ref.startswith("#"):
            raise StepFailure("unsupported $ref %r" % ref)
        node = self.doc
        for part in ref[1:].split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            else:
                raise StepFailure("unresolvable $ref %r" % ref)
        return node

    def errors(self, value, schema, path="$", depth=0):
        if depth > 200:
            return ["%s: schema nesting too deep" % path]
        if schema is True or schema == {}:
            return []
        if schema is False:
            return ["%s: not allowed" % path]
        if not isinstance(schema, dict):
            return ["%s: bad schema %r" % (path, schema)]
        errs = []
        if "$ref" in schema:
            errs += self.errors(value, self.resolve(schema["$ref"]), path, depth + 1)
        t = schema.get("type")
        if t is not None:
            types = t if isinstance(t, list) else [t]
            if not any(_json_type_ok(value, x) for x in types):
                return errs + ["%s: expected %s, got %s" % (path, "/".join(types), _describe(value))]
        if "enum" in schema and not any(_json_equal(value, e) for e in schema["enum"]):
            errs.append("%s: %s not one of %s" % (path, _short(value), _short(schema["enum"])))
        if "const" in schema and not _json_equal(value, schema["const"]):
            errs.append("%s: %s is not %s" % (path, _short(value), _short(schema["const"])))
        for sub in schema.get("allOf", []):
            errs += self.errors(value, sub, path, depth + 1)
        if "anyOf" in schema:
            if not any(not self.errors(value, s, path, depth + 1) for s in schema["anyOf"]):
                errs.append("%s: %s matches none of anyOf (%s)" % (
                    path, _short(value), "; ".join(self._first(value, s, path, depth) for s in schema["anyOf"])))
        if "oneOf" in schema:
            n = sum(1 for s in schema["oneOf"] if not self.errors(value, s, path, depth + 1))
            if n != 1:
                errs.append("%s: %s matches %d of oneOf, not exactly 1%s" % (
                    path, _short(value), n, "" if n else " (%s)" % "; ".join(
                        self._first(value, s, path, depth) for s in schema["oneOf"])))
        if "not" in schema and not self.errors(value, schema["not"], path, depth + 1):
            errs.append("%s: matches a schema it must not" % path)
        if _json_type_ok(value, "number"):
            if "minimum" in schema and value < schema["minimum"]:
                errs.append("%s: %s < minimum %s" % (path, value, schema["minimum"]))
            if "maximum" in schema and value > schema["maximum"]:
                errs.append("%s: %s > maximum %s" % (path, value, schema["maximum"]))
            if "exclusiveMinimum" in schema and isinstance(schema["exclusiveMinimum"], (int, float)) \
                    and value <= schema["exclusiveMinimum"]:
                errs.append("%s: %s <= exclusiveMinimum %s" % (path, value, schema["exclusiveMinimum"]))
            if "exclusiveMaximum" in schema and isinstance(schema["exclusiveMaximum"], (int, float)) \
                    and value >= schema["exclusiveMaximum"]:
                errs.append("%s: %s >= exclusiveMaximum %s" % (path, value, schema["exclusiveMaximum"]))
        if isinstance(value, str):
            if "minLength" in schema and len(value) < schema["minLength"]:
                errs.append("%s: shorter than %d" % (path, schema["minLength"]))
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                errs.append("%s: longer than %d" % (path, schema["maxLength"]))
            if "pattern" in schema and not re.search(schema["pattern"], value):
                errs.append("%s: %s does not match /%s/" % (path, _short(value), schema["pattern"]))
        if isinstance(value, list):
            if "minItems" in schema and len(value) < schema["minItems"]:
                errs.append("%s: fewer than %d items" % (path, schema["minItems"]))
            if "maxItems" in schema and len(value) > schema["maxItems"]:
                errs.append("%s: more than %d items" % (path, schema["maxItems"]))
            items = schema.get("items")
            if isinstance(items, list):
                for i, (v, s) in enumerate(zip(value, items)):
                    errs += self.errors(v, s, "%s[%d]" % (path, i), depth + 1)
            elif items is not None:
                for i, v in enumerate(value):
                    errs += self.errors(v, items, "%s[%d]" % (path, i), depth + 1)
                    if len(errs) > 20:
                        break
        if isinstance(value, dict):
            props = schema.get("properties", {})
            for name in schema.get("required", []):
                if name not in value:
                    errs.append("%s: missing required %r" % (path, name))
            pattern_props = schema.get("patternProperties", {})
            extra = schema.get("additionalProperties", True)
            for k, v in value.items():
                sub = "%s.%s" % (path, k)
                matched = False
                if k in props:
                    errs += self.errors(v, props[k], sub, depth + 1)
                    matched = True
                for pat, s in pattern_props.items():
                    if re.search(pat, k):
                        errs += self.errors(v, s, sub, depth + 1)
                        matched = True
                if not matched:
                    if extra is False:
                        errs.append("%s: unexpected member %r" % (path, k))
                    elif isinstance(extra, dict):
                        errs += self.errors(v, extra, sub, depth + 1)
                if len(errs) > 20:
                    break
        return errs

    def _first(self, value, schema, path, depth):
        e = self.errors(value, schema, path, depth + 1)
        return e[0] if e else "ok"


class OpenRPC:
    def __init__(self, doc, origin):
        self.doc = doc if isinstance(doc, dict) else {}
        self.origin = origin
        self.validator = SchemaValidator(self.doc)
        self.methods = {}
        for m in self.doc.get("methods", []) or []:
            if isinstance(m, dict) and "$ref" in m:
                m = self.validator.resolve(m["$ref"])
            if isinstance(m, dict) and isinstance(m.get("name"), str):
                self.methods[m["name"]] = m
        self.error_codes = set()
        for e in (self.doc.get("components", {}) or {}).get("errors", {}).values():
            if isinstance(e, dict) and isinstance(e.get("code"), int):
                self.error_codes.add(e["code"])

    def result_errors(self, method, result):
        m = self.methods.get(method)
        if m is None:
            return ["method %r is not described in %s" % (method, self.origin)]
        r = m.get("result")
        if isinstance(r, dict) and "$ref" in r:
            r = self.validator.resolve(r["$ref"])
        if not isinstance(r, dict) or "schema" not in r:
            return ["method %r has no result schema in %s" % (method, self.origin)]
        return self.validator.errors(result, r["schema"], "result")


# ====================================================================== safe expressions

class EvalError(Exception):
    pass


def _approx(a, b, tol=0, rel=0):
    """|a - b| <= max(tol, rel * max(|a|, |b|))."""
    return abs(a - b) <= max(tol, rel * max(abs(a), abs(b)))


def _within(a, lo, hi):
    return lo <= a <= hi


def _hexint(s):
    if not isinstance(s, str) or not re.fullmatch(r"0x[0-9a-f]+", s):
        raise EvalError("not a lowercase 0x hex string: %s" % _short(s))
    return int(s, 16)


def _is_hex(s):
    return isinstance(s, str) and re.fullmatch(r"0x[0-9a-f]+", s) is not None


def _matches(s, pattern):
    return isinstance(s, str) and re.search(pattern, s) is not None


SAFE_FUNCS = {
    "len": len, "abs": abs, "min": min, "max": max, "sum": sum, "all": all, "any": any, "round": round,
    "int": int, "float": float, "str": str, "bool": bool, "sorted": sorted, "list": list, "set": set,
    "keys": lambda d: list(d.keys()), "values": lambda d: list(d.values()),
    "approx": _approx, "within": _within, "hexint": _hexint, "isHex": _is_hex, "matches": _matches,
    "isInt": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "isNumber": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "isString": lambda v: isinstance(v, str),
    "has": lambda d, k: isinstance(d, dict) and k in d,
}
BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
          ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
CMPOPS = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
          ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
          ast.NotIn: lambda a, b: a not in b, ast.Is: lambda a, b: a is b, ast.IsNot: lambda a, b: a is not b}
_VAR_RE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


class SafeEval:
    """Evaluate a Python-syntax expression over JSON data, allowing only data access, arithmetic,
    comparisons, boolean logic, comprehensions and a few pure functions. `a.b` reads member b of
    object a; `$name` reads a scenario variable."""

    def __init__(self, scope, variables):
        self.scope = scope if isinstance(scope, dict) else {}
        self.variables = variables
        self.locals = [{}]

    def run(self, text):
        src = _VAR_RE.sub(lambda m: "__var_" + m.group(1), text)
        try:
            tree = ast.parse(src.strip(), mode="eval")
        except SyntaxError as e:
            raise EvalError("syntax error in %r: %s" % (text, e.msg))
        return self.ev(tree.body)

    def name(self, n):
        for frame in reversed(self.locals):
            if n in frame:
                return frame[n]
        if n.startswith("__var_"):
            v = n[len("__var_"):]
            if v not in self.variables:
                raise EvalError("variable $%s is not set (did an earlier step fail?)" % v)
            return self.variables[v]
        if n in self.scope:
            return self.scope[n]
        if n in ("null", "None"):
            return None
        if n in ("true", "True"):
            return True
        if n in ("false", "False"):
            return False
        if n == "result":
            return self.scope
        raise EvalError("no field %r" % n)

    def ev(self, node):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.Attribute):
            base = self.ev(node.value)
            if not isinstance(base, dict):
                raise EvalError("cannot read .%s of %s" % (node.attr, _describe(base)))
            if node.attr not in base:
                raise EvalError("no field %r (have %s)" % (node.attr, ", ".join(sorted(base))[:200]))
            return base[node.attr]
        if isinstance(node, ast.Subscript):
            base = self.ev(node.value)
            if isinstance(node.slice, ast.Slice):
                lo = self.ev(node.slice.lower) if node.slice.lower else None
                hi = self.ev(node.slice.upper) if node.slice.upper else None
                if not isinstance(base, (list, str)):
                    raise EvalError("cannot slice %s" % _describe(base))
                return base[lo:hi]
            key = self.ev(node.slice)
            if isinstance(base, dict):
                if key not in base:
                    raise EvalError("no member %r" % (key,))
                return base[key]
            if isinstance(base, (list, str)) and isinstance(key, int) and not isinstance(key, bool):
                if not -len(base) <= key < len(base):
                    raise EvalError("index %d out of range (length %d)" % (key, len(base)))
                return base[key]
            raise EvalError("cannot index %s with %r" % (_describe(base), key))
        if isinstance(node, ast.BinOp) and type(node.op) in BINOPS:
            a, b = self.ev(node.left), self.ev(node.right)
            if isinstance(node.op, ast.Pow) and (not isinstance(b, (int, float)) or abs(b) > 128):
                raise EvalError("exponent too large")
            if isinstance(node.op, ast.Mult) and (isinstance(a, (str, list)) or isinstance(b, (str, list))):
                raise EvalError("sequence repetition not allowed")
            try:
                return BINOPS[type(node.op)](a, b)
            except (TypeError, ZeroDivisionError, OverflowError) as e:
                raise EvalError("%s" % e)
        if isinstance(node, ast.UnaryOp):
            v = self.ev(node.operand)
            if isinstance(node.op, ast.USub):
                return -v
            if isinstance(node.op, ast.UAdd):
                return +v
            if isinstance(node.op, ast.Not):
                return not v
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                v = True
                for x in node.values:
                    v = self.ev(x)
                    if not v:
                        return v
                return v
            v = False
            for x in node.values:
                v = self.ev(x)
                if v:
                    return v
            return v
        if isinstance(node, ast.Compare):
            left = self.ev(node.left)
            for op, rnode in zip(node.ops, node.comparators):
                right = self.ev(rnode)
                try:
                    if not CMPOPS[type(op)](left, right):
                        return False
                except TypeError as e:
                    raise EvalError("%s" % e)
                left = right
            return True
        if isinstance(node, ast.IfExp):
            return self.ev(node.body) if self.ev(node.test) else self.ev(node.orelse)
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.ev(x) for x in node.elts]
        if isinstance(node, ast.Dict):
            return {self.ev(k): self.ev(v) for k, v in zip(node.keys, node.values)}
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in SAFE_FUNCS:
            args = [self.ev(a) for a in node.args]
            kwargs = {k.arg: self.ev(k.value) for k in node.keywords if k.arg}
            try:
                return SAFE_FUNCS[node.func.id](*args, **kwargs)
            except EvalError:
                raise
            except Exception as e:
                raise EvalError("%s(): %s" % (node.func.id, e))
        if isinstance(node, (ast.GeneratorExp, ast.ListComp)):
            return list(self.comp(node.elt, node.generators))
        raise EvalError("not allowed in expressions: %s" % type(node).__name__)

    def comp(self, elt, generators):
        gen = generators[0]
        if not isinstance(gen.target, ast.Name):
            raise EvalError("comprehension target must be a name")
        seq = self.ev(gen.iter)
        if isinstance(seq, dict):
            seq = list(seq.keys())
        if not isinstance(seq, (list, str)):
            raise EvalError("cannot iterate over %s" % _describe(seq))
        for item in seq:
            self.locals.append({gen.target.id: item})
            try:
                if all(self.ev(c) for c in gen.ifs):
                    if len(generators) > 1:
                        yield from list(self.comp(elt, generators[1:]))
                    else:
                        yield self.ev(elt)
            finally:
                self.locals.pop()


class ResponseChecks:
    """The checks of one reply against a step's `expect` (a mixin of Runner: uses self.openrpc and
    self.variables)."""

    def check_envelope(self, resp):
        if not isinstance(resp, dict):
            raise StepFailure("response is not an object: %s" % _short(resp))
        if resp.get("jsonrpc") != "2.0":
            raise StepFailure("response without jsonrpc \"2.0\": %s" % _short(resp))
        if "id" not in resp:
            raise StepFailure("response without id: %s" % _short(resp))
        extra = set(resp) - {"jsonrpc", "id", "result", "error"}
        if extra:
            raise StepFailure("response has unknown members %s" % sorted(extra))
        if ("result" in resp) == ("error" in resp):
            raise StepFailure("response must have exactly one of result and error: %s" % _short(resp))
        if "error" in resp:
            e = resp["error"]
            if not isinstance(e, dict) or not isinstance(e.get("code"), int) or isinstance(e.get("code"), bool):
                raise StepFailure("malformed error: %s" % _short(e))
            if not isinstance(e.get("message"), str) or not e["message"].strip():
                raise StepFailure("error %s without a message" % e.get("code"))
            data = e.get("data")
            if not isinstance(data, dict) or not isinstance(data.get("kind"), str):
                raise StepFailure("error %s without data.kind: %s" % (e.get("code"), _short(e)))
            kinds = KINDS_BY_CODE.get(e["code"])
            if kinds is not None and data["kind"] not in kinds:
                raise StepFailure("error %s has kind %r; the contract says %s" % (
                    e["code"], data["kind"], " or ".join(sorted(kinds))))
            if self.openrpc.error_codes and e["code"] not in self.openrpc.error_codes:
                raise StepFailure("error code %s is not in %s components.errors" % (e["code"], self.openrpc.origin))

    def check_response(self, resp, expect, method, rid):
        self.check_envelope(resp)
        want_id = expect.get("id", rid)
        if want_id is not _ANY and not _id_equal(resp.get("id"), self.subst(want_id)):
            raise StepFailure("reply id %s, expected %s" % (_short(resp.get("id")), _short(want_id)))
        if "error" in expect:
            if "error" not in resp:
                raise StepFailure("expected error %s, got result %s" % (
                    expect["error"].get("code"), _short(resp.get("result"))))
            self.check_error(resp["error"], expect["error"])
            return
        if expect.get("errorOrResult"):
            if "error" in resp:
                self.check_error(resp["error"], expect["errorOrResult"])
                return
        if "error" in resp:
            e = resp["error"]
            raise StepFailure("unexpected error %s %s: %s" % (
                e.get("code"), (e.get("data") or {}).get("kind"), e.get("message")))
        result = resp["result"]
        if method and expect.get("schema", True):
            errs = self.openrpc.result_errors(method, result)
            if errs:
                raise StepFailure("result of %s does not match its schema: %s" % (method, "; ".join(errs[:5])))
        self.check_result(result, expect)

    def check_error(self, err, want):
        code = err.get("code")
        kind = (err.get("data") or {}).get("kind")
        if "code" in want and code != want["code"]:
            raise StepFailure("expected error %s, got %s %s: %s" % (want["code"], code, kind, err.get("message")))
        if "kind" in want and kind != want["kind"]:
            raise StepFailure("expected kind %r, got %r (%s)" % (want["kind"], kind, err.get("message")))
        data = err.get("data") or {}
        for f in want.get("dataFields", []):
            if f not in data:
                raise StepFailure("error data lacks %r: %s" % (f, _short(data)))
        for k, v in self.subst(want.get("data", {})).items():
            if k not in data or not _json_equal(data[k], v):
                raise StepFailure("error data.%s = %s, expected %s" % (k, _short(data.get(k)), _short(v)))
        if "messageMatches" in want and not re.search(self.subst(want["messageMatches"]), err.get("message", "")):
            raise StepFailure("error message %r does not match /%s/" % (err.get("message"), want["messageMatches"]))

    def check_result(self, result, expect):
        ev = SafeEval(result, self.variables)
        for path in expect.get("fields", []):
            try:
                ev.run(path)
            except EvalError as e:
                raise StepFailure("field %s: %s" % (path, e))
        for path in expect.get("absent", []):
            try:
                ev.run(path)
            except EvalError:
                continue
            raise StepFailure("field %s should be absent" % path)
        for path, want in expect.get("equals", {}).items():
            want = self.subst(want)
            try:
                got = ev.run(path)
            except EvalError as e:
                raise StepFailure("field %s: %s" % (path, e))
            if not _json_equal(got, want):
                raise StepFailure("%s = %s, expected %s" % (path, _short(got), _short(want)))
        for rel in expect.get("relations", []):
            try:
                ok = ev.run(rel)
            except EvalError as e:
                raise StepFailure("relation %s: %s" % (rel, e))
            if not ok:
                raise StepFailure("relation does not hold: %s%s" % (rel, self.explain(rel, result)))

    def explain(self, rel, result):
        """The values of the names a failed relation mentions, to say why."""
        try:
            tree = ast.parse(_VAR_RE.sub(lambda m: "__var_" + m.group(1), rel), mode="eval")
        except SyntaxError:
            return ""
        parts = []
        ev = SafeEval(result, self.variables)
        seen = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)) and not isinstance(
                    getattr(node, "ctx", None), ast.Store):
                try:
                    text = ast.unparse(node).replace("__var_", "$")
                except Exception:
                    continue
                if text in seen or text in SAFE_FUNCS or len(parts) >= 8:
                    continue
                seen.add(text)
                try:
                    v = ev.ev(node)
                except Exception:
                    continue
                if isinstance(v, (int, float, str, bool)) or v is None:
                    parts.append("%s=%s" % (text, _short(v, 40)))
        return " (%s)" % ", ".join(parts) if parts else ""

    def check_batch(self, resp, expect, methods):
        if not expect.get("batchReply", "items" in expect or "responses" in expect):
            raise StepFailure("unexpected batch reply %s" % _short(resp))
        for r in resp:
            self.check_envelope(r)
        if "responses" in expect and len(resp) != expect["responses"]:
            raise StepFailure("batch reply has %d responses, expected %d: %s" % (
                len(resp), expect["responses"], _short([(r.get("id"), (r.get("error") or {}).get("code"))
                                                         for r in resp], 200)))
        ids = [_idkey(r.get("id")) for r in resp if r.get("id") is not None]
        if len(ids) != len(set(ids)):
            raise StepFailure("batch reply repeats an id")
        unmatched = list(resp)
        for item in expect.get("items", []):
            want_id = self.subst(item.get("id"))
            found = None
            for r in unmatched:
                if _id_equal(r.get("id"), want_id):
                    found = r
                    break
            if found is None:
                raise StepFailure("batch reply has no response with id %s" % _short(want_id))
            unmatched.remove(found)
            self.check_response(found, item, methods.get(_idkey(want_id)), want_id)

    def check_notifications(self, conn, expect):
        want = expect.get("notifications")
        if not want:
            return
        got = [n for n in conn.notifications if n.get("method") == want.get("method")]
        if len(got) < want.get("min", 1):
            raise StepFailure("expected at least %d %s notifications, got %d" % (
                want.get("min", 1), want.get("method"), len(got)))
        if "max" in want and len(got) > want["max"]:
            raise StepFailure("expected at most %d %s notifications, got %d" % (want["max"], want.get("method"),
                                                                                   len(got)))
        for n in got:
            p = n.get("params")
            ev = SafeEval(p, self.variables)
            for path in want.get("fields", []):
                try:
                    ev.run(path)
                except EvalError as e:
                    raise StepFailure("notification params %s: %s" % (path, e))
            for rel in want.get("relations", []):
                try:
                    ok = ev.run(rel)
                except EvalError as e:
                    raise StepFailure("notification relation %s: %s" % (rel, e))
                if not ok:
                    raise StepFailure("notification relation does not hold: %s in %s" % (rel, _short(p, 200)))


def load_openrpc(explicit, runner):
    path = Path(explicit) if explicit else REPO_ROOT / "Protocol" / "openrpc.json"
    doc = None
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        print("note: cannot read %s (%s)" % (path, e))
    if not (isinstance(doc, dict) and doc.get("methods")):
        served = getattr(runner, "served_doc", None)
        if served:
            print("note: %s describes no methods; validating against rpc.discover's document" % path)
            return OpenRPC(served, "rpc.discover"), doc
    return OpenRPC(doc or {}, str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)), doc
