"""The Retake studio: a local web page (Gradio) over the same library calls as the CLI.

Voice tab: upload or record speech (or a video), get its transcript and alignment, edit the
text, see the pending edits as a diff, render, listen, export. Face tab: swap a face from a
photo or a trained model, with a one-frame preview. Dub tab: the whole dubbing pipeline.

Safety: binds to 127.0.0.1 unless told otherwise; uploads are limited in size and type;
each browser session works in its own folder under the studio's root, and only files there
are handed back (Gradio serves them from its cache); every output is labelled as generated.
Long jobs report progress and can be cancelled; heavy models are shared behind a lock.

Privacy: nothing leaves the machine (Gradio's analytics, version check and share tunnel are
off). Voices and faces stay private to the user running the studio: its root is a fresh
0700 folder (or a given one that must already be private and ours), session folders are
0700, every file in them 0600, and Gradio's own upload cache lives inside the root too.
"""

from __future__ import annotations

import atexit
import contextlib
import difflib
import functools
import inspect
import logging
import os
import shutil
import stat
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

# No telemetry: set before gradio (and huggingface_hub, which reads it on import) load.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

import gradio as gr
import numpy as np

from retake.awareness.provenance import Provenance
from retake.core.errors import RetakeError
from retake.ui.request import EditRequest, check, resolve

log = logging.getLogger(__name__)

AUDIO_TYPES = [".wav", ".mp3", ".m4a", ".flac", ".ogg", ".opus", ".aac"]
VIDEO_TYPES = [".mp4", ".mov", ".mkv", ".webm", ".avi"]
IMAGE_TYPES = [".png", ".jpg", ".jpeg", ".webp", ".bmp"]
MAX_UPLOAD = "200mb"
GENERATED = "GENERATED with Retake — synthetic media"
LOW_CONFIDENCE = 0.5
GRADIO_CACHE = "gradio-cache"  # inside the root; the dash keeps it apart from session names


def no_telemetry() -> None:
    """Turn off everything in Gradio that phones home (analytics, version check, HF hub
    telemetry), even if gradio was imported before this module."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    import huggingface_hub.constants as hf  # a gradio dependency; read its flag on import

    hf.HF_HUB_DISABLE_TELEMETRY = True


def private_dir(path: Path) -> Path:
    """Create `path` (and its parents) as a 0700 folder, or accept it if it already is one.

    An existing folder is refused, never chmod-ed, when it is a symlink, not ours, or open to
    the group or others: someone else may have made it, or read what is in it.
    """
    path = Path(path).absolute()
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise RetakeError(f"{path}: is a symlink; give the studio a real folder")
    if not stat.S_ISDIR(st.st_mode):
        raise RetakeError(f"{path}: not a folder")
    if st.st_uid != os.getuid():
        raise RetakeError(f"{path}: belongs to another user; give the studio its own folder")
    if st.st_mode & 0o077:
        raise RetakeError(f"{path}: others can open it (mode {stat.S_IMODE(st.st_mode):o}); "
                          f"run `chmod 700 {path}` or give another folder")
    return path


def private_copy(src: str | os.PathLike, dst: Path) -> Path:
    """Copy `src` to `dst` as a 0600 file (never following a link at `dst`)."""
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
        os.fchmod(out.fileno(), 0o600)  # it may have existed with another mode
        shutil.copyfileobj(inp, out, 1 << 20)
    return dst


def seal(folder: Path) -> None:
    """Make what a job left under `folder` private: files 0600, folders 0700 (ours only)."""
    me = os.getuid()
    for top, dirs, files in os.walk(folder):
        for name, mode in [(d, 0o700) for d in dirs] + [(f, 0o600) for f in files]:
            p = os.path.join(top, name)
            try:
                st = os.lstat(p)
                if st.st_uid == me and not stat.S_ISLNK(st.st_mode) \
                        and stat.S_IMODE(st.st_mode) != mode:
                    os.chmod(p, mode)
            except FileNotFoundError:  # a temporary file that went away meanwhile
                continue


def _sealed(method):
    """A Studio job that seals its session's folder when it ends, even on error."""
    signature = inspect.signature(method)

    @functools.wraps(method)
    def wrapped(self: Studio, *args, **kwargs):
        request = signature.bind_partial(self, *args, **kwargs).arguments.get("request")
        try:
            return method(self, *args, **kwargs)
        finally:
            seal(self.session(request).folder)
    return wrapped


