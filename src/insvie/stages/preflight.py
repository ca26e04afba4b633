"""Checking what a build's steps will load or call before any work starts.

A missing model folder used to surface as every edit failing, one by one, after the cheap steps had
run; an unreachable chat endpoint as every instruction failing. Each stage declares its needs
(:meth:`insvie.engine.Stage.needs`); :func:`check_needs` looks at all of them at once and raises one
:class:`~insvie.errors.ConfigError` naming every problem and the config key behind it:

- a local folder that does not exist;
- a hub id that is not in the local cache while the hub is offline (``HF_HUB_OFFLINE=1``): online,
  a download may still bring it, so it is not checked;
- an endpoint whose host does not accept a connection (nothing is sent: no request is spent).
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from insvie.backends import hub
from insvie.engine import Need, Step
from insvie.errors import ConfigError
from insvie.stages.chat_model import ChatModelConfig

CONNECT_TIMEOUT_S = 3.0


def chat_needs(config: ChatModelConfig, key: str) -> list[Need]:
    """The needs of a chat config under ``key``: its local model, or its endpoint (config or environment)."""
    if config.backend == "transformers":
        return [Need(f"{key}.model", "model", config.model)]
    from insvie.backends.chat.client import resolve_base_url

    where = f"{key}.base_url" if config.base_url else f"{key} (${config.base_url_env})"
    return [Need(where, "endpoint", resolve_base_url(config.base_url, config.base_url_env))]


# How a build's list of problems words each of :func:`insvie.backends.hub.unavailable`'s reasons.
_MODEL_PROBLEMS = {
    hub.NOT_A_FOLDER: "{model} is a file, not a model folder",
    hub.NO_SUCH_FOLDER: "no such folder: {model}",
    hub.OFFLINE_UNCACHED: "{model} is neither a local folder nor in the Hugging Face cache, and the hub is "
    "offline (HF_HUB_OFFLINE=1): download it first or give a local folder",
}


def model_problem(value: str) -> str | None:
    """Why the model ``value`` (a hub id or folder) cannot be loaded here, or None (the rules are
    :mod:`insvie.backends.hub`'s, so a build refuses what its steps would fail to load)."""
    reason = hub.unavailable(value)
    return None if reason is None else _MODEL_PROBLEMS[reason].format(model=value)


def endpoint_problem(url: str) -> str | None:
    """Why nothing answers at ``url`` (connection refused, unknown host, timeout), or None."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT_S):
            return None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return (
            f"nothing answers at {url} ({reason}); start the server, or point the config or the "
            "environment at one"
        )


def problems(needs: Iterable[Need]) -> list[str]:
    """One message per need that cannot be met, naming its config key; each distinct need checked once."""
    found: list[str] = []
    checked: dict[tuple[str, str], str | None] = {}
    for need in needs:
        if (need.kind, need.value) not in checked:
            check = model_problem if need.kind == "model" else endpoint_problem
            checked[(need.kind, need.value)] = check(need.value)
        problem = checked[(need.kind, need.value)]
        if problem:
            found.append(f"{need.key}: {problem}")
    return list(dict.fromkeys(found))


def check_needs(steps: Iterable[Step]) -> None:
    """Raise ConfigError listing every model or endpoint the steps need and cannot have."""
    found = problems(need for step in steps for need in step.stage.needs())
    if found:
        raise ConfigError("cannot start the build: " + "; ".join(found))
