"""Content Credentials: sign wav and mp4 offline, read them back, and catch tampering."""

from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("c2pa")
pytest.importorskip("cryptography")

from retake.align.audio import write_wav  # noqa: E402
from retake.awareness.provenance import (  # noqa: E402
    ProvenanceError,
    edit_action,
    ensure_local_identity,
    load_identity,
    sign,
    verify,
)

RATE = 16000
CONSENT = {"mode": "recording", "who": "Ann", "statement": "I, the speaker, agree",
           "timestamp": "2026-01-02T03:04:05+00:00",
           "result": {"ok": True, "words_found": 1.0, "similarity": 0.91, "reason": "ok"}}


@pytest.fixture(scope="module")
def identity(tmp_path_factory):
    return ensure_local_identity(tmp_path_factory.mktemp("keys"))


def _tone(seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _wav(path: Path) -> Path:
    write_wav(path, _tone(), RATE)
    return path


def _mp4(path: Path) -> Path:
    from retake.video.media import VideoWriter

    rng = np.random.default_rng(0)
    with VideoWriter(path, 25, 64, 64, audio=(_tone(), RATE)) as writer:
        for _ in range(25):
            writer.write(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8))
    return path


def _media_offset(path: Path) -> int:
    """Byte offset of the middle of the media payload (wav `data` chunk, mp4 `mdat` box)."""
    data = path.read_bytes()
    if path.suffix == ".wav":
        pos = 12
        while pos + 8 <= len(data):
            tag, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
            if tag == b"data":
                return pos + 8 + size // 2
            pos += 8 + size + size % 2
    else:
        pos = 0
        while pos + 8 <= len(data):
            size, tag = struct.unpack(">I", data[pos:pos + 4])[0], data[pos + 4:pos + 8]
            header = 8
            if size == 1:
                size, header = struct.unpack(">Q", data[pos + 8:pos + 16])[0], 16
            if tag == b"mdat":
                return pos + header + (size - header) // 2
            pos += size
    raise AssertionError(f"no media payload found in {path}")


def _sign_edit(path: Path, source: Path, identity) -> None:
    sign(path, [edit_action("lips re-synced to the new words", [(0.2, 0.6)])], [source],
         synthetic_spans=[(0.2, 0.6), (0.7, 0.9)], identity=identity, consent=CONSENT)


