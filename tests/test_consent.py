"""Consent: a random statement to read, checked for its words and for the speaker's voice."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import numpy as np
import pytest

from retake.align.audio import write_wav
from retake.align.espeak import synthesize
from retake.awareness.consent import (
    VOICE_THRESHOLD,
    ConsentError,
    ConsentRecord,
    ConsentResult,
    check_consent_recording,
    consent_sentence,
)

pytest.importorskip("resemblyzer")

from conftest import MEDIA, media  # noqa: E402

DAY = dt.date(2026, 3, 21)
# The speaker's own recording (what is being edited): espeak's voice, other words.
REFERENCE_TEXT = ("Author of the danger trail, Philip Steels. For the twentieth time that evening "
                  "the two men shook hands. Not at this particular case, apologized Whittemore.")


def _speak(path: Path, text: str) -> Path:
    synth = synthesize(text)
    write_wav(path, synth.audio, synth.sample_rate)
    return path


@pytest.fixture(scope="module")
def espeak_reference(tmp_path_factory) -> Path:
    return _speak(tmp_path_factory.mktemp("ref") / "speaker.wav", REFERENCE_TEXT)


@pytest.fixture(scope="module")
def sentence() -> str:
    return consent_sentence(random.Random(3), DAY)


def test_sentence_is_random_but_reproducible():
    a = consent_sentence(random.Random(1), DAY)
    assert a == consent_sentence(random.Random(1), DAY)
    assert a != consent_sentence(random.Random(2), DAY)
    gen = consent_sentence(np.random.default_rng(5), DAY)
    assert gen == consent_sentence(np.random.default_rng(5), DAY)
    assert "March twenty first" in a and "Code words:" in a
    assert all(c.isalpha() or c in " ,.:" for c in a)  # no digits: every word is spelled out
    drawn = {consent_sentence(today=DAY) for _ in range(5)}
    assert len(drawn) > 1  # the default draws fresh code words


def test_the_speaker_reading_the_statement_passes(tmp_path, sentence, espeak_reference):
    take = _speak(tmp_path / "consent.wav", sentence)
    result = check_consent_recording(take, sentence, espeak_reference)
    assert result.ok, result.reason
    assert result.words_found >= 0.9
    assert result.similarity > 0.85


def test_another_voice_is_refused(tmp_path, sentence):
    lj = MEDIA / "speech" / "ljspeech"
    if not lj.exists():
        pytest.skip(f"shared media not available: {lj}")
    from retake.align.audio import load_audio

    clips = [load_audio(p) for p in sorted(lj.glob("*.wav"))[:3]]
    reference = (np.concatenate([c.samples for c in clips]), clips[0].sample_rate)
    take = _speak(tmp_path / "consent.wav", sentence)
    result = check_consent_recording(take, sentence, reference)
    assert not result.ok
    assert "voice does not match" in result.reason
    assert result.words_found >= 0.9 and result.similarity < 0.7


def test_other_words_are_refused(tmp_path, sentence, espeak_reference):
    other = consent_sentence(random.Random(99), DAY)
    take = _speak(tmp_path / "consent.wav", other)
    result = check_consent_recording(take, sentence, espeak_reference)
    assert not result.ok
    assert "the words do not match" in result.reason
    assert "not heard" in result.reason


def test_a_real_speaker_matches_her_own_recording():
    """LJ Speech: one clip read as the "statement", checked against her other clips."""
    lj = MEDIA / "speech" / "ljspeech"
    if not lj.exists():
        pytest.skip(f"shared media not available: {lj}")
    from retake.align.audio import load_audio

    lines = dict(line.split("|", 1) for line in
                 (lj / "transcripts.txt").read_text().splitlines() if "|" in line)
    clips = [load_audio(lj / name) for name in sorted(lines)[10:13]]
    reference = (np.concatenate([c.samples for c in clips]), clips[0].sample_rate)
    result = check_consent_recording(lj / "LJ001-0004.wav", lines["LJ001-0004.wav"].strip(),
                                     reference)
    # Her voice passes; the words are all heard, but a sentence with no code words never
    # passes as a consent statement.
    assert result.similarity >= VOICE_THRESHOLD and result.words_found >= 0.85
    assert not result.ok and "code words" in result.reason


def test_record_round_trips_and_gates():
    passed = ConsentResult(True, 1.0, 0.9, "ok")
    record = ConsentRecord.from_check("I agree", passed, who="Ann")
    assert record.mode == "recording"
    assert ConsentRecord.from_dict(record.to_dict()) == record
    dt.datetime.fromisoformat(record.timestamp)  # ISO 8601
    record.require()
    ConsentRecord.declared("Ann").require()
    failed = ConsentRecord.from_check("I agree", ConsentResult(False, 0.2, 0.9, "words"))
    with pytest.raises(ConsentError, match="consent not confirmed: words"):
        failed.require()


def test_record_goes_into_the_content_credentials(tmp_path):
    pytest.importorskip("c2pa")
    from retake.awareness.provenance import ensure_local_identity, sign, verify

    identity = ensure_local_identity(tmp_path / "keys")
    out = tmp_path / "out.wav"
    write_wav(out, np.zeros(16000, np.float32), 16000)
    src = tmp_path / "in.wav"
    write_wav(src, np.zeros(16000, np.float32), 16000)
    record = ConsentRecord.from_check("I agree", ConsentResult(True, 1.0, 0.91, "ok"), "Ann")
    sign(out, [], [src], identity=identity, consent=record.to_dict())
    v = verify(out, identity=identity)
    assert ConsentRecord.from_dict(v.consent) == record
    assert "Ann read the consent statement (passed" in v.summary()


def _strict_edit(tmp_path, take, sentence, out, issue: bool = True):
    """`retake edit --consent-recording TAKE --consent-statement SENTENCE` of an espeak memo
    (the statement first recorded as issued on this computer, unless `issue` is False)."""
    from typer.testing import CliRunner

    from retake.awareness.consent import _issued_dir, _statement_key
    from retake.ui.cli import app

    if issue:
        import json

        folder = _issued_dir(None)
        folder.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now(dt.UTC)
        (folder / f"{_statement_key(sentence)}.json").write_text(json.dumps({
            "format": "retake.consent-statement", "nonce": "0123456789abcdef",
            "sentence": sentence, "issued": now.isoformat(),
            "expires": (now + dt.timedelta(days=1)).isoformat()}))

    memo = _speak(tmp_path / "memo.wav", REFERENCE_TEXT)
    return CliRunner().invoke(app, [
        "edit", str(memo), "-t", REFERENCE_TEXT, "--to",
        REFERENCE_TEXT.replace("evening", "morning"), "-o", str(out),
        "--consent-recording", str(take), "--consent-statement", sentence])


def test_cli_strict_consent_mode(tmp_path, sentence):
    """`retake edit --consent-recording`: the speaker's own reading passes and is recorded
    in the output's credentials."""
    from retake.awareness.provenance import verify

    out = tmp_path / "out.wav"
    r = _strict_edit(tmp_path, _speak(tmp_path / "take.wav", sentence), sentence, out)
    assert r.exit_code == 0, r.output
    v = verify(out)
    assert v.consent and v.consent["mode"] == "recording"
    assert v.consent["nonce"] == "0123456789abcdef"


