"""Alignment benchmark: accuracy against MFA TextGrids, speed, and a 10-minute recording.

Uses the real recordings in ../shared/media/speech (skips cleanly when absent), prints a
table and writes bench/results/align.json. Run with `make bench` or
`.venv/bin/python bench/align.py`.

Word-boundary difference: the words of our alignment and of the MFA TextGrid are matched
by text (difflib; the MFA TextGrids disagree with their own .lab transcripts in places),
and the start and end of every matched word are compared.
"""

from __future__ import annotations

import argparse
import difflib
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT.parent / "shared" / "media" / "speech"
RESULTS = ROOT / "bench" / "results" / "align.json"
sys.path.insert(0, str(ROOT))


def mfa_reference(textgrid: Path) -> list[tuple[str, float, float]]:
    from praatio import textgrid as tgio

    tg = tgio.openTextgrid(str(textgrid), includeEmptyIntervals=False)
    return [(e.label.lower(), e.start, e.end) for e in tg.getTier("words").entries]


def boundary_errors(ref, hyp) -> list[float]:
    """Absolute start and end differences (seconds) of words matched by text."""
    sm = difflib.SequenceMatcher(a=[r[0] for r in ref], b=[h[0] for h in hyp], autojunk=False)
    errs: list[float] = []
    for a0, b0, n in sm.get_matching_blocks():
        for k in range(n):
            errs += [abs(ref[a0 + k][1] - hyp[b0 + k][1]), abs(ref[a0 + k][2] - hyp[b0 + k][2])]
    return errs


def stats(errs: list[float]) -> dict:
    e = np.asarray(errs) * 1000
    return {
        "boundaries": int(len(e)),
        "mean_ms": round(float(e.mean()), 1),
        "median_ms": round(float(np.median(e)), 1),
        "within_20ms_pct": round(float((e <= 20.5).mean() * 100), 1),
        "within_50ms_pct": round(float((e <= 50.5).mean() * 100), 1),
    }


def words_of(al) -> list[tuple[str, float, float]]:
    return [(w.text.lower(), w.start, w.end) for w in al.words if w.aligned]


def corpus() -> list[tuple[str, Path, str, Path | None]]:
    """(name, wav, transcript, reference TextGrid or None) for every file present."""
    items = []
    for name in ("acoustic_corpus", "cold_corpus"):
        wav = SPEECH / "mfa" / f"{name}.wav"
        if wav.exists():
            items.append((name, wav, wav.with_suffix(".lab").read_text().strip(),
                          wav.with_suffix(".TextGrid")))
    lj = SPEECH / "ljspeech" / "transcripts.txt"
    if lj.exists():
        for line in lj.read_text().splitlines():
            fname, text = line.split("|", 1)
            items.append((fname[:-4], lj.parent / fname, text, None))
    arctic = SPEECH / "arctic" / "transcripts.txt"
    if arctic.exists():
        for line in arctic.read_text().splitlines():
            fname, text = line.split("\t", 1)
            items.append((fname, arctic.parent / f"{fname}.wav", text, None))
    return items


