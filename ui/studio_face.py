"""The studio's Face tab: swap a face from a photo or a trained model, with a preview.

The target is shown as a still with a frame slider (a video) and its faces numbered; the
preview swaps the frame the slider points at, and the preview and the swap both take the
face picked there (a video's is followed through it by identity, as `--faces reference`)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import gradio as gr

from retake.awareness.provenance import Provenance
from retake.core.errors import FaceError, RetakeError
from retake.ui.face_pick import (
    centre,
    face_labels,
    face_number,
    find_faces,
    frame_at,
    numbered,
    picked_box,
    timeline,
    track_at,
    track_like,
)
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
from retake.video.faces import FaceModels
from retake.video.media import is_image, write_image

if TYPE_CHECKING:
    from retake.video.swap import FaceChoice


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

    def _looker(self) -> tuple[FaceModels, threading.Lock]:
        """Face models for looking at a target (detection only), apart from the swap's: a
        look never waits in the face stage's line behind another session's swap, and one
        look at a time uses them (a dlib detector is not meant to be shared by threads)."""
        if "_look_models" not in self.__dict__:
            self.__dict__.setdefault("_look_models", (FaceModels(), threading.Lock()))
        return self.__dict__["_look_models"]

    @sealed
    def look(self, target: str | None, at: float, request, face: str | None = None) -> tuple:
        """The target's frame at `at` seconds with its faces boxed and numbered, the picked
        `face` in green (no swap, so no consent: the user looks at their own file).
        Returns the still, the slider's range (last frame's time, one frame; 0 for an
        image), the picker's choices and a note."""
        if not target:
            return None, 0.0, 0.0, [], ""
        s = self.session(request)
        tgt = check_type(target, IMAGE_TYPES + VIDEO_TYPES, "a target image or video")
        length, step = timeline(tgt)
        rgb, t = frame_at(tgt, at)
        models, lock = self._looker()
        with lock:
            boxes = find_faces(rgb, models)
        still = s.folder / "target-frame.png"
        write_image(still, numbered(rgb, boxes, face_number(face)))
        where = f"Frame at {t:.2f} s" if length else "The image"
        if not boxes:
            note = f"{where}: no face found; move the slider to a frame where the face shows"
        else:
            note = f"{where}: {len(boxes)} face(s), numbered largest first; pick the one " \
                   "to swap" + (" (followed through the video)" if length else "")
        return str(still), length, step, face_labels(len(boxes)), note

    def _choice(self, s: Session, tgt: Path, at: float, face: str | None,
                progress=None) -> FaceChoice | None:
        """The swap's choice of target face for the picker's `face` on the frame at `at`
        (None: the largest, as before). In a still the face is taken by where it is; in a
        video by identity, as `--faces reference` does: the reference is the descriptor of
        the track that holds the picked face there (distance 0 to itself, so even a
        look-alike beside it is left alone), or, where the tracker lost it, of the same
        person's track elsewhere in the video."""
        from retake.video.swap import FaceChoice
        from retake.video.track import load_tracks

        number = face_number(face)
        if number is None:
            return None
        models = self.models()
        rgb, t = frame_at(tgt, at)
        name = s.names.get(str(tgt), tgt.name)
        box = picked_box(find_faces(rgb, models), number, name, t)
        if is_image(tgt):
            return FaceChoice("position", position=centre(box, rgb))
        tracks = load_tracks(tgt, models, cache_dir=self._tracks(s), progress=progress)
        step = timeline(tgt)[1]
        track = track_at(tracks, t, box, step) or track_like(
            tracks, models.embed(rgb, models.landmarks(rgb, box)), t, step)
        if track is None:
            raise FaceError(f"the face picked at {t:.2f} s in {name} could not be followed "
                            "through the video (too small or turned away there); pick it "
                            "on a frame where it shows larger and facing the camera")
        return FaceChoice("reference", reference=track.embedding)

    @staticmethod
    def _tracks(s: Session) -> Path:
        """The session's own cache of face tracks: the pick and the swap track once."""
        return private_dir(s.folder / "tracks")

    @sealed
    def preview_swap(self, source: str | None, model: str, target: str | None, request,
                     agreed: bool = False, progress=None, at: float = 0.0,
                     face: str | None = None):
        """Swap the frame at `at` seconds (or the image) for a quick look, on the picked
        face (the largest if none); like every face edit, only with consent."""
        from retake.video.swap import FaceChoice, swap_image

        s = self.session(request)
        s.cancel.clear()
        consent = self.consent_record(agreed)
        tgt = check_type(target, IMAGE_TYPES + VIDEO_TYPES, "a target image or video")
        frame, out = s.folder / "preview-in.png", s.folder / "preview-out.png"
        photo = source if source and not (model and model.strip()) else None
        with self._hold(s, progress, "preview", "face"):
            swapper = self._swapper(s, source, model)
            rgb, t = frame_at(tgt, at)
            box = picked_box(find_faces(rgb, self.models()), face_number(face) or 1,
                             tgt.name, t)
            write_image(frame, rgb)
            swap_image(frame, out, swapper, self.models(),
                       choice=FaceChoice("position", position=centre(box, rgb)),
                       provenance=Provenance(consent.consent, (Path(photo),) if photo else ()))
        return str(out)

    @sealed
    def run_swap(self, source: str | None, model: str, target: str | None, request,
                 progress=None, agreed: bool = False, at: float = 0.0,
                 face: str | None = None):
        """The full swap, on the face picked at `at` seconds (the largest if none);
        returns the result (image or video) and a download."""
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
            kwargs.update(progress=tick, cache_dir=self._tracks(s))
        with self._hold(s, progress, "swap", "face"):
            swapper = self._swapper(s, source, model)
            kwargs["choice"] = self._choice(s, tgt, at, face, tick)
            res = swap(tgt, out, swapper, self.models(), **kwargs)
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
            still = gr.Image(label="Target frame: its faces, numbered largest first",
                             interactive=False, elem_id="target-still")
            with gr.Column():
                frame_t = gr.Slider(0, 1, value=0, step=0.04, visible=False,
                                    label="Frame (seconds): the preview swaps this frame",
                                    elem_id="frame-slider")
                face_pick = gr.Radio([], label="Face to swap", elem_id="face-pick")
                frame_note = gr.Markdown(elem_id="frame-note")
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

        def picker(labels: list[str]):
            return gr.update(choices=labels, value=labels[0] if labels else None)

        @guard
        def do_target(t, request: gr.Request):
            img, length, step, labels, note = self.look(t, 0.0, request)
            slider = gr.update(minimum=0, maximum=max(length, step), step=step or 0.04,
                               value=0, visible=length > 0)
            return img, slider, picker(labels), note

        @guard
        def do_frame(t, at, request: gr.Request):
            img, _, _, labels, note = self.look(t, at, request)
            return img, picker(labels), note

        @guard
        def do_pick(t, at, k, request: gr.Request):
            return self.look(t, at, request, k)[0]

        @guard
        def do_preview(s_, m, t, ok, at, k, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - Gradio injects it
            return self.preview_swap(s_, m, t, request, ok, progress, at, k)

        @guard
        def do_model(files, request: gr.Request):
            return self.keep_model(files, request)

        @guard
        def do_swap(s_, m, t, ok, at, k, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - Gradio injects it
            return self.run_swap(s_, m, t, request, progress, ok, at, k)

        # Looking is not `cleared`: it must not close an error the user has yet to read.
        target.change(do_target, target, [still, frame_t, face_pick, frame_note])
        frame_t.release(do_frame, [target, frame_t], [still, face_pick, frame_note])
        face_pick.input(do_pick, [target, frame_t, face_pick], still)
        picked = [src_photo, model_dir, target, agreed, frame_t, face_pick]
        cleared(preview_btn.click(do_preview, picked, preview))
        cleared(model_files.upload(do_model, model_files, model_dir))
        s_ev = cleared(swap_btn.click(
            do_swap, picked, [swapped_img, swapped_vid, swap_file, swap_note]))
        cancel_f.click(self.cancel, None, swap_note, cancels=[s_ev])