def test_strict_consent_refuses_a_statement_that_was_not_issued(tmp_path, sentence):
    """The finding: any recording of the speaker with any sentence passed. Now the statement
    must have been issued here, be unexpired and carry its code words; and the check runs
    before the recording is even analysed."""
    out = tmp_path / "out.wav"
    take = _speak(tmp_path / "take.wav", sentence)
    r = _strict_edit(tmp_path, take, sentence, out, issue=False)
    assert isinstance(r.exception, ConsentError) and "not issued" in str(r.exception)
    plain = "I, the speaker, agree that Retake can edit my voice."
    r = _strict_edit(tmp_path, _speak(tmp_path / "plain.wav", plain), plain, out)
    assert isinstance(r.exception, ConsentError) and "code words" in str(r.exception)
    assert not out.exists()


def test_issued_statements_expire(tmp_path):
    from retake.awareness.consent import issue_statement, require_issued

    record = issue_statement(tmp_path, random.Random(4), DAY, valid_days=7)
    assert require_issued(record["sentence"], tmp_path)["nonce"] == record["nonce"]
    assert require_issued(record["sentence"] + "\n", tmp_path)  # read from a file
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=8)
    with pytest.raises(ConsentError, match="expired"):
        require_issued(record["sentence"], tmp_path, now=later)
    with pytest.raises(ConsentError, match="not issued"):
        require_issued(consent_sentence(random.Random(5), DAY), tmp_path)


def test_a_statement_without_code_words_fails_the_word_check(tmp_path, espeak_reference):
    plain = "I, the speaker, agree that Retake can edit my voice today."
    result = check_consent_recording(_speak(tmp_path / "p.wav", plain), plain, espeak_reference)
    assert not result.ok and "code words" in result.reason


def test_cli_strict_consent_refuses_another_voice(tmp_path, sentence):
    """Another person's recording as the consent take: refused, nothing written (the
    voice-mismatch check itself is tested on `check_consent_recording` above)."""
    out = tmp_path / "out.wav"
    r = _strict_edit(tmp_path, media("speech", "ljspeech", "LJ001-0001.wav"), sentence, out)
    assert isinstance(r.exception, ConsentError) and not out.exists()
