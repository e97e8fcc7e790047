"""Voice profiles: more recordings of the same speaker, for better units.

The recording being edited is often short (a 20 s memo); more of the same speaker gives
unit selection more to choose from. A profile is a folder holding each source recording
(FLAC) with its alignment (JSON) and a `profile.json` summary: how many minutes it holds,
which phones it lacks entirely, and which common diphones it has never heard. Profiles live
in the user's data folder (`retake.core.cache.user_data_dir()`/voices/NAME) unless a
folder is given. Saving never deletes a folder Retake did not write.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retake.align.g2p import ARPABET
from retake.align.types import Alignment
from retake.core.errors import RetakeError
from retake.voice.analysis import Recording, analyse

FORMAT = "retake.voice-profile"


@dataclass
class VoiceProfile:
    """A named set of analysed recordings of one speaker."""

    name: str
    recordings: list[Recording]

    def summary(self) -> dict:
        """Minutes of speech, phone and diphone coverage, and what is missing."""
        units = [u for r in self.recordings for u in r.units]
        phones = {u.label for u in units}
        diphones = {(u.label, r.units[u.next_index].label) for r in self.recordings
                    for u in r.units if u.next_index is not None}
        common = _common_diphones()
        missing_di = [f"{a}-{b}" for (a, b), _ in common if (a, b) not in diphones]
        return {
            "format": FORMAT,
            "name": self.name,
            "recordings": len(self.recordings),
            "minutes": round(sum(u.duration for u in units) / 60.0, 2),
            "phones": len(phones),
            "missing_phones": sorted(set(ARPABET) - phones),
            "diphone_coverage": round(1 - len(missing_di) / max(len(common), 1), 3),
            "missing_common_diphones": missing_di[:30],
        }


def _common_diphones(top: int = 400) -> list[tuple[tuple[str, str], int]]:
    """The most frequent within-word diphones of the pronouncing dictionary."""
    import pocketsphinx

    counts: dict[tuple[str, str], int] = {}
    path = pocketsphinx.get_model_path("en-us/cmudict-en-us.dict")
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            ph = line.split()[1:]
            for a, b in zip(ph, ph[1:], strict=False):
                counts[(a, b)] = counts.get((a, b), 0) + 1
    return sorted(counts.items(), key=lambda kv: -kv[1])[:top]


def profiles_dir(data_dir: Path | None = None) -> Path:
    """Where named profiles are kept: the user's data folder (not the cache: a profile is
    the user's own work and must survive `retake cache clear`)."""
    from retake.core.cache import user_data_dir

    return Path(data_dir or user_data_dir()) / "voices"


MAX_SOURCE_S = 3 * 3600  # one source recording of a profile, at most

_PROFILE_FILE = re.compile(r"^(profile\.json|source_\d{3}\.(flac|json))$")


def _replaceable(folder: Path) -> bool:
    """True when `folder` is absent, empty, or a profile Retake wrote holding nothing else."""
    if not folder.exists():
        return True
    if folder.is_symlink() or not folder.is_dir():
        return False
    names = [p.name for p in folder.iterdir()]
    if not names:
        return True
    try:
        meta = json.loads((folder / "profile.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (isinstance(meta, dict) and meta.get("format") == FORMAT
            and all(_PROFILE_FILE.match(n) for n in names))


def save_profile(profile: VoiceProfile, folder: str | os.PathLike) -> Path:
    """Write a profile folder atomically (built beside it, then renamed into place)."""
    import soundfile as sf

    folder = Path(folder)
    if not _replaceable(folder):
        raise RetakeError(f"{folder}: exists and is not a Retake voice profile; Retake never "
                          "deletes a folder it did not make: give a new folder")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        for k, rec in enumerate(profile.recordings):
            sf.write(tmp / f"source_{k:03d}.flac", rec.samples, rec.sample_rate)
            (tmp / f"source_{k:03d}.json").write_text(rec.alignment.to_json(), encoding="utf-8")
        (tmp / "profile.json").write_text(json.dumps(profile.summary(), indent=1) + "\n",
                                          encoding="utf-8")
        old = None
        if folder.exists():  # an empty folder or a profile Retake wrote (checked above)
            old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old.", dir=folder.parent))
            os.replace(folder, old / "profile")
        os.replace(tmp, folder)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def load_profile(folder: str | os.PathLike) -> VoiceProfile:
    """Read a profile folder written by `save_profile`."""
    import soundfile as sf

    folder = Path(folder)
    meta_path = folder / "profile.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise RetakeError(f"{folder}: not a Retake voice profile (no readable profile.json)"
                          ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise RetakeError(f"{folder}: not a Retake voice profile")
    recs = []
    for audio_path in sorted(folder.glob("source_*.flac")):
        if audio_path.is_symlink():
            raise RetakeError(f"{audio_path}: a voice profile holds no links; build it again")
        try:
            info = sf.info(str(audio_path))
            if not 8000 <= info.samplerate <= 192000 or info.duration > MAX_SOURCE_S:
                raise ValueError(f"{info.samplerate} Hz, {info.duration:.0f} s")
            samples, sr = sf.read(audio_path, dtype="float32")
            if samples.ndim != 1:
                raise ValueError("not mono")
            al = Alignment.from_json(audio_path.with_suffix(".json").read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError, RecursionError, RuntimeError,
                sf.LibsndfileError) as exc:
            why = str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__
            raise RetakeError(f"{audio_path}: damaged voice profile source ({why}); build the "
                              "profile again") from None
        recs.append(analyse(np.asarray(samples, np.float32), sr, al))
    if not recs:
        raise RetakeError(f"{folder}: the voice profile holds no recordings; build it again")
    return VoiceProfile(str(meta.get("name", folder.name))[:100], recs)


def resolve_voice(arg: str, editor, data_dir: Path | None = None) -> list[Recording]:
    """`--voice` value: a profile name, a profile folder, or an audio file of the speaker
    (its transcript taken from FILE.txt / FILE.lab beside it, or drafted by recognition)."""
    path = Path(arg)
    named = profiles_dir(data_dir) / arg
    if (path / "profile.json").exists():
        return load_profile(path).recordings
    if (named / "profile.json").exists():
        return load_profile(named).recordings
    if path.is_file():
        return [recording_from_file(path, editor)]
    raise RetakeError(f"--voice {arg}: no such voice profile or audio file (build one with "
                      "`retake voice build NAME FILES...`)")


def recording_from_file(path: Path, editor) -> Recording:
    """Align and analyse one recording of the speaker, with its transcript if it has one."""
    from retake.align import load_audio
    from retake.align import transcribe as run_transcribe

    audio = load_audio(path)
    text = None
    for ext in (".txt", ".lab"):
        side = path.with_suffix(ext)
        if side.exists():
            text = side.read_text(encoding="utf-8")
            break
    drafted = text is None
    if drafted:
        text = run_transcribe(audio, language=editor.language).text
    # A draft is the recogniser's own hearing: checking it against itself proves nothing.
    return editor.load(audio, text, min_seconds=0.5, check_transcript=not drafted)


def build_profile(name: str, files: list[Path], editor) -> VoiceProfile:
    """A profile from recordings of one speaker (see `recording_from_file`)."""
    if not files:
        raise RetakeError("give at least one recording to build a voice profile from")
    return VoiceProfile(name, [recording_from_file(Path(f), editor) for f in files])
