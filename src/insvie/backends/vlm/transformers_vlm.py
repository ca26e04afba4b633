"""``TransformersVLM``: a local vision-language model behind the chat client's ``complete_json``.

Any checkpoint that ``AutoProcessor`` and ``AutoModelForImageTextToText`` load (LLaVA, Qwen2-VL,
Qwen2.5-VL, Idefics3, Gemma 3, ...) by hub id or folder; a plain causal language model loads too
and then takes text-only messages. The processor's chat template builds the prompt.

Structured output: a local model has no server-side JSON mode, so the schema goes into the prompt
and the reply text is searched for its first JSON object, which must validate. Decoding is greedy,
under a seeded generator (``seed``), so a call is reproducible. A bad reply is retried as the chat
client does: the reply and a turn saying what was wrong are added to the conversation, so the retry
sees a different prompt; ``retry_temperature`` makes retries sample as well. Every attempt's tokens
count in ``usage``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from insvie.backends.chat import ChatError, ChatReply
from insvie.backends.chat.reply import add_usage
from insvie.backends.chat.structured import correction_turns, make_validator, response_format
from insvie.backends.devices import resolve_device
from insvie.backends.hub import cannot_load, load_pretrained, model_source, weights_commit
from insvie.backends.vlm.jsonreply import parse_json_reply
from insvie.backends.vlm.messages import append_text, as_pil, flatten_text, to_conversation
from insvie.errors import ConfigError

VLM_EXTRA = "vlm"  # the pyproject extra that brings torch and transformers
CAPTION_PROMPT = (
    "Describe this image in one detailed sentence: the main subjects, the setting, colours and lighting."
)
SCHEMA_PROMPT = (  # a part of its own; templates join parts without a break, hence the newlines
    "\n\nAnswer with a single JSON object ({name}) that conforms to this JSON Schema,"
    " and nothing else:\n{schema}"
)
_DTYPES = {"float32": "float32", "fp32": "float32", "float16": "float16", "fp16": "float16",
           "bfloat16": "bfloat16", "bf16": "bfloat16"}  # fmt: skip


@dataclass(frozen=True)
class Generation:
    """One generate() call: the decoded new text and what it cost."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    truncated: bool  # stopped by max_new_tokens rather than an end-of-sequence token

    @property
    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


def _pick_dtype(torch: Any, dtype: Any, device: str) -> Any:
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype in (None, "auto"):
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float16 if device.startswith(("cuda", "mps")) else torch.float32
    name = _DTYPES.get(str(dtype).lower())
    if name is None:
        raise ConfigError(f"VLM dtype must be auto or one of {sorted(set(_DTYPES.values()))}, got {dtype!r}")
    return getattr(torch, name)


