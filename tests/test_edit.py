"""Editing speech by editing its transcript, on real speech when present, else generated."""

from __future__ import annotations

import difflib
import json

import numpy as np
import pytest
from conftest import MEDIA

from retake.align import Audio, load_audio
from retake.core.errors import RetakeError
from retake.voice import EditError, EditOptions, Editor, TimeMap, read_metadata, write_result


def _recording(speech):
    """About 35 s of one speaker with its transcript."""
    lj = MEDIA / "speech" / "ljspeech"
    if lj.exists():
        rows = dict(line.split("|", 1) for line in (lj / "transcripts.txt").read_text()
                    .splitlines())
        xs, texts = [], []
        for i in range(1, 6):
            a = load_audio(lj / f"LJ001-000{i}.wav")
            xs += [a.samples, np.zeros(int(0.3 * a.sample_rate), np.float32)]
            texts.append(rows[f"LJ001-000{i}.wav"])
        return Audio(np.concatenate(xs), a.sample_rate), " ".join(texts)
    text = ("Printing, in the only sense with which we are at present concerned, differs from "
            "most if not from all the arts and crafts represented in the Exhibition, in being "
            "comparatively modern. For although the Chinese took impressions from wood blocks "
            "engraved in relief for centuries before the woodcutters of the Netherlands, by a "
            "similar process produced the block books, which were the immediate predecessors "
            "of the true printed book.")
    synth, _ = speech(text)
    return Audio(synth.audio, synth.sample_rate), text


@pytest.fixture(scope="module")
def loaded(speech):
    editor = Editor()
    audio, text = _recording(speech)
    return editor, editor.load(audio, text), text


def realigned_words(editor, result) -> list[str]:
    al = editor.aligner.align(Audio(result.samples, result.sample_rate),
                              result.alignment.transcript)
    return [w.text.lower().strip(".,") for w in al.words if w.aligned and w.confidence > 0.05]


