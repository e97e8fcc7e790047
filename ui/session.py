"""What every studio page shares: file types, the session's private folder and state,
plain-words errors (the user's own file names, never a server path), and the job wrapper
that seals a session's folder when a job ends."""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import re
import shutil
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from retake.core.errors import RetakeError
from retake.ui.project import Project

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


def sealed(method):
    """A Studio job that seals its session's folder when it ends, even on error."""
    signature = inspect.signature(method)

    @functools.wraps(method)
    def wrapped(self, *args, **kwargs):
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
    cancel: threading.Event = field(default_factory=threading.Event)
    running: threading.Condition = field(default_factory=threading.Condition)
    jobs: int = 0  # jobs of this session running now
    holding: list = field(default_factory=list)  # the stage locks its job holds now
    names: dict[str, str] = field(default_factory=dict)  # a stored copy -> the upload's name
    last_used: float = field(default_factory=time.time)  # for the clean-up (ui/cleanup.py)
    published: list[Path] = field(default_factory=list)  # its outputs' folders in the cache
    projects: list[Project] = field(default_factory=list)  # one per analysed recording
    project: Project | None = None  # the one the page shows
    live: object | None = None  # the Live tab's swapper (ui/studio_live.py)

    def open_project(self, name: str) -> Project:
        """A new project for the recording `name` (the user's file name), now the current
        one; a name already used gets a number."""
        taken = {p.name for p in self.projects}
        unique, n = name, 1
        while unique in taken:
            n += 1
            unique = f"{name} ({n})"
        self.project = Project(unique)
        self.projects.append(self.project)
        return self.project

    def pick_project(self, name: str | None) -> Project | None:
        """Make the project called `name` the current one (if there is one)."""
        self.project = next((p for p in self.projects if p.name == name), self.project)
        return self.project

    @property
    def uploads(self) -> Path:
        """The session's uploads, under their own names: all a script or the model box may
        name."""
        return private_dir(self.folder / "uploads")


def _delegate(name: str) -> property:
    """A Session attribute that is the current project's (None/empty without one)."""
    def get(self: Session):
        return getattr(self.project, name) if self.project else Project.__dataclass_fields__[
            name].default

    def put(self: Session, value) -> None:
        if self.project is None:
            self.open_project("recording")
        setattr(self.project, name, value)
    return property(get, put, doc=f"The current project's {name}.")


for _name in ("recording", "transcript", "text", "draft", "heard", "audio_url", "view",
              "rendered"):
    setattr(Session, _name, _delegate(_name))


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


def check_type(path: str | None, allowed: list[str], what: str) -> Path:
    if not path:
        raise RetakeError(f"give {what} first")
    p = Path(path)
    if p.suffix.lower() not in allowed:
        raise RetakeError(f"{p.name}: not {what}; upload one of {', '.join(allowed)}")
    return p



def cleared(event):
    """`event`, whose success closes the error toasts still shown."""
    event.success(None, None, None, js=CLEAR_ERRORS)
    return event
