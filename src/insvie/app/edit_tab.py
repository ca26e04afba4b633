"""The edit tab: upload or pick a video, write an instruction, watch the edit run, download the result."""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from insvie.app.editing import Editor, EditRequest
from insvie.app.limits import UploadLimits, check_upload
from insvie.editor.guider import PAPER_ORIGIN, InsViEGuider
from insvie.errors import InsvieError

NO_MODEL = (
    "No editor loaded: start the app with `--model DIR` (a folder from `insvie convert-sat`, or "
    "`insvie tiny-models DEST` then `--model DEST/editor` for a smoke run)."
)


def _check(video: str | None, limits: UploadLimits) -> str:
    """A line about the chosen video, or gr.Error with the limit it breaks."""
    if not video:
        return ""
    try:
        info = check_upload(video, limits)
    except InsvieError as exc:
        raise gr.Error(str(exc)) from exc
    return f"{info.width}x{info.height}, {info.duration:.1f} s at {info.fps:.3g} fps"


def edit_tab(editor: Editor | None, limits: UploadLimits, examples: list[Path]) -> None:
    """Lay out the tab inside the current ``gr.Tab`` and wire its events."""
    if editor is None:
        gr.Markdown(NO_MODEL, elem_id="edit-no-model")
    with gr.Row(equal_height=False):
        with gr.Column():
            source = gr.Video(
                label=f"source (at most {limits.max_mb:g} MB, {limits.max_seconds:g} s)",
                sources=["upload"],
                elem_id="edit-source",
            )
            info = gr.Markdown(elem_id="edit-info")
            if examples:
                gr.Examples([[str(path)] for path in examples], inputs=[source], label="example clips")
        with gr.Column():
            edited = gr.Video(label="edited", interactive=False, elem_id="edit-result")
            download = gr.File(
                label="download the edited video", interactive=False, height=90, elem_id="edit-download"
            )
    instruction = gr.Textbox(
        label="instruction",
        placeholder="e.g. make it look like a watercolour painting",
        elem_id="edit-instruction",
    )
    recipe, origin = editor.recipe() if editor is not None else (InsViEGuider().settings(), PAPER_ORIGIN)
    with gr.Row():
        text_guidance = gr.Slider(0, 15, value=recipe["guidance_scale"], step=0.1, label="text guidance")
        video_guidance = gr.Slider(
            0, 5, value=recipe["video_guidance_scale"], step=0.05, label="video guidance"
        )
        steps = gr.Slider(
            1, 100, value=recipe["num_inference_steps"], step=1, label="steps", elem_id="edit-steps"
        )
        seed = gr.Number(value=0, precision=0, minimum=0, label="seed")
    gr.Markdown(
        f"Defaults: the model's recipe ({origin}); guidance schedule {recipe['guidance_schedule']}.",
        elem_id="edit-recipe",
    )
    run = gr.Button("Edit", variant="primary", interactive=editor is not None, elem_id="edit-run")
    status = gr.Markdown(elem_id="edit-status")

    source.change(lambda video: _check(video, limits), inputs=source, outputs=info)

    def do_edit(
        video: str | None,
        text: str,
        s_text: float,
        s_video: float,
        n_steps: float,
        noise_seed: float | None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 (gradio reads the default to inject a tracker)
    ) -> tuple[str, str, str]:
        if editor is None:
            raise gr.Error(NO_MODEL)
        if not video:
            raise gr.Error("upload a video or pick an example first")
        _check(video, limits)
        request = EditRequest(
            Path(video), text, float(s_text), float(s_video), int(n_steps), int(noise_seed or 0)
        )
        progress((0, request.steps), desc="denoising")
        try:
            result = editor.edit(request, lambda done, total: progress((done, total), desc="denoising"))
        except (InsvieError, ValueError) as exc:  # the pipeline's argument checks raise ValueError
            raise gr.Error(str(exc)) from exc
        note = "; ".join(
            [*result.notes, f"{result.frames} frames written in {result.seconds:.1f} s, seed {request.seed}"]
        )
        return str(result.path), str(result.path), note

    run.click(
        do_edit,
        inputs=[source, instruction, text_guidance, video_guidance, steps, seed],
        outputs=[edited, download, status],
        concurrency_limit=1,
    )
