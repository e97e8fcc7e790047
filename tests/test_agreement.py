"""A wrong transcript, or speech in another language, is refused before an edit cuts the
wrong audio; a right one passes and the report says it was checked."""

from __future__ import annotations

import pytest

from retake.align import Audio
from retake.align.espeak import synthesize
from retake.voice import EditError, Editor

SAID = "Please call Stella and ask her to bring these things with her from the store today."
OTHER = "Author of the danger trail, Philip Steels, shook hands with the two men that evening."


def _audio(text: str, language: str = "en") -> Audio:
    s = synthesize(text, language=language)
    return Audio(s.audio, s.sample_rate)


def test_the_right_transcript_passes_and_is_reported():
    editor = Editor()
    rec = editor.load(_audio(SAID), SAID)
    assert rec.agreement.verdict == "ok" and rec.agreement.share >= 0.75
    result = editor.edit(rec, SAID.replace("Stella", "Bella"))
    assert result.report.transcript["verdict"] == "ok"


def test_a_wrong_transcript_is_refused():
    with pytest.raises(EditError, match="does not match the recording"):
        Editor().load(_audio(SAID), OTHER)


def test_speech_in_another_language_is_refused():
    german = ("Bitte ruf Stella an und sag ihr, sie soll diese Sachen heute aus dem Laden "
              "mitbringen.")
    with pytest.raises(EditError, match="English"):
        Editor().load(_audio(german, "de"), german)


def test_cli_refuses_a_wrong_transcript(tmp_path):
    import os
    import subprocess
    import sys

    from retake.align.audio import write_wav

    s = synthesize(SAID)
    wav = tmp_path / "memo.wav"
    write_wav(wav, s.audio, s.sample_rate)
    r = subprocess.run([sys.executable, "-m", "retake", "edit", "--consent", str(wav), "-t",
                        OTHER, "--to", OTHER.replace("evening", "morning"), "-o",
                        str(tmp_path / "out.wav")], capture_output=True, text=True,
                       env={**os.environ}, timeout=300)
    assert r.returncode == 1 and r.stderr.startswith("error: the transcript does not match")
    assert not (tmp_path / "out.wav").exists()


def test_a_long_recording_is_heard_in_three_stretches_cut_between_words():
    """Start, middle and end, under 30 s in all (one Whisper pass), each edge in a pause."""
    from retake.align.agreement import SAMPLE_S, _stretches
    from retake.align.types import Alignment, Word

    # a word every 0.5 s lasting 0.4 s: the pauses sit at x.45
    words = [Word(f"w{k}", 0.5 * k, 0.5 * k + 0.4, 1.0) for k in range(240)]
    al = Alignment(words, 120.0)
    got = _stretches(al, 120.0)
    assert len(got) == 3 and got[0][0] == 0.0 and got[-1][1] == 120.0
    assert got[0][1] < 60 < got[1][1] and got[1][1] < got[2][0]
    assert sum(b - a for a, b in got) <= SAMPLE_S + 1.0
    inner = [got[0][1], got[1][0], got[1][1], got[2][0]]
    assert all(abs((t % 0.5) - 0.45) < 1e-6 for t in inner)
    assert _stretches(al, 20.0) == [(0.0, 20.0)]
