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
import functools
import hashlib
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

from retake.awareness.provenance import Provenance
from retake.core.errors import RetakeError
from retake.ui import word_editor
from retake.ui.cleanup import MAX_IDLE_S, Janitor, prune
from retake.ui.edit_notes import LOW_CONFIDENCE, edit_rows
from retake.ui.edit_notes import summary as edit_summary
from retake.ui.project import Render
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
from retake.ui.studio_live import LiveJobs, live_tab

log = logging.getLogger(__name__)


class Studio(FaceJobs, DubJobs, DetectJobs, LiveJobs):
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
        """This browser's state and folder (created on first use). A browser is known by the
        studio's cookie (ui/serving.py), so reloading the page keeps its work; a caller
        without the cookie (Python, a test) by Gradio's session hash. The folder is named by
        a hash of the cookie, never the cookie itself."""
        who = visitor(request)
        if who:
            key = "b" + hashlib.sha256(who.encode()).hexdigest()[:32]
        else:
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
        """Load speech, transcribe if needed (a draft, checked by a second recogniser),
        align; return the text twice (what it says, what it should say), the editor's
        document, the word table and a note."""
        from retake.align import load_audio, transcribe

        s = self.session(request)
        s.cancel.clear()
        src = check_type(video, VIDEO_TYPES, "a video") if video else \
            check_type(audio, AUDIO_TYPES + [".webm"], "an audio file")
        src = self._keep(s, src, "speech")
        sound = load_audio(src)
        text = (transcript or "").strip()
        draft: list[str] | None = None
        with self._hold(s, progress, "analyse", "voice"):
            if not text:
                words = transcribe(sound, progress=self._ticker(s, progress, "s of audio")).words
                text, draft = " ".join(w.text for w in words), [w.text for w in words]
            rec = self.editor().load(sound, text, progress=self._ticker(s, progress,
                                                                        "s of audio"))
            heard = self._second_opinion(sound, rec.alignment, draft) if draft else None
        project = s.open_project(s.names.get(str(src), src.name))
        project.recording, project.transcript, project.text = rec, text, text
        project.draft, project.heard = bool(draft), heard
        s.audio_url = self._listen_copy(s, sound, f"speech-view-{len(s.projects)}.wav",
                                        request)
        words = rec.alignment.aligned_words()
        table = [[w.text, round(w.start, 2), round(w.end, 2), round(w.confidence, 2)]
                 for w in words]
        low = sum(1 for w in words if w.confidence < LOW_CONFIDENCE)
        note = f"{len(words)} words aligned" + (
            f"; {low} the aligner is unsure of (dotted underline)" if low else "")
        if draft:
            odd = sum(1 for h in heard or [] if h is not None)
            note = ("**DRAFT transcript from speech recognition: check it before editing.** "
                    + (f"{odd} words a second recogniser heard differently (wavy underline). "
                       if odd else "") + note)
        if sound.warnings:
            hide = [str(self.root), str(s.folder)]
            note += "\n\n" + "\n".join(
                f"- **Warning:** {plain_error(w, s.names, hide)}" for w in sound.warnings)
        project.analysed = (table, note)
        return text, text, self.editor_document(s, text), table, note

    def sample(self, request, progress=None):
        """The first minute: the built-in voiceover (spoken on this machine by the neural
        voice `make demo` uses), analysed like an upload, with an edit to try."""
        from retake.ui.demo import SAMPLE_TEXT, speak_sample

        s = self.session(request)
        wav = s.folder / "retake-sample.wav"
        if not wav.exists():
            import soundfile as sf

            if progress is not None:
                progress(0.05, desc="speaking the sample")
            samples, rate = speak_sample()
            tmp = wav.with_suffix(".tmp.wav")
            sf.write(tmp, samples, rate, subtype="PCM_16")
            os.replace(tmp, wav)
        s.names[str(wav)] = "retake-sample.wav"
        *out, note = self.analyse(str(wav), None, SAMPLE_TEXT, request, progress)
        note += ("\n\nThis is Retake's built-in sample. Try it: click “Zurich” in the "
                 "transcript below, type “Geneva”, then press **3. Render**.")
        s.project.analysed = (s.project.analysed[0], note)
        return (*out, note)

    @staticmethod
    def _second_opinion(sound, alignment, draft: list[str]) -> list[str | None] | None:
        """What pocketsphinx hears where it disagrees with Whisper's draft, per word (None
        where it agrees); None when it cannot run."""
        from retake.align import transcribe
        from retake.ui.word_editor import disagreements, word_flags

        try:
            second = [w.text for w in transcribe(sound, engine="pocketsphinx").words]
        except Exception:  # noqa: BLE001 - a second opinion is a bonus, never a failure
            log.warning("the second recogniser could not run", exc_info=True)
            return None
        return word_flags(alignment, draft, disagreements(draft, second))

    def _listen_copy(self, s: Session, sound, name: str, request) -> str:
        """A 16-bit WAV of `sound` for the page's player, published to the asking browser
        only; returns its URL."""
        import soundfile as sf

        from retake.align.audio import resample
        from retake.ui.word_editor import file_url

        rate = min(int(sound.sample_rate), 22050)
        path = s.folder / name
        tmp = path.with_suffix(".tmp.wav")
        sf.write(tmp, resample(sound.samples, sound.sample_rate, rate), rate,
                 subtype="PCM_16")
        os.replace(tmp, path)
        copy = self.gate.publish(path, visitor(request))
        s.published.append(Path(copy).parent)
        return file_url(copy)

    def editor_document(self, s: Session, text: str) -> str:
        """The transcript editor's JSON document for the session's recording and `text`."""
        from retake.ui.word_editor import document

        if s.recording is None:
            return ""
        try:
            segments = self.editor().pending(s.recording, text)
        except RetakeError:
            segments = self.editor().pending(s.recording, s.transcript)
        return document(s.recording.alignment, s.audio_url, segments, s.draft, s.heard,
                        s.view, s.project.name)

    @staticmethod
    def _project(s: Session, name: str | None):
        """The project an editor on the page shows (the current one if it names none)."""
        return next((p for p in s.projects if p.name == name), None) if name else s.project

    def pending(self, text: str, request, project: str | None = None) -> list[dict]:
        """What rendering `text` would change (the editor calls this as the user types)."""
        p = self._project(self.session(request), project)
        if p is None or p.recording is None:
            return []
        try:
            segments = [x.to_dict() for x in self.editor().pending(p.recording, text or "")]
            p.note_text(text or "")
            return segments
        except RetakeError:
            return [x.to_dict() for x in self.editor().pending(p.recording, p.transcript)]

    def set_bounds(self, move: dict, request) -> dict:
        """A dragged word edge: move word `i` to [s, e) and re-derive the units the edits
        draw from; returns the words that moved and a note."""
        from retake.align.bounds import move_word
        from retake.voice.analysis import build_units

        s = self.session(request)
        p = self._project(s, move.get("project"))
        if p is None or p.recording is None:
            raise RetakeError("analyse a recording first")
        with s.running:
            al = p.recording.alignment
            i = int(move["i"])
            changed = move_word(al, i, float(move["s"]), float(move["e"]))
            p.recording.units = build_units(p.recording)
        w = al.words[i]
        return {"words": {str(k): {"s": round(a, 3), "e": round(b, 3)}
                          for k, (a, b) in changed.items()},
                "note": f"\u201c{w.text}\u201d now {w.start:.2f}\u2013{w.end:.2f} s; "
                        "renders from now on cut there"}

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
        copy = self.gate.publish(out, visitor(request))
        s.published.append(Path(copy).parent)
        from retake.ui.word_editor import file_url

        s.view = {"url": file_url(copy), "timemap": [list(k) for k in result.timemap.knots],
                  "edits": [{"s": round(e.start, 3), "e": round(e.end, 3),
                             "label": f"{e.kind}: {e.text}" if e.text else e.kind}
                            for e in result.report.edits], "text": new_text}
        s.project.note_text(new_text)
        s.project.renders.append(Render(out.name, new_text, (), s.view, s.rendered))
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

    NO_RENDER = (None, [], [], [], "", gr.update(choices=[], value=None), None, None,
                 gr.update(choices=[], value=None), None, [])

    def page_state(self, request, render: Render | None = None) -> tuple:
        """Everything the Voice tab shows for the current project (and `render`, by default
        its last): what a reload, a project switch or a pick from the history puts back."""
        s = self.session(request)
        p = s.project
        if p is None or p.recording is None:
            return (gr.skip(),) * (5 + len(self.NO_RENDER) + 2)
        render = render or (p.renders[-1] if p.renders else None)
        if render is not None:
            p.view, p.rendered = render.view, render.rendered
        table, note = p.analysed or ([], "")
        shown = render.outputs if render is not None and render.outputs else self.NO_RENDER
        return (p.transcript, p.text, self.editor_document(s, p.text), table, note, *shown,
                gr.update(choices=[q.name for q in s.projects], value=p.name),
                gr.update(choices=[p.render_label(r) for r in p.renders],
                          value=p.render_label(render) if render is not None else None))

    def pick_render(self, label: str | None, request) -> tuple:
        """An earlier render from the history: its audio, files and text, to go on from."""
        s = self.session(request)
        p = s.project
        r = next((r for r in (p.renders if p else []) if p.render_label(r) == label), None)
        if r is None:
            raise RetakeError("choose a render from the list")
        p.note_text(r.text)
        return self.page_state(request, r)

    def undo(self, back: bool, request) -> tuple[str, str]:
        """Undo or redo one change of the text; returns the text and the editor's document."""
        s = self.session(request)
        if s.project is None:
            return gr.skip(), gr.skip()
        text = s.project.step(back)
        return text, self.editor_document(s, text)

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
            def pending(ask, request: gr.Request):
                """The edit engine's pending edits for the editor's text."""
                ask = ask[0] if isinstance(ask, list) else ask
                if isinstance(ask, dict):
                    return self.pending(ask.get("text", ""), request, ask.get("project"))
                return self.pending(ask, request)

            def set_bounds(move, request: gr.Request):
                """A word edge dragged on the waveform."""
                move = move[0] if isinstance(move, list) else move
                try:
                    return self.set_bounds(move, request)
                except (RetakeError, KeyError, TypeError, ValueError) as exc:
                    return {"note": f"That boundary did not move: {exc}"}

            with gr.Tab("Voice"):
                # The three steps fit a 1366x768 screen before analysing: inputs and step 1 on
                # one row, the editor (hidden until then), step 3 right under it.
                with gr.Row(equal_height=False):
                    audio_in = gr.Audio(sources=["upload", "microphone"], type="filepath",
                                        elem_id="speech-in", label="Speech (upload or record)",
                                        scale=3)
                    video_in = gr.File(label="…or a video (its speech is used)",
                                       file_types=VIDEO_TYPES, type="filepath", scale=2,
                                       height=150)
                    with gr.Column(scale=4):
                        transcript = gr.Textbox(label="What it says now (leave empty to "
                                                "transcribe)", lines=2, max_lines=6,
                                                elem_id="transcript")
                        with gr.Row():
                            analyse_btn = gr.Button("1. Transcribe and align",
                                                    variant="primary", elem_id="analyse",
                                                    scale=3)
                            sample_btn = gr.Button("Try a sample", elem_id="try-sample",
                                                   scale=2)
                status = gr.Markdown(elem_id="voice-status")
                gr.Markdown("**2. Edit the transcript**: click a word to play from it; select "
                            "words and type to replace them, Delete cuts; drag a word's edge "
                            "on the waveform to correct it.")
                editor = word_editor.component(pending, set_bounds)
                with gr.Row(equal_height=True):
                    takes = gr.Slider(1, 5, value=1, step=1, label="Takes per new span",
                                      elem_id="takes", scale=2)
                    render_btn = gr.Button("3. Render", variant="primary", elem_id="render",
                                           scale=2)
                    cancel_v = gr.Button("Cancel", scale=1)
                    undo_btn = gr.Button("Undo", elem_id="undo", scale=1)
                    redo_btn = gr.Button("Redo", elem_id="redo", scale=1)
                new_text = gr.Textbox(label="The new text (the editor writes here; you may "
                                      "type here too)", lines=1, max_lines=6,
                                      elem_id="new-text")
                with gr.Row():
                    project_pick = gr.Dropdown([], label="Project (each recording you "
                                               "analysed)", elem_id="project-pick", scale=2)
                    history_pick = gr.Dropdown([], label="Render history (pick one to hear "
                                               "it and go on from it)", elem_id="history",
                                               scale=3)
                with gr.Accordion("Word timings (table)", open=False):
                    words = gr.Dataframe(headers=["word", "start", "end", "confidence"],
                                         label="Words", interactive=False)
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
                                    "SRT, WebVTT, OpenTimelineIO", file_count="multiple",
                                    interactive=False, elem_id="voice-files")
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
                    s = self.session(request)
                    values = (*out, *self.hear(None, request), clips)
                    if s.project and s.project.renders:
                        s.project.renders[-1].outputs = values
                    p = s.project
                    history = gr.update(choices=[p.render_label(x) for x in p.renders],
                                        value=p.render_label(p.renders[-1]))
                    return (*values, self.editor_document(s, s.text), history)

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
                    [transcript, new_text, editor, words, status]))
                outs = [edited, downloads, edits_table, alternatives, result_note, *hear_out,
                        contexts, editor, history_pick]
                state = [transcript, new_text, editor, words, status, edited, downloads,
                         edits_table, alternatives, result_note, *hear_out, contexts,
                         project_pick, history_pick]
                r_ev = cleared(render_btn.click(do_render, [new_text, takes, agreed], outs))
                u_ev = cleared(use_btn.click(do_use, [edit_pick, take_pick, agreed], outs))
                edit_pick.input(do_hear, [edit_pick], hear_out)
                take_pick.input(do_take, [edit_pick, take_pick], take_audio)
                cancel_v.click(self.cancel, None, result_note, cancels=[a_ev, r_ev, u_ev])

                @guard
                def do_state(request: gr.Request):
                    return self.page_state(request)

                @guard
                def do_project(name, request: gr.Request):
                    self.session(request).pick_project(name)
                    return self.page_state(request)

                @guard
                def do_history(label, request: gr.Request):
                    return self.pick_render(label, request)

                def do_undo(request: gr.Request):
                    return self.undo(True, request)

                def do_redo(request: gr.Request):
                    return self.undo(False, request)

                @guard
                def do_sample(request: gr.Request, progress=gr.Progress()):  # noqa: B008 - Gradio injects it
                    return self.sample(request, progress)

                s_ev = cleared(sample_btn.click(
                    do_sample, None, [transcript, new_text, editor, words, status]))
                # After analysing: the last project's render outputs cleared and the project
                # list updated, never the text (the user may already be typing in it).
                @guard
                def do_opened(request: gr.Request):
                    return self.page_state(request)[5:]

                s_ev.success(do_opened, None, state[5:])
                a_ev.success(do_opened, None, state[5:])
                page.load(do_state, None, state)
                project_pick.input(do_project, project_pick, state)
                history_pick.input(do_history, history_pick, state)
                undo_btn.click(do_undo, None, [new_text, editor])
                redo_btn.click(do_redo, None, [new_text, editor])
            face_tab(self, agreed)
            dub_tab(self, agreed, pending, set_bounds)
            detect_tab(self, agreed)
            live_tab(self, agreed)
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
