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
import re
import shutil
import stat
import tempfile
import threading
import time
from dataclasses import dataclass, field
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
from retake.ui.request import EditRequest, check, resolve
from retake.ui.serving import FileGate, visitor
from retake.ui.stages import Stages

log = logging.getLogger(__name__)

AUDIO_TYPES = [".wav", ".mp3", ".m4a", ".flac", ".ogg", ".opus", ".aac"]
VIDEO_TYPES = [".mp4", ".mov", ".mkv", ".webm", ".avi"]
IMAGE_TYPES = [".png", ".jpg", ".jpeg", ".webp", ".bmp"]
SCRIPT_TYPES = [".yaml", ".yml", ".json"]
SCRIPT_FILE_TYPES = [".txt", ".lab"] + IMAGE_TYPES  # what a script may name besides
MAX_UPLOAD = "200mb"
GENERATED = "GENERATED with Retake — synthetic media"
GRADIO_CACHE = "gradio-cache"  # inside the root; the dash keeps it apart from session names
# Run in the page when an action succeeds: close the error toasts of earlier actions, so an
# old error never sits beside a later success. (Errors stay until then, or until closed.)
CLEAR_ERRORS = """() => {
  for (let i = 0; i < 20; i++) {
    const close = document.querySelector(".toast-body.error .toast-close, "
                                         + ".toast-body.error [data-testid=toast-close]");
    if (!close) break;
    close.click();
  }
}"""


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
        s = self.session(request)
        with s.running:
            s.jobs += 1
        try:
            return method(self, *args, **kwargs)
        finally:
            seal(s.folder)
            s.last_used = time.time()
            with s.running:
                s.jobs -= 1
                s.running.notify_all()
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
    running: threading.Condition = field(default_factory=threading.Condition)
    jobs: int = 0  # jobs of this session running now
    holding: list = field(default_factory=list)  # the stage locks its job holds now
    names: dict[str, str] = field(default_factory=dict)  # a stored copy -> the upload's name
    last_used: float = field(default_factory=time.time)  # for the clean-up (ui/cleanup.py)
    published: list[Path] = field(default_factory=list)  # its outputs' folders in the cache
    rendered: object | None = None  # the last render, to hear and re-render (ui/hear.py)

    @property
    def uploads(self) -> Path:
        """The session's uploads, under their own names: all a script or the model box may
        name."""
        return private_dir(self.folder / "uploads")


def upload_name(path: str | os.PathLike) -> str:
    """An upload's own file name, safe to use as a name in the uploads folder."""
    name = "".join(c if c.isalnum() or c in "._- " else "_" for c in Path(path).name)
    name = name.strip(" .")[:120]
    return name or "upload"


# Words of the CLI that the page does not have, and what the page offers instead.
PAGE_WORDS = [
    ("choose one with --source-face N (0 is the largest)",
     "upload a photo cropped to one face"),
    ("(--source PHOTO)", "(upload a source face photo)"),
    ("(--model MODEL)", "(upload a trained model's model.json and model.pt)"),
    ("give the recording's transcript with --transcript (or --draft to use `retake "
     "transcribe`'s draft as it is)", "type what it says now, or leave that box empty to "
     "transcribe it"),
    ("give the new text with --to, or operations with --edits (one of them)",
     "type what it should say"),
    ("--script already says what to change; drop --to/--edits",
     "the script already says what to change; empty the \"What it should say\" box"),
]
ACTION_WORDS = ("upload", "tick", "type", "give", "choose", "try", "use ", "crop", "record",
                "analyse", "leave", "write", "empty", "press", "wait")


