"""Retake never writes over its inputs: every command refuses an output (or a sidecar) that
is an input, through symlinks and hard links too, before any heavy work; inputs stay
byte-identical."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from retake.core.atomic import refuse_inputs
from retake.core.errors import RetakeError

ROOT = Path(__file__).resolve().parents[1]
TEXT = "Please call Stella and ask her to bring these things with her from the store."


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def memo(tmp_path_factory):
    from retake.align.audio import write_wav
    from retake.align.espeak import synthesize

    folder = tmp_path_factory.mktemp("memo")
    s = synthesize(TEXT)
    wav = folder / "memo.wav"
    write_wav(wav, s.audio, s.sample_rate)
    (folder / "memo.txt").write_text(TEXT)
    return wav


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "retake", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300, env={**os.environ})


def test_refuse_inputs_sees_through_links(tmp_path):
    a = tmp_path / "a.wav"
    a.write_bytes(b"x")
    (tmp_path / "link.wav").symlink_to(a)
    os.link(a, tmp_path / "hard.wav")
    for out in (a, tmp_path / "link.wav", tmp_path / "hard.wav", tmp_path / "sub" / ".." / "a.wav"):
        with pytest.raises(RetakeError, match="overwrite the input"):
            refuse_inputs([out], [a])
    refuse_inputs([tmp_path / "b.wav"], [a, None, "inline transcript text"])


@pytest.mark.parametrize("args", [
    ["transcribe", "{wav}", "-o", "{wav}"],
    ["edit", "--consent", "{wav}", "-t", "{txt}", "--to", "Please call Bella.", "-o", "{wav}"],
    ["edit", "--consent", "{wav}", "-t", "{txt}", "--to", "Please call Bella.", "-o", "{link}"],
    ["edit", "--consent", "{folder}/out.wav", "-t", "{txt}", "--to", "x", "-o", "{folder}/out.wav"],
    ["align", "{wav}", "{folder}/memo.labels.txt", "-o", "{folder}/memo.txt"],
    ["align", "{wav}", "{folder}/memo.json", "-o", "{folder}/memo"],
    ["detect", "{wav}", "-o", "{wav}"],
    ["edit", "--consent", "{wav}", "-t", "{txt}", "--to", "Please call Bella.", "-o",
     "{folder}/x.mp3"],
], ids=["transcribe", "edit", "edit-symlink", "edit-sidecar", "align-transcript",
        "align-sidecar", "detect-file", "edit-not-wav"])
def test_commands_refuse_an_output_that_is_an_input(memo, tmp_path, args):
    folder = tmp_path
    wav = folder / "memo.wav"
    wav.write_bytes(memo.read_bytes())
    txt = folder / "memo.txt"
    txt.write_text(TEXT)
    (folder / "memo.json").write_text(TEXT)  # transcripts named like align's outputs
    (folder / "memo.labels.txt").write_text(TEXT)
    (folder / "out.wav").write_bytes(memo.read_bytes())
    (folder / "link.wav").symlink_to(wav)
    before = {p: _digest(p) for p in folder.iterdir() if p.is_file() and not p.is_symlink()}
    subs = {"wav": str(wav), "txt": str(txt), "link": str(folder / "link.wav"),
            "folder": str(folder)}
    r = _run(*[a.format(**subs) for a in args], cwd=tmp_path)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert r.stderr.strip().startswith("error:") and len(r.stderr.strip().splitlines()) == 1
    after = {p: _digest(p) for p in before}
    assert after == before  # every input byte-identical


def test_outputs_honour_the_umask(memo, tmp_path):
    """CLI outputs get the mode any new file gets (they were 0600 whatever the umask)."""
    out = tmp_path / "memo"
    old = os.umask(0o022)
    try:
        r = _run("align", str(memo), TEXT, "-o", str(out), cwd=tmp_path)
    finally:
        os.umask(old)
    assert r.returncode == 0, r.stderr
    mode = stat.S_IMODE((tmp_path / "memo.json").stat().st_mode)
    assert mode == 0o644, oct(mode)


def test_signing_keys_stay_private(tmp_path):
    from retake.awareness.provenance import ensure_local_identity

    old = os.umask(0o022)
    try:
        ensure_local_identity(tmp_path / "keys")
    finally:
        os.umask(old)
    for name in ("root.key", "signer.key"):
        assert stat.S_IMODE((tmp_path / "keys" / name).stat().st_mode) == 0o600


def test_swap_refuses_to_overwrite_its_source_photo(tmp_path):
    import skimage.data

    from retake.video.media import write_image

    photo = tmp_path / "photo.png"
    write_image(photo, np.ascontiguousarray(skimage.data.astronaut()))
    target = tmp_path / "target.png"
    write_image(target, np.ascontiguousarray(skimage.data.astronaut()[:, ::-1]))
    before = _digest(photo)
    r = _run("swap", "--consent", "--source", str(photo), "--target", str(target), "-o",
             str(photo), cwd=tmp_path)
    assert r.returncode == 1 and "overwrite the input" in r.stderr
    assert _digest(photo) == before


def test_a_failed_signature_publishes_nothing(tmp_path, monkeypatch):
    """Signing happens before publishing: when it fails (an unusable keys folder), no
    playable, unsigned fake is left at the output path, and no temporary file either."""
    import skimage.data

    from retake.awareness.provenance import Provenance, ProvenanceError
    from retake.video.faces import FaceModels
    from retake.video.media import write_image
    from retake.video.swap import swap
    from retake.video.swap_landmark import LandmarkSwapper, source_face

    bad_keys = tmp_path / "keys-file"
    bad_keys.write_text("not a folder")
    monkeypatch.setenv("RETAKE_KEYS", str(bad_keys))
    models = FaceModels()
    src = np.ascontiguousarray(skimage.data.astronaut()[:, ::-1])
    target = tmp_path / "target.png"
    write_image(target, np.ascontiguousarray(skimage.data.astronaut()))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(ProvenanceError):
        swap(target, out_dir / "swapped.png", LandmarkSwapper(src, source_face(src, models)),
             models, provenance=Provenance())
    assert list(out_dir.iterdir()) == []
