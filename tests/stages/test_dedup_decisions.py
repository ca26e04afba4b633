"""The two dedup steps decide through their backends, and decide what they decided before issue 17.

``stages/dedup.py`` and ``stages/instruction_dedup.py`` only turn tasks into the inputs of
:func:`insvie.backends.analysis.phash.earlier_duplicates` and
:func:`insvie.backends.text_embed.dedup.collapse_near_duplicates` and record the answers. The golden
digests below are the outcomes that the stages' own loops (before those moved into the backends)
recorded for the seeded runs built here; the inputs use exact arithmetic (integer hashes, embeddings whose
dot products are multiples of 1/4), so the digests hold on any machine and BLAS. A change that moves them
changes the build's decisions: bump the stage's ``version`` instead of editing the digest.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence

import numpy as np
import pytest

from insvie.backends.text_embed.dedup import collapse_near_duplicates
from insvie.engine import Outcome, Stage, Task
from insvie.errors import ConfigError
from insvie.stages.dedup import ClipDedup, DedupConfig
from insvie.stages.instruction_dedup import InstructionDedup, InstructionDedupConfig

DEDUP_GOLDEN = "a0e077ecec920b1f728377749f7fd6208557becbf7f990708ba0fd06251ad246"
INSTRUCTION_DEDUP_GOLDEN = "e2c4cebdf8c4ff8dcebefaf40becf38f927c1879e5d05fac635d92f8ec508309"


def _clip(item_id: str, hashes: Sequence[int], step: str = "clip_filter") -> Task:
    return Task(item_id, "clip", None, None, {}, inputs={step: {"phash": [f"{h:016x}" for h in hashes]}})


def _edit(item_id: str, instruction: str) -> Task:
    return Task(item_id, "edit", None, None, {"instruction": instruction})


class TableEmbedder:
    """Embeds each text as the vector a table gives it, so a test pins every similarity."""

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self.table[t] for t in texts], dtype=np.float32).reshape(len(texts), -1)


def _unit(angle_degrees: float) -> np.ndarray:
    a = np.deg2rad(angle_degrees)
    return np.array([np.cos(a), np.sin(a)], dtype=np.float32)


def _runs(stage: Stage, tasks: list[Task], cuts: Sequence[int]) -> list[Outcome]:
    """The stage over ``tasks`` as the runner calls it across several builds: each run gets the next
    slice as pending and everything kept by the runs before as ``kept``."""
    outcomes: list[Outcome] = []
    kept: list[Task] = []
    by_id = {t.item_id: t for t in tasks}
    for start, stop in zip([0, *cuts], [*cuts, len(tasks)], strict=True):
        done = stage.process_all(tasks[start:stop], kept)
        outcomes += done
        kept += [by_id[o.item_id] for o in done if o.status == "done"]
    return outcomes


def _digest(outcomes: list[Outcome]) -> str:
    rows = sorted((o.item_id, o.status, o.reason, json.dumps(o.output, sort_keys=True)) for o in outcomes)
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


def _bits(positions: Sequence[int]) -> int:
    return sum(1 << p for p in positions)


def _seeded_clips(seed: int = 17, count: int = 400) -> list[Task]:
    rng = random.Random(seed)
    centres = [[rng.getrandbits(64) for _ in range(3)] for _ in range(40)]
    tasks = []
    for i in range(count):
        centre = centres[rng.randrange(len(centres))][: 1 if rng.random() < 0.1 else 3]  # some 1-frame hashes
        noisy = [h ^ _bits(rng.sample(range(64), rng.randrange(9))) for h in centre]
        tasks.append(_clip(f"c{rng.getrandbits(32):08x}-{i}", noisy))
    return tasks


def _seeded_instructions(seed: int = 23, count: int = 300) -> tuple[list[Task], TableEmbedder]:
    """Unit vectors of four 0.5 entries in 16 dimensions: every cosine is exactly 0, 1/4, 1/2, 3/4 or 1."""
    rng = random.Random(seed)
    centres = [rng.sample(range(16), 4) for _ in range(25)]
    table, tasks = {}, []
    for i in range(count):
        support = list(centres[rng.randrange(len(centres))])
        for _ in range(rng.choice([0, 0, 1, 1, 2])):  # swap a position out: cosine to the centre drops by 1/4
            support[rng.randrange(4)] = rng.choice([d for d in range(16) if d not in support])
        vector = np.zeros(16, np.float32)
        vector[support] = 0.5
        table[f"t{i}"] = vector
        tasks.append(_edit(f"e{rng.getrandbits(32):08x}-{i}", f"t{i}"))
    return tasks, TableEmbedder(table)


def _dedup_digest() -> str:
    """The dedup stage's outcomes over the seeded clips, in several run splits and settings."""
    tasks = _seeded_clips()
    digests = []
    for cuts in ([], [150, 300], [1, 2, 399]):
        for max_bits in (6, 10):
            outcomes = _runs(ClipDedup(DedupConfig(max_bits=max_bits)), tasks, cuts)
            assert sorted(o.item_id for o in outcomes) == sorted(t.item_id for t in tasks)
            digests.append([cuts, max_bits, _digest(outcomes)])
    return hashlib.sha256(json.dumps(digests).encode()).hexdigest()