def plain_error(text: str, names: dict[str, str], hide: list[str]) -> str:
    """An error as the page shows it: the user's own file names instead of the server's
    paths (`names`: stored path or name -> upload name; anything else under a folder in
    `hide` becomes its bare file name), no errno codes, no command-line options."""
    for stored, name in sorted(names.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(stored, name)
    for folder in sorted({h for h in hide if h}, key=len, reverse=True):
        text = re.sub(re.escape(folder) + r"[^\s'\",;:)\]]*",
                      lambda m: names.get(Path(m.group(0)).name, Path(m.group(0)).name)
                      or "the file", text)
    text = re.sub(r"\[Errno -?\d+\]\s*", "", text)
    for cli, page in PAGE_WORDS:
        text = text.replace(cli, page)
    text = re.sub(r"\s*\(?--[a-z][a-z-]*(?: [A-Z][A-Z,]*)?\)?", "", text).strip()
    if not any(w in text.lower() for w in ACTION_WORDS):
        text += " — upload another file, or try again"
    return text


def _check_type(path: str | None, allowed: list[str], what: str) -> Path:
    if not path:
        raise RetakeError(f"give {what} first")
    p = Path(path)
    if p.suffix.lower() not in allowed:
        raise RetakeError(f"{p.name}: not {what}; upload one of {', '.join(allowed)}")
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

    @_sealed
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
    def _swapper(self, s: Session, source: str | None, model: str):
        from retake.video.engines import build_swapper

        if model and model.strip():
            return build_swapper("autoencoder", model=self.model_folder(s, model))
        src = _check_type(source, IMAGE_TYPES, "a source photo")
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

    @_sealed
    def preview_swap(self, source: str | None, model: str, target: str | None, request,
                     agreed: bool = False, progress=None):
        """Swap one frame (the first with a face, or the image) for a quick look; like every
        face edit, only with consent."""
        from retake.video.media import is_image, read_frames, write_image
        from retake.video.swap import swap_image

        s = self.session(request)
        s.cancel.clear()
        consent = self.consent_record(agreed)
        tgt = _check_type(target, IMAGE_TYPES + VIDEO_TYPES, "a target image or video")
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
        with self._hold(s, progress, "swap", "face"):
            res = swap(tgt, out, self._swapper(s, source, model), self.models(), **kwargs)
        note = f"{GENERATED}: {res.swapped}/{res.frames} frames swapped"
        if is_image(tgt):
            return str(out), None, str(out), note
        return None, str(out), str(out), note

    # -------------------------------------------------------------- dub
    @_sealed
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
        vid = self._keep(s, _check_type(video, VIDEO_TYPES, "a video"), "dub")
        photo = _check_type(swap_photo, IMAGE_TYPES, "a photo") if swap_photo else None
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
        return str(out), res.outputs, f"{GENERATED}: mouth re-rendered on " \
            f"{res.mouth_frames} of {res.frames} frames"

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
        kept = [self._keep(s, _check_type(f, SCRIPT_TYPES + SCRIPT_FILE_TYPES,
                                          "a script or a file a script names"))
                for f in files]
        return next((k for k, f in zip(kept, files, strict=True) if f in scripts), None)

    # -------------------------------------------------------------- detect
    @_sealed
    def run_detect(self, file: str | None, transcript: str, request, progress=None):
        """The detector's report: summary, the HTML page inline, and downloads."""
        import html as html_lib

        from retake.awareness.detect import detect, write_report

        s = self.session(request)
        s.cancel.clear()
        src = self._keep(s, _check_type(file, AUDIO_TYPES + VIDEO_TYPES,
                                        "an audio or video file"), "detect")
        stages = ("voice", "face") if src.suffix.lower() in VIDEO_TYPES else ("voice",)
        with self._hold(s, progress, "detect", *stages):
            if progress is not None:
                progress(0.1, desc="examining")
            report = detect(src, transcript=(transcript or "").strip() or None,
                            models=self.models())
        n = len(list(s.folder.glob("detect-*"))) + 1
        jpath, hpath = write_report(report, s.folder / f"detect-{n}")
        frame = (f'<iframe title="report" style="width:100%;height:900px;border:0" '
                 f'srcdoc="{html_lib.escape(hpath.read_text())}"></iframe>')
        return f"```\n{report.summary()}\n```", frame, [str(jpath), str(hpath)]

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

        def cleared(event):
            """`event`, whose success closes the error toasts still shown."""
            event.success(None, None, None, js=CLEAR_ERRORS)
            return event

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
                dub_transcript = gr.Textbox(label="What it says now (empty: transcribe)",
                                            lines=2, elem_id="dub-transcript")
                dub_text = gr.Textbox(label="What it should say", lines=2, elem_id="dub-text")
                with gr.Row():
                    dub_btn = gr.Button("Dub", variant="primary", elem_id="dub")
                    cancel_d = gr.Button("Cancel")
                dub_note = gr.Markdown(elem_id="dub-result")
                dub_out = gr.Video(label=f"Dubbed ({GENERATED})", interactive=False)
                dub_files = gr.File(label="Download", file_count="multiple",
                                    interactive=False)
                @guard
                def do_dub(v, t, n, sc, ph, ok, request: gr.Request, progress=gr.Progress()):  # noqa: B008 - Gradio injects it
                    return self.run_dub(v, t, n, sc, ph, request, progress, ok)

                d_ev = cleared(dub_btn.click(
                    do_dub, [dub_video, dub_transcript, dub_text, dub_script, dub_photo,
                             agreed],
                    [dub_out, dub_files, dub_note]))
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

                cleared(det_btn.click(do_detect, [det_file, det_text],
                                      [det_summary, det_html, det_files]))
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
