"""Reconstruction benchmark for text-based editing (voice/).

In each condition (LJ Speech with about 150 s of the speaker; LJ Speech with 22 s only; MFA's
man with a cold, noisy, 26 s; the same man healthy, 27 s: ../shared/media/speech, skipped
when absent), pick words, remove their own audio from the unit inventory, rebuild them from
text in their carrier sentence with the new engine (guided by the query voice) and the old
one (rule-based targets), and compare with what the speaker really said:

- open recognition by Whisper tiny.en in ±1 s around the rebuilt word, next to pocketsphinx
  on the carrier, and the same for the natural word;
- speaker similarity (resemblyzer) of the rebuilt word alone and of its carrier against the
  speaker's other utterances, next to the natural word's;
- pitch standard deviation inside the rebuilt word vs the same word natural; F0 RMSE (cents)
  and mel-cepstral distortion (dB) against it on the DTW path; duration error;
- the spectral (MFCC) jump at each join, and the share above the speaker's natural p90;
- the share of phones that came from another voice (query voice or espeak).

Writes bench/results/edit.json and bench/results/listen.html (original, old engine, new
engine side by side). Also times, in CPU seconds: analysis of a 60 s recording, a one-word
replacement and a deletion in it.
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
CARRIER_S = 12.0  # longer utterances are judged on ±3 s around the word
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


def join_jumps(result) -> list[float]:
    """MFCC distance across each join of an edited recording (frame before vs after, the
    same measure, on the same kind of whole-file features, as `natural_boundary_jumps`)."""
    from retake.voice.analysis import mfcc_frames

    if not result.report.joins:
        return []
    m = mfcc_frames(result.samples, result.sample_rate)
    out = []
    for j in result.report.joins:
        f = int(round(j.time / 0.01))
        if 1 <= f < len(m) - 1:
            out.append(float(np.linalg.norm(m[f - 1] - m[f + 1])))
    return out


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


def lj_items():
    lj = SPEECH / "ljspeech"
    if not (lj / "transcripts.txt").exists():
        return []
    rows = [line.split("|", 1) for line in (lj / "transcripts.txt").read_text().splitlines()]
    return [(lj / f, t) for f, t in rows]


def conditions() -> list[dict]:
    """The recordings edited: plenty of one speaker, little of her, and a noisy one."""
    from retake.align import load_audio

    out = []
    lj = lj_items()
    if lj:
        audios = [(load_audio(f), t, f.name) for f, t in lj]
        out.append({"name": "lj-all", "about": "LJ Speech, all utterances (about 150 s)",
                    "items": audios, "trials": 40, "plenty": True})
        few, total = [], 0.0
        for a in audios:  # the first utterances, as many as make about 22 s
            if total >= 22.0:
                break
            few.append(a)
            total += a[0].duration
        out.append({"name": "lj-little", "about": f"LJ Speech, {total:.0f} s only",
                    "items": few, "trials": 20, "plenty": False})
    mfa = SPEECH / "mfa"
    for stem, about in (("cold_corpus", "a man with a cold, noisy, 26 s"),
                        ("acoustic_corpus", "the same man healthy, 27 s")):
        wav = mfa / f"{stem}.wav"
        if wav.exists():
            out.append({"name": stem.split("_")[0], "about": about,
                        "items": [(load_audio(wav), (mfa / f"{stem}.lab").read_text().strip(),
                                   wav.name)], "trials": 20, "plenty": False})
    return out


def run_condition(cond: dict, rng: random.Random, tools: dict, listen_dir: Path,
                  compare: bool) -> tuple[list[dict], dict]:
    """Rebuild words of one recording with the new engine (and the old one, to compare)."""
    from retake.align import Audio
    from retake.align.audio import write_wav
    from retake.voice import EditOptions, Editor
    from retake.voice.analysis import VOWELS

    items = cond["items"]
    sr = items[0][0].sample_rate
    gap = np.zeros(int(0.4 * sr), np.float32)
    starts, pieces, t = [], [], 0.0
    for a, _, _ in items:
        starts.append(t)
        pieces += [a.samples, gap]
        t += (len(a.samples) + len(gap)) / sr
    whole = Audio(np.concatenate(pieces), sr)
    editor = Editor()
    rec = editor.load(whole, " ".join(tx for _, tx, _ in items), check_transcript=False)
    words = editor.old_words(rec)
    embed = tools["embed"]
    utt_emb = [embed(a.samples, sr) for a, _, _ in items]
    natural = natural_boundary_jumps(rec)
    p90 = float(np.percentile(natural, 90))

    candidates = []
    for k, (wtext, ws, we) in enumerate(words):
        phones = editor.aligner.engine.pronunciation(wtext)
        if len(phones) >= 3 and we - ws > 0.15 and any(p in VOWELS for p in phones):
            u = max(i for i, s in enumerate(starts) if s <= ws + 1e-6)
            if ws > starts[u] + 0.05 and we < starts[u] + items[u][0].duration - 0.05:
                candidates.append((k, u))
    trials = rng.sample(candidates, min(cond["trials"], len(candidates)))
    rows = []
    engines = ("new", "old") if compare else ("new",)
    for n, (k, u) in enumerate(trials):
        wtext, ws, we = words[k]
        original = rec.samples[int(ws * sr):int(we * sr)]
        others = np.mean([e for i, e in enumerate(utt_emb) if i != u] or utt_emb, axis=0)
        others /= np.linalg.norm(others)
        around_natural = rec.samples[int(max(0, ws - 1) * sr):int((we + 1) * sr)]
        natural_carrier = items[u][0].samples
        if items[u][0].duration > CARRIER_S:
            c0 = max(0.0, ws - starts[u] - CARRIER_S / 4)
            natural_carrier = natural_carrier[int(c0 * sr):int((we - starts[u] + CARRIER_S / 4)
                                                               * sr)]
        natural_row = {
            "whisper_heard": whisper_has(tools["whisper"], around_natural, sr, wtext),
            "recognised": recognise_has(tools["sphinx"], natural_carrier, sr, wtext),
            "similarity": float(np.dot(utt_emb[u], others)),
            "span_similarity": float(np.dot(embed(original, sr), others)),
            "pitch_sd": pitch_sd(original, sr),
        }
        write_wav(listen_dir / f"{cond['name']}-{n:02d}-original.wav", items[u][0].samples, sr)
        for engine in engines:
            # the rebuilt word's own audio (and so its melody) is off limits
            opts = EditOptions(reuse=False, exclude=((ws - 0.01, we + 0.01),), verify=True,
                               transfer_prosody=False, query=engine == "new")
            result = editor.rebuild(rec, k, k + 1, opts)
            span = [e for e in result.report.edits if e.kind != "delete"][0]
            tm = result.timemap
            u0 = tm.to_edited(starts[u])
            u1 = tm.to_edited(starts[u] + items[u][0].duration)
            carrier = result.samples[int(u0 * sr):int(u1 * sr)]
            if u1 - u0 > CARRIER_S:  # a long recording: ±3 s around the word is its carrier
                c0 = max(u0, span.start - CARRIER_S / 4)
                carrier = result.samples[int(c0 * sr):int(min(u1, span.end + CARRIER_S / 4)
                                                         * sr)]
            rebuilt = result.samples[int(span.start * sr):int(span.end * sr)]
            mcd, f0_rmse = mcd_and_f0(original, rebuilt, sr)
            around = result.samples[int(max(0, span.start - 1) * sr):int((span.end + 1) * sr)]
            jumps = join_jumps(result)
            n_phones = len(editor.aligner.engine.pronunciation(wtext))
            borrowed = n_phones if span.engine == "fallback" else len(span.borrowed or [])
            row = {
                "condition": cond["name"], "engine": engine, "word": wtext,
                "utterance": items[u][2], "made_by": span.engine,
                "mcd_db": round(mcd, 2),
                "f0_rmse_cents": None if f0_rmse is None else round(f0_rmse),
                "duration_error_ms": round(((span.end - span.start) - (we - ws)) * 1000),
                "similarity": round(float(np.dot(embed(carrier, sr), others)), 4),
                "similarity_natural": round(natural_row["similarity"], 4),
                "span_similarity": round(float(np.dot(embed(rebuilt, sr), others)), 4),
                "span_similarity_natural": round(natural_row["span_similarity"], 4),
                "recognised": recognise_has(tools["sphinx"], carrier, sr, wtext),
                "recognised_natural": natural_row["recognised"],
                "whisper_heard": whisper_has(tools["whisper"], around, sr, wtext),
                "whisper_heard_natural": natural_row["whisper_heard"],
                "report_heard": span.heard, "stand_ins": span.substituted or [],
                "phones": n_phones, "fallback_phones": borrowed,
                "pitch_sd": pitch_sd(rebuilt, sr), "pitch_sd_natural": natural_row["pitch_sd"],
                "join_mfcc_jumps": [round(j, 2) for j in jumps],
                "joins_above_natural_p90": sum(j > p90 for j in jumps),
            }
            rows.append(row)
            write_wav(listen_dir / f"{cond['name']}-{n:02d}-{engine}.wav", carrier, sr)
            print(json.dumps({k: v for k, v in row.items() if k != "join_mfcc_jumps"}),
                  flush=True)
    summary = {e: summarise([r for r in rows if r["engine"] == e], natural) for e in engines}
    return rows, summary


def summarise(rows: list[dict], natural: np.ndarray) -> dict:
    """Means and shares over one condition's trials of one engine."""
    def mean(key, of=rows):
        vals = [r[key] for r in of if r[key] is not None]
        return round(float(np.mean(vals)), 3) if vals else None

    jumps = np.array([j for r in rows for j in r["join_mfcc_jumps"]] or [0.0])
    p90 = float(np.percentile(natural, 90))
    return {
        "trials": len(rows),
        "whisper_heard": mean("whisper_heard"), "whisper_heard_natural":
            mean("whisper_heard_natural"),
        "pocketsphinx_heard": mean("recognised"), "pocketsphinx_heard_natural":
            mean("recognised_natural"),
        "span_similarity": mean("span_similarity"),
        "span_similarity_natural": mean("span_similarity_natural"),
        "similarity": mean("similarity"), "similarity_natural": mean("similarity_natural"),
        "pitch_sd": mean("pitch_sd"), "pitch_sd_natural": mean("pitch_sd_natural"),
        "f0_rmse_cents": mean("f0_rmse_cents"), "mcd_db": mean("mcd_db"),
        "duration_error_ms_abs": round(float(np.mean([abs(r["duration_error_ms"])
                                                       for r in rows])), 1),
        "joins_above_natural_p90": round(float(np.mean(jumps > p90)), 3),
        "join_mfcc_jump_p90": round(float(np.percentile(jumps, 90)), 2),
        "natural_boundary_jump_p90": round(p90, 2),
        "fallback_phone_share": round(sum(r["fallback_phones"] for r in rows)
                                      / max(1, sum(r["phones"] for r in rows)), 3),
        "spans_wholly_espeak": sum(r["made_by"] == "fallback" for r in rows),
        "spans_with_stand_ins": sum(bool(r["stand_ins"]) for r in rows),
    }