def check_joins_quiet(result, rec):
    """No click: around each join, no sample-to-sample jump beyond what the speech itself
    shows nearby (its 99.9th percentile)."""
    x = result.samples
    sr = result.sample_rate
    d = np.abs(np.diff(x))
    for j in result.report.joins:
        k = int(j.time * sr)
        near = d[max(0, k - sr // 5):k + sr // 5]
        local = d[max(0, k - int(0.004 * sr)):k + int(0.004 * sr)]
        assert local.max() <= max(np.percentile(near, 99.9) * 1.5, 1e-3), j


def test_replace_a_word(loaded):
    editor, rec, text = loaded
    new = text.replace("comparatively modern", "very modern")
    result = editor.edit(rec, new)
    words = realigned_words(editor, result)
    assert "very" in words and "comparatively" not in words
    [span] = [e for e in result.report.edits if e.kind != "delete"]
    assert span.text == "very" and span.found_on_realign
    assert span.engine in ("units", "fallback")
    check_joins_quiet(result, rec)
    tm = result.timemap
    assert tm.edited_duration == pytest.approx(len(result.samples) / result.sample_rate)
    assert tm.original_duration == pytest.approx(rec.duration)
    o = [k[0] for k in tm.knots]
    e = [k[1] for k in tm.knots]
    assert o == sorted(o) and e == sorted(e)
    assert tm.to_edited(rec.duration) == pytest.approx(tm.edited_duration, abs=0.02)
    # audio before the edit (and before the watermark around it) is the original, sample
    # for sample; the watermark covers the new word
    marked = result.report.watermark["marked"]
    assert marked[0][0] <= span.start and span.end <= marked[0][1]
    cut = int((min(span.start, marked[0][0]) - 0.05) * rec.sample_rate)
    assert cut > rec.sample_rate // 2  # (something before the mark to compare)
    assert np.allclose(result.samples[:cut], rec.samples[:cut], atol=1e-6)
    from retake.awareness.watermark import detect

    [hit] = detect(result.samples, result.sample_rate)
    assert hit.payload is not None and hit.payload.edit_id == result.report.watermark["edit_id"]
    assert hit.start - 0.3 <= span.start and span.end <= hit.end + 0.3


def test_delete_words(loaded):
    editor, rec, text = loaded
    new = text.replace("if not from all ", "")
    result = editor.edit(rec, new)
    words = realigned_words(editor, result)
    sm = difflib.SequenceMatcher(a=words, b=[w.lower().strip(".,") for w in new.split()])
    assert sm.ratio() > 0.9
    assert "not" not in words
    assert result.timemap.edited_duration < rec.duration - 0.5
    check_joins_quiet(result, rec)
    assert all(e.engine == "cut" for e in result.report.edits)
    assert not result.timemap.inserted


def test_words_already_spoken_are_reused(loaded):
    editor, rec, text = loaded
    new = text.replace("comparatively modern", "comparatively printed")
    result = editor.edit(rec, new)
    [span] = [e for e in result.report.edits if e.kind != "delete"]
    assert span.engine == "reuse"
    assert result.timemap.inserted[0].source == "reused"
    assert not result.report.synthesized


def test_outputs_disclose_and_chain(tmp_path, loaded):
    editor, rec, text = loaded
    result = editor.edit(rec, text.replace("wood blocks", "stone blocks"),
                         EditOptions(takes=2, similarity=True))
    [span] = [e for e in result.report.edits if e.kind != "delete"]
    assert span.similarity is not None and span.similarity > 0.6
    paths = write_result(result, tmp_path / "edited.wav")
    meta = read_metadata(paths["wav"])
    assert "Retake" in meta["software"] and "synthesized speech at" in meta["comment"]
    tm = TimeMap.from_json(paths["timemap"].read_text())
    assert tm.inserted and tm.inserted[0].text == "stone"
    report = json.loads(paths["report"].read_text())
    assert "Synthesized spans" in report["disclosure"]
    assert len(result.takes[0]) == 2
    # the output can be edited again
    again = editor.load(load_audio(paths["wav"]), result.alignment.transcript)
    second = editor.edit(again, result.alignment.transcript.replace("stone", "iron"))
    assert "iron" in realigned_words(editor, second)


def test_a_streamed_edit_writes_what_its_one_array_writes(tmp_path, loaded):
    """`EditOptions(stream=True)` (the CLI's: the edit computed a stretch at a time, never
    held whole, watermark included) writes the same file as its samples built in one array
    (that a join read in stretches is the concatenation: tests/test_blocks.py)."""
    import dataclasses

    import soundfile as sf

    from retake.awareness.watermark import detect
    from retake.voice.joined import Joined

    editor, rec, text = loaded
    new = text.replace("wood blocks", "stone blocks").replace("if not from all ", "")
    streamed = editor.edit(rec, new, EditOptions(verify=False, stream=True))
    assert isinstance(streamed.samples, Joined)
    whole = dataclasses.replace(streamed, samples=np.asarray(streamed.samples))
    [hit] = detect(whole.samples, whole.sample_rate)  # the watermark is in the stream
    assert hit.payload.edit_id == streamed.report.watermark["edit_id"]
    a = write_result(whole, tmp_path / "whole.wav")
    b = write_result(streamed, tmp_path / "streamed.wav", drop_audio=True)
    assert len(streamed.samples) == 0  # let go of once written
    assert np.array_equal(sf.read(a["wav"], dtype="int16")[0], sf.read(b["wav"], dtype="int16")[0])
    for kind in ("json", "timemap", "report"):
        assert a[kind].read_text() == b[kind].read_text()


@pytest.mark.parametrize(("new", "error"), [
    ("", EditError),
    ("Печать, в единственном смысле", EditError),
])
def test_bad_edits_are_refused(loaded, new, error):
    editor, rec, _ = loaded
    with pytest.raises(error):
        editor.edit(rec, new)


def test_same_text_is_no_edit(loaded):
    editor, rec, text = loaded
    with pytest.raises(EditError, match="same words"):
        editor.edit(rec, text)


def test_too_short_to_clone_from(speech):
    synth, _ = speech("Hi.")
    with pytest.raises(RetakeError, match="too short"):
        Editor().load(Audio(synth.audio, synth.sample_rate), "Hi.")


def test_heard_comes_from_open_recognition_and_fails_a_garbled_span(loaded):
    """`heard` is what an independent recogniser hears around the span, not what forced
    alignment to the expected words claims: reverse the new word's audio and it is not heard."""
    editor, rec, text = loaded
    result = editor.edit(rec, text.replace("comparatively modern", "very modern"),
                         EditOptions(watermark=False))
    [span] = [e for e in result.report.edits if e.kind != "delete"]
    assert span.heard_text is not None and span.heard_label() in ("yes", "unsure", "no")
    sr = result.sample_rate
    a, b = int(span.start * sr), int(span.end * sr)
    result.samples[a:b] = result.samples[a:b][::-1].copy()
    span.heard = None
    result.report.hear(result)
    assert span.heard is False, span.heard_text


def test_no_hole_below_the_room_noise_inside_a_new_span():
    """The noisy recording of a speaker with a cold (MFA's cold_corpus): inside every
    synthesized span no 10 ms frame falls more than 6 dB below the file's own noise floor
    (they fell 18-74 dB below it: holes of digital silence an ear notices at once), nor
    does its 4-8 kHz band fall below the room's hiss there."""
    from conftest import media

    wav = media("speech", "mfa", "cold_corpus.wav")
    text = wav.with_suffix(".lab").read_text().strip()
    audio = load_audio(wav)
    editor = Editor()
    rec = editor.load(audio, text, check_transcript=False)
    hop = int(0.01 * audio.sample_rate)

    def frames_db(y):
        n = len(y) // hop
        return 10 * np.log10(np.mean(y[:n * hop].reshape(n, hop).astype(np.float64) ** 2,
                                     axis=1) + 1e-12)

    floor = float(np.percentile(frames_db(audio.samples), 5))

    def high_db(y):  # 4-8 kHz power per 32 ms frame: the room's hiss, not the speech
        n = len(y) // 512
        spec = np.abs(np.fft.rfft(y[:n * 512].reshape(n, 512) * np.hanning(512), axis=1))
        freqs = np.fft.rfftfreq(512, 1 / audio.sample_rate)
        return 10 * np.log10(np.sum(spec[:, (freqs >= 4000) & (freqs < 8000)] ** 2, 1) + 1e-12)

    hiss = float(np.percentile(high_db(audio.samples), 5))
    words = text.split()
    for k in (3, 14, 27):
        new = " ".join(words[:k] + ["every", "morning"] + words[k:])
        result = editor.edit(rec, new, EditOptions(watermark=False, verify=False))
        sr = result.sample_rate
        for span in result.report.edits:
            if span.engine in ("reuse", "cut"):
                continue
            inside = frames_db(result.samples[int(span.start * sr):int(span.end * sr)])
            assert inside.min() >= floor - 6, (span.text, inside.min(), floor)
            # and band by band: the query voice's clean phones once stopped the hiss
            high = high_db(result.samples[int(span.start * sr):int(span.end * sr)])
            assert high.min() >= hiss - 6, (span.text, high.min(), hiss)


def test_takes_are_ranked_by_an_honest_ear(loaded):
    """With several takes, the one an independent recogniser hears comes first: a garbled
    (reversed) take is ranked below a clean one whatever the selection cost said."""
    from retake.voice.assembly import Assembly, old_words
    from retake.voice.render import Rendered
    from retake.voice.units import Inventory

    editor, rec, text = loaded
    result = editor.edit(rec, text.replace("comparatively modern", "very modern"),
                         EditOptions(watermark=False, verify=False))
    [span] = [e for e in result.report.edits if e.kind != "delete"]
    sr = result.sample_rate
    clean = result.samples[int(span.start * sr):int(span.end * sr)].copy()
    garbled = Rendered(clean[::-1].copy(), [], "units")
    good = Rendered(clean, [], "units")
    asm = Assembly(editor, rec, old_words(rec), Inventory([rec]), EditOptions(takes=2))
    assert asm.rank([garbled, good], ["very"])[0] is good


def _frame_db(x: np.ndarray, sr: int) -> np.ndarray:
    """Log energy of 20 ms windows every 10 ms."""
    hop = int(0.01 * sr)
    frames = np.lib.stride_tricks.sliding_window_view(x, 2 * hop)[::hop]
    return 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-10)


def test_a_deletion_between_fused_words_leaves_no_jump(loaded):
    """Words that run into each other on both sides are deleted: each cut lands at an
    energy minimum with a phase-matched 20 ms crossfade, so the loudness step across the
    join is no larger than the recording's own frame-to-frame steps nearby (99th percentile
    within 2 s);
    before, the cut fell mid-period ("flame|with": a 14 dB jump)."""
    import re

    editor, rec, text = loaded
    old = editor.old_words(rec)
    tokens = re.findall(r"[A-Za-z']+", text.lower())
    steps = np.abs(np.diff(_frame_db(rec.samples, rec.sample_rate)))
    tried = 0
    for k in range(1, len(old) - 1):
        word = old[k][0].lower()
        fused = old[k][1] - old[k - 1][2] < 0.01 and old[k + 1][1] - old[k][2] < 0.01
        if not fused or tokens.count(word) != 1 or not re.search(rf" {word} ", text):
            continue
        result = editor.edit(rec, re.sub(rf" {word} ", " ", text, count=1),
                             EditOptions(watermark=False, verify=False))
        [cut] = [e for e in result.report.edits if e.kind == "delete"]
        sr = result.sample_rate
        db = _frame_db(result.samples, sr)
        f = int(round(cut.start / 0.01))
        step = float(np.max(np.abs(np.diff(db[max(0, f - 2):f + 3]))))
        # the speaker's own steps within 2 s of the deleted word
        k0 = int(old[k][1] / 0.01)
        p99 = float(np.percentile(steps[max(0, k0 - 200):k0 + 200], 99))
        assert step <= p99, (word, step, p99)
        check_joins_quiet(result, rec)
        tried += 1
        if tried == 3:
            break
    assert tried >= 2
