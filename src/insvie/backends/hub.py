"""Where a model's weights come from: a local folder, or a hub id read through the Hugging Face cache.

Every backend that loads with ``from_pretrained`` (CLIP, the local VLM, the sentence embedder, the
learned metrics, the diffusers editors) takes "a hub id or a folder", so the rules for that phrase are
stated once, here:

- an existing folder is used as it is (``~`` expanded); a file is refused, since a checkpoint is a folder;
- a name written as a path (``/``, ``./``, ``../``, ``~``, absolute, or with more ``/`` than
  ``owner/name``) that does not exist is refused before anything loads, rather than falling through to
  a confusing "not a valid hub id" error;
- anything else is a hub id. When loading one fails, the error says why in words: with the hub offline
  (``HF_HUB_OFFLINE``) and the id not in the local cache, that is the reason given, not the loader's
  traceback-shaped message; otherwise the loader's own reason is kept.

Every refusal is a :class:`~insvie.errors.ConfigError` reading ``"<what> <model>: <why>"``, naming the
model as the config wrote it, since a wrong name or folder in the config is the usual cause;
:func:`unavailable` gives the same reasons without loading (a build's preflight), and
:func:`local_folder` the folder itself, for callers that never download (the editor).
:func:`weights_commit` and :func:`resolve_revision` say which commit the weights came from, for provenance.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from insvie.errors import ConfigError

# What ``from_pretrained`` raises for a missing, unreadable or mismatched checkpoint (transformers and
# diffusers use all four); anything else is a bug, not a config problem, and propagates as it is.
LOAD_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError, TypeError, KeyError)
NOT_A_FOLDER = "not a model folder (a checkpoint is a folder)"
NO_SUCH_FOLDER = "no such model folder"
OFFLINE_UNCACHED = (
    "not a local folder and not in the Hugging Face cache, and the hub is offline (HF_HUB_OFFLINE=1):"
    " download it first or give a local folder"
)
_PATH_PREFIXES = ("/", "./", "../", "~", "\\")
_SHA = re.compile(r"[0-9a-f]{40}")


def hub_offline() -> bool:
    """Whether the Hugging Face hub is switched off for this process (``HF_HUB_OFFLINE``)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _written_as_path(model: str) -> bool:
    """A hub id is ``name`` or ``owner/name``: a path prefix, an absolute path or a second ``/`` make
    ``model`` a folder's path."""
    return model.startswith(_PATH_PREFIXES) or Path(model).is_absolute() or model.count("/") > 1


def folder_problem(model: str) -> str | None:
    """Why ``model`` cannot be a checkpoint folder although it names one, or None (a folder, or a hub id)."""
    path = Path(model).expanduser()
    if path.is_dir():
        return None
    if path.exists():
        return NOT_A_FOLDER
    if _written_as_path(model):
        return NO_SUCH_FOLDER
    return None