def goals(cond: dict, s: dict) -> dict[str, bool]:
    """The issue's goals for one condition (new engine)."""
    heard_goal = 0.85 if cond["plenty"] else 0.70
    return {
        f"Whisper hears >= {heard_goal:.0%}": s["whisper_heard"] >= heard_goal,
        "span similarity within 0.05 of natural":
            s["span_similarity"] >= s["span_similarity_natural"] - 0.05,
        "pitch SD within 25% of natural":
            abs(s["pitch_sd"] - s["pitch_sd_natural"]) <= 0.25 * s["pitch_sd_natural"],
        "joins above natural p90 <= 15%": s["joins_above_natural_p90"] <= 0.15,
        "F0 RMSE <= 200 cents": (s["f0_rmse_cents"] or 1e9) <= 200,
        "no span wholly espeak": s["spans_wholly_espeak"] == 0,
    }


def speed(cond: dict) -> dict:
    """CPU seconds: analysis of 60 s, a one-word replacement and a deletion in it."""
    from retake.align import Audio
    from retake.voice import EditOptions, Editor

    items = cond["items"]
    sr = items[0][0].sample_rate
    whole = np.concatenate([a.samples for a, _, _ in items])
    editor = Editor()
    rec = editor.load(Audio(whole, sr), " ".join(t for _, t, _ in items),
                      check_transcript=False)
    words = [w for w in editor.old_words(rec) if w[2] < 59.0]
    sixty = Audio(whole[: int(60 * sr)], sr)
    text = " ".join(w[0] for w in words)
    speed_editor = Editor()
    t0 = time.process_time()
    rec60 = speed_editor.load(sixty, text)
    t_analysis = time.process_time() - t0
    mid = len(words) // 2
    replaced = " ".join(w[0] if i != mid else "yellow" for i, w in enumerate(words))
    deleted = " ".join(w[0] for i, w in enumerate(words) if i != mid)
    speed_editor.edit(rec60, replaced, EditOptions(verify=False))  # the query voice loads
    t0 = time.process_time()
    speed_editor.edit(rec60, replaced, EditOptions(verify=False, seed=1))
    t_replace = time.process_time() - t0
    t0 = time.process_time()
    speed_editor.edit(rec60, deleted, EditOptions(verify=False))
    t_delete = time.process_time() - t0
    return {"analysis_60s_cpu_s": round(t_analysis, 2),
            "replace_one_word_cpu_s": round(t_replace, 2),
            "delete_one_word_cpu_s": round(t_delete, 3)}


