"""The latent cache: round trip against a direct VAE encode, resume, and the cached dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")
pytest.importorskip("transformers")
pytest.importorskip("safetensors")

from insvie.editor import InsViEEditPipeline  # noqa: E402
from insvie.synth import write_synth_dataset  # noqa: E402
from insvie.tiny import build_tiny_editor_pipeline  # noqa: E402
from insvie.train.augment import AugmentConfig  # noqa: E402
from insvie.train.cache import CachedTripletDataset, build_latent_cache, entry_key  # noqa: E402
from insvie.train.data import TripletDataset, TripletManifest, collate  # noqa: E402
from insvie.train.sampling import BucketBatchSampler  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    folder = build_tiny_editor_pipeline(tmp_path_factory.mktemp("editor") / "tiny")
    return InsViEEditPipeline.from_pretrained(folder)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synth")
    write_synth_dataset(folder, 6, seed=3, size=(48, 64), num_frames=9)
    manifest = TripletManifest.from_synth(folder)
    return TripletDataset(manifest, num_frames=5, size=(32, 48), augment=AugmentConfig.off(), seed=0)


class Counting:
    """Wraps a module's ``encode``/``__call__`` to count calls."""

    def __init__(self, module, attr):
        self.calls = 0
        original = getattr(module, attr)

        def wrapped(*args, **kwargs):
            self.calls += 1
            return original(*args, **kwargs)

        self.module, self.attr, self.original = module, attr, original
        setattr(module, attr, wrapped)

    def restore(self):
        setattr(self.module, self.attr, self.original)


def _build(dataset, pipe, out: Path, **kwargs):
    return build_latent_cache(
        dataset,
        vae=pipe.vae,
        text_encoder=pipe.text_encoder,
        tokenizer=pipe.tokenizer,
        out=out,
        key_config={"model": "tiny"},
        max_sequence_length=pipe.transformer.config.max_text_seq_length,
        **kwargs,
    )


def test_cache_round_trip_and_resume(dataset, pipe, tmp_path):
    vae_calls = Counting(pipe.vae, "encode")
    try:
        report = _build(dataset, pipe, tmp_path / "cache", batch_size=2)
        assert (report.total, report.computed, report.skipped) == (6, 6, 0)
        assert vae_calls.calls == 6  # three batches of two, source and target each
        cached = CachedTripletDataset(tmp_path / "cache", augment=AugmentConfig.off())
        assert len(cached) == 6
        item = cached[2]
        direct = dataset[2]
        frames = ((direct["source"].permute(0, 2, 3, 1) + 1) * 127.5).round().clamp(0, 255).byte().numpy()
        expected = pipe.encode_video(frames[None], source_latent="mode")[0]
        assert item["source_latents"].shape == expected.shape == (2, 16, 4, 6)
        torch.testing.assert_close(item["source_latents"], expected, rtol=1e-4, atol=1e-4)
        embeds, _ = pipe.encode_prompt(direct["prompt"], dtype=torch.float32)
        torch.testing.assert_close(item["prompt_embeds"], embeds[0], rtol=1e-5, atol=1e-5)
        assert item["id"] == direct["id"] and item["target_latents"].shape == expected.shape

        vae_calls.calls = 0
        again = _build(dataset, pipe, tmp_path / "cache", batch_size=2)
        assert (again.computed, again.skipped) == (0, 6) and vae_calls.calls == 0

        # Deleting one entry recomputes only it; another key config or dataset config is another key.
        victim = next((tmp_path / "cache" / "entries").iterdir())
        victim.unlink()
        resumed = _build(dataset, pipe, tmp_path / "cache")
        assert resumed.computed == 1 and vae_calls.calls == 2
        row = dataset.manifest[0]
        assert entry_key(row.id, ["a", "b"], {"m": 1}) != entry_key(row.id, ["a", "b"], {"m": 2})
        assert entry_key(row.id, ["a", "b"], {"m": 1}) != entry_key(row.id, ["a", "c"], {"m": 1})
    finally:
        vae_calls.restore()


def test_cached_dataset_augments_and_batches(dataset, pipe, tmp_path):
    _build(dataset, pipe, tmp_path / "cache")
    config = AugmentConfig(text_drop=0.0, source_drop=0.0, identity=1.0)
    cached = CachedTripletDataset(tmp_path / "cache", augment=config, seed=1)
    item = cached[0]
    assert torch.equal(item["source_latents"], item["target_latents"]) and not item["prompt_embeds"].any()
    assert item["drop_text"] and not item["drop_source"]
    plain = CachedTripletDataset(tmp_path / "cache", augment=AugmentConfig.off())
    sampler = BucketBatchSampler(plain.bucket_key, 3, num_items=len(plain), seed=0)
    loader = torch.utils.data.DataLoader(plain, batch_sampler=sampler, collate_fn=collate)
    batch = next(iter(loader))
    assert batch["source_latents"].shape == (3, 2, 16, 4, 6)
    assert batch["prompt_embeds"].ndim == 3 and len(batch["id"]) == 3
    assert np.isfinite(batch["target_latents"].numpy()).all()
