"""The studio's Dub tab: the whole dubbing pipeline, from a clip and new words or a script."""

from __future__ import annotations

import os
from pathlib import Path

import gradio as gr

from retake.core.errors import RetakeError
from retake.ui.request import EditRequest, check, resolve
from retake.ui.session import (
    GENERATED,
    IMAGE_TYPES,
    SCRIPT_FILE_TYPES,
    SCRIPT_TYPES,
    VIDEO_TYPES,
    Session,
    check_type,
    cleared,
    sealed,
)


class DubJobs:
    """The Dub tab's jobs (a part of `Studio`)."""

    @sealed
    def run_dub(self, video: str | None, transcript: str, new_text: str,
                script: str | list[str] | None, swap_photo: str | None, request, progress=None,
                agreed: bool = False):
        """The dubbing pipeline with a progress bar per stage. `script`: a dubbing script, or
        a list of the script and the files it names; they are kept in the session's uploads,
        and every file the script names must be there."""
        from retake.align import load_audio, transcribe
        from retake.video.dub import dub
        from retake.voice import EditOptions

        s = self.session(request)
        s.cancel.clear()
        consent = self.consent_record(agreed)
        vid = self._keep(s, check_type(video, VIDEO_TYPES, "a video"), "dub")
        photo = check_type(swap_photo, IMAGE_TYPES, "a photo") if swap_photo else None
        if photo is not None:
            photo = self._keep(s, photo)
        script = self._keep_script(s, script)
        wanted = EditRequest(transcript=(transcript or "").strip() or None,
                             to=None if script else (new_text or "").strip() or None,
                             script=script, draft=True, swap=photo, within=s.uploads)
        if not script and wanted.to is None:
            raise RetakeError("give the new text (or a script)")
        wanted = check(wanted)  # the script's voice:, faces: and language: options too
        with self._hold(s, progress, "dub", "voice", "face"):
            resolved = resolve(wanted, lambda: transcribe(load_audio(vid)).text)
            n = len(list(s.folder.glob("dubbed-*.mp4"))) + 1
            out = s.folder / f"dubbed-{n}.mp4"
            res = dub(vid, out, resolved.new_text, transcript=resolved.transcript,
                      editor=self.editor(), models=self.models(resolved.detector),
                      options=EditOptions(**resolved.voice), swap_source=resolved.swap,
                      provenance=consent,
                      progress=self._ticker(s, progress))
        note = f"{GENERATED}: mouth re-rendered on {res.mouth_frames} of {res.frames} frames"
        if photo is not None:
            name = s.names.get(str(photo), photo.name)
            note += (f"; face swapped from {name} on {res.swapped} of {res.frames} frames"
                     + (f" (no face found on {res.frames - res.swapped})"
                        if res.swapped < res.frames else ""))
        return str(out), res.outputs, dub_rows(res.edits), note

    def _keep_script(self, s: Session, files: str | list[str] | None) -> Path | None:
        """Keep a dubbing script and the files beside it in the session's uploads; returns
        the script's copy (None without one)."""
        files = [files] if isinstance(files, (str, os.PathLike)) else list(files or [])
        scripts = [f for f in files if Path(f).suffix.lower() in SCRIPT_TYPES]
        if len(scripts) > 1:
            raise RetakeError("upload one dubbing script (.yaml, .yml or .json) at a time, "
                              "with the files it names")
        if files and not scripts:
            raise RetakeError("upload the dubbing script (.yaml, .yml or .json) with the "
                              "files it names")
        kept = [self._keep(s, check_type(f, SCRIPT_TYPES + SCRIPT_FILE_TYPES,
                                          "a script or a file a script names"))
                for f in files]
        return next((k for k, f in zip(kept, files, strict=True) if f in scripts), None)


ENGINES = {"cut": "cut from the recording", "reuse": "the speaker's own words, moved",
           "units": "the speaker's own sounds, joined", "fallback": "espeak-ng (robotic)"}


def dub_rows(edits: list[dict]) -> list[list]:
    """The dub's edits table: what changed, where, and which engine made the new words."""
    rows = []
    for e in edits:
        engine = str(e.get("engine", ""))
        made = ENGINES.get(engine, "a neural voice cloned from the speaker"
                           if engine.startswith("coqui") else engine)
        rows.append([e.get("kind", ""), e.get("text", ""),
                     f"{float(e.get('start', 0)):.2f}-{float(e.get('end', 0)):.2f}", made])
    return rows


def dub_tab(studio, agreed, pending, set_bounds) -> None:
    """The Dub tab's widgets and events: the Voice tab's transcript editor on the clip's
    speech, then the dub."""
    from retake.ui import word_editor

    self, guard = studio, studio.guard
    with gr.Tab("Dub"):
        with gr.Row():
            dub_video = gr.File(label="Talking-head video", file_types=VIDEO_TYPES,
                                type="filepath", elem_id="dub-video")
            dub_script = gr.File(label="…and optionally a dubbing script (YAML/JSON) "
                                 "with the files it names (.txt, photo)",
                                 file_count="multiple",
                                 file_types=SCRIPT_TYPES + SCRIPT_FILE_TYPES,
                                 type="filepath", elem_id="dub-script")
            dub_photo = gr.Image(label="Optional: swap the face too", type="filepath")
        with gr.Row():
            dub_transcript = gr.Textbox(label="What it says now (empty: transcribe)",
                                        lines=2, elem_id="dub-transcript", scale=4)
            dub_analyse = gr.Button("1. Transcribe and align the clip", elem_id="dub-analyse",
                                    scale=1)
        dub_status = gr.Markdown(elem_id="dub-status")
        dub_editor = word_editor.component(pending, set_bounds, textbox="dub-text",
                                           elem_id="dub-editor")
        dub_text = gr.Textbox(label="2. What it should say (the editor above writes here)",
                              lines=2, elem_id="dub-text")
        with gr.Row():
            dub_btn = gr.Button("3. Dub", variant="primary", elem_id="dub")
            cancel_d = gr.Button("Cancel")
        dub_note = gr.Markdown(elem_id="dub-result")
        dub_out = gr.Video(label=f"Dubbed ({GENERATED})", interactive=False)
        dub_edits = gr.Dataframe(headers=["edit", "text", "at (s)", "made by"],
                                 label="What changed, and what made the new words",
                                 interactive=False, wrap=True, elem_id="dub-edits")
        dub_files = gr.File(label="Download", file_count="multiple",
                            interactive=False)

        @guard
        def do_dub_analyse(v, t, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - Gradio injects it
            text, new, doc, _, note = self.analyse(None, v, t, request, progress)
            return text, new, doc, note

        a_ev = cleared(dub_analyse.click(do_dub_analyse, [dub_video, dub_transcript],
                                         [dub_transcript, dub_text, dub_editor, dub_status]))
        @guard
        def do_dub(v, t, n, sc, ph, ok, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - Gradio injects it
            return self.run_dub(v, t, n, sc, ph, request, progress, ok)

        d_ev = cleared(dub_btn.click(
            do_dub, [dub_video, dub_transcript, dub_text, dub_script, dub_photo,
                     agreed],
            [dub_out, dub_files, dub_edits, dub_note]))
        cancel_d.click(self.cancel, None, dub_note, cancels=[d_ev, a_ev])