def listen_page(conds: list[dict], rows: list[dict]) -> str:
    """An A/B/C page: the speaker's utterance, the old engine's and the new engine's."""
    page = ["<!doctype html><meta charset=utf-8><title>Retake: original, old and new engine"
            "</title><style>td{padding:2px 8px}</style>",
            "<h1>Rebuilt words: original, old engine, new engine</h1><p>Each row: the "
            "speaker's utterance; the same utterance with one word removed from the voice's "
            "inventory and rebuilt from text by the old engine (rule-based targets) and by "
            "the new one (guided by the query voice). <b>The rebuilt files are synthetic "
            "speech.</b></p>"]
    for cond in conds:
        mine = [r for r in rows if r["condition"] == cond["name"]]
        page.append(f"<h2>{html.escape(cond['about'])}</h2><table><tr><th>word</th>"
                    "<th>original</th><th>old engine</th><th>new engine</th><th>heard "
                    "(old / new)</th></tr>")
        new = [r for r in mine if r["engine"] == "new"]
        for n, r in enumerate(new):
            old = next((o for o in mine if o["engine"] == "old" and o["word"] == r["word"]
                        and o["utterance"] == r["utterance"]), None)
            cells = [f"<audio controls preload=none src='listen/{cond['name']}-{n:02d}-{e}.wav'>"
                     "</audio>" if e != "old" or old else "" for e in ("original", "old", "new")]
            heard = f"{'yes' if old and old['whisper_heard'] else 'no'} / " \
                    f"{'yes' if r['whisper_heard'] else 'no'}"
            page.append(f"<tr><td>{html.escape(r['word'])}</td><td>" + "</td><td>".join(cells)
                        + f"</td><td>{heard}</td></tr>")
        page.append("</table>")
    return "\n".join(page) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", nargs="*", help="condition names to run (default: all)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every condition's number of trials")
    parser.add_argument("--no-compare", action="store_true",
                        help="skip the old engine (rule-based targets, no query voice)")
    parser.add_argument("--out", default="edit", help="results name (bench/results/NAME.json)")
    args = parser.parse_args()
    conds = conditions()
    if args.only:
        conds = [c for c in conds if c["name"] in args.only]
    if not conds:
        print(f"skipped: no recordings under {SPEECH}")
        return 0
    from resemblyzer import VoiceEncoder, preprocess_wav

    from retake.align.audio import resample
    from retake.align.engines import TRANSCRIBE_ENGINES
    from retake.align.sphinx import SphinxEngine
    from retake.core.engines import build

    encoder = VoiceEncoder(device="cpu", verbose=False)
    tools = {
        "embed": lambda x, sr: encoder.embed_utterance(
            preprocess_wav(resample(x, sr, 16000), source_sr=16000)),
        "sphinx": SphinxEngine(),
        "whisper": build(TRANSCRIBE_ENGINES, "whisper", "transcription"),
    }
    # a trial run (--out NAME) keeps its audio apart and leaves the listening page alone
    listen_dir = RESULTS / ("listen" if args.out == "edit" else f"listen-{args.out}")
    listen_dir.mkdir(parents=True, exist_ok=True)
    for old in listen_dir.glob("*.wav"):
        old.unlink()
    all_rows, report = [], {}
    for cond in conds:
        cond["trials"] = max(1, round(cond["trials"] * args.scale))
        rows, summary = run_condition(cond, random.Random(args.seed), tools, listen_dir,
                                      not args.no_compare)
        all_rows += rows
        report[cond["name"]] = {"about": cond["about"], **summary,
                                "goals": goals(cond, summary["new"])}
    lj = next((c for c in conds if c["name"] == "lj-all"), None)
    result = {"conditions": report, "speed": speed(lj) if lj else None, "trials": all_rows}
    print()
    for name, r in report.items():
        print(f"{name}: {r['about']}")
        for e in ("new", "old"):
            if e in r:
                print(f"  {e}: " + json.dumps(r[e]))
        for g, ok in r["goals"].items():
            print(f"    {'PASS' if ok else 'MISS'}  {g}")
    print("speed (CPU s):", json.dumps(result["speed"]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(result, indent=1) + "\n")
    if args.out == "edit":
        (RESULTS / "listen.html").write_text(listen_page(conds, all_rows))
    print(f"wrote {RESULTS / (args.out + '.json')} and {listen_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
