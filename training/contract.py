"""The report contract (docs/REPORT_FORMAT.md) on the Python side: schema loading and checking,
event facts, canonical JSON, prompts and special tokens.

src/fusion/report_prompt.cpp is the C++ twin of this module; tests/fusion/report_prompt_test.cpp
checks that both build byte-identical prompts from training/testdata/prompts.jsonl. Standard
library only.
"""

import json
import math
import os
import re
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCHEMA_DIR = os.path.join(ROOT, "schema")

# Special tokens (added tokens of the tokenizer; see tokenizer.py).
FACTS = "<|facts|>"
REPORT = "<|report|>"
ANSWER = "<|answer|>"
END = "<|end|>"
PAD = "<|pad|>"
SPECIAL_TOKENS = [FACTS, REPORT, ANSWER, END, PAD]

INTENTS = ("count", "what_happened", "last_event")


def load_schema(name):
    with open(os.path.join(SCHEMA_DIR, name), encoding="utf-8") as f:
        return json.load(f)


EVENT_SCHEMA = load_schema("event.schema.json")
REQUEST_SCHEMA = load_schema("report-request.schema.json")

# What the corpus needs to know about events, read from the schema (never restated here).
EVENT_KEYS = list(EVENT_SCHEMA["properties"].keys())
EVENT_TYPES = list(EVENT_SCHEMA["properties"]["type"]["enum"])
DIRECTIONS = [d for d in EVENT_SCHEMA["properties"]["direction"]["enum"] if d]


# ---------------------------------------------------------------------------------------------
# JSON Schema subset checker: type, enum, const, properties, required, additionalProperties
# (false), items, minItems, maxItems, minimum, maximum, pattern, $ref (#/$defs/...), oneOf.

def _type_ok(value, name):
    if name == "object":
        return isinstance(value, dict)
    if name == "array":
        return isinstance(value, list)
    if name == "string":
        return isinstance(value, str)
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name == "boolean":
        return isinstance(value, bool)
    if name == "null":
        return value is None
    raise ValueError(f"schema: unsupported type {name!r}")


def schema_errors(value, schema, root=None, path="$"):
    """Returns a list of 'path: problem' strings; empty when `value` validates."""
    root = schema if root is None else root
    errors = []
    if "$ref" in schema:
        ref = schema["$ref"]
        if not ref.startswith("#/$defs/"):
            raise ValueError(f"schema: unsupported $ref {ref!r}")
        return schema_errors(value, root["$defs"][ref[len("#/$defs/"):]], root, path)
    if "oneOf" in schema:
        matches = sum(1 for s in schema["oneOf"] if not schema_errors(value, s, root, path))
        if matches != 1:
            errors.append(f"{path}: matches {matches} of the oneOf alternatives (expected 1)")
        return errors
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_type_ok(value, t) for t in types):
            return [f"{path}: expected {'/'.join(types)}, got {type(value).__name__}"]
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: expected {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: {value} < minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: {value} > maximum {schema['maximum']}")
    if isinstance(value, str) and "pattern" in schema:
        if not re.search(schema["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{path}: {len(value)} items < minItems {schema['minItems']}")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path}: {len(value)} items > maxItems {schema['maxItems']}")
        if "items" in schema:
            for i, item in enumerate(value):
                errors += schema_errors(item, schema["items"], root, f"{path}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing key {key!r}")
        for key, item in value.items():
            if key in props:
                errors += schema_errors(item, props[key], root, f"{path}.{key}")
            elif schema.get("additionalProperties", True) is False:
                errors.append(f"{path}: unexpected key {key!r}")
    return errors


# ---------------------------------------------------------------------------------------------
# Facts and prompts (docs/REPORT_FORMAT.md).

MAX_DURATION_S = 10**9  # durations are clamped to [0, 1e9] s (both sides of the contract)
MAX_UNIX = 2**40        # start_unix outside [0, 2^40) is rejected (both sides)


def canonical_json(obj):
    """Sorted keys, no whitespace, UTF-8 (no \\u escapes for non-ASCII): nlohmann's dump()."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def round_half_away(x):
    """C's llround: halves go away from zero (Python's round() goes to even)."""
    sign = -1 if x < 0 else 1
    a = abs(x)
    q = math.floor(a)
    return sign * (q + 1 if a - q >= 0.5 else q)


def local_hms(start_unix):
    """HH:MM:SS of floor(start_unix) in local time (TZ), like localtime_r."""
    if not (0 <= start_unix < MAX_UNIX):
        raise ValueError(f"event start_unix {start_unix}: expected 0 <= start_unix < 2^40")
    return time.strftime("%H:%M:%S", time.localtime(math.floor(start_unix)))


def event_facts(event):
    """EVENT_FACTS of one event dict (the vision::Event JSON object)."""
    count = event["count"] if event["count"] > 0 else max(1, len(event["track_ids"]))
    duration = None
    if event["end_s"] is not None:
        d = round_half_away(event["end_s"] - event["start_s"])
        duration = min(max(d, 0), MAX_DURATION_S)
    return {
        "type": event["type"],
        "rule": event["rule"],
        "zone": event["zone"],
        "class": event["class"] if event["class"] else "object",
        "count": count,
        "time": local_hms(event["start_unix"]),
        "duration_s": duration,
        "direction": event["direction"] if event["type"] == "line_crossing" else "",
    }


def report_request(events, site):
    return {"events": [event_facts(e) for e in events], "site": site}


def report_request_json(events, site):
    return canonical_json(report_request(events, site))


def report_prompt(events, site):
    return FACTS + report_request_json(events, site) + REPORT


def answer_request(question, intent, result):
    if intent not in INTENTS:
        raise ValueError(f"intent {intent!r}: expected one of {INTENTS}")
    return {"intent": intent, "question": question, "result": result}


def answer_prompt(question, intent, result):
    return FACTS + canonical_json(answer_request(question, intent, result)) + ANSWER


def use_utc():
    """Pins local time to UTC so that generated facts do not depend on the machine."""
    os.environ["TZ"] = "UTC"
    time.tzset()
