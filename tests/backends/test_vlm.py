"""TransformersVLM on a tiny random LLaVA (and Llama) built offline: the real processor, chat
template, generation and decoding; JSON extraction and validation on fixed strings."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from PIL import Image

from insvie.backends.chat import ChatError, ChatReply, image_part, text_part
from insvie.backends.vlm import Generation, TransformersVLM, extract_json_object, parse_json_reply
from insvie.errors import ConfigError
from insvie.tiny import build_tiny_lm, build_tiny_vlm

SCHEMA = {
    "type": "object",
    "properties": {"caption": {"type": "string", "minLength": 3}, "score": {"type": "integer"}},
    "required": ["caption"],
    "additionalProperties": False,
}
IMAGE_TOKENS = 17  # (32 / 8) ** 2 patches + CLIP's class token


@pytest.fixture(scope="module")
def tiny_vlm_dir(tmp_path_factory):
    return build_tiny_vlm(tmp_path_factory.mktemp("tiny-llava"))


@pytest.fixture(scope="module")
def vlm(tiny_vlm_dir) -> TransformersVLM:
    return TransformersVLM(tiny_vlm_dir, device="cpu", max_new_tokens=12, max_retries=2)


def _square(colour: str, size: tuple[int, int] = (48, 40)) -> np.ndarray:
    return np.asarray(Image.new("RGB", size, colour))


def _messages(image: np.ndarray | None = None) -> list[dict]:
    content = [text_part("Caption this frame.")]
    if image is not None:
        content.append(image_part(image))
    return [{"role": "system", "content": "You write captions."}, {"role": "user", "content": content}]


class Scripted(TransformersVLM):
    """The tiny model's processor and prompt building, with the model's text replaced by a script."""

    def __init__(self, path, replies, *, truncated=False, **kwargs):
        super().__init__(path, device="cpu", **kwargs)
        self.replies = list(replies)
        self.truncated = truncated
        self.seen: list[tuple[list[dict], float | None, int | None]] = []

    def generate(self, conversation, *, max_new_tokens=None, temperature=None, seed=None):
        self.seen.append((conversation, temperature, seed))
        return Generation(
            self.replies.pop(0), prompt_tokens=10, completion_tokens=5, truncated=self.truncated
        )


# -- the real tiny model ---------------------------------------------------------------------


def test_loads_a_llava_checkpoint_through_the_auto_classes(vlm, tiny_vlm_dir):
    info = vlm.describe()
    assert info["architecture"] == "LlavaForConditionalGeneration"
    assert info["path"] == str(tiny_vlm_dir) and info["device"] == "cpu" and info["dtype"] == "float32"
    assert info["text_only"] is False and info["max_retries"] == 2 and info["decoding"] == "greedy"
    assert type(vlm.processor).__name__ == "LlavaProcessor"


def test_caption_is_a_string_and_the_pixels_reach_the_model(vlm, tmp_path):
    red = vlm.caption(_square("red"))
    assert isinstance(red, str) and red
    assert vlm.caption(Image.fromarray(_square("red"))) == red  # greedy: same image, same words
    Image.fromarray(_square("red")).save(tmp_path / "red.png")
    assert vlm.caption(tmp_path / "red.png") == red
    assert vlm.caption(_square("blue")) != red  # the image changes what the model says


def test_image_parts_expand_to_image_tokens_in_the_prompt(vlm):
    conversation = [{"role": "user", "content": [{"type": "text", "text": "Caption this frame."}]}]
    with_image = [
        {
            "role": "user",
            "content": [{"type": "image", "image": Image.new("RGB", (30, 20))}, *conversation[0]["content"]],
        }
    ]
    plain = vlm.generate(conversation, max_new_tokens=2)
    seen = vlm.generate(with_image, max_new_tokens=2)
    assert seen.prompt_tokens - plain.prompt_tokens == IMAGE_TOKENS + 1  # plus the template's newline
    assert seen.completion_tokens == 2 and seen.truncated


def test_random_model_fails_cleanly_after_the_retries(vlm):
    with pytest.raises(ChatError) as caught:
        vlm.complete_json(_messages(_square("green")), SCHEMA, name="caption", seed=7)
    error = caught.value
    assert error.reason == "truncated"  # noise until max_new_tokens, no JSON object in it
    assert error.attempts == 3
    assert error.detail.startswith("caption: ")
    assert error.usage["completion_tokens"] == 3 * 12
    assert error.usage["prompt_tokens"] > 3 * IMAGE_TOKENS
    assert error.usage["total_tokens"] == error.usage["prompt_tokens"] + error.usage["completion_tokens"]
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.reason, copy.attempts) == ("truncated", 3)
    with pytest.raises(ChatError) as again:
        vlm.complete_json(_messages(_square("green")), SCHEMA, name="caption", seed=7)
    assert again.value.detail == error.detail  # seeded: the same call fails the same way


def test_seeded_sampling_is_reproducible(vlm):
    conversation = [{"role": "user", "content": [{"type": "text", "text": "Say anything."}]}]
    first = vlm.generate(conversation, temperature=1.0, seed=1, max_new_tokens=8)
    assert vlm.generate(conversation, temperature=1.0, seed=1, max_new_tokens=8) == first
    others = {vlm.generate(conversation, temperature=1.0, seed=s, max_new_tokens=8).text for s in range(2, 6)}
    assert others - {first.text}


def test_refuses_what_it_cannot_take(vlm):
    remote = [
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}],
        }
    ]
    broken = [
        {
            "role": "user",
            "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}],
        }
    ]
    for messages in (
        remote,
        broken,
        [{"role": "robot", "content": "hi"}],
        [],
        [{"role": "user", "content": 3}],
    ):
        with pytest.raises(ChatError) as caught:
            vlm.complete_json(messages, SCHEMA, name="caption")
        assert caught.value.reason == "bad_request"
    with pytest.raises(ValueError, match="schema name"):
        vlm.complete_json(_messages(), SCHEMA, name="has spaces")
    with pytest.raises(ValueError, match="invalid JSON schema"):
        vlm.complete_json(_messages(), {"type": "no-such-type"}, name="caption")


def test_configuration_errors(tiny_vlm_dir, tmp_path):
    with pytest.raises(ConfigError, match="no such model folder"):
        TransformersVLM(tmp_path / "missing")
    with pytest.raises(ConfigError, match="cannot load"):
        TransformersVLM("nobody-here/not-a-vlm")  # HF_HUB_OFFLINE: nothing cached
    with pytest.raises(ConfigError, match="dtype"):
        TransformersVLM(tiny_vlm_dir, dtype="float8")
    with pytest.raises(ConfigError, match="max_retries"):
        TransformersVLM(tiny_vlm_dir, max_retries=-1)


def test_text_only_language_model(tmp_path):
    lm = TransformersVLM(
        build_tiny_lm(tmp_path / "tiny-llama"), device="cpu", max_new_tokens=6, max_retries=0
    )
    assert lm.text_only and lm.describe()["architecture"] == "LlamaForCausalLM"
    with pytest.raises(ChatError) as caught:
        lm.complete_json(_messages(), SCHEMA, name="caption")
    assert caught.value.reason == "truncated" and caught.value.attempts == 1
    with pytest.raises(ChatError, match="text-only") as caught:
        lm.complete_json(_messages(_square("red")), SCHEMA, name="caption")
    assert caught.value.reason == "bad_request"


# -- the retry loop and the JSON path, with scripted model text --------------------------------


def test_retries_feed_the_fault_back_and_return_a_chat_reply(tiny_vlm_dir):
    replies = [
        "I think it shows a red square.",
        '```json\n{"caption": "no", "score": 4}\n```',
        'Sure! Here it is: {"caption": "a red square on grey", "score": 4} Hope that helps {"x": 1}',
    ]
    model = Scripted(tiny_vlm_dir, replies, max_retries=2)
    reply = model.complete_json(_messages(_square("red")), SCHEMA, name="caption", seed=5)
    assert isinstance(reply, ChatReply)
    assert reply.data == {"caption": "a red square on grey", "score": 4}
    assert reply.raw == replies[2] and reply.attempts == 3 and reply.cached is False
    assert reply.model == str(tiny_vlm_dir)
    assert reply.usage == {"prompt_tokens": 30, "completion_tokens": 15, "total_tokens": 45}
    first, second, third = (conversation for conversation, _, _ in model.seen)
    assert [seed for _, _, seed in model.seen] == [5, 6, 7]
    assert all(temperature is None for _, temperature, _ in model.seen)  # greedy throughout
    # the image arrived decoded, and the schema was put in the prompt
    image = first[1]["content"][1]["image"]
    assert isinstance(image, Image.Image) and image.size == (48, 40) and image.getpixel((0, 0)) == (255, 0, 0)
    assert '"required": ["caption"]' in first[-1]["content"][-1]["text"]
    # each retry adds the bad reply and what was wrong with it
    assert len(second) == len(first) + 2
    assert second[-2] == {"role": "assistant", "content": [{"type": "text", "text": replies[0]}]}
    assert "invalid_json" in second[-1]["content"][0]["text"]
    assert "schema_mismatch" in third[-1]["content"][0]["text"]


def test_last_fault_is_raised_with_its_reason_and_cost(tiny_vlm_dir):
    model = Scripted(tiny_vlm_dir, ['{"caption": 3}', '{"caption": "ok", "extra": true}'], max_retries=1)
    with pytest.raises(ChatError) as caught:
        model.complete_json(_messages(), SCHEMA, name="caption")
    assert caught.value.reason == "schema_mismatch" and caught.value.attempts == 2
    assert "extra" in caught.value.detail
    assert caught.value.usage["total_tokens"] == 30
    cut = Scripted(tiny_vlm_dir, ['{"caption": "a red'], truncated=True, max_retries=0)
    with pytest.raises(ChatError) as caught:
        cut.complete_json(_messages(), SCHEMA, name="caption")
    assert caught.value.reason == "truncated"
    finished = Scripted(tiny_vlm_dir, ['{"caption": "a red'], max_retries=0)
    with pytest.raises(ChatError) as caught:
        finished.complete_json(_messages(), SCHEMA, name="caption")
    assert caught.value.reason == "invalid_json"
    sampled = Scripted(tiny_vlm_dir, ["nope", '{"caption": "fine"}'], retry_temperature=0.8)
    assert sampled.complete_json(_messages(), SCHEMA, name="caption").attempts == 2
    assert [temperature for _, temperature, _ in sampled.seen] == [None, 0.8]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"caption": "a cat"}', {"caption": "a cat"}),
        ('```json\n{"caption": "a cat", "score": 2}\n```', {"caption": "a cat", "score": 2}),
        (
            'Answer: {"caption": "braces } inside { strings"} trailing',
            {"caption": "braces } inside { strings"},
        ),
        ('{not json} then {"caption": "second"}', {"caption": "second"}),
        ('[1, 2] {"caption": "after a list"}', {"caption": "after a list"}),
        (
            '{"caption": "nested", "meta": {"a": [1, {"b": 2}]}}',
            {"caption": "nested", "meta": {"a": [1, {"b": 2}]}},
        ),
    ],
)
def test_extracts_the_first_json_object(text, expected):
    assert extract_json_object(text) == expected


@pytest.mark.parametrize(
    "text", ["", "no json here", "[1, 2, 3]", '{"caption": "unterminated', "{'single': 1}"]
)
def test_no_json_object_is_invalid_json(text):
    with pytest.raises(ChatError) as caught:
        extract_json_object(text)
    assert caught.value.reason == "invalid_json" and caught.value.retryable


def test_schema_violations_name_the_place():
    assert parse_json_reply('ok {"caption": "a dog", "score": 3}', SCHEMA) == {"caption": "a dog", "score": 3}
    for text, where in [
        ('{"score": 3}', "caption"),
        ('{"caption": "a dog", "score": "3"}', "score"),
        ('{"caption": "no"}', "caption"),
    ]:
        with pytest.raises(ChatError, match=where) as caught:
            parse_json_reply(text, SCHEMA)
        assert caught.value.reason == "schema_mismatch"