@pytest.mark.parametrize("make", [_wav, _mp4], ids=["wav", "mp4"])
def test_sign_and_verify_round_trip(tmp_path, identity, make):
    suffix = ".wav" if make is _wav else ".mp4"
    source = make(tmp_path / f"source{suffix}")
    out = make(tmp_path / f"edited{suffix}")
    _sign_edit(out, source, identity)

    v = verify(out, identity=identity)
    assert v.state == "Trusted", v.summary()
    assert v.failures == []
    assert [a["action"] for a in v.actions] == ["c2pa.opened", "c2pa.edited", "c2pa.edited"]
    assert all("compositeWithTrainedAlgorithmicMedia" in a["digitalSourceType"]
               for a in v.actions[1:])
    assert v.synthetic_spans == [(0.2, 0.6), (0.7, 0.9)]
    assert v.consent == CONSENT
    [ing] = v.ingredients
    assert ing["title"] == source.name and ing["relationship"] == "parentOf"
    import hashlib
    assert ing["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert "Retake local signer" in v.signer
    text = v.summary()
    assert "Trusted" in text and "0.20-0.60 s" in text and "Ann" in text

    untrusted = verify(out, trust_local=False)
    assert untrusted.state == "Valid"
    assert "signingCredential.untrusted" in untrusted.failures


@pytest.mark.parametrize("make", [_wav, _mp4], ids=["wav", "mp4"])
def test_changed_media_bytes_are_invalid(tmp_path, identity, make):
    suffix = ".wav" if make is _wav else ".mp4"
    source = make(tmp_path / f"source{suffix}")
    out = make(tmp_path / f"edited{suffix}")
    _sign_edit(out, source, identity)
    bad = tmp_path / f"tampered{suffix}"
    shutil.copy(out, bad)
    data = bytearray(bad.read_bytes())
    at = _media_offset(bad)
    data[at:at + 16] = bytes(b ^ 0xFF for b in data[at:at + 16])
    bad.write_bytes(bytes(data))

    v = verify(bad, identity=identity)
    assert v.state == "Invalid"
    assert any("mismatch" in code.lower() for code in v.failures), v.failures
    assert "CHANGED" in v.summary()
    assert verify(out, identity=identity).state == "Trusted"  # the original is untouched


def test_unsigned_file_reads_as_none(tmp_path, identity):
    v = verify(_wav(tmp_path / "plain.wav"), identity=identity)
    assert v.state == "None" and not v.intact
    assert "no Content Credentials" in v.summary()


def test_created_without_ingredients_and_image(tmp_path, identity):
    from PIL import Image

    img = tmp_path / "face.png"
    Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(img)
    sign(img, [], [], identity=identity)
    v = verify(img, identity=identity)
    assert v.state == "Trusted"
    assert v.actions[0]["action"] == "c2pa.created"
    assert v.consent is None and "consent: not recorded" in v.summary()


def test_resigning_keeps_the_earlier_manifest_as_ingredient(tmp_path, identity):
    first = _wav(tmp_path / "first.wav")
    _sign_edit(first, _wav(tmp_path / "src.wav"), identity)
    second = tmp_path / "second.wav"
    shutil.copy(first, second)
    sign(second, [edit_action("face swapped")], [first], identity=identity)
    v = verify(second, identity=identity)
    assert v.state == "Trusted", v.summary()
    assert v.ingredients[0]["title"] == "first.wav"


def test_keys_are_made_once_and_reused(tmp_path, monkeypatch):
    folder = tmp_path / "keys"
    monkeypatch.setenv("RETAKE_KEYS", str(folder))
    assert load_identity() is None
    first = ensure_local_identity()
    assert first.folder == folder
    for name in ("root.key", "signer.key"):
        assert os.stat(folder / name).st_mode & 0o777 == 0o600
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    again = ensure_local_identity()
    assert again == first
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps
    out = _wav(tmp_path / "a.wav")
    sign(out, [], [_wav(tmp_path / "b.wav")])  # default identity comes from $RETAKE_KEYS
    assert verify(out).state == "Trusted"


def test_errors_are_clear(tmp_path, identity):
    with pytest.raises(ProvenanceError, match="cannot carry Content Credentials"):
        sign(tmp_path / "notes.txt", [], [], identity=identity)
    with pytest.raises(ProvenanceError, match="no such file"):
        verify(tmp_path / "missing.wav")
    out = _wav(tmp_path / "a.wav")
    with pytest.raises(ProvenanceError, match="ingredient"):
        sign(out, [], [tmp_path / "gone.wav"], identity=identity)
    with pytest.raises(ProvenanceError, match="span"):
        sign(out, [], [], synthetic_spans=[(2.0, 1.0)], identity=identity)
    assert verify(out, identity=identity).state == "None"  # a failed sign leaves it alone


def test_cli_edit_needs_consent_signs_and_verifies(tmp_path) -> None:
    """`retake edit` refuses without consent; with it, the output verifies; a changed copy
    fails verification."""
    import shutil

    from typer.testing import CliRunner

    from retake.align.audio import write_wav
    from retake.align.espeak import synthesize
    from retake.awareness.consent import ConsentError
    from retake.ui.cli import app

    text = "The meeting starts on Friday morning. Please bring the report and your laptop."
    s = synthesize(text)
    wav = tmp_path / "memo.wav"
    write_wav(wav, s.audio, s.sample_rate)
    runner = CliRunner()
    out = tmp_path / "edited.wav"
    args = ["edit", str(wav), "-t", text, "--to", text.replace("Friday", "Monday"),
            "-o", str(out)]
    r = runner.invoke(app, args)
    assert isinstance(r.exception, ConsentError) and not out.exists()
    r = runner.invoke(app, [*args, "--consent"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["verify", str(out)])
    assert r.exit_code == 0, r.output
    assert "Trusted" in r.output and "synthesized" in r.output and "declared" in r.output
    bad = tmp_path / "changed.wav"
    shutil.copy(out, bad)
    data = bytearray(bad.read_bytes())
    data[-2000:-1000] = bytes(1000)  # silence a stretch of the audio
    bad.write_bytes(bytes(data))
    r = runner.invoke(app, ["verify", str(bad)])
    assert r.exit_code == 5 and "Invalid" in r.output  # changed after signing
    r = runner.invoke(app, ["verify", "--no-trust-local", str(out)])
    assert r.exit_code == 4, r.output  # intact, signer not trusted
    r = runner.invoke(app, ["verify", str(wav)])
    assert r.exit_code == 6, r.output  # no Content Credentials
    r = runner.invoke(app, ["verify", "--json", str(out)])
    assert r.exit_code == 0 and '"state": "Trusted"' in r.stdout


def test_each_install_signs_under_its_own_name(tmp_path, identity):
    """The signer's name carries the install's root fingerprint, so two installs never
    read as the same signer; another install's file verifies as untrusted here."""
    other = ensure_local_identity(tmp_path / "other-keys")
    a, b = _wav(tmp_path / "a.wav"), _wav(tmp_path / "b.wav")
    src = _wav(tmp_path / "src.wav")
    _sign_edit(a, src, identity)
    _sign_edit(b, src, other)
    va, vb = verify(a, identity=identity), verify(b, identity=identity)
    assert va.signer != vb.signer
    assert va.state == "Trusted" and vb.state == "Valid"


def test_signing_a_large_video_does_not_hold_it_in_memory(tmp_path, identity):
    """A ~100 MB mp4 signs in a fresh process without its peak memory growing by the file's size
    (c2pa-rs's defaults held two copies: a 10-minute swap's 430 MB output cost ~860 MB to sign)."""
    import subprocess
    import sys

    from retake.video.media import VideoWriter

    rng = np.random.default_rng(1)
    big = tmp_path / "big.mp4"
    base = rng.integers(0, 255, (320, 320, 3), dtype=np.uint8)
    with VideoWriter(big, 25, 320, 320, crf=0, preset="ultrafast") as writer:
        for i in range(600):
            writer.write(np.roll(base, 3 * i, axis=1) ^ rng.integers(0, 64, base.shape, np.uint8))
    size_mb = big.stat().st_size / 2**20
    assert size_mb > 60
    script = (
        "import resource, sys\n"
        "from retake.awareness.provenance import load_identity, sign, verify\n"
        "ident = load_identity(sys.argv[2])\n"
        "start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "sign(sys.argv[1], [], [], identity=ident)\n"
        "grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start) / 1024\n"
        "print(grew, verify(sys.argv[1], identity=ident).state)\n")
    out = subprocess.run([sys.executable, "-c", script, str(big), str(identity.folder)],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[1] == "Trusted"
    assert float(out[0]) < 0.4 * size_mb, f"signing {size_mb:.0f} MB grew memory by {out[0]} MB"
