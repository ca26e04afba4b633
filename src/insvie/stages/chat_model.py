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
    max_retries: Annotated[int, Field(ge=0, le=10)] = 3
    timeout: Annotated[float, Field(gt=0, description="Seconds per request.")] = 120.0
    device: Annotated[str, Field(description="transformers: 'auto', 'cpu' or 'cuda'.")] = "auto"


def make_chat(config: ChatModelConfig, *, cache_dir: Path | None = None) -> Any:
    """A client with ``complete_json(messages, schema, *, name, seed)`` and ``describe()``."""
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
