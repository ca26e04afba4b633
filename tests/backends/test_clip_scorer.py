"""ClipScorer on the tiny random CLIP checkpoint: loading, embeddings, the similarities' algebra,
batching independence, the InstructPix2Pix pre-filter, and the errors a bad config gets."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from insvie.backends.clip import SCORE_KEYS, ClipScorer, passes_prefilter
from insvie.errors import ConfigError
from insvie.tiny import build_tiny_clip
from insvie.tiny.clip import TINY_IMAGE_SIZE, TINY_PROJECTION_DIM


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny-clip")


@pytest.fixture(scope="module")
def scorer(tiny_clip: Path) -> ClipScorer:
    return ClipScorer(tiny_clip, device="cpu").load()


def _images(count: int, seed: int = 0, shape: tuple[int, int] = (40, 56)) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (*shape, 3), dtype=np.uint8) for _ in range(count)]


# -- the tiny checkpoint ---------------------------------------------------------------------------


def test_tiny_checkpoint_has_the_hub_layout_and_is_small(tiny_clip: Path) -> None:
    names = {path.name for path in tiny_clip.iterdir()}
    assert {"config.json", "model.safetensors", "preprocessor_config.json", "tokenizer.json"} <= names
    assert {"vocab.json", "merges.txt"} <= names
    assert sum(path.stat().st_size for path in tiny_clip.iterdir()) < 10 * 2**20


def test_tiny_checkpoint_is_seeded_and_leaves_the_rng_alone(tiny_clip: Path, tmp_path: Path) -> None:
    import torch

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    again = build_tiny_clip(tmp_path / "again")
    assert torch.equal(torch.rand(3), expected)
    assert (again / "model.safetensors").read_bytes() == (tiny_clip / "model.safetensors").read_bytes()


def test_tiny_tokenizer_is_byte_level_bpe_with_merges(scorer: ClipScorer) -> None:
    tokenizer = scorer._tokenizer
    tokens = tokenizer.convert_ids_to_tokens(tokenizer("The cat, RED!").input_ids)
    assert tokens == ["<|startoftext|>", "the</w>", "cat</w>", ",</w>", "red</w>", "!</w>", "<|endoftext|>"]
    # Anything tokenises: non-ASCII text falls back to byte symbols instead of an unknown token.
    ids = tokenizer("café 東京").input_ids
    assert tokenizer.unk_token_id not in ids[1:-1]


# -- loading and describe ---------------------------------------------------------------------------


def test_loading_is_lazy_and_idempotent(tiny_clip: Path) -> None:
    scorer = ClipScorer(tiny_clip, device="cpu")
    assert not scorer.loaded and scorer.dimension is None
    assert scorer.load() is scorer
    model = scorer._model
    assert scorer.load()._model is model
    assert scorer.text_embeddings(["x"]).shape == (1, TINY_PROJECTION_DIM)


def test_describe(scorer: ClipScorer, tiny_clip: Path) -> None:
    info = scorer.describe()
    assert info["model"] == str(tiny_clip)
    assert info["path"] == str(tiny_clip)
    assert info["revision"] is None  # a plain folder has no commit
    assert info["dimension"] == TINY_PROJECTION_DIM
    assert info["image_size"] == [TINY_IMAGE_SIZE, TINY_IMAGE_SIZE]
    assert info["image_processor"] == "CLIPImageProcessorPil"  # never the torchvision backend
    assert info["device"] == "cpu" and info["dtype"] == "float32"
    assert info["resize"] == "crop" and info["max_length"] == 77


def test_describe_reports_the_revision_asked_for(tiny_clip: Path) -> None:
    assert ClipScorer(tiny_clip, device="cpu", revision="v1").describe()["revision"] == "v1"


def test_missing_model_folder_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-clip"
    with pytest.raises(ConfigError, match="no-such-clip"):
        ClipScorer(missing)


def test_folder_without_a_checkpoint_is_a_config_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty-clip"
    empty.mkdir()
    scorer = ClipScorer(empty, device="cpu")
    with pytest.raises(ConfigError, match="empty-clip"):
        scorer.load()


def test_file_instead_of_folder_is_a_config_error(tmp_path: Path) -> None:
    weights = tmp_path / "clip.safetensors"
    weights.write_bytes(b"")
    with pytest.raises(ConfigError, match=r"clip\.safetensors"):
        ClipScorer(weights)


def test_uncached_hub_id_offline_is_a_config_error() -> None:
    scorer = ClipScorer("insvie-tests/no-such-clip-model", device="cpu")
    with pytest.raises(ConfigError, match="insvie-tests/no-such-clip-model"):
        scorer.load()


@pytest.mark.parametrize(
    "options",
    [{"batch_size": 0}, {"resize": "stretch"}, {"dtype": "float8"}],
)
def test_bad_options_are_config_errors(tiny_clip: Path, options: dict) -> None:
    with pytest.raises(ConfigError):
        ClipScorer(tiny_clip, **options)


# -- embeddings -----------------------------------------------------------------------------------


def test_embeddings_are_unit_rows_of_the_projection_dimension(scorer: ClipScorer) -> None:
    images = scorer.image_embeddings(_images(3))
    texts = scorer.text_embeddings(["a cat", "the dog and the sky", "red " * 200])  # last one truncated
    for rows, count in ((images, 3), (texts, 3)):
        assert rows.shape == (count, TINY_PROJECTION_DIM) and rows.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-6)
    assert scorer.image_embeddings([]).shape == (0, TINY_PROJECTION_DIM)
    assert scorer.text_embeddings([]).shape == (0, TINY_PROJECTION_DIM)


def test_embeddings_do_not_depend_on_batch_size(tiny_clip: Path, scorer: ClipScorer) -> None:
    one_at_a_time = ClipScorer(tiny_clip, device="cpu", batch_size=1)
    images = _images(5, seed=1)
    texts = ["a cat", "a much longer caption about a dog on a red sky", "x"]
    np.testing.assert_allclose(
        one_at_a_time.image_embeddings(images), scorer.image_embeddings(images), atol=1e-5
    )
    np.testing.assert_allclose(one_at_a_time.text_embeddings(texts), scorer.text_embeddings(texts), atol=1e-5)


def test_bad_inputs_are_refused(scorer: ClipScorer) -> None:
    image = _images(1)[0]
    with pytest.raises(TypeError):
        scorer.image_embeddings(image)  # one image, not a list
    with pytest.raises(TypeError):
        scorer.text_embeddings("a cat")  # one string, not a list
    with pytest.raises(ValueError, match="image 1"):
        scorer.image_embeddings([image, image[..., 0]])
    with pytest.raises(ValueError, match="uint8"):
        scorer.image_embeddings([image.astype(np.float32)])


def test_squash_sees_the_whole_frame_and_matches_crop_on_square_input(tiny_clip: Path) -> None:
    crop = ClipScorer(tiny_clip, device="cpu")
    squash = ClipScorer(tiny_clip, device="cpu", resize="squash")
    wide = np.zeros((32, 96, 3), np.uint8)
    edited = wide.copy()
    edited[:, :24] = 255  # a change in the left quarter, outside the centre crop
    assert crop.image_similarity(wide, edited) == pytest.approx(1.0, abs=1e-6)
    assert squash.image_similarity(wide, edited) < 0.999
    square = _images(2, seed=3, shape=(TINY_IMAGE_SIZE, TINY_IMAGE_SIZE))
    np.testing.assert_allclose(crop.image_embeddings(square), squash.image_embeddings(square), atol=1e-6)


# -- similarities -----------------------------------------------------------------------------------


def test_identical_images_are_fully_similar_and_have_no_direction(scorer: ClipScorer) -> None:
    image = _images(1)[0]
    assert scorer.image_similarity(image, image.copy()) == pytest.approx(1.0, abs=1e-9)
    assert scorer.directional_similarity(image, image.copy(), "a cat", "a dog") == 0.0
    other = _images(1, seed=9)[0]
    assert scorer.directional_similarity(image, other, "a cat", "a cat") == 0.0  # no caption change


def test_directional_similarity_is_the_cosine_of_the_two_differences(scorer: ClipScorer) -> None:
    source, edited = _images(2, seed=4)
    images = scorer.image_embeddings([source, edited]).astype(np.float64)
    texts = scorer.text_embeddings(["a photo of a cat", "a photo of a dog"]).astype(np.float64)
    d_image, d_text = images[1] - images[0], texts[1] - texts[0]
    expected = d_image @ d_text / (np.linalg.norm(d_image) * np.linalg.norm(d_text))
    got = scorer.directional_similarity(source, edited, "a photo of a cat", "a photo of a dog")
    assert got == pytest.approx(expected, abs=1e-6)
    assert -1.0 <= got <= 1.0 and got != 0.0


def test_directional_similarity_antisymmetry(scorer: ClipScorer) -> None:
    source, edited = _images(2, seed=5)
    cat, dog = "a cat", "a red dog"
    forward = scorer.directional_similarity(source, edited, cat, dog)
    assert abs(forward) > 1e-3
    assert scorer.directional_similarity(edited, source, cat, dog) == pytest.approx(-forward, abs=1e-6)
    assert scorer.directional_similarity(source, edited, dog, cat) == pytest.approx(-forward, abs=1e-6)
    # Swapping both images and both captions flips both differences: the cosine is unchanged.
    assert scorer.directional_similarity(edited, source, dog, cat) == pytest.approx(forward, abs=1e-6)


def test_text_image_similarity_is_a_texts_by_images_matrix(scorer: ClipScorer) -> None:
    images = _images(3, seed=6)
    texts = ["a cat", "a dog"]
    matrix = scorer.text_image_similarity(texts, images)
    assert matrix.shape == (2, 3) and matrix.dtype == np.float32
    expected = scorer.text_embeddings(texts) @ scorer.image_embeddings(images).T
    np.testing.assert_allclose(matrix, expected, atol=1e-6)
    assert np.all(np.abs(matrix) <= 1.0)


def test_edit_scores_match_per_candidate_computation(scorer: ClipScorer) -> None:
    source, *candidates = _images(4, seed=7)
    source_caption, target_caption = "a cat on the grass", "a dog on the snow"
    scores = scorer.edit_scores(source, candidates, source_caption, target_caption)
    assert len(scores) == 3
    for candidate, score in zip(candidates, scores, strict=True):
        assert set(score) == set(SCORE_KEYS)
        assert all(isinstance(value, float) for value in score.values())
        alone = scorer.edit_scores(source, [candidate], source_caption, target_caption)[0]
        for key in SCORE_KEYS:
            assert score[key] == pytest.approx(alone[key], abs=1e-5)
        assert score["image_similarity"] == pytest.approx(
            scorer.image_similarity(source, candidate), abs=1e-5
        )
        assert score["directional_similarity"] == pytest.approx(
            scorer.directional_similarity(source, candidate, source_caption, target_caption), abs=1e-5
        )
        caption = float(scorer.text_image_similarity([target_caption], [candidate])[0, 0])
        assert score["caption_similarity"] == pytest.approx(caption, abs=1e-5)


def test_edit_scores_of_the_source_itself_and_of_nothing(scorer: ClipScorer) -> None:
    source, other = _images(2, seed=8)
    scores = scorer.edit_scores(source, [source.copy(), other, other], "a cat", "a dog")
    assert scores[0]["image_similarity"] == pytest.approx(1.0, abs=1e-9)
    assert scores[0]["directional_similarity"] == 0.0
    assert scores[1] == scores[2]  # duplicate candidates share one embedding
    assert scorer.edit_scores(source, [], "a cat", "a dog") == []


# -- the InstructPix2Pix pre-filter ---------------------------------------------------------------


def test_prefilter_uses_the_instructpix2pix_thresholds() -> None:
    good = {"image_similarity": 0.8, "directional_similarity": 0.25, "caption_similarity": 0.22}
    assert passes_prefilter(good)
    assert passes_prefilter({**good, "image_similarity": 0.75})  # at the threshold passes, as their code
    assert not passes_prefilter({**good, "image_similarity": 0.74})
    assert not passes_prefilter({**good, "directional_similarity": 0.19})
    assert not passes_prefilter({**good, "caption_similarity": 0.19})
    assert not passes_prefilter({**good, "directional_similarity": math.nan})
    assert passes_prefilter({**good, "image_similarity": 0.6}, min_image_similarity=0.5)


def test_prefilter_wants_every_score() -> None:
    with pytest.raises(ValueError, match="caption_similarity"):
        passes_prefilter({"image_similarity": 0.9, "directional_similarity": 0.3})


def test_prefilter_on_real_scores(scorer: ClipScorer) -> None:
    source, edited = _images(2, seed=10)
    score = scorer.edit_scores(source, [edited], "a cat", "a dog")[0]
    expected = (
        score["image_similarity"] >= 0.75
        and score["directional_similarity"] >= 0.2
        and score["caption_similarity"] >= 0.2
    )
    assert passes_prefilter(score) is expected
    assert passes_prefilter(score, min_image_similarity=-1, min_directional=-1, min_caption_similarity=-1)


def test_half_precision_compute_returns_float32_unit_rows(tiny_clip: Path, scorer: ClipScorer) -> None:
    half = ClipScorer(tiny_clip, device="cpu", dtype="bfloat16")
    images = _images(2, seed=11)
    rows = half.image_embeddings(images)
    assert rows.dtype == np.float32 and half.describe()["dtype"] == "bfloat16"
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(rows, scorer.image_embeddings(images), atol=0.05)