class Cancelled(RetakeError):
    """The user pressed Cancel."""


@dataclass
class Session:
    """What one browser session has done so far (kept on the server, not in the page)."""

    folder: Path
    recording: object | None = None
    transcript: str = ""
    cancel: threading.Event = field(default_factory=threading.Event)


def _check_type(path: str | None, allowed: list[str], what: str) -> Path:
    if not path:
        raise RetakeError(f"give {what} first")
    p = Path(path)
    if p.suffix.lower() not in allowed:
        raise RetakeError(f"{p.name}: not {what} ({', '.join(allowed)})")
    return p


def word_diff(old: str, new: str) -> list[tuple[str, str | None]]:
    """Old and new text as (word, label) pairs: '-' deleted, '+' inserted, None kept."""
    a, b = old.split(), new.split()
    out: list[tuple[str, str | None]] = []
    for op, i0, i1, j0, j1 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out += [(w + " ", None) for w in a[i0:i1]]
        else:
            out += [(w + " ", "-") for w in a[i0:i1]]
            out += [(w + " ", "+") for w in b[j0:j1]]
    return out


def waveform_png(samples: np.ndarray, rate: int, words, path: Path) -> Path:
    """A waveform with each word's span and text; low-confidence words in red."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(len(samples)) / rate
    step = max(1, len(samples) // 6000)
    fig, ax = plt.subplots(figsize=(12, 2.6), dpi=90)
    ax.plot(t[::step], samples[::step], lw=0.5, color="#555")
    top = float(np.abs(samples).max() or 1.0)
    for i, w in enumerate(words):
        low = w.confidence < LOW_CONFIDENCE
        ax.axvspan(w.start, w.end, color="#f3b0b0" if low else "#cfe3f7", alpha=0.6, lw=0)
        ax.text((w.start + w.end) / 2, top * (0.92 if i % 2 else 0.75), w.text, ha="center",
                fontsize=8, color="#b00" if low else "#124")
    ax.set_xlim(0, t[-1] if len(t) else 1)
    ax.set_yticks([])
    ax.set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


class Studio:
    """The studio's server side: sessions, the shared models, and the jobs."""

    def __init__(self, root: Path | None = None) -> None:
        """`root`: where sessions keep their files; by default a fresh private temporary
        folder, removed when the process exits. A given root must be (or become) a 0700
        folder of ours; it is kept."""
        if root is None:
            self.root = Path(tempfile.mkdtemp(prefix="retake-studio-")).resolve()
            atexit.register(shutil.rmtree, self.root, ignore_errors=True)
        else:
            self.root = private_dir(Path(root)).resolve()
        self.sessions: dict[str, Session] = {}
        self.lock = threading.Lock()
        self._editor = None
        self._models: dict[str, object] = {}

    # -------------------------------------------------------------- plumbing
    def session(self, request) -> Session:
        """This browser session's state and folder (created on first use)."""
        key = "".join(c for c in (getattr(request, "session_hash", None) or "local")
                      if c.isalnum())[:40] or "local"
        if key not in self.sessions:
            self.sessions[key] = Session(private_dir(self.root / key))
        return self.sessions[key]

    def editor(self):
        """The voice editor, shared by all sessions (its caches make re-edits fast)."""
        if self._editor is None:
            from retake.core.cache import default_cache_dir
            from retake.voice import Editor

            self._editor = Editor(cache_dir=default_cache_dir())
        return self._editor

    def models(self, detector: str = "hog"):
        """dlib face models for `detector`, shared."""
        if detector not in self._models:
            from retake.video.faces import FaceModels

            self._models[detector] = FaceModels(detector=detector)
        return self._models[detector]

    def _keep(self, s: Session, path: str | os.PathLike, name: str) -> Path:
        """Copy an upload into the session's folder, readable by us only (inputs are never
        modified)."""
        return private_copy(path, s.folder / f"in-{name}{Path(path).suffix.lower()}")

    @staticmethod
    def _ticker(s: Session, progress, unit: str = "steps"):
        """A `progress(stage, done, total)` callback that draws Gradio's bar and cancels."""
        def tick(stage: str, done: float, total: float) -> None:
            if s.cancel.is_set():
                raise Cancelled("cancelled")
            if progress is not None:
                progress((done, total) if total else 0, desc=stage, unit=unit)
        return tick

    def cancel(self, request: gr.Request) -> str:
        """Ask the session's running job to stop at its next progress step."""
        self.session(request).cancel.set()
        return "Cancelling…"

    @staticmethod
    def consent_record(agreed: bool, ingredients: list = ()) -> Provenance:
        """The output's provenance (consent, ingredients), or an error asking for the
        confirmation."""
        from retake.awareness.consent import ConsentError, ConsentRecord

        if not agreed:
            raise ConsentError("tick the consent box first: Retake edits a voice or a face "
                               "only with the person's consent")
        return Provenance(ConsentRecord.declared("studio user").to_dict(),
                          tuple(Path(p) for p in ingredients if p))

    # -------------------------------------------------------------- voice
    @_sealed
    def analyse(self, audio: str | None, video: str | None, transcript: str, request,
                progress=None):
        """Load speech, transcribe if needed, align; return text, plot and word table."""
        from retake.align import load_audio, transcribe

        s = self.session(request)
        s.cancel.clear()
        src = _check_type(video, VIDEO_TYPES, "a video") if video else \
            _check_type(audio, AUDIO_TYPES + [".webm"], "an audio file")
        src = self._keep(s, src, "speech")
        sound = load_audio(src)
        text = (transcript or "").strip()
        with self.lock:
            if not text:
                text = transcribe(sound, progress=self._ticker(s, progress, "s of audio")).text
            rec = self.editor().load(sound, text, progress=self._ticker(s, progress,
                                                                        "s of audio"))
        s.recording, s.transcript = rec, text
        words = rec.alignment.aligned_words()
        png = waveform_png(sound.samples, sound.sample_rate, words, s.folder / "words.png")
        table = [[w.text, round(w.start, 2), round(w.end, 2), round(w.confidence, 2)]
                 for w in words]
        low = sum(1 for w in words if w.confidence < LOW_CONFIDENCE)
        note = f"{len(words)} words aligned" + (f"; {low} low-confidence (red)" if low else "")
        return text, text, str(png), table, note

    @_sealed
    def render(self, new_text: str, takes: int, request, progress=None, agreed: bool = False):
        """Apply the text edit; return the edited audio, the files and the takes."""
        from retake.align.subtitles import write_subtitles
        from retake.voice import EditOptions, write_result

        s = self.session(request)
        s.cancel.clear()
        if s.recording is None:
            raise RetakeError("analyse a recording first")
        consent = self.consent_record(agreed)
        if not new_text.strip():
            raise RetakeError("the new text is empty")
        if progress is not None:
            progress(0.1, desc="rendering")
        with self.lock:
            result = self.editor().edit(s.recording, new_text,
                                        EditOptions(takes=max(1, int(takes or 1))))
        n = len(list(s.folder.glob("edited-*.wav"))) + 1
        out = s.folder / f"edited-{n}.wav"
        sources = sorted(s.folder.glob("in-speech.*"))[:1]
        paths = write_result(result, out, Provenance(consent.consent, tuple(sources)))
        files = [str(p) for p in paths.values()] + write_subtitles(result.alignment,
                                                                  out.with_suffix(""))
        rows = [[e.kind, e.text, f"{e.start:.2f}-{e.end:.2f}", e.engine,
                 e.heard_label()]
                for e in result.report.edits]
        alts = []
        from retake.align.audio import write_wav

        for i, span in enumerate(result.takes):
            for k, take in enumerate(span[1:], start=2):
                p = s.folder / f"edited-{n}-span{i + 1}-take{k}.wav"
                write_wav(p, take.samples, result.sample_rate)
                alts.append(str(p))
        return str(out), files, rows, alts, f"{GENERATED}: {out.name}"

    # -------------------------------------------------------------- face
    def _swapper(self, source: str | None, model: str):
        from retake.video.engines import build_swapper

        if model and model.strip():
            return build_swapper("autoencoder", model=Path(model.strip()))
        src = _check_type(source, IMAGE_TYPES, "a source photo")
        return build_swapper("landmark", self.models(), source=src)

    @_sealed
    def preview_swap(self, source: str | None, model: str, target: str | None, request):
        """Swap one frame (the first with a face, or the image) for a quick look."""
        from retake.video.media import is_image, read_frames, write_image
        from retake.video.swap import swap_image

        s = self.session(request)
        tgt = _check_type(target, IMAGE_TYPES + VIDEO_TYPES, "a target image or video")
        frame = s.folder / "preview-in.png"
        if is_image(tgt):
            frame = private_copy(tgt, frame.with_suffix(tgt.suffix.lower()))
        else:
            first = next(read_frames(tgt))
            write_image(frame, first.rgb)
        out = s.folder / "preview-out.png"
        with self.lock:
            swap_image(frame, out, self._swapper(source, model), self.models())
        return str(out)

    @_sealed
    def run_swap(self, source: str | None, model: str, target: str | None, request,
                 progress=None, agreed: bool = False):
        """The full swap; returns the result (image or video) and a download."""
        from retake.video.media import is_image
        from retake.video.swap import swap

        s = self.session(request)
        s.cancel.clear()
        consent = self.consent_record(agreed)
        tgt = self._keep(s, _check_type(target, IMAGE_TYPES + VIDEO_TYPES,
                                        "a target image or video"), "target")
        n = len(list(s.folder.glob("swapped-*"))) + 1
        out = s.folder / (f"swapped-{n}.png" if is_image(tgt) else f"swapped-{n}.mp4")
        tick = self._ticker(s, progress, "frames")
        photo = source if source and not (model and model.strip()) else None
        kwargs = {"provenance": Provenance(consent.consent, (Path(photo),) if photo else ())}
        if not is_image(tgt):
            kwargs["progress"] = tick
        with self.lock:
            res = swap(tgt, out, self._swapper(source, model), self.models(), **kwargs)
        note = f"{GENERATED}: {res.swapped}/{res.frames} frames swapped"
        if is_image(tgt):
            return str(out), None, str(out), note
        return None, str(out), str(out), note

    # -------------------------------------------------------------- dub
    @_sealed
    def run_dub(self, video: str | None, transcript: str, new_text: str, script: str | None,
                swap_photo: str | None, request, progress=None, agreed: bool = False):
        """The dubbing pipeline with a progress bar per stage."""
        from retake.align import load_audio, transcribe
        from retake.video.dub import dub
        from retake.voice import EditOptions

        s = self.session(request)
        s.cancel.clear()
        consent = self.consent_record(agreed)
        vid = self._keep(s, _check_type(video, VIDEO_TYPES, "a video"), "dub")
        photo = _check_type(swap_photo, IMAGE_TYPES, "a photo") if swap_photo else None
        wanted = EditRequest(transcript=(transcript or "").strip() or None,
                             to=None if script else (new_text or "").strip() or None,
                             script=script or None, draft=True, swap=photo)
        if not script and wanted.to is None:
            raise RetakeError("give the new text (or a script)")
        wanted = check(wanted)  # the script's voice:, faces: and language: options too
        with self.lock:
            resolved = resolve(wanted, lambda: transcribe(load_audio(vid)).text)
            n = len(list(s.folder.glob("dubbed-*.mp4"))) + 1
            out = s.folder / f"dubbed-{n}.mp4"
            res = dub(vid, out, resolved.new_text, transcript=resolved.transcript,
                      editor=self.editor(), models=self.models(resolved.detector),
                      options=EditOptions(**resolved.voice), swap_source=resolved.swap,
                      provenance=consent,
                      progress=self._ticker(s, progress))
        return str(out), res.outputs, f"{GENERATED}: mouth re-rendered on " \
            f"{res.mouth_frames} of {res.frames} frames"

    # -------------------------------------------------------------- detect
    @_sealed
    def run_detect(self, file: str | None, transcript: str, request, progress=None):
        """The detector's report: summary, the HTML page inline, and downloads."""
        import html as html_lib

        from retake.awareness.detect import detect, write_report

        s = self.session(request)
        src = self._keep(s, _check_type(file, AUDIO_TYPES + VIDEO_TYPES,
                                        "an audio or video file"), "detect")
        if progress is not None:
            progress(0.1, desc="examining")
        with self.lock:
            report = detect(src, transcript=(transcript or "").strip() or None,
                            models=self.models())
        n = len(list(s.folder.glob("detect-*"))) + 1
        jpath, hpath = write_report(report, s.folder / f"detect-{n}")
        frame = (f'<iframe title="report" style="width:100%;height:900px;border:0" '
                 f'srcdoc="{html_lib.escape(hpath.read_text())}"></iframe>')
        return f"```\n{report.summary()}\n```", frame, [str(jpath), str(hpath)]

    # -------------------------------------------------------------- page
    def build(self) -> gr.Blocks:
        """The Gradio page (no analytics; Gradio's upload cache inside our private root)."""
        no_telemetry()
        os.environ["GRADIO_TEMP_DIR"] = str(private_dir(self.root / GRADIO_CACHE))

        def guard(fn):
            """Turn our errors into a one-line message in the page."""
            @functools.wraps(fn)
            def wrapped(*args, **kwargs):
                try:
                    return fn(*args, **kwargs)
                except Cancelled:
                    raise gr.Error("Cancelled.") from None
                except RetakeError as exc:
                    raise gr.Error(str(exc)) from None
            return wrapped

        with gr.Blocks(title="Retake studio", analytics_enabled=False) as page:
            gr.Markdown("## Retake studio\nEdit speech by editing its text; swap and re-sync "
                        "faces. Everything runs on this computer. **Everything it makes is "
                        "labelled as generated.** Edit only voices and faces you have "
                        "consent to edit.")
            agreed = gr.Checkbox(label="I confirm that I am the person whose voice or face I "
                                 "edit here, or that they agreed to it", value=False,
                                 elem_id="consent")
            with gr.Tab("Voice"):
                with gr.Row():
                    audio_in = gr.Audio(sources=["upload", "microphone"], type="filepath",
                                        elem_id="speech-in", label="Speech (upload or record)")
                    video_in = gr.File(label="…or a video (its speech is used)",
                                       file_types=VIDEO_TYPES, type="filepath")
                transcript = gr.Textbox(label="What it says now (leave empty to transcribe)",
                                        lines=3, elem_id="transcript")
                analyse_btn = gr.Button("1. Transcribe and align", variant="primary",
                                        elem_id="analyse")
                status = gr.Markdown(elem_id="voice-status")
                words_png = gr.Image(label="Words over the waveform", type="filepath",
                                     interactive=False)
                words = gr.Dataframe(headers=["word", "start", "end", "confidence"],
                                     label="Words", interactive=False)
                new_text = gr.Textbox(label="2. What it should say (edit the text)", lines=3,
                                      elem_id="new-text")
                diff = gr.HighlightedText(label="Pending edits",
                                          color_map={"-": "red", "+": "green"},
                                          combine_adjacent=True)
                with gr.Row():
                    takes = gr.Slider(1, 5, value=1, step=1, label="Takes per new span")
                    render_btn = gr.Button("3. Render", variant="primary", elem_id="render")
                    cancel_v = gr.Button("Cancel")
                result_note = gr.Markdown(elem_id="voice-result")
                edited = gr.Audio(label=f"Edited ({GENERATED})", type="filepath",
                                  interactive=False, elem_id="edited-audio")
                edits_table = gr.Dataframe(headers=["edit", "text", "at (s)", "made by",
                                                    "heard (open recognition)"],
                                           label="Edits",
                                           interactive=False)
                downloads = gr.File(label="Export: wav, TextGrid, JSON, time map, report, "
                                    "SRT, WebVTT", file_count="multiple", interactive=False,
                                    elem_id="voice-files")
                alternatives = gr.File(label="Alternative takes of each new span",
                                       file_count="multiple", interactive=False)

                @guard
                def do_analyse(a, v, t, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - Gradio injects it
                    return self.analyse(a, v, t, request, progress)

                @guard
                def do_render(t, k, ok, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - Gradio injects it
                    return self.render(t, k, request, progress, ok)

                a_ev = analyse_btn.click(
                    do_analyse, [audio_in, video_in, transcript],
                    [transcript, new_text, words_png, words, status])
                new_text.change(lambda old, new: word_diff(old or "", new or ""),
                                [transcript, new_text], diff)
                r_ev = render_btn.click(
                    do_render, [new_text, takes, agreed],
                    [edited, downloads, edits_table, alternatives, result_note])
                cancel_v.click(self.cancel, None, result_note, cancels=[a_ev, r_ev])
            with gr.Tab("Face"):
                with gr.Row():
                    src_photo = gr.Image(label="Source face (photo)", type="filepath",
                                         elem_id="source-photo")
                    target = gr.File(label="Target (image or video)",
                                     file_types=IMAGE_TYPES + VIDEO_TYPES, type="filepath",
                                     elem_id="target-file")
                model_dir = gr.Textbox(label="…or a trained model folder (from `retake train`)")
                with gr.Row():
                    preview_btn = gr.Button("Preview one frame", elem_id="preview")
                    swap_btn = gr.Button("Swap", variant="primary", elem_id="swap")
                    cancel_f = gr.Button("Cancel")
                swap_note = gr.Markdown(elem_id="swap-result")
                preview = gr.Image(label=f"Preview ({GENERATED})", interactive=False)
                swapped_img = gr.Image(label=f"Result ({GENERATED})", interactive=False,
                                       elem_id="swapped-image")
                swapped_vid = gr.Video(label=f"Result ({GENERATED})", interactive=False)
                swap_file = gr.File(label="Download", interactive=False,
                                    elem_id="swap-file")
                @guard
                def do_preview(s_, m, t, request: gr.Request):
                    return self.preview_swap(s_, m, t, request)

                @guard
                def do_swap(s_, m, t, ok, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - Gradio injects it
                    return self.run_swap(s_, m, t, request, progress, ok)

                preview_btn.click(do_preview, [src_photo, model_dir, target], preview)
                s_ev = swap_btn.click(
                    do_swap, [src_photo, model_dir, target, agreed],
                    [swapped_img, swapped_vid, swap_file, swap_note])
                cancel_f.click(self.cancel, None, swap_note, cancels=[s_ev])
            with gr.Tab("Dub"):
                with gr.Row():
                    dub_video = gr.File(label="Talking-head video", file_types=VIDEO_TYPES,
                                        type="filepath")
                    dub_script = gr.File(label="…and optionally a dubbing script (YAML/JSON)",
                                         file_types=[".yaml", ".yml", ".json"],
                                         type="filepath")
                    dub_photo = gr.Image(label="Optional: swap the face too", type="filepath")
                dub_transcript = gr.Textbox(label="What it says now (empty: transcribe)",
                                            lines=2)
                dub_text = gr.Textbox(label="What it should say", lines=2)
                with gr.Row():
                    dub_btn = gr.Button("Dub", variant="primary")
                    cancel_d = gr.Button("Cancel")
                dub_note = gr.Markdown()
                dub_out = gr.Video(label=f"Dubbed ({GENERATED})", interactive=False)
                dub_files = gr.File(label="Download", file_count="multiple",
                                    interactive=False)
                @guard
                def do_dub(v, t, n, sc, ph, ok, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - Gradio injects it
                    return self.run_dub(v, t, n, sc, ph, request, progress, ok)

                d_ev = dub_btn.click(
                    do_dub, [dub_video, dub_transcript, dub_text, dub_script, dub_photo,
                             agreed],
                    [dub_out, dub_files, dub_note])
                cancel_d.click(self.cancel, None, dub_note, cancels=[d_ev])
            with gr.Tab("Detect"):
                gr.Markdown("Look for traces of edits: lips open on M/B/P, splices in the "
                            "audio, Retake's own watermark. A clean report is not proof "
                            "that a file is authentic.")
                det_file = gr.File(label="Audio or video", file_types=AUDIO_TYPES + VIDEO_TYPES,
                                   type="filepath", elem_id="detect-file")
                det_text = gr.Textbox(label="What is said (empty: transcribe)", lines=2)
                det_btn = gr.Button("Examine", variant="primary", elem_id="detect")
                det_summary = gr.Markdown(elem_id="detect-summary")
                det_html = gr.HTML()
                det_files = gr.File(label="Report (JSON, HTML)", file_count="multiple",
                                    interactive=False)

                @guard
                def do_detect(f, t, request: gr.Request, progress=gr.Progress()):  # noqa: B008
                    return self.run_detect(f, t, request, progress)

                det_btn.click(do_detect, [det_file, det_text],
                              [det_summary, det_html, det_files])
        return page


def launch(host: str = "127.0.0.1", port: int = 7860, root: Path | None = None,
           block: bool = True) -> tuple[gr.Blocks, Studio]:
    """Start the studio's web server; returns the Gradio app and the Studio when not blocking.

    Nothing leaves the machine: no analytics or version check, and never a share tunnel
    (whatever GRADIO_SHARE says).
    """
    no_telemetry()
    studio = Studio(root)
    page = studio.build()
    page.queue(default_concurrency_limit=2)
    page.launch(server_name=host, server_port=port, max_file_size=MAX_UPLOAD,
                prevent_thread_lock=not block, show_error=True, inbrowser=False,
                allowed_paths=[str(studio.root)], quiet=True, share=False)
    return page, studio
