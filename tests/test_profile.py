"""Voice profiles: more of the speaker for unit selection, saved and loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from retake.align import Audio
from retake.align.audio import write_wav
from retake.voice import EditOptions, Editor
from retake.voice.profile import VoiceProfile, build_profile, load_profile, save_profile

EXTRA = [
    "Jolly yaks enjoy the boisterous joy of the zoo.",
    "The loyal cowboy showed how the crowd should pause.",
]


def test_profile_adds_phones_the_recording_lacks(tmp_path, speech):
    # the edited recording has no "OY" and no "Y"; the profile does
    main_text = "Bring the red pen to the desk near the window, then sit."
    synth, _ = speech(main_text)
    editor = Editor()
    rec = editor.load(Audio(synth.audio, synth.sample_rate), main_text)
    profile = build_profile("tester", _extra_recordings(tmp_path, speech), editor)
    summary = profile.summary()
    assert summary["minutes"] > 0.05
    assert "OY" not in summary["missing_phones"]
    folder = save_profile(profile, tmp_path / "voices" / "tester")
    again = load_profile(folder)
    assert isinstance(again, VoiceProfile) and len(again.recordings) == 2

    new = main_text.replace("red pen", "loyal pen")
    alone = editor.edit(rec, new, EditOptions(verify=False))
    helped = editor.edit(rec, new, EditOptions(verify=False), voices=again.recordings)
    alone_span = {e.text: e for e in alone.report.edits}["loyal"]
    helped_span = {e.text: e for e in helped.report.edits}["loyal"]
    # No OY in the recording itself: the speaker's nearest vowel stands in for it alone,
    # every other phone of the word is still the speaker's own; the profile supplies a real OY.
    assert alone_span.engine == "units" and alone_span.substituted
    assert any(s.startswith("OY→") for s in alone_span.substituted), alone_span.substituted
    assert helped_span.engine == "units" and not helped_span.substituted


def _extra_recordings(folder: Path, speech) -> list[Path]:
    """More recordings of the (espeak) speaker, each with its transcript beside it."""
    files = []
    for k, text in enumerate(EXTRA):
        s, _ = speech(text)
        wav = folder / f"extra{k}.wav"
        write_wav(wav, s.audio, s.sample_rate)
        wav.with_suffix(".txt").write_text(text)
        files.append(wav)
    return files


def test_cli_builds_and_uses_a_profile(tmp_path, speech):
    env = {**os.environ, "RETAKE_CACHE": str(tmp_path / "cache"),
           "RETAKE_DATA": str(tmp_path / "data"), "COLUMNS": "200"}
    files = [str(f) for f in _extra_recordings(tmp_path, speech)]

    def run(*args):
        return subprocess.run([sys.executable, "-m", "retake", *args], capture_output=True,
                              text=True, cwd=ROOT, env=env, timeout=300)

    r = run("voice", "build", "tester", *files)
    assert r.returncode == 0, r.stderr
    assert "min of speech" in r.stdout
    assert (Path(env["RETAKE_DATA"]) / "voices" / "tester" / "profile.json").exists()
    main_text = "Bring the red pen to the desk near the window, then sit."
    s, _ = speech(main_text)
    wav = tmp_path / "main.wav"
    write_wav(wav, s.audio, s.sample_rate)
    r = run("edit", "--consent", str(wav), "-t", main_text, "--to",
            main_text.replace("red", "loyal"),
            "--voice", "tester", "-o", str(tmp_path / "out.wav"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.wav").exists() and (tmp_path / "out.timemap.json").exists()
    r = run("edit", "--consent", str(wav), "-t", main_text, "--to", main_text, "-o",
            str(tmp_path / "same.wav"))
    assert r.returncode == 1 and "same words" in r.stderr
    assert not (tmp_path / "same.wav").exists()


def test_saving_a_profile_never_deletes_a_folder_retake_did_not_write(tmp_path, speech):
    """`voice build --folder DIR` on an existing folder: refused, nothing deleted (it once
    removed the folder with the user's files and even the input recordings in it)."""
    from retake.core.errors import RetakeError
    from retake.voice import Editor
    from retake.voice.profile import build_profile, save_profile

    s, _ = speech(EXTRA[0])
    mine = tmp_path / "mine"
    (mine / "sub").mkdir(parents=True)
    (mine / "notes.txt").write_text("my notes")
    (mine / "sub" / "keep.txt").write_text("keep")
    wav = mine / "take.wav"
    write_wav(wav, s.audio, s.sample_rate)
    wav.with_suffix(".txt").write_text(EXTRA[0])
    profile = build_profile("p", [wav], Editor())
    with pytest.raises(RetakeError, match="not a Retake voice profile"):
        save_profile(profile, mine)
    assert (mine / "notes.txt").read_text() == "my notes"
    assert (mine / "sub" / "keep.txt").exists() and wav.exists()
    # A profile Retake wrote may be replaced; one the user added a file to may not.
    folder = save_profile(profile, tmp_path / "p")
    assert save_profile(profile, folder) == folder
    (folder / "extra.txt").write_text("x")
    with pytest.raises(RetakeError):
        save_profile(profile, folder)
    assert (folder / "extra.txt").exists()
    # Through the CLI: one error line, exit 1, the folder intact.
    r = subprocess.run([sys.executable, "-m", "retake", "voice", "build", "p", str(wav),
                        "--folder", str(mine)], capture_output=True, text=True, cwd=ROOT,
                       timeout=300)
    assert r.returncode == 1 and "error" in r.stderr
    assert (mine / "notes.txt").exists() and wav.exists()


def test_a_damaged_profile_is_one_error_line(tmp_path, speech):
    """Crafted or truncated profile files: one RetakeError, never a traceback."""
    from retake.core.errors import RetakeError

    folder = save_profile(build_profile("p", _extra_recordings(tmp_path, speech)[:1], Editor()),
                          tmp_path / "p")
    (folder / "source_000.json").write_text('{"words": [')  # truncated
    with pytest.raises(RetakeError, match="damaged voice profile"):
        load_profile(folder)
    (folder / "source_000.flac").write_bytes(b"not audio")
    with pytest.raises(RetakeError, match="damaged voice profile"):
        load_profile(folder)
    (folder / "profile.json").write_text("[1, 2]")
    with pytest.raises(RetakeError, match="not a Retake voice profile"):
        load_profile(folder)
