"""Reconstruction benchmark for text-based editing (voice/).

For many utterances of one speaker (LJ Speech in ../shared/media/speech; skipped when
absent), pick words, remove their own audio from the unit inventory, rebuild them from text
in their carrier sentence, and compare with what the speaker really said:

- mel-cepstral distortion of the rebuilt word against the original (dB, DTW-aligned),
  F0 RMSE (cents, voiced frames on the DTW path), duration error;
- speaker similarity (resemblyzer cosine) of the rebuilt carrier against the speaker's other
  utterances, next to the same figure for the untouched carrier;
- re-alignment confirms the rebuilt word; open recognition of the carrier finds it;
- pitch and loudness jump at the joins, and the spectral (MFCC) jump at each join next to
  the same statistic at the speaker's natural phone boundaries.

Writes bench/results/edit.json and a listening page bench/results/listen.html (A/B pairs).
Also times the speed targets: analysis of a 60 s recording, a one-word replacement and a
deletion in it.
"""

from __future__ import annotations

import argparse
import html
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT.parent / "shared" / "media" / "speech"
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))


def mel_cepstrum(x: np.ndarray, sr: int, order: int = 24) -> np.ndarray:
    """Cepstra of the natural-log mel amplitude spectrum, scaled as a real cepstrum
    (c_k = DCT-II / 2M), so the standard MCD formula applies. 5 ms frames."""
    import librosa
    from scipy.fft import dct

    mel = librosa.feature.melspectrogram(y=x.astype(np.float32), sr=sr, n_fft=1024,
                                         hop_length=int(0.005 * sr), n_mels=40, power=2.0)
    log_amp = 0.5 * np.log(mel + 1e-10)
    c = dct(log_amp, type=2, axis=0, norm=None) / (2 * log_amp.shape[0])
    return c[: order + 1].T


def mcd_and_f0(ref: np.ndarray, hyp: np.ndarray, sr: int) -> tuple[float, float | None]:
    """Mel-cepstral distortion (dB, c1..c24 over the DTW path) and F0 RMSE (cents)."""
    import librosa
    import parselmouth

    a, b = mel_cepstrum(ref, sr), mel_cepstrum(hyp, sr)
    _, path = librosa.sequence.dtw(a[:, 1:].T, b[:, 1:].T, metric="euclidean")
    diff = a[path[:, 0], 1:] - b[path[:, 1], 1:]
    mcd = float(np.mean(10 / np.log(10) * np.sqrt(2 * np.sum(diff ** 2, axis=1))))

    def f0(x):
        p = parselmouth.Sound(x.astype(np.float64), sr).to_pitch_ac(
            time_step=0.005, pitch_floor=60, pitch_ceiling=500)
        return p.selected_array["frequency"]

    fa, fb = f0(ref), f0(hyp)
    ia = np.clip(path[:, 0], 0, len(fa) - 1)
    ib = np.clip(path[:, 1], 0, len(fb) - 1)
    va, vb = fa[ia], fb[ib]
    both = (va > 0) & (vb > 0)
    rmse = float(np.sqrt(np.mean((1200 * np.log2(vb[both] / va[both])) ** 2))) \
        if both.sum() >= 3 else None
    return mcd, rmse


def natural_boundary_jumps(rec) -> np.ndarray:
    """MFCC distance across the speaker's natural phone boundaries (frame before vs after)."""
    out = []
    for a, b in zip(rec.units, rec.units[1:], strict=False):
        if a.next_index == b.index:
            fa, fb = rec.frame(a.end) - 1, rec.frame(b.start) + 1
            out.append(float(np.linalg.norm(rec.mfcc[max(fa, 0)] - rec.mfcc[fb])))
    return np.array(out)


def join_jumps(result, rec_like_sr: int) -> list[float]:
    """MFCC distance across each join of an edited recording (same measure as above)."""
    from retake.voice.analysis import analyse

    if not result.report.joins:
        return []
    feats = analyse(result.samples, result.sample_rate, result.alignment)
    return [float(np.linalg.norm(feats.mfcc[max(feats.frame(j.time) - 1, 0)]
                                 - feats.mfcc[feats.frame(j.time) + 1]))
            for j in result.report.joins]


