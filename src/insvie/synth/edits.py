"""The edit taxonomy: scene → edited scene, with the instruction a person would write and two captions.

Local edits (recolor, remove, add, background) change part of the scene; global edits (grayscale,
sepia) change its look. Instructions name objects by colour and shape, so only objects whose
(colour, shape) is unique in the scene, and which are visible throughout the clip, are ever targeted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from insvie.synth.colours import OBJECT_COLOURS, with_article
from insvie.synth.generate import random_background, random_object
from insvie.synth.scene import Scene, describe_scene
from insvie.synth.shapes import SHAPES

CATEGORIES = ("recolor", "remove", "add", "background", "grayscale", "sepia")
LOCAL_CATEGORIES = ("recolor", "remove", "add", "background")
GLOBAL_CATEGORIES = ("grayscale", "sepia")
_WEIGHTS = {"recolor": 0.25, "remove": 0.2, "add": 0.2, "background": 0.15, "grayscale": 0.1, "sepia": 0.1}

PHRASINGS: dict[str, tuple[str, ...]] = {
    "recolor": (
        "make the {target} {colour}",
        "change the colour of the {target} to {colour}",
        "turn the {target} {colour}",
        "paint the {target} {colour}",
        "recolor the {target} {colour}",
        "the {target} should be {colour} instead",
    ),
    "remove": (
        "remove the {target}",
        "delete the {target}",
        "get rid of the {target}",
        "take the {target} out of the video",
        "erase the {target}",
    ),
    "add": (
        "add {a_target}",
        "add {a_sized_target}",
        "put {a_target} into the scene",
        "insert {a_target} that moves across the frame",
        "make {a_target} appear in the video",
    ),
    "background": (
        "change the background to {background}",
        "replace the background with {background}",
        "make the background {background}",
        "swap the background for {background}",
        "put the shapes in front of {background}",
    ),
    "grayscale": (
        "make it black and white",
        "convert the video to grayscale",
        "remove all the colour",
        "make the video grayscale",
        "turn it into a black-and-white video",
    ),
    "sepia": (
        "give it a sepia look",
        "apply a sepia filter",
        "make it look like an old sepia photograph",
        "add a warm sepia tone",
        "turn the video sepia",
    ),
}


@dataclass(frozen=True)
class Edit:
    """An edit of a scene: the edited scene, how a person would ask for it, and what it is."""

    category: str
    instruction: str
    source_caption: str
    target_caption: str
    params: dict[str, Any]
    scene: Scene  # the edited scene: same camera and trajectories as the source

    @property
    def is_local(self) -> bool:
        return self.category in LOCAL_CATEGORIES


def _phrase(rng: np.random.Generator, category: str, **words: str) -> str:
    options = PHRASINGS[category]
    text = options[int(rng.integers(len(options)))].format(**words)
    return text[0].upper() + text[1:]


def nameable_objects(scene: Scene, visible: np.ndarray | None = None) -> list[int]:
    """Objects an instruction can name unambiguously; with ``visible`` ((T, n) visible pixel counts),
    only those that show in every frame, so the edit is visible throughout."""
    unique = scene.unique_objects()
    if visible is None:
        return unique
    return [i for i in unique if bool((visible[:, i] > 0).all())]


def applicable(scene: Scene, visible: np.ndarray | None = None) -> list[str]:
    """The categories that can be applied to ``scene``."""
    named = nameable_objects(scene, visible)
    out = []
    for category in CATEGORIES:
        if category == "recolor" and not named:
            continue
        if category == "remove" and (not named or len(scene.objects) < 2):
            continue
        out.append(category)
    return out


def make_edit(
    scene: Scene,
    rng: np.random.Generator,
    *,
    category: str | None = None,
    visible: np.ndarray | None = None,
) -> Edit | None:
    """Draw an edit of ``scene`` (of ``category`` if given); None when that category cannot apply."""
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"unknown edit category {category!r}; choose from {', '.join(CATEGORIES)}")
    options = applicable(scene, visible)
    if category is None:
        weights = np.array([_WEIGHTS[c] for c in options])
        category = options[int(rng.choice(len(options), p=weights / weights.sum()))]
    elif category not in options:
        return None
    named = nameable_objects(scene, visible)
    if category == "recolor":
        return _recolor(scene, rng, named[int(rng.integers(len(named)))])
    if category == "remove":
        return _remove(scene, rng, named[int(rng.integers(len(named)))])
    if category == "add":
        return _add(scene, rng)
    if category == "background":
        return _background(scene, rng)
    return _look(scene, rng, category)


def _finish(scene: Scene, edited: Scene, category: str, instruction: str, params: dict[str, Any]) -> Edit:
    return Edit(category, instruction, describe_scene(scene), describe_scene(edited), params, edited)


def _recolor_scene(scene: Scene, index: int, colour: str) -> Scene:
    objects = list(scene.objects)
    objects[index] = dataclasses.replace(objects[index], colour=colour)
    return dataclasses.replace(scene, objects=tuple(objects))


def _recolor(scene: Scene, rng: np.random.Generator, index: int) -> Edit:
    obj = scene.objects[index]
    options = [c for c in OBJECT_COLOURS if c != obj.colour]
    colour = options[int(rng.integers(len(options)))]
    instruction = _phrase(rng, "recolor", target=obj.name, colour=colour)
    params = {
        "object": index,
        "target": obj.name,
        "shape": obj.shape,
        "from_colour": obj.colour,
        "to_colour": colour,
    }
    return _finish(scene, _recolor_scene(scene, index, colour), "recolor", instruction, params)


def _without(scene: Scene, index: int) -> Scene:
    return dataclasses.replace(scene, objects=scene.objects[:index] + scene.objects[index + 1 :])


def _remove(scene: Scene, rng: np.random.Generator, index: int) -> Edit:
    obj = scene.objects[index]
    instruction = _phrase(rng, "remove", target=obj.name)
    params = {"object": index, "target": obj.name, "shape": obj.shape, "colour": obj.colour}
    return _finish(scene, _without(scene, index), "remove", instruction, params)


def _add(scene: Scene, rng: np.random.Generator) -> Edit:
    present = {obj.name for obj in scene.objects}
    options = [(c, s) for c in OBJECT_COLOURS for s in SHAPES if f"{c} {s}" not in present]
    colour, shape = options[int(rng.integers(len(options)))]
    front = min((obj.depth for obj in scene.objects), default=0) - 1
    obj = random_object(rng, scene.size, scene.num_frames, depth=front, colour=colour, shape=shape)
    instruction = _phrase(
        rng, "add", a_target=with_article(obj.name), a_sized_target=with_article(f"{obj.size} {obj.name}")
    )
    params = {
        "object": len(scene.objects),
        "target": obj.name,
        "shape": shape,
        "colour": colour,
        "size": obj.size,
        "texture": obj.texture,
        "trajectory": obj.trajectory.kind,
    }
    edited = dataclasses.replace(scene, objects=(*scene.objects, obj))
    return _finish(scene, edited, "add", instruction, params)


def _background(scene: Scene, rng: np.random.Generator) -> Edit:
    new = random_background(rng, scene.size, exclude_kinds=(scene.background.kind,))
    instruction = _phrase(rng, "background", background=new.describe())
    params = {
        "from": scene.background.kind,
        "to": new.kind,
        "from_description": scene.background.describe(),
        "to_description": new.describe(),
    }
    return _finish(scene, dataclasses.replace(scene, background=new), "background", instruction, params)


def _look(scene: Scene, rng: np.random.Generator, look: str) -> Edit:
    instruction = _phrase(rng, look)
    return _finish(scene, dataclasses.replace(scene, look=look), look, instruction, {"look": look})


def misapply(edit: Edit, source: Scene, rng: np.random.Generator) -> tuple[Scene, dict[str, Any]]:
    """The edit done with the wrong attribute: another colour, another background, the other look, or
    the wrong object removed. Returns the wrongly edited scene and what was instructed vs rendered."""
    params = edit.params
    if edit.category in ("recolor", "add"):
        instructed = params["to_colour"] if edit.category == "recolor" else params["colour"]
        exclude = {instructed, params.get("from_colour")}
        options = [c for c in OBJECT_COLOURS if c not in exclude]
        wrong = options[int(rng.integers(len(options)))]
        scene = _recolor_scene(edit.scene, params["object"], wrong)
        return scene, {"attribute": "colour", "instructed": instructed, "rendered": wrong}
    if edit.category == "remove":
        others = [i for i in range(len(source.objects)) if i != params["object"]]
        index = others[int(rng.integers(len(others)))]
        return _without(source, index), {
            "attribute": "object",
            "instructed": params["target"],
            "rendered": source.objects[index].name,
        }
    if edit.category == "background":
        wrong = random_background(rng, source.size, exclude_kinds=(params["from"], params["to"]))
        return dataclasses.replace(source, background=wrong), {
            "attribute": "background",
            "instructed": params["to_description"],
            "rendered": wrong.describe(),
        }
    other = "sepia" if edit.category == "grayscale" else "grayscale"
    return dataclasses.replace(source, look=other), {
        "attribute": "look",
        "instructed": edit.category,
        "rendered": other,
    }