def long_case(minutes: float = 10.0) -> dict:
    """Align a 10-minute concatenation of the corpus in this process; report time, memory
    and (for the MFA parts) boundary accuracy. Run in a child process for a clean peak RSS."""
    from retake.align import Audio, align, load_audio
    from retake.align.audio import ALIGN_RATE

    parts = []
    for _name, wav, text, ref in corpus():
        parts.append((load_audio(wav, ALIGN_RATE).samples, text, ref))
    pause = np.zeros(int(0.6 * ALIGN_RATE), np.float32)
    pieces, texts, refs, t = [], [], [], 0.0
    k = 0
    while t < minutes * 60:
        x, text, ref = parts[k % len(parts)]
        if ref is not None:
            refs.append((t, len(" ".join(texts).split()), mfa_reference(ref)))
        # pause so the next part starts on the 10 ms frame grid, as each file does alone
        gap = pause if (len(x) + len(pause)) % 160 == 0 else np.zeros(
            len(pause) + 160 - (len(x) + len(pause)) % 160, np.float32)
        pieces += [x, gap]
        texts.append(text)
        t += (len(x) + len(gap)) / ALIGN_RATE
        k += 1
    audio = Audio(np.concatenate(pieces), ALIGN_RATE)
    transcript = " ".join(texts)
    t0 = time.perf_counter()
    al = align(audio, transcript)
    elapsed = time.perf_counter() - t0
    hyp = words_of(al)
    errs: list[float] = []
    for offset, _, ref in refs:
        shifted = [(w, s + offset, e + offset) for w, s, e in ref]
        window = [h for h in hyp if shifted[0][1] - 1 <= h[1] <= shifted[-1][2] + 1]
        errs += boundary_errors(shifted, window)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "audio_s": round(audio.duration, 1),
        "words": len(al.words),
        "aligned_words": len(al.aligned_words()),
        "unaligned_spans": len(al.unaligned),
        "seconds": round(elapsed, 2),
        "rtf": round(elapsed / audio.duration, 4),
        "peak_rss_mb": round(peak_mb),
        "mfa_parts": stats(errs) if errs else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--skip-long", action="store_true", help="skip the 10-minute case")
    args = parser.parse_args()
    if args.long_child:
        print(json.dumps(long_case()))
        return 0
    items = corpus()
    if not items:
        print(f"skipped: no recordings under {SPEECH}")
        return 0

    from retake.align import Aligner, load_audio
    from retake.align.audio import ALIGN_RATE

    aligner = Aligner()  # one engine for all files, as a long-running app would keep it
    first = items[0]
    t0 = time.perf_counter()
    aligner.align(load_audio(first[1], ALIGN_RATE), first[2])  # load model, G2P, caches
    cold_start = time.perf_counter() - t0
    rows, all_errs = [], []
    for name, wav, text, ref in items:
        audio = load_audio(wav, ALIGN_RATE)
        t0 = time.perf_counter()
        al = aligner.align(audio, text)
        elapsed = time.perf_counter() - t0
        row = {"file": name, "audio_s": round(audio.duration, 2), "rtf": round(
            elapsed / audio.duration, 4), "words": len(al.words),
            "aligned": len(al.aligned_words()), "unaligned_spans": len(al.unaligned),
            "mean_conf": round(float(np.mean([w.confidence for w in al.aligned_words()])), 3)}
        if ref is not None:
            errs = boundary_errors(mfa_reference(ref), words_of(al))
            all_errs += errs
            row.update(stats(errs))
        rows.append(row)
        print(json.dumps(row))

    result = {"cold_start_s": round(cold_start, 2), "files": rows,
              "mfa_word_boundaries": stats(all_errs) if all_errs else None,
              "rtf_mean": round(float(np.mean([r["rtf"] for r in rows])), 4),
              "rtf_max": round(float(np.max([r["rtf"] for r in rows])), 4)}
    if not args.skip_long:
        child = subprocess.run([sys.executable, __file__, "--long-child"], capture_output=True,
                               text=True, cwd=ROOT)
        if child.returncode != 0:
            print(child.stderr)
            return 1
        result["ten_minutes"] = json.loads(child.stdout.strip().splitlines()[-1])

    print()
    print("MFA word boundaries (both files):", json.dumps(result["mfa_word_boundaries"]))
    print(f"real-time factor per file (engine loaded): mean {result['rtf_mean']}, "
          f"max {result['rtf_max']}; first call with loading: {cold_start:.2f} s")
    if "ten_minutes" in result:
        print("10-minute recording:", json.dumps(result["ten_minutes"]))
    goals = {
        "mean <= 20 ms": (result["mfa_word_boundaries"] or {}).get("mean_ms", 1e9) <= 20,
        ">= 85% within 20 ms": (result["mfa_word_boundaries"] or {}).get("within_20ms_pct", 0)
        >= 85,
        "rtf <= 0.05 (each file)": result["rtf_max"] <= 0.05,
    }
    if "ten_minutes" in result:
        goals["10 min: rtf <= 0.05"] = result["ten_minutes"]["rtf"] <= 0.05
        goals["10 min: peak memory <= 1 GB"] = result["ten_minutes"]["peak_rss_mb"] <= 1024
    result["goals"] = goals
    for goal, ok in goals.items():
        print(f"  {'PASS' if ok else 'MISS'}  {goal}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
