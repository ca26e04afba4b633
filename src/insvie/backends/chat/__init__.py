"""Chat models behind OpenAI's wire format: structured JSON replies for captions, instructions, judging.

ChatClient(model, *, base_url=None, api_key_env="OPENAI_API_KEY", ...)
    .complete_json(messages, schema, *, name, seed=None) -> ChatReply
    .describe() -> {"backend", "base_url", "model"}
    .models() -> list[str]
text_part(text) / image_part(image, *, max_side=768, format="png")   # message content parts
ChatError(reason, detail)                                            # reason: "http_429", "timeout", ...
"""

from insvie.backends.chat.client import DEFAULT_BASE_URL, ChatClient
from insvie.backends.chat.errors import ChatError
from insvie.backends.chat.parts import image_part, text_part
from insvie.backends.chat.reply import ChatReply

__all__ = ["DEFAULT_BASE_URL", "ChatClient", "ChatError", "ChatReply", "image_part", "text_part"]