def test_dedup_records_what_the_build_decided_before() -> None:
    assert _dedup_digest() == DEDUP_GOLDEN


def test_dedup_verdicts_do_not_depend_on_the_order_of_the_tasks() -> None:
    tasks = _seeded_clips(seed=5, count=200)
    stage = ClipDedup()
    first = stage.process_all(tasks[50:], tasks[:50])
    shuffled = tasks[:]
    random.Random(1).shuffle(shuffled)
    pending_ids = {t.item_id for t in tasks[50:]}
    again = stage.process_all(
        [t for t in shuffled if t.item_id in pending_ids],
        [t for t in shuffled if t.item_id not in pending_ids],
    )
    assert again == first
    assert [o.item_id for o in first] == sorted(pending_ids)  # outcomes come in item-id order
    assert {o.status for o in first} == {"done", "rejected"}


def test_dedup_answers_name_the_first_kept_clip_and_the_bits() -> None:
    a = 0x0F0F_0F0F_0F0F_0F0F
    tasks = [
        _clip("c1", [a, a]),
        _clip("c2", [a ^ 0b1_1111, a]),  # 5 bits from c1: kept at max_bits=4
        _clip("c3", [a ^ 0b111, a]),  # 3 from c1, 2 from c2: c1 is the first kept within reach
        _clip("c4", [a]),  # another length: never a duplicate of a 2-frame clip
        _clip("c5", [a ^ 1]),
    ]
    outcomes = {o.item_id: o for o in ClipDedup(DedupConfig(max_bits=4)).process_all(tasks, [])}
    assert [outcomes[i].status for i in ("c1", "c2", "c3", "c4", "c5")] == [
        "done",
        "done",
        "rejected",
        "done",
        "rejected",
    ]
    assert outcomes["c3"].output == {"duplicate_of": "c1", "bits": 3}
    assert outcomes["c5"].output == {"duplicate_of": "c4", "bits": 1}
    assert outcomes["c1"].output == {}
    image = ClipDedup(DedupConfig(hash_from="image_filter")).process_all(
        [_clip("i2", [a ^ 1], "image_filter"), _clip("i1", [a], "image_filter")], []
    )
    assert image[1].output == {"duplicate_of": "i1", "bits": 1}
    assert ClipDedup().process_all([], []) == []


def _instruction_dedup_digest() -> str:
    """The instruction dedup stage's outcomes over the seeded requests, in several splits and settings."""
    tasks, embedder = _seeded_instructions()
    digests = []
    for cuts in ([], [100, 200], [1, 299]):
        for threshold, max_repeats in ((0.75, 1), (0.75, 3), (0.5, 2), (1.0, 2)):
            stage = InstructionDedup(InstructionDedupConfig(threshold=threshold, max_repeats=max_repeats))
            stage.embedder = embedder
            outcomes = _runs(stage, tasks, cuts)
            assert sorted(o.item_id for o in outcomes) == sorted(t.item_id for t in tasks)
            digests.append([cuts, threshold, max_repeats, _digest(outcomes)])
    return hashlib.sha256(json.dumps(digests).encode()).hexdigest()


