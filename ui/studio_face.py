"""The studio's Face tab: swap a face from a photo or a trained model, with a preview."""

from __future__ import annotations

import os
from pathlib import Path

import gradio as gr

from retake.awareness.provenance import Provenance
from retake.core.errors import RetakeError
from retake.ui.session import (
    GENERATED,
    IMAGE_TYPES,
    VIDEO_TYPES,
    Session,
    check_type,
    cleared,
    private_copy,
    private_dir,
    sealed,
)


class FaceJobs:
    """The Face tab's jobs (a part of `Studio`)."""

    def _swapper(self, s: Session, source: str | None, model: str):
        from retake.video.engines import build_swapper

        if model and model.strip():
            return build_swapper("autoencoder", model=self.model_folder(s, model))
        src = check_type(source, IMAGE_TYPES, "a source photo")
        return build_swapper("landmark", self.models(), source=src)

    @staticmethod
    def model_folder(s: Session, model: str) -> Path:
        """The trained-model folder the box names, which must resolve (links resolved) inside
        the session's uploads. One message for a folder that is missing and one that is
        elsewhere: the page must not tell whether some folder exists on the server."""
        uploads = os.path.realpath(s.uploads)
        real = Path(os.path.realpath(s.uploads / model.strip()))
        if not (real.is_relative_to(uploads) and real.is_dir()):
            raise RetakeError(f"no trained model {Path(model.strip()).name[:80]!r} among "
                              "this session's uploads; upload the model's model.json and "
                              "model.pt, then give its folder name (shown after the upload)")
        return real

    def keep_model(self, files, request) -> str:
        """Put an uploaded trained model (its model.json and model.pt) into the session's
        uploads as a folder; returns the folder's name, for the model box."""
        s = self.session(request)
        paths = [Path(f) for f in (files or [])]
        if {p.name for p in paths} != {"model.json", "model.pt"}:
            raise RetakeError("upload a trained model's two files, model.json and model.pt, "
                              "together (from `retake train`)")
        folder = private_dir(s.uploads / "model")
        for p in paths:
            private_copy(p, folder / p.name)
        return "model"

    @sealed
    def preview_swap(self, source: str | None, model: str, target: str | None, request,
                     agreed: bool = False, progress=None):
        """Swap one frame (the first with a face, or the image) for a quick look; like every
        face edit, only with consent."""
        from retake.video.media import is_image, read_frames, write_image
        from retake.video.swap import swap_image

        s = self.session(request)
        s.cancel.clear()
        consent = self.consent_record(agreed)
        tgt = check_type(target, IMAGE_TYPES + VIDEO_TYPES, "a target image or video")
        frame = s.folder / "preview-in.png"
        if is_image(tgt):
            frame = private_copy(tgt, frame.with_suffix(tgt.suffix.lower()))
        else:
            first = next(read_frames(tgt))
            write_image(frame, first.rgb)
        out = s.folder / "preview-out.png"
        photo = source if source and not (model and model.strip()) else None
        with self._hold(s, progress, "preview", "face"):
            swap_image(frame, out, self._swapper(s, source, model), self.models(),
                       provenance=Provenance(consent.consent, (Path(photo),) if photo else ()))
        return str(out)

    @sealed
    def run_swap(self, source: str | None, model: str, target: str | None, request,
                 progress=None, agreed: bool = False):
        """The full swap; returns the result (image or video) and a download."""
        from retake.video.media import is_image
        from retake.video.swap import swap

        s = self.session(request)
        s.cancel.clear()
        consent = self.consent_record(agreed)
        tgt = self._keep(s, check_type(target, IMAGE_TYPES + VIDEO_TYPES,
                                        "a target image or video"), "target")
        n = len(list(s.folder.glob("swapped-*"))) + 1
        out = s.folder / (f"swapped-{n}.png" if is_image(tgt) else f"swapped-{n}.mp4")
        tick = self._ticker(s, progress, "frames")
        photo = source if source and not (model and model.strip()) else None
        kwargs = {"provenance": Provenance(consent.consent, (Path(photo),) if photo else ())}
        if not is_image(tgt):
            kwargs["progress"] = tick
        with self._hold(s, progress, "swap", "face"):
            res = swap(tgt, out, self._swapper(s, source, model), self.models(), **kwargs)
        note = f"{GENERATED}: {res.swapped}/{res.frames} frames swapped"
        if is_image(tgt):
            return str(out), None, str(out), note
        return None, str(out), str(out), note


def face_tab(studio, agreed) -> None:
    """The Face tab's widgets and events (inside the page's Blocks)."""
    self, guard = studio, studio.guard
    with gr.Tab("Face"):
        with gr.Row():
            src_photo = gr.Image(label="Source face (photo)", type="filepath",
                                 elem_id="source-photo")
            target = gr.File(label="Target (image or video)",
                             file_types=IMAGE_TYPES + VIDEO_TYPES, type="filepath",
                             elem_id="target-file")
        with gr.Row():
            model_files = gr.File(label="…or a trained model (from `retake train`): "
                                  "upload its model.json and model.pt",
                                  file_count="multiple", file_types=[".json", ".pt"],
                                  type="filepath", elem_id="model-files")
            model_dir = gr.Textbox(label="Trained model folder, among this session's "
                                   "uploads", elem_id="model-dir")
        with gr.Row():
            preview_btn = gr.Button("Preview one frame", elem_id="preview")
            swap_btn = gr.Button("Swap", variant="primary", elem_id="swap")
            cancel_f = gr.Button("Cancel")
        swap_note = gr.Markdown(elem_id="swap-result")
        preview = gr.Image(label=f"Preview ({GENERATED})", interactive=False,
                           elem_id="preview-image")
        swapped_img = gr.Image(label=f"Result ({GENERATED})", interactive=False,
                               elem_id="swapped-image")
        swapped_vid = gr.Video(label=f"Result ({GENERATED})", interactive=False)
        swap_file = gr.File(label="Download", interactive=False,
                            elem_id="swap-file")
        @guard
        def do_preview(s_, m, t, ok, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - Gradio injects it
            return self.preview_swap(s_, m, t, request, ok, progress)

        @guard
        def do_model(files, request: gr.Request):
            return self.keep_model(files, request)

        @guard
        def do_swap(s_, m, t, ok, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - Gradio injects it
            return self.run_swap(s_, m, t, request, progress, ok)

        cleared(preview_btn.click(do_preview, [src_photo, model_dir, target, agreed],
                                  preview))
        cleared(model_files.upload(do_model, model_files, model_dir))
        s_ev = cleared(swap_btn.click(
            do_swap, [src_photo, model_dir, target, agreed],
            [swapped_img, swapped_vid, swap_file, swap_note]))
        cancel_f.click(self.cancel, None, swap_note, cancels=[s_ev])