class TransformersVLM:
    """A local VLM (or text-only LM) answering OpenAI-style messages with schema-checked JSON."""

    def __init__(
        self,
        model: str | Path,
        *,
        device: str = "auto",
        dtype: Any = "auto",
        max_new_tokens: int = 256,
        max_retries: int = 2,
        retry_temperature: float | None = None,
        revision: str | None = None,
        trust_remote_code: bool = False,
        schema_in_prompt: bool = True,
    ) -> None:
        try:
            import torch
            import transformers
        except ImportError as exc:
            raise ConfigError(f"the local VLM backend needs: pip install 'insvie[{VLM_EXTRA}]'") from exc
        if max_new_tokens < 1:
            raise ConfigError(f"VLM max_new_tokens must be >= 1, got {max_new_tokens}")
        if max_retries < 0:
            raise ConfigError(f"VLM max_retries must be >= 0, got {max_retries}")
        if retry_temperature is not None and retry_temperature <= 0:
            raise ConfigError(f"VLM retry_temperature must be > 0, got {retry_temperature}")
        self._torch = torch
        self.name = str(model)
        self.source = model_source(self.name, "VLM")
        self.device = resolve_device(device)
        self.dtype = _pick_dtype(torch, dtype, self.device)
        self.max_new_tokens = max_new_tokens
        self.max_retries = max_retries
        self.retry_temperature = retry_temperature
        self.schema_in_prompt = schema_in_prompt
        options = {"revision": revision, "trust_remote_code": trust_remote_code}
        self.processor = load_pretrained(
            "VLM",
            self.name,
            transformers.AutoProcessor.from_pretrained,
            self.source,
            part="its processor",
            **options,
        )
        self.tokenizer = getattr(self.processor, "tokenizer", self.processor)
        self.text_only = not hasattr(self.processor, "image_processor")
        if getattr(self.processor, "chat_template", None) is None:
            raise ConfigError(f"VLM {self.name}: the processor has no chat template")
        self.model = self._load_model(transformers, options)
        self.model.to(self.device).eval()
        self.revision = weights_commit(self.model, revision, self.source)
        self._eos = self._eos_ids()

    def _load_model(self, transformers: Any, options: dict[str, Any]) -> Any:
        loaders = []
        if not self.text_only:
            loaders.append(transformers.AutoModelForImageTextToText)
            if hasattr(transformers, "AutoModelForVision2Seq"):  # gone in transformers 5
                loaders.append(transformers.AutoModelForVision2Seq)
        loaders.append(transformers.AutoModelForCausalLM)  # text-only, and VLMs registered as causal LMs
        problems = []
        for loader in loaders:
            try:
                return loader.from_pretrained(self.source, dtype=self.dtype, **options)
            except ValueError as exc:  # "Unrecognized configuration class ... for this kind of AutoModel"
                problems.append(f"{loader.__name__}: {exc}")
            except OSError as exc:
                raise cannot_load("VLM", self.name, exc, part="the model") from exc
        raise ConfigError(
            f"VLM {self.name}: no image-text-to-text or causal LM class fits it: {'; '.join(problems)}"
        )

    def _eos_ids(self) -> set[int]:
        ids = self.model.generation_config.eos_token_id
        if ids is None:
            ids = self.tokenizer.eos_token_id
        if ids is None:
            return set()
        return {int(i) for i in (ids if isinstance(ids, (list, tuple)) else [ids])}

    # -- the generation seam: tests and subclasses may replace this one method ------------------

    def generate(
        self,
        conversation: list[dict[str, Any]],
        *,
        max_new_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> Generation:
        """Run the model on a transformers-format conversation; greedy unless ``temperature``."""
        torch = self._torch
        if self.text_only:
            inputs = self.processor.apply_chat_template(
                flatten_text(conversation),
                add_generation_prompt=True,
                tokenize=True,
                return_dict=True,
                return_tensors="pt",
            )
        else:
            inputs = self.processor.apply_chat_template(
                conversation, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
            )
        inputs = inputs.to(self.device)
        for key, value in inputs.items():
            if torch.is_tensor(value) and value.is_floating_point():
                inputs[key] = value.to(self.dtype)
        prompt_length = int(inputs["input_ids"].shape[1])
        options: dict[str, Any] = {"max_new_tokens": max_new_tokens or self.max_new_tokens}
        if temperature is None:
            options.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        else:
            options.update(do_sample=True, temperature=temperature, top_p=1.0, top_k=0)
        if self.tokenizer.pad_token_id is None and self._eos:
            options["pad_token_id"] = min(self._eos)
        devices = []
        if self.device.startswith("cuda"):
            index = torch.device(self.device).index
            devices = [torch.cuda.current_device() if index is None else index]
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(0 if seed is None else seed)
            output = self.model.generate(**inputs, **options)
        new = output[0, prompt_length:].tolist()
        finished = bool(new) and new[-1] in self._eos
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        return Generation(
            text=text, prompt_tokens=prompt_length, completion_tokens=len(new), truncated=not finished
        )

    # -- the chat client's interface ----------------------------------------------------------

    def complete_json(
        self,
        messages: Sequence[dict[str, Any]],
        schema: dict[str, Any],
        *,
        name: str,
        seed: int | None = None,
    ) -> ChatReply:
        """Ask for a JSON object conforming to ``schema``, as ``ChatClient.complete_json`` does.

        A reply that is not such an object is answered with a turn saying what was wrong, up to
        ``max_retries`` times. Raises ``ChatError``: ``truncated``, ``invalid_json`` or
        ``schema_mismatch`` (the last attempt's fault) once the retries are spent, ``bad_request``
        for messages this backend cannot take; ``ValueError`` for an invalid schema or name.
        """
        response_format(schema, name)  # the client's rule for schema names, so configs stay portable
        validator = make_validator(schema)
        conversation, images = to_conversation(messages)
        if images and self.text_only:
            raise ChatError("bad_request", f"{self.name} is a text-only model and got {images} image(s)")
        if self.schema_in_prompt:
            hint = SCHEMA_PROMPT.format(name=name, schema=json.dumps(schema, sort_keys=True))
            conversation = append_text(conversation, hint)
        usage: dict[str, Any] = {}
        base_seed = 0 if seed is None else int(seed)
        attempts = self.max_retries + 1
        for attempt in range(1, attempts + 1):
            temperature = self.retry_temperature if attempt > 1 else None
            generation = self.generate(conversation, temperature=temperature, seed=base_seed + attempt - 1)
            usage = add_usage(usage, generation.usage)
            try:
                data = parse_json_reply(generation.text, validator, truncated=generation.truncated)
            except ChatError as exc:
                if attempt == attempts:
                    raise ChatError(
                        exc.reason, f"{name}: {exc.detail}", attempts=attempt, usage=usage
                    ) from None
                corrections, _ = to_conversation(correction_turns(generation.text, exc))
                conversation = [*conversation, *corrections]
                continue
            return ChatReply(
                data=data, model=self.name, raw=generation.text, usage=usage, attempts=attempt, cached=False
            )
        raise AssertionError("unreachable")

    def caption(
        self,
        image: Image.Image | np.ndarray | str | Path,
        *,
        prompt: str = CAPTION_PROMPT,
        max_new_tokens: int | None = None,
    ) -> str:
        """A free-text description of ``image`` (PIL image, (H, W, 3) uint8 array or file), greedy."""
        if self.text_only:
            raise ChatError("bad_request", f"{self.name} is a text-only model and cannot caption images")
        conversation = [
            {
                "role": "user",
                "content": [{"type": "image", "image": as_pil(image)}, {"type": "text", "text": prompt}],
            }
        ]
        return self.generate(conversation, max_new_tokens=max_new_tokens).text.strip()

    def describe(self) -> dict[str, Any]:
        """What answers, for provenance records."""
        return {
            "backend": "transformers-vlm",
            "model": self.name,
            "path": self.source,
            "revision": self.revision,
            "architecture": type(self.model).__name__,
            "text_only": self.text_only,
            "device": self.device,
            "dtype": str(self.dtype).removeprefix("torch."),
            "max_new_tokens": self.max_new_tokens,
            "max_retries": self.max_retries,
            "decoding": "greedy"
            if self.retry_temperature is None
            else f"greedy, retries sampled at T={self.retry_temperature}",
        }

    def __repr__(self) -> str:
        return f"TransformersVLM({self.name!r}, device={self.device!r}, dtype={self.describe()['dtype']!r})"
