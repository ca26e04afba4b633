"""A tiny, randomly initialised LLaVA checkpoint written without any download.

It is a real ``LlavaForConditionalGeneration`` (a 2-layer CLIP vision tower, a 2-layer Llama) with
a real ``LlavaProcessor``: a byte-level BPE tokenizer trained on a few sentences with the
``tokenizers`` library, the Pillow-backed CLIP image processor at 32x32 pixels, and a chat
template. ``TransformersVLM`` loads it from the folder exactly as it loads a hub checkpoint, so
tests and smoke builds exercise the real processor, generation and decoding paths; what it
writes is noise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from insvie.tiny._common import seeded

CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<image>\n"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}\n"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)

_CORPUS = [
    "Describe the image in one sentence.",
    "A red car drives along a wet road at night.",
    'Reply with JSON: {"caption": "a dog runs on the beach", "score": 4}',
    "Turn the sky into a sunset. Make it snow. Replace the cat with a fox.",
    "<|system|> <|user|> <|assistant|>",
]
_SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<image>"]


def _tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=_SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(_CORPUS, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        extra_special_tokens={"image_token": "<image>"},
    )


def _llama_config(tokenizer: Any) -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )


def _save(model: Any, saveable: Any, dest: Path) -> Path:
    """Save the model and its processor or tokenizer; generation pads with the text config's pad token."""
    model.generation_config.pad_token_id = model.config.get_text_config().pad_token_id
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dest)
    saveable.save_pretrained(dest)
    return dest


def build_tiny_vlm(dest: str | Path, *, image_size: int = 32, patch_size: int = 8, seed: int = 0) -> Path:
    """Write the tiny checkpoint (model, processor, tokenizer, chat template) into ``dest``."""
    from transformers import CLIPVisionConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    tokenizer = _tokenizer()
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=patch_size,
        vision_feature_select_strategy="full",
        num_additional_image_tokens=1,  # CLIP's class token
        chat_template=CHAT_TEMPLATE,
    )
    vision = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=image_size,
        patch_size=patch_size,
        projection_dim=32,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=_llama_config(tokenizer),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="full",
        vision_feature_layer=-1,
    )
    with seeded(seed):
        model = LlavaForConditionalGeneration(config).eval()
    return _save(model, processor, Path(dest))


def build_tiny_lm(dest: str | Path, *, seed: int = 0) -> Path:
    """Write a tiny random text-only Llama with the same tokenizer and chat template into ``dest``."""
    from transformers import LlamaForCausalLM

    tokenizer = _tokenizer()
    tokenizer.chat_template = CHAT_TEMPLATE
    with seeded(seed):
        model = LlamaForCausalLM(_llama_config(tokenizer)).eval()
    return _save(model, tokenizer, Path(dest))