def recognise_has(engine, x: np.ndarray, sr: int, word: str) -> bool:
    from retake.align.audio import resample

    hyp = [w for w, *_ in engine.recognize(resample(x, sr, 16000))]
    return word in hyp


def whisper_has(engine, x: np.ndarray, sr: int, word: str) -> bool:
    """Open recognition by Whisper tiny.en (independent of the aligner) finds `word`."""
    import re

    from retake.align.audio import resample

    text = " ".join(w.text for w in engine.recognize(resample(x, sr, 16000))).lower()
    return word.lower() in re.findall(r"[a-z']+", text)


def pitch_sd(x: np.ndarray, sr: int) -> float | None:
    """Standard deviation of pitch (semitones) over the voiced frames of `x`."""
    import parselmouth

    f = parselmouth.Sound(x.astype(np.float64), sr).to_pitch(0.01, 60, 500)
    f = f.selected_array["frequency"]
    f = f[f > 0]
    return float(np.std(12 * np.log2(f / np.median(f)))) if len(f) > 5 else None


def corpus():
    lj = SPEECH / "ljspeech"
    if not (lj / "transcripts.txt").exists():
        return []
    rows = [line.split("|", 1) for line in (lj / "transcripts.txt").read_text().splitlines()]
    return [(lj / f, t) for f, t in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-query", action="store_true",
                        help="old engine: rule-based targets, no query voice (for A/B)")
    parser.add_argument("--out", default="edit", help="results name (bench/results/NAME.json)")
    args = parser.parse_args()
    items = corpus()
    if not items:
        print(f"skipped: no LJ Speech recordings under {SPEECH}")
        return 0
    from resemblyzer import VoiceEncoder, preprocess_wav

    from retake.align import Audio, load_audio
    from retake.align.audio import resample, write_wav
    from retake.align.sphinx import SphinxEngine
    from retake.voice import EditOptions, Editor
    from retake.voice.analysis import VOWELS

    rng = random.Random(args.seed)
    editor = Editor()
    encoder = VoiceEncoder(device="cpu", verbose=False)
    recogniser = SphinxEngine()
    from retake.align.engines import TRANSCRIBE_ENGINES
    from retake.core.engines import build

    whisper = build(TRANSCRIBE_ENGINES, "whisper", "transcription")

    # One recording of the speaker: all utterances with short pauses, so the inventory holds
    # ~150 s; each trial rebuilds a word of one utterance.
    audios = [load_audio(f) for f, _ in items]
    sr = audios[0].sample_rate
    gap = np.zeros(int(0.4 * sr), np.float32)
    starts, pieces, t = [], [], 0.0
    for a in audios:
        starts.append(t)
        pieces += [a.samples, gap]
        t += (len(a.samples) + len(gap)) / sr
    whole = Audio(np.concatenate(pieces), sr)
    text = " ".join(t for _, t in items)
    t0 = time.perf_counter()
    rec = editor.load(whole, text)
    analysis_s = time.perf_counter() - t0
    words = editor.old_words(rec)

    def embed(x):
        return encoder.embed_utterance(preprocess_wav(resample(x, sr, 16000), source_sr=16000))

    utt_emb = [embed(a.samples) for a in audios]
    natural = natural_boundary_jumps(rec)
    listen_dir = RESULTS / "listen"
    listen_dir.mkdir(parents=True, exist_ok=True)

    candidates = []
    for k, (wtext, ws, we) in enumerate(words):
        phones = editor.aligner.engine.pronunciation(wtext)
        if len(phones) >= 3 and we - ws > 0.15 and any(p in VOWELS for p in phones):
            u = max(i for i, s in enumerate(starts) if s <= ws + 1e-6)
            end_u = starts[u] + audios[u].duration
            if we < end_u - 0.05:
                candidates.append((k, u))
    trials = rng.sample(candidates, min(args.trials, len(candidates)))
    rows = []
    for n, (k, u) in enumerate(trials):
        wtext, ws, we = words[k]
        # the rebuilt word's own audio (and so its melody) is off limits
        opts = EditOptions(reuse=False, exclude=((ws - 0.01, we + 0.01),), verify=True,
                           transfer_prosody=False, query=not args.no_query)
        result = editor.rebuild(rec, k, k + 1, opts)
        span = [e for e in result.report.edits if e.kind != "delete"][0]
        tm = result.timemap
        u0, u1 = tm.to_edited(starts[u]), tm.to_edited(starts[u] + audios[u].duration)
        carrier = result.samples[int(u0 * sr):int(u1 * sr)]
        rebuilt = result.samples[int(span.start * sr):int(span.end * sr)]
        original = rec.samples[int(ws * sr):int(we * sr)]
        mcd, f0_rmse = mcd_and_f0(original, rebuilt, sr)
        others = np.mean([e for i, e in enumerate(utt_emb) if i != u], axis=0)
        others /= np.linalg.norm(others)
        sim_rebuilt = float(np.dot(embed(carrier), others))
        sim_natural = float(np.dot(utt_emb[u], others))
        heard = recognise_has(recogniser, carrier, sr, wtext)
        heard_natural = recognise_has(recogniser, audios[u].samples, sr, wtext)
        around = result.samples[int(max(0, span.start - 1) * sr):int((span.end + 1) * sr)]
        around_natural = rec.samples[int(max(0, ws - 1) * sr):int((we + 1) * sr)]
        w_heard = whisper_has(whisper, around, sr, wtext)
        w_heard_natural = whisper_has(whisper, around_natural, sr, wtext)
        jumps = join_jumps(result, sr)
        row = {
            "word": wtext, "utterance": items[u][0].name, "engine": span.engine,
            "mcd_db": round(mcd, 2), "f0_rmse_cents": None if f0_rmse is None else round(
                f0_rmse), "duration_error_ms": round(((span.end - span.start) - (we - ws)) * 1000),
            "similarity_rebuilt": round(sim_rebuilt, 4), "similarity_natural": round(
                sim_natural, 4), "realign_found": span.found_on_realign,
            "recognised": heard, "recognised_natural": heard_natural,
            "whisper_heard": w_heard, "whisper_heard_natural": w_heard_natural,
            "report_heard": span.heard, "stand_ins": span.substituted or [],
            "pitch_sd_rebuilt": pitch_sd(rebuilt, sr), "pitch_sd_natural": pitch_sd(original, sr),
            "max_pitch_jump_st": max((j.pitch_jump_semitones or 0.0)
                                     for j in result.report.joins),
            "max_loudness_jump_db": max(j.loudness_jump_db for j in result.report.joins),
            "join_mfcc_jumps": [round(j, 2) for j in jumps],
        }
        rows.append(row)
        write_wav(listen_dir / f"{n:02d}-original.wav", audios[u].samples, sr)
        write_wav(listen_dir / f"{n:02d}-{args.out}.wav", carrier, sr)
        print(json.dumps({k: v for k, v in row.items() if k != "join_mfcc_jumps"}), flush=True)

    # speed: a 60 s recording, one-word replacement and a deletion
    sixty = Audio(whole.samples[: int(60 * sr)], sr)
    cut_words = [w for w in words if w[2] < 59.0]
    sixty_text = " ".join(w[0] for w in cut_words)
    speed_editor = Editor()
    t0 = time.perf_counter()
    rec60 = speed_editor.load(sixty, sixty_text)
    t_analysis = time.perf_counter() - t0
    mid = len(cut_words) // 2
    replaced = " ".join(w[0] if i != mid else "yellow" for i, w in enumerate(cut_words))
    deleted = " ".join(w[0] for i, w in enumerate(cut_words) if i != mid)
    t0 = time.perf_counter()
    speed_editor.edit(rec60, replaced, EditOptions(verify=False))
    t_replace = time.perf_counter() - t0
    t0 = time.perf_counter()
    speed_editor.edit(rec60, deleted, EditOptions(verify=False))
    t_delete = time.perf_counter() - t0

    sims_r = np.array([r["similarity_rebuilt"] for r in rows])
    sims_n = np.array([r["similarity_natural"] for r in rows])
    all_jumps = np.array([j for r in rows for j in r["join_mfcc_jumps"]])
    f0s = [r["f0_rmse_cents"] for r in rows if r["f0_rmse_cents"] is not None]
    summary = {
        "trials": len(rows),
        "mcd_db_mean": round(float(np.mean([r["mcd_db"] for r in rows])), 2),
        "f0_rmse_cents_mean": round(float(np.mean(f0s)), 1) if f0s else None,
        "duration_error_ms_mean_abs": round(float(np.mean(
            [abs(r["duration_error_ms"]) for r in rows])), 1),
        "similarity_rebuilt_mean": round(float(sims_r.mean()), 4),
        "similarity_natural_mean": round(float(sims_n.mean()), 4),
        "realign_found_share": round(float(np.mean([bool(r["realign_found"]) for r in rows])), 3),
        "recognised_share": round(float(np.mean([r["recognised"] for r in rows])), 3),
        "recognised_natural_share": round(float(np.mean([r["recognised_natural"]
                                                         for r in rows])), 3),
        "whisper_heard_share": round(float(np.mean([r["whisper_heard"] for r in rows])), 3),
        "whisper_heard_natural_share": round(float(np.mean(
            [r["whisper_heard_natural"] for r in rows])), 3),
        "pitch_sd_rebuilt_mean": round(float(np.mean(
            [r["pitch_sd_rebuilt"] for r in rows if r["pitch_sd_rebuilt"] is not None])), 2),
        "pitch_sd_natural_mean": round(float(np.mean(
            [r["pitch_sd_natural"] for r in rows if r["pitch_sd_natural"] is not None])), 2),
        "spans_with_stand_ins": sum(bool(r["stand_ins"]) for r in rows),
        "join_mfcc_jump_p50": round(float(np.percentile(all_jumps, 50)), 2),
        "join_mfcc_jump_p90": round(float(np.percentile(all_jumps, 90)), 2),
        "natural_boundary_jump_p50": round(float(np.percentile(natural, 50)), 2),
        "natural_boundary_jump_p90": round(float(np.percentile(natural, 90)), 2),
        "max_loudness_jump_db_p90": round(float(np.percentile(
            [r["max_loudness_jump_db"] for r in rows], 90)), 1),
        "max_pitch_jump_st_p90": round(float(np.percentile(
            [r["max_pitch_jump_st"] for r in rows], 90)), 2),
        "engines": {e: sum(r["engine"] == e for r in rows) for e in {r["engine"] for r in rows}},
        "speed": {"analysis_150s_s": round(analysis_s, 2), "analysis_60s_s": round(t_analysis, 2),
                  "replace_one_word_60s_s": round(t_replace, 2),
                  "delete_one_word_60s_s": round(t_delete, 2)},
    }
    goals = {
        "similarity within 0.02 of natural": summary["similarity_rebuilt_mean"]
        >= summary["similarity_natural_mean"] - 0.02,
        "recognised in >= 80% of carriers": summary["recognised_share"] >= 0.8,
        "join jumps <= natural at p90": summary["join_mfcc_jump_p90"]
        <= summary["natural_boundary_jump_p90"],
        "MCD <= 6 dB": summary["mcd_db_mean"] <= 6.0,
        "F0 RMSE <= 100 cents": (summary["f0_rmse_cents_mean"] or 1e9) <= 100,
        "analysis of 60 s <= 6 s": t_analysis <= 6.0,
        "one-word replacement <= 1 s": t_replace <= 1.0,
        "deletion <= 0.2 s": t_delete <= 0.2,
    }
    print()
    print(json.dumps(summary, indent=1))
    for g, ok in goals.items():
        print(f"  {'PASS' if ok else 'MISS'}  {g}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps({"summary": summary, "goals": goals,
                                                   "trials": rows}, indent=1) + "\n")
    page = ["<!doctype html><meta charset=utf-8><title>Retake: original vs rebuilt</title>",
            "<h1>Original vs rebuilt word (A/B)</h1><p>Each row: the speaker's utterance, and "
            "the same utterance with one word removed from the voice's inventory and rebuilt "
            "from text by Retake. <b>The rebuilt files are synthetic speech.</b></p><table>"]
    for n, r in enumerate(rows):
        page.append(f"<tr><td>{html.escape(r['word'])}</td><td><audio controls "
                    f"src='listen/{n:02d}-original.wav'></audio></td><td><audio controls "
                    f"src='listen/{n:02d}-rebuilt.wav'></audio></td><td>MCD {r['mcd_db']} dB"
                    f"</td></tr>")
    page.append("</table>")
    (RESULTS / "listen.html").write_text("\n".join(page) + "\n")
    print(f"wrote {RESULTS / 'edit.json'} and {RESULTS / 'listen.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
