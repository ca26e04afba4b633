"""The words we send to language and vision-language models, and the JSON each reply must match.

Prompts are ours (written for this project, not copied from the paper, which did not publish them).
Each reply is requested with a JSON schema (structured output) and validated against it again, so a
server that ignores structured output still cannot slip malformed data into a dataset.
"""

from __future__ import annotations

EDIT_CATEGORIES = (
    "style",
    "colour_attribute",
    "object_replace",
    "object_add",
    "object_remove",
    "background",
    "weather_season_time",
    "material_texture",
)

CATEGORY_HINTS = {
    "style": "restyle the whole frame (painting, anime, sketch, film look)",
    "colour_attribute": "change the colour or another visual attribute of one named object",
    "object_replace": "replace one named object with a different object of similar size",
    "object_add": "add one object that fits the scene and could plausibly move with it",
    "object_remove": "remove one clearly visible object and fill in what was behind it",
    "background": "change the background or setting while keeping the main subject",
    "weather_season_time": "change the weather, season or time of day",
    "material_texture": "change what one object is made of (glass, gold, wood, knitted wool)",
}

CAPTION_SCHEMA = {
    "type": "object",
    "properties": {
        "caption": {"type": "string", "minLength": 5, "maxLength": 400},
        "objects": {"type": "array", "items": {"type": "string"}, "maxItems": 12},
    },
    "required": ["caption", "objects"],
    "additionalProperties": False,
}

CAPTION_PROMPT = (
    "Describe this video frame for a video-editing dataset. Give one factual sentence naming the main "
    "subject, what it is doing, and the setting, then list the clearly visible objects a person could "
    "refer to in an edit instruction (short noun phrases). Reply as JSON."
)


def proposal_schema(count: int, categories: list[str]) -> dict:
    """Exactly ``count`` edits, each in one of ``categories``."""
    edit = {
        "type": "object",
        "properties": {
            "category": {"type": "string", "enum": categories},
            "instruction": {"type": "string", "minLength": 3, "maxLength": 120},
            "long_instruction": {"type": "string", "minLength": 60, "maxLength": 400},
            "target_caption": {"type": "string", "minLength": 5, "maxLength": 400},
        },
        "required": ["category", "instruction", "long_instruction", "target_caption"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {"edits": {"type": "array", "items": edit, "minItems": count, "maxItems": count}},
        "required": ["edits"],
        "additionalProperties": False,
    }


def proposal_prompt(caption: str, objects: list[str], categories: list[str]) -> str:
    """Ask for one edit per requested category, in the given order."""
    wanted = "\n".join(f"{i + 1}. {c}: {CATEGORY_HINTS[c]}" for i, c in enumerate(categories))
    return (
        "You write edit instructions for training an instruction-based video editor.\n"
        f"The video shows: {caption}\nVisible objects: {', '.join(objects) or 'not listed'}.\n"
        f"Propose {len(categories)} edits, one per line below, in this order:\n{wanted}\n"
        "For each give: 'instruction', a short imperative a person would type (3-10 words, naming the "
        "object as it appears, e.g. 'make the red car blue'); 'long_instruction', the same edit described "
        "in 20-40 words including what must stay unchanged; 'target_caption', the description of the video "
        "after the edit. Edits must change appearance only, never the motion, and must be visible in every "
        "frame. Reply as JSON."
    )


JUDGE_SCHEMA = {
    "type": "object",
    "properties": {
        "instruction_following": {"type": "integer", "minimum": 1, "maximum": 5},
        "preservation": {"type": "integer", "minimum": 1, "maximum": 5},
        "realism": {"type": "integer", "minimum": 1, "maximum": 5},
        "overall": {"type": "integer", "minimum": 1, "maximum": 5},
        "rationale": {"type": "string", "maxLength": 400},
    },
    "required": ["instruction_following", "preservation", "realism", "overall", "rationale"],
    "additionalProperties": False,
}

JUDGE_GUIDELINE = """You grade one image edit for a training dataset. The first image is the original, the
second is the edited result, and the instruction is: "{instruction}".
Score each from 1 (worst) to 5 (best):
- instruction_following: the requested change is clearly and completely made; 1 if nothing or the
  wrong thing changed, 3 if made partly or weakly, 5 if exactly as asked.
- preservation: everything the instruction did not ask to change (identity, layout, pose, other objects,
  camera framing) is kept; 1 if the scene was redrawn, 5 if only the requested part differs.
- realism: the result is free of artifacts (smears, duplicated parts, broken anatomy, text garbage, seams)
  and looks like a plausible photo or a coherent style; 1 if badly broken, 5 if flawless.
- overall: would you use this pair to teach an editor this instruction? Not an average: a pair failing
  any criterion badly scores low overall.
Give a one-sentence rationale. Reply as JSON."""
