"""The words the evaluation judges send to a vision-language model, and the JSON each reply must match.

Written for this project, following the conventions of :mod:`insvie.stages.prompts`: each reply is
requested with a JSON schema (structured output) and validated again, so a server that ignores
structured output cannot slip a malformed or out-of-range score into a report. The rationale comes
first in every schema because servers that constrain decoding generate properties in schema order,
and a judge that writes its reasons before its numbers scores more consistently.

Two protocols, after the two ways the field reports VLM judgements (see ``REFERENCE.md``):
``pairs`` (three frame pairs, 0-3 on three criteria, 0-9 total, as EditVerseBench reports) and
``scores`` (three 1-5 scores per video, as OpenVE-Bench reports). The user's instruction is inserted
as a JSON string, so quotes or line breaks in it cannot end the sentence that introduces it.
"""

from __future__ import annotations

import json

PROMPTS_VERSION = "1"  # bump when a prompt or schema changes: scores under different prompts differ

PAIR_CRITERIA = ("instruction_following", "edit_quality", "background_consistency")
VIDEO_CRITERIA = ("instruction_compliance", "consistency_detail_fidelity", "visual_quality_stability")


def _schema(criteria: tuple[str, ...], low: int, high: int) -> dict:
    properties: dict = {"rationale": {"type": "string", "maxLength": 400}}
    properties.update({key: {"type": "integer", "minimum": low, "maximum": high} for key in criteria})
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


PAIR_SCHEMA = _schema(PAIR_CRITERIA, 0, 3)
VIDEO_SCHEMA = _schema(VIDEO_CRITERIA, 1, 5)

_PAIR_PROMPT = """You grade one moment of an instruction-based video edit. The first image is a frame of the
original video; the second is the same moment of the edited video. The edit instruction was:
{instruction}
Score each criterion from 0 (worst) to 3 (best):
- instruction_following: the edited frame makes the requested change, completely and correctly.
  3: exactly as asked; 2: made, with small inaccuracies or omissions; 1: partly or weakly made;
  0: not made, the wrong change, or the opposite.
- edit_quality: the changed content itself looks right: realistic, or coherent in the requested style,
  with clean edges. 3: no visible flaw; 2: minor flaws; 1: clear artifacts (smears, distortion, broken
  textures, seams); 0: garbled or failed.
- background_consistency: everything the instruction did not ask to change (layout, identities, other
  objects, framing, lighting) is as in the original. 3: unchanged; 2: small unrequested changes;
  1: large, distracting changes; 0: the scene was replaced. For an edit of the whole frame (a style, a
  colour look, the weather) judge whether the scene's content and structure are kept.
First write a rationale of one or two sentences, then the scores. Reply as JSON."""

_VIDEO_PROMPT = """You grade an instruction-based video edit. You are shown {count} frames of the original
video in time order, then the edited video at the same moments. The edit instruction was:
{instruction}
Score each criterion from 1 (worst) to 5 (best), judging the whole clip:
- instruction_compliance: the requested change is made, fully and correctly, in every frame.
  1: absent or wrong; 2: visible in a few frames or areas only; 3: made but partial or inconsistent;
  4: made well with small mismatches; 5: exactly as asked throughout.
- consistency_detail_fidelity: what should be kept is kept: subject identity, layout, motion, fine
  detail and texture; the edited content stays the same object from frame to frame.
  1: the scene is barely recognisable; 3: structure and motion right, some warping or lost detail;
  5: everything not requested is preserved exactly.
- visual_quality_stability: the edited video is clean and stable over time: no flicker, boiling
  textures, jitter, drifting edits, seams, blur or compression damage.
  1: unwatchable; 3: noticeable but tolerable; 5: flawless.
The second and third scores may not be higher than instruction_compliance: an edit that does not do
what was asked is not a good edit, however clean it looks.
First write a rationale of at most 30 words, then the scores. Reply as JSON."""


def pair_prompt(instruction: str) -> str:
    """The ``pairs`` protocol's request text for one frame pair."""
    return _PAIR_PROMPT.format(instruction=json.dumps(instruction, ensure_ascii=False))


def video_prompt(instruction: str, count: int) -> str:
    """The ``scores`` protocol's request text for ``count`` frames of each video."""
    return _VIDEO_PROMPT.format(count=count, instruction=json.dumps(instruction, ensure_ascii=False))
