"""The detector: open lips on bilabials are flagged, natural and careful output passes."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from conftest import MEDIA

warnings.filterwarnings("ignore", category=UserWarning)

TEXT = "My mom bought a purple umbrella. Maybe both of them will pop by."


@pytest.fixture(scope="module")
def talking(tmp_path_factory):
    """Lip-sync to new speech with closures (as Retake makes it) and without (a naive fake).

    The face is the Katie Hill clip when the shared media is present; otherwise
    scikit-image's astronaut photo, whose open smile a warp cannot close (so there only the
    fake is checked).
    """
    import skimage.data
    from PIL import Image

    from retake.align.audio import write_wav
    from retake.align.espeak import synthesize
    from retake.video.faces import FaceModels
    from retake.video.lipsync import lipsync

    tmp = tmp_path_factory.mktemp("detect")
    s = synthesize(TEXT, rate_wpm=140)
    wav = tmp / "speech.wav"
    write_wav(wav, s.audio, s.sample_rate)
    face = MEDIA / "video" / "WDA_KatieHill_000.mp4"
    if not face.is_file():
        face = tmp / "face.png"
        Image.fromarray(skimage.data.astronaut()).save(face)
    models = FaceModels()
    good, bad = tmp / "good.mp4", tmp / "bad.mp4"
    lipsync(face, wav, good, transcript=TEXT, models=models)
    lipsync(face, wav, bad, transcript=TEXT, models=models, close_bilabials=False)
    return good, bad, models, face.suffix == ".mp4"


def test_open_lips_on_bilabials_are_flagged(talking, tmp_path: Path) -> None:
    from retake.awareness.detect import detect, write_report

    good, bad, models, real = talking
    r_bad = detect(bad, transcript=TEXT, models=models)
    assert r_bad.signals["bilabials_checked"] >= 6
    assert r_bad.signals["lip_closure"] >= 0.5
    flagged = [f for f in r_bad.findings if f.kind == "lip-closure"]
    assert flagged and all(f.thumbnails for f in flagged)
    if real:
        r_good = detect(good, transcript=TEXT, models=models)
        assert r_good.signals["lip_closure"] <= 0.2, r_good.summary()
    jpath, hpath = write_report(r_bad, tmp_path / "rep")
    data = json.loads(jpath.read_text())
    assert data["findings"] and "cannot see" in data["limits"]
    page = hpath.read_text()
    assert "<svg" in page and "data:image/png;base64," in page


@pytest.mark.skipif(not (MEDIA / "video").is_dir(), reason="shared media not available")
def test_untouched_clips_pass_the_lip_check() -> None:
    from retake.awareness.detect import detect

    clips = sorted((MEDIA / "video").glob("*.mp4"))
    assert clips, "no clips in the shared media"
    for clip in clips:
        r = detect(clip)
        assert r.signals.get("lip_closure", 0) == 0, (clip.name, r.summary())
