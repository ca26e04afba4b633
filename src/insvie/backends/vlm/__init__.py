"""Local vision-language models (transformers) behind the same ``complete_json`` as the chat client.

``TransformersVLM`` captions images and answers OpenAI-style messages (text and data-URL image parts)
with JSON validated against a schema, raising the chat client's ``ChatError`` and returning its
``ChatReply``, so a stage can take either backend. Tiny random LLaVA and Llama checkpoints for tests
and smoke builds are :mod:`insvie.tiny`'s (``build_tiny_vlm``, ``build_tiny_lm``).
"""

from insvie.backends.vlm.jsonreply import extract_json_object, parse_json_reply, validate_json
from insvie.backends.vlm.transformers_vlm import CAPTION_PROMPT, VLM_EXTRA, Generation, TransformersVLM

__all__ = [
    "CAPTION_PROMPT",
    "VLM_EXTRA",
    "Generation",
    "TransformersVLM",
    "extract_json_object",
    "parse_json_reply",
    "validate_json",
]
