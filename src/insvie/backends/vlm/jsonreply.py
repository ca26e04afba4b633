"""Finding the JSON object in a local model's free text and holding it to the schema.

Local generation has no server-side structured-output mode, so the model is asked for JSON in the
prompt and its text is searched: the first ``{...}`` that parses as a JSON object wins, whatever
surrounds it (Markdown fences, a preamble, a trailing remark). Nothing is repaired or guessed. The
reasons match the chat client's: ``truncated`` (generation stopped at the token limit before a JSON
object was complete), ``invalid_json`` (no JSON object in the text), ``schema_mismatch``.
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema.exceptions import best_match

from insvie.backends.chat import ChatError
from insvie.backends.chat.structured import make_validator

_SNIPPET = 200  # characters of model output quoted in an error


def snippet(text: str, limit: int = _SNIPPET) -> str:
    """``text`` shortened for an error message."""
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def extract_json_object(text: str, *, truncated: bool = False) -> dict[str, Any]:
    """The first JSON object in ``text``; a retryable ``ChatError`` if there is none.

    ``truncated`` says generation hit its token limit, which makes a missing object ``truncated``.
    """
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
    if truncated:
        raise ChatError(
            "truncated",
            f"generation hit the token limit before a JSON object ended: {snippet(text)!r}",
            retryable=True,
        )
    raise ChatError("invalid_json", f"no JSON object in the model output: {snippet(text)!r}", retryable=True)


def validate_json(data: dict[str, Any], schema: dict[str, Any] | Any) -> None:
    """``ChatError("schema_mismatch")`` naming the most relevant violation, if ``data`` breaks ``schema``.

    ``schema`` is a JSON schema or a validator made from one; an invalid schema is a ``ValueError``.
    """
    validator = make_validator(schema) if isinstance(schema, dict) else schema
    error = best_match(validator.iter_errors(data))
    if error is not None:
        where = error.json_path if error.path else "the top level"
        raise ChatError("schema_mismatch", f"at {where}: {error.message}", retryable=True)


def parse_json_reply(text: str, schema: dict[str, Any] | Any, *, truncated: bool = False) -> dict[str, Any]:
    """Extract the first JSON object of ``text`` and validate it against ``schema``."""
    data = extract_json_object(text, truncated=truncated)
    validate_json(data, schema)
    return data