def cached_snapshot(model: str, revision: str | None = None) -> Path | None:
    """The local Hugging Face cache's snapshot folder of hub id ``model``, or None (no network is used)."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model, revision=revision, local_files_only=True))
    except Exception:  # not cached, a malformed id, an unreadable cache: all mean "cannot be had offline"
        return None


def in_hub_cache(model: str, revision: str | None = None) -> bool:
    """Whether the local Hugging Face cache holds a snapshot of hub id ``model`` (no network is used)."""
    return cached_snapshot(model, revision) is not None


def local_folder(model: str | Path) -> Path | None:
    """The folder ``model`` names here: an existing folder (``~`` expanded), else the cached snapshot of
    a hub id; None when it is neither, for callers that never download."""
    path = Path(model).expanduser()
    return path if path.is_dir() else cached_snapshot(str(model))


def unavailable(model: str | Path) -> str | None:
    """Why ``model`` cannot be loaded here, known before loading it, or None: a file or a missing folder,
    or, with the hub offline, a hub id the cache lacks (online a download may still bring it)."""
    text = str(model)
    problem = folder_problem(text)
    if problem is None and not Path(text).expanduser().is_dir() and hub_offline() and not in_hub_cache(text):
        problem = OFFLINE_UNCACHED
    return problem


def model_source(model: str | Path, what: str) -> str:
    """What to hand to ``from_pretrained``: an existing folder as its path (``~`` expanded), a hub id as is.

    Raises ConfigError ``"<what> <model>: <why>"`` for a file, or for a name written as a path that does
    not exist. A hub id is not looked up here: online a download may still bring it, and offline the
    failure to load it says so (:func:`load_pretrained`).
    """
    text = str(model)
    problem = folder_problem(text)
    if problem is not None:
        raise ConfigError(f"{what} {text}: {problem}")
    path = Path(text).expanduser()
    return str(path) if path.is_dir() else text


def cannot_load(what: str, model: str | Path, error: BaseException, *, part: str = "it") -> ConfigError:
    """The ConfigError for a failed ``from_pretrained`` of ``model``: ``"<what> <model>: cannot load <part>:
    <why>"``, where an uncached hub id with the hub offline, a missing folder or a file say so in words."""
    why = unavailable(model) or str(error) or type(error).__name__
    return ConfigError(f"{what} {model}: cannot load {part}: {why}")


def load_pretrained(
    what: str,
    model: str | Path,
    loader: Callable[..., Any],
    source: str,
    /,
    *,
    part: str = "it",
    **options: Any,
) -> Any:
    """``loader(source, **options)`` (a ``from_pretrained``), any failure to find or read the checkpoint
    raised as :func:`cannot_load`'s ConfigError naming ``model`` as the config wrote it."""
    try:
        return loader(source, **options)
    except LOAD_ERRORS as exc:
        raise cannot_load(what, model, exc, part=part) from exc


def snapshot_commit(folder: str | Path) -> str | None:
    """The commit of a folder inside a Hugging Face cache (``.../snapshots/<sha>``), else None."""
    resolved = Path(folder).resolve()
    if resolved.parent.name == "snapshots" and _SHA.fullmatch(resolved.name):
        return resolved.name
    return None


def weights_commit(loaded: Any, requested: str | None = None, source: str | Path | None = None) -> str | None:
    """The commit a loaded transformers model's weights came from, else the revision asked for.

    transformers records the commit of hub downloads in ``config._commit_hash``; a folder inside the hub
    cache is named after its commit; a plain folder has none, and then the requested revision (or None)
    is all that is known.
    """
    config = getattr(loaded, "config", loaded)
    commit = getattr(config, "_commit_hash", None)
    if not commit and source is not None and Path(source).is_dir():
        commit = snapshot_commit(source)
    return commit or requested


def resolve_revision(model: str, revision: str | None) -> str | None:
    """The commit a diffusers pipeline's weights came from when it can be known offline, else the
    revision asked for.

    A local folder answers with its ``model_index.json`` ``_commit_hash`` or, when it is a hub-cache
    snapshot, the snapshot's name; a plain folder has no revision (None). A hub id answers with the
    snapshot the cache holds for ``revision`` (``main`` by default), which is what ``from_pretrained``
    loaded.
    """
    folder = Path(model)
    if folder.is_dir():
        index = folder / "model_index.json"
        if index.is_file():
            try:
                commit = json.loads(index.read_text()).get("_commit_hash")
            except (OSError, ValueError):
                commit = None
            if isinstance(commit, str) and commit:
                return commit
        return snapshot_commit(folder)
    if revision is not None and _SHA.fullmatch(revision):
        return revision
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model, "model_index.json", revision=revision)
    except Exception:  # a malformed id or an unreadable cache: the revision stays unknown
        cached = None
    if isinstance(cached, str):
        commit = snapshot_commit(Path(cached).parent)
        if commit is not None:
            return commit
    return revision
