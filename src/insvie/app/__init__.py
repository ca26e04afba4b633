"""The web app: edit a video with the InsViE editor, browse and review a built dataset.

    AppSettings(model=None, dataset=None, host="127.0.0.1", port=7860, max_upload_mb=..., max_seconds=...)
    build_app(settings) -> gradio.Blocks          # insvie.app.server; needs the `app` extra (gradio)
    launch(settings, *, block=True) -> Running    # binds to loopback unless told otherwise

The modules without "tab" or "server" in their name hold the logic behind the UI (limits, the
media guard, the dataset catalogue and its tables, reviews, the funnel chart, the editor) and import
no gradio, so they are tested as plain functions and usable from other front ends.
"""
