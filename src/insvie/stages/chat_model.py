"""Which language or vision-language model a stage talks to, as config, and the client it gets.

One config shape serves the captioner, the instruction writer and the judge: an OpenAI-compatible
endpoint (GPT-4o, vLLM, Ollama; URL and key from the environment like the official client) or a
local transformers model by hub id or folder. Keys are named, never written: the config holds the
name of the environment variable, so configs and manifests can be shared.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from insvie.engine import StageConfig
from insvie.settings import OPERATIONAL


class ChatModelConfig(StageConfig):
    backend: Annotated[
        Literal["openai", "transformers"],
        Field(description="openai: any OpenAI-compatible endpoint; transformers: a local model."),
    ] = "openai"
    model: Annotated[
        str, Field(min_length=1, description="Model name at the endpoint, or hub id / folder.")
    ] = "gpt-4o"
    base_url: Annotated[
        str | None, Field(description="Endpoint URL (default: $OPENAI_BASE_URL, else api.openai.com).")
    ] = None
    api_key_env: Annotated[str, Field(description="Environment variable holding the API key.")] = (
        "OPENAI_API_KEY"
    )
    base_url_env: Annotated[str, Field(description="Environment variable holding the endpoint URL.")] = (
        "OPENAI_BASE_URL"
    )
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.0
    max_retries: Annotated[int, Field(ge=0, le=10, json_schema_extra=OPERATIONAL)] = 3
    timeout: Annotated[
        float, Field(gt=0, description="Seconds per request.", json_schema_extra=OPERATIONAL)
    ] = 120.0
    device: Annotated[str, Field(description="transformers: 'auto', 'cpu' or 'cuda'.")] = "auto"
    concurrency: Annotated[
        int, Field(ge=1, le=64, description="Requests in flight per worker.", json_schema_extra=OPERATIONAL)
    ] = 4
    max_requests: Annotated[
        int | None,
        Field(
            ge=1,
            description="Budget: requests this step may send (null: no cap).",
            json_schema_extra=OPERATIONAL,
        ),
    ] = None
    max_tokens: Annotated[
        int | None,
        Field(
            ge=1,
            description="Budget: API tokens this step may spend (null: no cap).",
            json_schema_extra=OPERATIONAL,
        ),
    ] = None


def make_chat(config: ChatModelConfig, *, root: Path, step: str) -> Any:
    """A client with ``complete_json(messages, schema, *, name, seed)`` and ``describe()``.

    Replies are cached under the dataset (a re-run pays nothing twice) and, with a cap configured,
    every call is charged to the step's ledger there.
    """
    client = _client(config, cache_dir=root / "cache" / "chat")
    if config.max_requests is None and config.max_tokens is None:
        return client
    from insvie.stages.budget import BudgetedChat, UsageBudget

    ledger = root / "cache" / "budget" / f"{step}.json"
    return BudgetedChat(
        client, UsageBudget(ledger, max_requests=config.max_requests, max_tokens=config.max_tokens)
    )


def _client(config: ChatModelConfig, *, cache_dir: Path) -> Any:
    if config.backend == "openai":
        from insvie.backends.chat import ChatClient

        return ChatClient(
            config.model,
            base_url=config.base_url,
            api_key_env=config.api_key_env,
            base_url_env=config.base_url_env,
            timeout=config.timeout,
            max_retries=config.max_retries,
            temperature=config.temperature,
            cache_dir=cache_dir,
        )
    from insvie.backends.vlm import TransformersVLM

    return TransformersVLM(config.model, device=config.device, max_retries=config.max_retries)
