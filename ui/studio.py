"""The Retake studio: a local web page (Gradio) over the same library calls as the CLI.

Voice tab: upload or record speech (or a video), get its transcript and alignment, edit the
text, see the pending edits as a diff, render, listen, export. Face tab: swap a face from a
photo or a trained model, with a one-frame preview. Dub tab: the whole dubbing pipeline.

Safety: binds to 127.0.0.1 unless told otherwise; uploads are limited in size and type;
each browser session works in its own folder under the studio's root; every file is served
only to the browser that uploaded or made it (ui/serving.py: a random cookie per browser, a
random folder per output); every file a dubbing script or the model box names must be among
the session's own uploads; every face or voice edit, previews included, passes the consent
gate (ui/gate.py); errors name the user's own files, never a server path. Every output is
labelled as generated. Long jobs report progress and can be cancelled; heavy models are
held by stage (ui/stages.py: voice, face), one job per stage, and a job that waits is told
its place in line and about how long.

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
import tempfile
import threading
import time
from pathlib import Path

# No telemetry: set before gradio (and huggingface_hub, which reads it on import) load.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

import gradio as gr
import numpy as np

from retake.awareness.provenance import Provenance
from retake.core.errors import RetakeError
from retake.ui.cleanup import MAX_IDLE_S, Janitor, prune
from retake.ui.edit_notes import LOW_CONFIDENCE, edit_rows
from retake.ui.edit_notes import summary as edit_summary
from retake.ui.serving import FileGate, visitor
from retake.ui.session import (  # noqa: F401 - re-exported: the studio's public names
    AUDIO_TYPES,
    GENERATED,
    GRADIO_CACHE,
    IMAGE_TYPES,
    MAX_UPLOAD,
    SCRIPT_FILE_TYPES,
    SCRIPT_TYPES,
    VIDEO_TYPES,
    Cancelled,
    Session,
    check_type,
    cleared,
    no_telemetry,
    plain_error,
    private_copy,
    private_dir,
    seal,
    sealed,
    upload_name,
)
from retake.ui.stages import Stages
from retake.ui.studio_detect import DetectJobs, detect_tab
from retake.ui.studio_dub import DubJobs, dub_tab
from retake.ui.studio_face import FaceJobs, face_tab

log = logging.getLogger(__name__)


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


class Studio(FaceJobs, DubJobs, DetectJobs):
    """The studio's server side: sessions, the shared models, and the jobs."""

    def __init__(self, root: Path | None = None, max_idle: float = MAX_IDLE_S) -> None:
        """`root`: where sessions keep their files; by default a fresh private temporary
        folder, removed when the process exits. A given root must be (or become) a 0700
        folder of ours; it is kept, but what an earlier run left there longer than
        `max_idle` seconds ago is removed now (ui/cleanup.py), as are sessions idle that
        long later on (`prune`, run by the janitor `launch` starts)."""
        self.max_idle = float(max_idle)
        self.sessions_lock = threading.RLock()
        self.janitor: Janitor | None = None
        if root is None:
            self.root = Path(tempfile.mkdtemp(prefix="retake-studio-")).resolve()
            atexit.register(shutil.rmtree, self.root, ignore_errors=True)
        else:
            self.root = private_dir(Path(root)).resolve()
        self.sessions: dict[str, Session] = {}
        self.gate = FileGate(self.root, self.root / GRADIO_CACHE)
        self.stages = Stages()  # one job per stage (voice, face); the others wait in line
        self._editor = None
        self._models: dict[str, object] = {}
        if root is not None:
            prune(self)  # what an earlier run left behind

    def prune(self, now: float | None = None) -> list[str]:
        """Forget sessions idle longer than `max_idle` and remove their files (and any other
        folder under the root that old); returns the names removed."""
        return prune(self, now)

    # -------------------------------------------------------------- plumbing
    def session(self, request) -> Session:
        """This browser session's state and folder (created on first use)."""
        key = "".join(c for c in (getattr(request, "session_hash", None) or "local")
                      if c.isalnum())[:40] or "local"
        with self.sessions_lock:
            if key not in self.sessions:
                self.sessions[key] = Session(private_dir(self.root / key))
            s = self.sessions[key]
            s.last_used = time.time()
            return s

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

    def _keep(self, s: Session, path: str | os.PathLike, name: str | None = None) -> Path:
        """Copy an upload into the session's uploads folder under its own name, readable by
        us only (inputs are never modified); with `name`, also as `in-NAME.ext` in the
        session's folder (what the job reads). Returns the copy the job should read."""
        own = upload_name(path)
        kept = private_copy(path, s.uploads / own)
        s.names[str(kept)] = own
        if name is None:
            return kept
        job = s.folder / f"in-{name}{Path(path).suffix.lower()}"
        with contextlib.suppress(FileNotFoundError):
            job.unlink()
        try:
            os.link(kept, job)
        except OSError:
            private_copy(kept, job)
        s.names[str(job)] = s.names[job.name] = own
        return job

    @staticmethod
    def _ticker(s: Session, progress, unit: str = "steps"):
        """A `progress(stage, done, total)` callback that draws Gradio's bar and cancels."""
        def tick(stage: str, done: float, total: float) -> None:
            if s.cancel.is_set():
                raise Cancelled("cancelled")
            for lock in list(s.holding):
                lock.progress(done / total if total else 0.0)
            if progress is not None:
                progress((done, total) if total else 0, desc=stage, unit=unit)
        return tick

    def _hold(self, s: Session, progress, kind: str, *stages: str):
        """Hold the models of `stages` for this session's job of `kind`; while it waits in
        line, its progress bar says how many jobs are ahead and about how long they take;
        Cancel takes it out of the line."""
        def waiting(words: str) -> None:
            if progress is not None:
                progress(0.0, desc=words)

        def cancelled() -> bool:
            if s.cancel.is_set():
                raise Cancelled("cancelled")
            return False

        return self.stages.hold(stages, kind, waiting, cancelled, s.holding)

    def cancel(self, request: gr.Request, wait: float = 30.0) -> str:
        """Ask the session's running job to stop at its next progress step, and say when it
        has (or that it is still finishing its current step after `wait` seconds)."""
        s = self.session(request)
        s.cancel.set()
        with s.running:
            stopped = s.running.wait_for(lambda: s.jobs == 0, timeout=wait)
        if stopped:
            return "Cancelled. Nothing was written; change what you need and start again."
        return ("Cancelling… the step in progress stops at its next checkpoint; you can start "
                "again when it has")

    @staticmethod
    def consent_record(agreed: bool, ingredients: list = ()) -> Provenance:
        """The output's provenance (consent, ingredients), or an error asking for the
        confirmation."""
        from retake.ui.gate import require_consent

        return require_consent(bool(agreed), None, None, None, list(ingredients),
                               who="studio user", ask="tick the consent box first: Retake "
                               "edits a voice or a face only with the person's consent")

    # -------------------------------------------------------------- voice
    @sealed
    def analyse(self, audio: str | None, video: str | None, transcript: str, request,
                progress=None):
        """Load speech, transcribe if needed, align; return text, plot and word table."""
        from retake.align import load_audio, transcribe

        s = self.session(request)
        s.cancel.clear()
        src = check_type(video, VIDEO_TYPES, "a video") if video else \
            check_type(audio, AUDIO_TYPES + [".webm"], "an audio file")
        src = self._keep(s, src, "speech")
        sound = load_audio(src)
        text = (transcript or "").strip()
        with self._hold(s, progress, "analyse", "voice"):
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
        if sound.warnings:
            hide = [str(self.root), str(s.folder)]
            note += "\n\n" + "\n".join(
                f"- **Warning:** {plain_error(w, s.names, hide)}" for w in sound.warnings)
        return text, text, str(png), table, note

    @sealed
    def render(self, new_text: str, takes: int, request, progress=None, agreed: bool = False,
               picks: list[int] = ()):
        """Apply the text edit; return the edited audio, the files and the takes. `picks`:
        per synthesized span, the take to place (0 = best; "use this take")."""
        from retake.align.subtitles import write_subtitles
        from retake.voice import EditOptions, write_result

        s = self.session(request)
        s.cancel.clear()
        if s.recording is None:
            raise RetakeError("analyse a recording first")
        consent = self.consent_record(agreed)
        if not new_text.strip():
            raise RetakeError("the new text is empty")
        with self._hold(s, progress, "render", "voice"):
            if progress is not None:
                progress(0.1, desc="rendering")
            result = self.editor().edit(s.recording, new_text,
                                        EditOptions(takes=max(1, int(takes or 1)),
                                                    use_takes=tuple(picks)))
        n = 1 + max([int(p.stem[7:]) for p in s.folder.glob("edited-*.wav")
                     if p.stem[7:].isdigit()], default=0)
        out = s.folder / f"edited-{n}.wav"
        sources = sorted(s.folder.glob("in-speech.*"))[:1]
        paths = write_result(result, out, Provenance(consent.consent, tuple(sources)))
        files = [str(p) for p in paths.values()] + write_subtitles(result.alignment,
                                                                  out.with_suffix(""))
        rows = edit_rows(result.report, (result.samples, result.sample_rate))
        from retake.ui.takes import write_takes

        # Each other take in context, watermarked and signed like the edited file.
        alts = write_takes(result, out.with_suffix(""),
                           Provenance(consent.consent, tuple(sources)), picks)
        from retake.ui.hear import Rendered, hear_edits, takes_used

        heard = hear_edits(result, s.recording.samples, s.recording.sample_rate,
                           out.with_suffix(""), Provenance(consent.consent, tuple(sources)),
                           alts, picks)
        s.rendered = Rendered(new_text, max(1, int(takes or 1)), list(picks), heard)
        note = f"{GENERATED}: {out.name}"
        used = takes_used(s.rendered)
        if used:
            note += "\n\n" + used
        listen = edit_summary(result.report, (result.samples, result.sample_rate))
        if listen:
            note += "\n\n" + listen
        return str(out), files, rows, alts, note

    @staticmethod
    def _heard(s: Session, label: str | None):
        """The edit of the last render a choice on the page names (the first if none)."""
        r = s.rendered
        if r is None or not r.edits:
            return None
        return next((h for h in r.edits if h.label == label), r.edits[0])

    def hear(self, label: str | None, request, take: str | None = None):
        """One edit of the last render as the page plays it: original and edited with 2 s
        of context, its takes, and the take chosen (the one in the output if none)."""
        from retake.ui.hear import take_choices, take_number

        s = self.session(request)
        h = self._heard(s, label)
        if h is None:
            return (gr.update(choices=[], value=None), None, None,
                    gr.update(choices=[], value=None), None)
        choices = take_choices(h)
        k = take_number(take) or h.placed
        k = k if k in h.takes else h.placed
        pick = next((c for c in choices if take_number(c) == k), None)
        clip = (h.takes.get(k) or h.edited) if h.takes else None
        return (gr.update(choices=[e.label for e in s.rendered.edits], value=h.label),
                h.original, h.edited, gr.update(choices=choices, value=pick), clip)

    def use_take(self, label: str | None, take: str | None, request, progress=None,
                 agreed: bool = False):
        """Re-render the last edit with the chosen take placed for one edit (the same path
        as every render: watermarked, signed, its report saying which take it uses)."""
        from retake.ui.hear import take_number

        s = self.session(request)
        h = self._heard(s, label)
        if h is None:
            raise RetakeError("render an edit first, then choose one of its takes")
        k = take_number(take)
        if h.span is None or len(h.takes) < 2 or k not in h.takes:
            raise RetakeError("choose a take of an edit that has several (set Takes per new "
                              "span above 1 and render)")
        r = s.rendered
        picks = list(r.picks) + [0] * (h.span + 1 - len(r.picks))
        picks[h.span] = k - 1
        return self.render(r.text, r.takes, request, progress, agreed, picks)

    # -------------------------------------------------------------- face
    # -------------------------------------------------------------- page
    def guard(self, fn):
        """A page handler: its files must be the asking browser's own (uploaded by it, or a
        copy Gradio made of such an upload); the files it returns are published to that
        browser only; any error becomes a plain message naming the user's own files."""
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            request = signature.bind_partial(*args, **kwargs).arguments.get("request")
            who = visitor(request) if request is not None else None
            s = self.session(request)
            uploads = {}
            for value in list(args) + list(kwargs.values()):
                for path in _paths(value):
                    if self.gate.inside_root(path):
                        owners = self.gate.owner_of(path)
                        if (owners and who not in owners) or not (
                                owners or _under(path, self.gate.cache)):
                            raise gr.Error(f"{Path(path).name}: not uploaded from this page; "
                                           "upload it again", duration=None)
                    uploads[path] = Path(path).name
            try:
                out = fn(*args, **kwargs)
            except Cancelled:
                return gr.skip()  # the Cancel button's handler says so, without an error
            except RetakeError as exc:
                raise gr.Error(self.plain(str(exc), s, uploads), duration=None) from None
            except gr.Error:
                raise
            except Exception as exc:  # noqa: BLE001 - never show Python's internals
                log.exception("studio job failed")
                names = ", ".join(sorted(set(uploads.values()))) or "your files"
                raise gr.Error(f"Something went wrong while working on {names} "
                               f"({type(exc).__name__}); try again, or upload another "
                               "file", duration=None) from None
            return self._publish(out, s, who)
        return wrapped

    def plain(self, text: str, s: Session, uploads: dict[str, str] = ()) -> str:
        """An error message with the user's own file names in place of the server's."""
        names = {**dict(uploads), **s.names}
        return plain_error(text, names, [str(self.root), os.path.realpath(self.root),
                                         tempfile.gettempdir()])

    def _publish(self, value, s: Session, who: str | None):
        """Every file of the session's folder in a handler's result, as a copy only `who`
        can fetch."""
        if isinstance(value, tuple):
            return tuple(self._publish(v, s, who) for v in value)
        if isinstance(value, list):
            return [self._publish(v, s, who) for v in value]
        if isinstance(value, (str, os.PathLike)) and os.path.isabs(os.fspath(value)) \
                and _under(value, s.folder) and Path(value).is_file():
            copy = self.gate.publish(value, who)
            s.published.append(Path(copy).parent)
            return copy
        return value

    def build(self) -> gr.Blocks:
        """The Gradio page (no analytics; Gradio's upload cache inside our private root)."""
        no_telemetry()
        os.environ["GRADIO_TEMP_DIR"] = str(private_dir(self.root / GRADIO_CACHE))

        guard = self.guard

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
                    takes = gr.Slider(1, 5, value=1, step=1, label="Takes per new span",
                                      elem_id="takes")
                    render_btn = gr.Button("3. Render", variant="primary", elem_id="render")
                    cancel_v = gr.Button("Cancel")
                result_note = gr.Markdown(elem_id="voice-result")
                edited = gr.Audio(label=f"Edited ({GENERATED})", type="filepath",
                                  interactive=False, elem_id="edited-audio")
                edits_table = gr.Dataframe(headers=["edit", "text", "at (s)", "made by",
                                                    "heard", "check"],
                                           label="Edits (heard: an independent recogniser "
                                           "heard the new words and re-aligning finds them)",
                                           interactive=False, wrap=True,
                                           column_widths=["9%", "14%", "10%", "8%", "8%",
                                                          "51%"],
                                           elem_id="edits-table")
                downloads = gr.File(label="Export: wav, TextGrid, JSON, time map, report, "
                                    "SRT, WebVTT", file_count="multiple", interactive=False,
                                    elem_id="voice-files")
                alternatives = gr.File(label="Alternative takes of each new span, each with "
                                       "2 s of the edit around it (watermarked and signed)",
                                       file_count="multiple", interactive=False,
                                       elem_id="voice-takes")

                gr.Markdown("**Hear before you commit:** each edit with 2 s around it, the "
                            "original beside the edited; audition its takes and use one.")
                edit_pick = gr.Radio([], label="Edit", elem_id="edit-pick")
                with gr.Row():
                    ctx_orig = gr.Audio(label="Original (±2 s)", type="filepath",
                                        interactive=False, elem_id="ctx-original")
                    ctx_edit = gr.Audio(label=f"Edited (±2 s, {GENERATED})", type="filepath",
                                        interactive=False, elem_id="ctx-edited")
                with gr.Row():
                    take_pick = gr.Radio([], label="Takes of this edit", elem_id="take-pick")
                    take_audio = gr.Audio(label="This take in place (±2 s)", type="filepath",
                                          interactive=False, elem_id="take-audio")
                use_btn = gr.Button("Use this take", elem_id="use-take")
                contexts = gr.File(label="Each edit with 2 s around it: original and edited",
                                   file_count="multiple", interactive=False,
                                   elem_id="voice-context")
                hear_out = [edit_pick, ctx_orig, ctx_edit, take_pick, take_audio]

                @guard
                def do_analyse(a, v, t, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - Gradio injects it
                    return self.analyse(a, v, t, request, progress)

                def rendered(out, request):
                    r = self.session(request).rendered
                    clips = [p for h in (r.edits if r else []) for p in (h.original, h.edited)]
                    return (*out, *self.hear(None, request), clips)

                @guard
                def do_render(t, k, ok, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - Gradio injects it
                    return rendered(self.render(t, k, request, progress, ok), request)

                @guard
                def do_use(e, k, ok, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - Gradio injects it
                    return rendered(self.use_take(e, k, request, progress, ok), request)

                @guard
                def do_hear(e, request: gr.Request):
                    return self.hear(e, request)

                @guard
                def do_take(e, k, request: gr.Request):
                    return self.hear(e, request, k)[4]

                a_ev = cleared(analyse_btn.click(
                    do_analyse, [audio_in, video_in, transcript],
                    [transcript, new_text, words_png, words, status]))
                new_text.change(lambda old, new: word_diff(old or "", new or ""),
                                [transcript, new_text], diff)
                outs = [edited, downloads, edits_table, alternatives, result_note, *hear_out,
                        contexts]
                r_ev = cleared(render_btn.click(do_render, [new_text, takes, agreed], outs))
                u_ev = cleared(use_btn.click(do_use, [edit_pick, take_pick, agreed], outs))
                edit_pick.input(do_hear, [edit_pick], hear_out)
                take_pick.input(do_take, [edit_pick, take_pick], take_audio)
                cancel_v.click(self.cancel, None, result_note, cancels=[a_ev, r_ev, u_ev])
            face_tab(self, agreed)
            dub_tab(self, agreed)
            detect_tab(self, agreed)
        return page


class _Gated:
    """Starlette middleware: the studio's file gate in front of Gradio's routes."""

    def __init__(self, app, gate: FileGate) -> None:
        self.inner = gate.middleware(app)

    async def __call__(self, scope, receive, send):
        return await self.inner(scope, receive, send)


def _paths(value) -> list[str]:
    """The file paths among a handler's inputs (a path, or a list of them)."""
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _paths(v)]
    if isinstance(value, (str, os.PathLike)) and os.path.isabs(os.fspath(value)):
        return [os.fspath(value)]
    return []


def _under(path, folder) -> bool:
    real, top = os.path.realpath(path), os.path.realpath(folder)
    return real == top or real.startswith(top + os.sep)


def launch(host: str = "127.0.0.1", port: int = 7860, root: Path | None = None,
           block: bool = True, max_idle: float = MAX_IDLE_S) -> tuple[gr.Blocks, Studio]:
    """Start the studio's web server; returns the Gradio app and the Studio when not blocking.

    Sessions idle for `max_idle` seconds are forgotten and their files removed (checked every
    tenth of that, at most every 10 minutes).

    Nothing leaves the machine: no analytics or version check, and never a share tunnel
    (whatever GRADIO_SHARE says).
    """
    no_telemetry()
    studio = Studio(root, max_idle=max_idle)
    studio.janitor = Janitor(studio, every=min(600.0, max(1.0, max_idle / 10)))
    studio.janitor.start()
    page = studio.build()
    # Jobs of different stages run at once; a job whose stage is busy waits in the stage's
    # line (ui/stages.py) and says where it stands, so a few may enter at once.
    page.queue(default_concurrency_limit=4)
    from starlette.middleware import Middleware

    # No allowed_paths: the page gets copies in Gradio's cache, each served by the gate
    # (ui/serving.py) to the browser it was made for only.
    page.launch(server_name=host, server_port=port, max_file_size=MAX_UPLOAD,
                prevent_thread_lock=not block, show_error=True, inbrowser=False,
                quiet=True, share=False,
                app_kwargs={"middleware": [Middleware(_Gated, gate=studio.gate)]})
    return page, studio
