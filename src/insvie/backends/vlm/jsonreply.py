"""Finding the JSON object in a local model's free text and holding it to the schema.

Local generation has no server-side structured-output mode, so the model is asked for JSON in the
prompt and its text is searched: the first ``{...}`` that parses as a JSON object wins, whatever
surrounds it (Markdown fences, a preamble, a trailing remark). Nothing is repaired or guessed: text
without a parsable object is ``invalid_json``, an object the schema rejects is ``schema_mismatch``.
"""

from __future__ import annotations

import json
from typing import Any

from insvie.backends.chat.errors import ChatError

_SNIPPET = 200  # characters of model output quoted in an error


def snippet(text: str, limit: int = _SNIPPET) -> str:
    """``text`` shortened for an error message."""
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def extract_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in ``text``; ``ChatError("invalid_json")`` if there is none."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError:
            pass
        else:
            if isinstance(value, dict):
                return value
        start = text.find("{", start + 1)
    raise ChatError("invalid_json", f"no JSON object in the model output: {snippet(text)!r}")


def validate_json(data: dict[str, Any], schema: dict[str, Any]) -> None:
    """``ChatError("schema_mismatch")`` naming the first violation, if ``data`` breaks ``schema``."""
    import jsonschema

    validator_class = jsonschema.validators.validator_for(schema)
    try:
        validator_class.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"not a valid JSON schema: {exc.message}") from exc
    errors = sorted(validator_class(schema).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(part) for part in first.absolute_path) or "(root)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ChatError("schema_mismatch", f"at {where}: {first.message}{more}")


def parse_json_reply(text: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Extract the first JSON object of ``text`` and validate it against ``schema``."""
    data = extract_json_object(text)
    validate_json(data, schema)
    return data