def test_instruction_dedup_records_what_the_build_decided_before() -> None:
    assert _instruction_dedup_digest() == INSTRUCTION_DEDUP_GOLDEN


def test_instruction_dedup_verdicts_do_not_depend_on_the_order_of_the_tasks() -> None:
    tasks, embedder = _seeded_instructions(seed=4, count=120)
    stage = InstructionDedup(InstructionDedupConfig(threshold=0.75, max_repeats=2))
    stage.embedder = embedder
    first = stage.process_all(tasks[40:], tasks[:40])
    again = stage.process_all(list(reversed(tasks[40:])), list(reversed(tasks[:40])))
    assert again == first
    assert [o.item_id for o in first] == sorted(t.item_id for t in tasks[40:])
    assert {o.status for o in first} == {"done", "rejected"}
    assert stage.process_all([], []) == []


def test_instruction_dedup_outcomes_carry_the_group_head_and_similarity() -> None:
    angles = {"a1": 0, "a2": 10, "b1": 90, "a3": 15, "a4": 5, "b2": 92, "c1": 35}
    stage = InstructionDedup(InstructionDedupConfig(threshold=0.9, max_repeats=2))
    stage.embedder = TableEmbedder({k: _unit(v) for k, v in angles.items()})
    tasks = [_edit(f"{i}-{k}", k) for i, k in enumerate(angles)]
    outcomes = {o.item_id.split("-")[1]: o for o in stage.process_all(tasks, [])}
    assert {k: o.status for k, o in outcomes.items()} == {
        "a1": "done",
        "a2": "done",
        "b1": "done",
        "a3": "rejected",  # the "a" group is full after a1 and a2
        "a4": "rejected",
        "b2": "done",
        "c1": "done",  # 25 degrees from the member a2 but 35 from the head a1: a new group
    }
    assert outcomes["a2"].output == {"group_of": "0-a1"}
    assert outcomes["c1"].output == {"group_of": "6-c1"}
    assert outcomes["a3"].reason == "repeated_instruction"
    assert outcomes["a3"].output == {
        "group_of": "0-a1",
        "similarity": round(float(np.cos(np.deg2rad(15))), 4),
    }


def test_collapse_caps_each_group_at_max_repeats() -> None:
    vectors = np.array([_unit(a) for a in (0, 10, 90, 15, 5, 92, 35)])
    embedder = TableEmbedder({str(i): v for i, v in enumerate(vectors)})
    texts = [str(i) for i in range(len(vectors))]
    capped = collapse_near_duplicates(texts, threshold=0.9, max_repeats=2, embedder=embedder)
    assert capped.keep == [0, 1, 2, 5, 6]
    assert capped.duplicate_of == {3: 0, 4: 0}
    assert capped.group_of == [0, 0, 2, 0, 0, 2, 6]
    assert capped.similarity[1] == pytest.approx(np.cos(np.deg2rad(10)), abs=1e-6)
    assert capped.similarity[6] == pytest.approx(np.cos(np.deg2rad(35)), abs=1e-6)  # to the head, not a2
    once = collapse_near_duplicates(texts, threshold=0.9, embedder=embedder)  # max_repeats=1: one per group
    assert once.keep == [0, 2, 6] and once.duplicate_of == {1: 0, 3: 0, 4: 0, 5: 2}
    plenty = collapse_near_duplicates(texts, threshold=0.9, max_repeats=10, embedder=embedder)
    assert plenty.keep == list(range(7)) and plenty.duplicate_of == {}
    assert plenty.group_of == capped.group_of  # the cap decides who stays, not the grouping
    with pytest.raises(ConfigError, match="max_repeats"):
        collapse_near_duplicates(texts, max_repeats=0, embedder=embedder)
