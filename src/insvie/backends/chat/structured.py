"""Structured output: the ``response_format`` field, turning a reply into checked data, asking again.

The server is asked to follow the schema (OpenAI, vLLM and Ollama constrain decoding to it), and
the reply is still parsed and validated here, because not every server or model honours the
request, and a truncated reply is syntactically broken whatever the server promised. Nothing is
repaired or guessed: a reply is either valid JSON matching the schema or an error.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match

from insvie.backends.chat.errors import ChatError

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_FENCE = re.compile(r"^```[A-Za-z0-9_-]*[ \t]*\r?\n(.*?)\r?\n?```$", re.DOTALL)
_MAX_DETAIL = 400


def response_format(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """The OpenAI ``response_format`` asking for strict JSON-schema output."""
    if not _NAME.match(name):
        raise ValueError(f"schema name must match {_NAME.pattern} (OpenAI's rule), got {name!r}")
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


def make_validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    """A validator for ``schema``, refusing a schema that is itself invalid before anything is sent."""
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"invalid JSON schema: {exc.message}") from exc
    return cls(schema)


def _short(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 3] + "..."


def message_text(completion: Any) -> tuple[str, str | None]:
    """The first choice's text and finish reason from a chat-completions response body."""
    try:
        choice = completion["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError):
        raise ChatError("bad_response", "the response has no choices[0].message", retryable=True) from None
    finish = choice.get("finish_reason") if isinstance(choice, dict) else None
    refusal = message.get("refusal") if isinstance(message, dict) else None
    if refusal:
        raise ChatError("refusal", _short(str(refusal)))
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, list):  # some servers return content parts even for text
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    if not isinstance(content, str):
        raise ChatError("invalid_json", "the reply has no text content", retryable=True)
    return content, finish


def strip_fences(text: str) -> str:
    """The JSON inside a reply wrapped whole in a Markdown code fence (```json ... ```)."""
    stripped = text.strip()
    match = _FENCE.match(stripped)
    return match.group(1).strip() if match else stripped


def parse_reply(
    text: str, validator: jsonschema.protocols.Validator, finish_reason: str | None = None
) -> dict:
    """Parse ``text`` as one JSON object and validate it, or raise a retryable ``ChatError``.

    Reasons: ``truncated`` (the server stopped at the token limit inside the JSON),
    ``invalid_json``, ``schema_mismatch``.
    """
    try:
        data = json.loads(strip_fences(text))
    except ValueError as exc:
        if finish_reason == "length":
            raise ChatError(
                "truncated", f"the reply hit the token limit before the JSON ended ({exc})", retryable=True
            ) from None
        raise ChatError("invalid_json", _short(f"{exc}; reply began {text[:80]!r}"), retryable=True) from None
    if not isinstance(data, dict):
        raise ChatError(
            "schema_mismatch", f"expected a JSON object, got {type(data).__name__}", retryable=True
        )
    error = best_match(validator.iter_errors(data))
    if error is not None:
        where = error.json_path if error.path else "the top level"
        raise ChatError("schema_mismatch", _short(f"at {where}: {error.message}"), retryable=True)
    return data


def correction_turns(previous: str, error: ChatError) -> list[dict[str, Any]]:
    """The bad reply and a user turn saying what was wrong, so the retry can correct it.

    Shared by every structured backend (the HTTP client and the local VLM), so a model is told the
    same thing whichever of them asks it again.
    """
    if error.reason == "truncated":
        problem = "Your reply was cut off before the JSON ended. Reply with a shorter JSON object."
    else:
        problem = f"Your reply was not valid ({error.reason}: {error.detail})."
    return [
        {"role": "assistant", "content": previous},
        {
            "role": "user",
            "content": f"{problem} Reply again with only a JSON object that matches the schema.",
        },
    ]
