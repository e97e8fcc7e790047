"""Benchmark of the synthesized-speech watermark (voice/watermark.py) on real speech.

For every speech file in ../shared/media/speech (skipped when absent), mark a span (2 s, or
the file less 0.2 s each side when shorter) with a payload, then after each transformation
(MP3 and AAC at 64 kbit/s, resampling to 16 and 48 kHz, +/-6 dB, white noise at 20 dB SNR,
a trimmed 1.5 s piece starting 0.3 s into the span, that piece spliced into another unmarked
file) measure:

- detection rate (a detection carrying the right payload) and localisation (both edges
  within 0.25 s of the truth; mean and worst edge error);
- wrong payloads and stray detections in marked files;
- segmental SNR of the mark over the span;
- false alarms: `detect` on every unmarked file with many keys (hours-equivalent of null
  trials), and the null distribution of the per-window best sync z-score, from which the
  false-alarm rate per 10 hours is extrapolated for both thresholds; the pitch search
  (awareness/watermark_pitch.py, ~2 s a file) on its own, with fewer keys (`--pitch-keys`):
  how often it decodes a factor, any payload it finds, and its analytic bound;
- detection speed (x real time, 2 threads).

`--attacks-only` measures instead the attacks of issue 18 (`attacks`: speed +-0.5/2/5 % by
resampling, pitch +-0.1/0.5/1 semitone by librosa's phase vocoder, reverb RT60 0.1/0.2/0.3 s
as a direct path plus an equal-energy exponentially decaying noise tail, white noise at 20
and 10 dB SNR; all seeded), and 10 dB of noise on a mark as long as `retake edit` makes it
(`voice/edit.MIN_MARK_S` around a word, the file less 0.2 s each side when shorter), and
that mark pitch-shifted by +-1, +-0.5 and +-0.1 semitone (`pitch_+-1st_edit_mark`, ...),
and by +-1 and +-0.1 semitone the way ffmpeg does it (`asetrate`, then WSOLA `atempo`:
`pitch_ffmpeg_+-1st_edit_mark`, ...):
detections with the right payload on the marked files and any detection on the same
attacks of the unmarked files, written to
bench/results/watermark_attacks.json (`--files k` takes every k-th file for a quick run).

Writes bench/results/watermark.json, bench/results/watermark.html and a few short clips
(original vs marked) under bench/results/watermark/ (not tracked: the originals are
excerpts of ../shared/media; `make bench` writes them again).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SPEECH = ROOT.parent / "shared" / "media" / "speech"
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))

TOLERANCE_S = 0.25


def transformations(y: np.ndarray, sr: int, span: tuple[float, float], other: np.ndarray,
                    rng: np.random.Generator):
    """(name, audio, rate, true span) for each transformation of the marked `y`."""
    from retake.align.audio import codec_roundtrip, resample

    a, b = span
    power = float(np.mean(y.astype(np.float64) ** 2))
    noise = rng.standard_normal(len(y)) * np.sqrt(power / 10 ** (20 / 10))
    piece = y[int((a + 0.3) * sr):int((a + 1.8) * sr)]
    piece_span = (0.0, min(1.5, b - a - 0.3))
    at = int(0.4 * len(other))
    yield "clean", y, sr, span
    yield "mp3_64k", codec_roundtrip(y, sr, "libmp3lame"), sr, span
    yield "aac_64k", codec_roundtrip(y, sr, "aac"), sr, span
    yield "resample_16k", resample(y, sr, 16000), 16000, span
    yield "resample_48k", resample(y, sr, 48000), 48000, span
    yield "gain_+6dB", np.clip(y * 2.0, -1, 1), sr, span
    yield "gain_-6dB", y * 0.5, sr, span
    yield "noise_20dB", (y + noise).astype(np.float32), sr, span
    yield "trim_1.5s", piece, sr, piece_span
    yield "splice", np.concatenate([other[:at], piece, other[at:]]), sr, (
        at / sr + piece_span[0], at / sr + piece_span[1])


def speed(y: np.ndarray, sr: int, factor: float) -> np.ndarray:
    """Played `factor` times faster by resampling: duration / factor, pitch * factor."""
    import soxr

    return soxr.resample(y.astype(np.float32), sr * factor, sr, "HQ").astype(np.float32)


def ffmpeg_pitch(y: np.ndarray, sr: int, semitones: float) -> np.ndarray:
    """Pitch shifted the way ffmpeg scripts do it: `asetrate` (faster and higher), resampled
    back to `sr`, then `atempo` (WSOLA: overlapping time-domain pieces, each aligned by
    cross-correlation) to the original length. Through PyAV's filter graph."""
    from fractions import Fraction

    import av
    import av.filter

    g = 2 ** (semitones / 12)
    graph = av.filter.Graph()
    src = graph.add_abuffer(format="flt", sample_rate=sr, layout="mono",
                            time_base=Fraction(1, sr))
    prev = src
    for f in (graph.add("asetrate", f"r={round(sr * g)}"), graph.add("aresample", f"{sr}"),
              graph.add("atempo", f"{1 / g:.8f}"), graph.add("abuffersink")):
        prev.link_to(f)
        prev = f
    graph.configure()
    frame = av.AudioFrame.from_ndarray(y[None].astype(np.float32), format="flt", layout="mono")
    frame.sample_rate, frame.pts, frame.time_base = sr, 0, Fraction(1, sr)
    src.push(frame)
    src.push(None)
    out = []
    while True:
        try:
            out.append(prev.pull().to_ndarray().reshape(-1))
        except (av.error.EOFError, av.error.BlockingIOError):
            break
    return np.concatenate(out).astype(np.float32)


def reverb(y: np.ndarray, sr: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """A room: y convolved with a direct path plus exponentially decaying noise (RT60, seeded).

    The tail's energy equals the direct path's (direct-to-reverberant ratio 0 dB, a small
    room at about a metre); the level is restored to the input's RMS.
    """
    from scipy.signal import fftconvolve

    n = int(rt60 * sr)
    t = np.arange(1, n) / sr
    tail = rng.standard_normal(n - 1) * np.exp(-6.9 * t / rt60)
    tail /= np.sqrt(np.sum(tail ** 2))
    h = np.concatenate([[1.0], tail])
    out = fftconvolve(y.astype(np.float64), h)[:len(y)]
    out *= np.sqrt(np.mean(y.astype(np.float64) ** 2) / max(np.mean(out ** 2), 1e-20))
    return out.astype(np.float32)


def white_noise(y: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    power = float(np.mean(y.astype(np.float64) ** 2))
    return (y + rng.standard_normal(len(y)) * np.sqrt(power / 10 ** (snr_db / 10))
            ).astype(np.float32)


def attacks(y: np.ndarray, sr: int, span: tuple[float, float], seed: int):
    """(name, audio, rate, true span) for each attack of issue 18 (all seeded by `seed`)."""
    import librosa

    a, b = span
    for pct in (0.5, -0.5, 2.0, -2.0, 5.0, -5.0):
        f = 1 + pct / 100
        yield f"speed_{pct:+g}%", speed(y, sr, f), sr, (a / f, b / f)
    for st in (0.1, -0.1, 0.5, -0.5, 1.0, -1.0):
        yield (f"pitch_{st:+g}st", librosa.effects.pitch_shift(y, sr=sr, n_steps=st)
               .astype(np.float32), sr, span)
    for rt in (0.1, 0.2, 0.3):
        yield f"reverb_{rt:g}s", reverb(y, sr, rt, np.random.default_rng([seed, 1])), sr, span
    for snr in (20, 10):
        yield f"noise_{snr}dB", white_noise(y, snr, np.random.default_rng([seed, 2])), sr, span


def load_speech() -> list[tuple[str, np.ndarray, int]]:
    import soundfile as sf

    out = []
    for path in sorted(SPEECH.glob("*/*.wav")):
        x, sr = sf.read(path, dtype="float32", always_2d=True)
        out.append((f"{path.parent.name}/{path.name}", x.mean(axis=1), sr))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=200, help="keys for the null trials")
    parser.add_argument("--pitch-keys", type=int, default=8,
                        help="keys for the pitch search's null trials (~2 s a file)")
    parser.add_argument("--attacks-only", action="store_true",
                        help="only the issue-18 attacks (marked and unmarked files); writes "
                             "bench/results/watermark_attacks.json")
    parser.add_argument("--files", type=int, default=0, help="use every k-th file (0: all)")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    from retake.align.audio import resample
    from retake.awareness import watermark as wm

    if not SPEECH.exists():
        print(f"shared speech not found at {SPEECH}; nothing to measure")
        return
    files = load_speech()
    if args.attacks_only:
        run_attacks(files[::args.files] if args.files else files)
        return
    rng = np.random.default_rng(7)
    settings = wm.DEFAULT
    per: dict[str, dict[str, list]] = {}
    snrs, wrong, stray, clips = [], 0, 0, []
    for i, (name, x, sr) in enumerate(files):
        dur = len(x) / sr
        length = min(2.0, dur - 0.4)
        a = round(max(0.2, dur / 2 - length / 2), 3)
        span = (a, a + length)
        payload = wm.Payload(wm.version_code("0.1.0"), int(rng.integers(0, 1 << 24)))
        y = wm.embed(x, sr, payload, *span)
        snrs.append(wm.segmental_snr(x, y, sr, *span))
        if i in (0, 5, len(files) - 3):
            clips.append((name, x, y, sr, span))
        _, other, other_sr = files[(i + 7) % len(files)]
        other = resample(other, other_sr, sr)
        for tname, audio, rate, truth in transformations(y, sr, span, other, rng):
            dets = wm.detect(audio, rate)
            good = [d for d in dets if d.payload == payload]
            wrong += sum(1 for d in dets if d.payload not in (None, payload))
            stray += sum(1 for d in dets if d.end < truth[0] or d.start > truth[1])
            row = per.setdefault(tname, {"detected": [], "located": [], "edge_err": [],
                                          "score": []})
            row["detected"].append(bool(good))
            if good:
                d = max(good, key=lambda d: d.score)
                err = max(abs(d.start - truth[0]), abs(d.end - truth[1]))
                row["edge_err"].append(err)
                row["located"].append(err <= TOLERANCE_S)
                row["score"].append(d.score)
            else:
                row["located"].append(False)
        print(f"{name}: " + " ".join(f"{k}={int(v['detected'][-1])}" for k, v in per.items()),
              flush=True)

    robustness = {
        k: {"detection_rate": float(np.mean(v["detected"])),
            "located_rate": float(np.mean(v["located"])),
            "edge_error_mean_s": float(np.mean(v["edge_err"])) if v["edge_err"] else None,
            "edge_error_max_s": float(np.max(v["edge_err"])) if v["edge_err"] else None,
            "score_median": float(np.median(v["score"])) if v["score"] else None,
            "n": len(v["detected"])}
        for k, v in per.items()}

    # --- false alarms ---------------------------------------------------------------
    unmarked_hits = sum(len(wm.detect(x, sr)) for _, x, sr in files)
    total_s = sum(len(x) / sr for _, x, sr in files)
    null_hits, maxima, maxima_long, maxima_edit = 0, [], [], []
    t0 = time.perf_counter()
    for k in range(args.keys):
        # the pitch search is measured on its own below (it costs ~2 s a file)
        key = wm.WatermarkSettings(seed=1000 + k, pitch_range=0.0)
        for _, x, sr in files:
            null_hits += len(wm.detect(x, sr, key))
            short, long_, edit = wm.sync_scores(x, sr, key, (
                key.window_blocks, key.long_window_blocks, key.edit_window_blocks))
            maxima.append(short)
            maxima_long.append(long_)
            maxima_edit.append(edit)
    null_time = time.perf_counter() - t0
    maxima = np.concatenate(maxima)
    # the second pass's longer windows: more candidates for a chance CRC
    p_long = float(np.mean(np.concatenate(maxima_long) >= settings.threshold)) \
        if maxima_long else 0.0
    # the third pass's edit-length windows: up to three decodes each, and only payloads
    # naming a version up to this one (the share of codes accepted) are kept
    p_edit = float(np.mean(np.concatenate(maxima_edit) >= settings.threshold)) \
        if maxima_edit else 0.0
    from retake.core.version import __version__

    accepted = (wm.version_code(__version__) + 1) / 256
    windows_per_10h = 10 * 3600 / (settings.block / wm.RATE)
    p_cand = float(np.mean(maxima >= settings.threshold))
    # tail beyond the data: a Gumbel fit to the per-window maxima (method of moments)
    beta = float(np.std(maxima) * np.sqrt(6) / np.pi)
    mu = float(np.mean(maxima) - 0.5772 * beta)

    def gumbel_sf(t: float) -> float:
        return float(-np.expm1(-np.exp(-(t - mu) / beta)))

    # The pitch search on unmarked speech: how often a factor is decoded at all, and any
    # payload that comes out (bounded by DECODES * ROUNDS CRC checks per search, each
    # passed with p = 2^-16, times the share of version codes accepted).
    from retake.awareness import watermark_pitch as wp

    decodes, pitch_hits, pitch_s = 0, 0, 0.0
    plain_decode = wp._decode

    def counted(reads, settings_):
        nonlocal decodes
        decodes += 1
        return plain_decode(reads, settings_)

    wp._decode = counted
    try:
        for k in range(args.pitch_keys):
            key = wm.WatermarkSettings(seed=5000 + k)
            for _, x, sr in files:
                y16 = resample(x, sr, wm.RATE).astype(np.float64)
                pitch_hits += len(wp.find_pitched(y16, key))
                pitch_s += len(y16) / wm.RATE
    finally:
        wp._decode = plain_decode
    searches = args.pitch_keys * len(files)
    pitch_null = {
        "keys": args.pitch_keys, "searches": searches, "hours": pitch_s / 3600,
        "factors_decoded": decodes, "false_payloads": pitch_hits,
        "crc_checks_per_search_max": wp.DECODES * wp.ROUNDS,
        "version_codes_accepted": accepted,
        "false_payloads_per_search_bound": wp.DECODES * wp.ROUNDS / 65536 * accepted,
    }

    null = {
        "unmarked_files": len(files), "unmarked_seconds": total_s,
        "pitch_search": pitch_null,
        "detections_on_unmarked_files": unmarked_hits,
        "null_trial_keys": args.keys, "null_trial_hours": args.keys * total_s / 3600,
        "detections_in_null_trials": null_hits,
        "windows": int(len(maxima)),
        "window_best_z": {"mean": float(np.mean(maxima)), "std": float(np.std(maxima)),
                          "p99": float(np.percentile(maxima, 99)),
                          "p999": float(np.percentile(maxima, 99.9)), "max": float(maxima.max())},
        "threshold": settings.threshold, "threshold_alone": settings.threshold_alone,
        "p_window_over_threshold": p_cand,
        "p_window_over_threshold_gumbel": gumbel_sf(settings.threshold),
        "p_long_window_over_threshold": p_long,
        "p_edit_window_over_threshold": p_edit,
        "p_window_over_threshold_alone_gumbel": gumbel_sf(settings.threshold_alone),
        "windows_per_10h": windows_per_10h,
        # two decodes per candidate, each passing the CRC-16 by chance with p = 2^-16
        "false_payloads_per_10h": windows_per_10h * ((p_cand + p_long) * 2
                                                      + p_edit * 3 * accepted) / 65536,
        "false_sync_only_per_10h": windows_per_10h * gumbel_sf(settings.threshold_alone),
    }

    # --- speed ----------------------------------------------------------------------
    _, x, sr = max(files, key=lambda f: len(f[1]))
    long = np.tile(x, int(np.ceil(60 * sr / len(x))))[:60 * sr]
    t0 = time.perf_counter()
    wm.detect(long, sr)
    speed = 60 / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    wm.embed(long, sr, wm.Payload(1, 1), 10.0, 12.0)
    embed_s = time.perf_counter() - t0

    result = {
        "settings": {k: getattr(settings, k) for k in settings.__dataclass_fields__},
        "files": len(files),
        "segmental_snr_db": {"mean": float(np.mean(snrs)), "min": float(np.min(snrs)),
                             "max": float(np.max(snrs))},
        "robustness": robustness,
        "wrong_payloads": wrong, "stray_detections": stray,
        "false_alarms": null,
        "speed": {"detect_x_realtime": speed, "embed_2s_span_in_60s_s": embed_s,
                  "null_trials_x_realtime": args.keys * total_s / null_time,
                  "threads": os.environ.get("OMP_NUM_THREADS")},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "watermark.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
    write_page(clips, snrs)
    print(json.dumps(result, indent=2))


def run_attacks(files) -> None:
    """Detection rate of each issue-18 attack on marked files, false alarms on unmarked ones;
    and 10 dB of noise on a mark as long as `retake edit` makes it (`noise_10dB_edit_mark`)."""
    import librosa

    from retake.awareness import watermark as wm
    from retake.voice.edit import MIN_MARK_S

    rng = np.random.default_rng(7)
    per: dict[str, dict[str, int]] = {}
    t_detect, t_audio = 0.0, 0.0
    for i, (name, x, sr) in enumerate(files):
        dur = len(x) / sr
        length = min(2.0, dur - 0.4)
        a = round(max(0.2, dur / 2 - length / 2), 3)
        payload = wm.Payload(wm.version_code("0.1.0"), int(rng.integers(0, 1 << 24)))
        y = wm.embed(x, sr, payload, a, a + length)
        line = []
        for (tname, audio, rate, _), (_, clean, crate, _) in zip(
                attacks(y, sr, (a, a + length), i), attacks(x, sr, (0, 1), i), strict=True):
            t0 = time.perf_counter()
            dets = wm.detect(audio, rate)
            t_detect += time.perf_counter() - t0
            t_audio += len(audio) / rate
            row = per.setdefault(tname, {"detected": 0, "wrong": 0, "n": 0,
                                         "false_alarms": 0, "unmarked": 0})
            row["n"] += 1
            row["detected"] += any(d.payload == payload for d in dets)
            row["wrong"] += sum(1 for d in dets if d.payload not in (None, payload))
            row["false_alarms"] += len(wm.detect(clean, crate))
            row["unmarked"] += 1
            line.append(f"{tname}={int(any(d.payload == payload for d in dets))}")
        # What `retake edit` marks: MIN_MARK_S around each new word (the file less 0.2 s
        # each side when shorter), under the same 10 dB of white noise.
        length = min(MIN_MARK_S, dur - 0.4)
        a = round(max(0.2, dur / 2 - length / 2), 3)
        y = wm.embed(x, sr, payload, a, a + length)
        tname = "noise_10dB_edit_mark"
        dets = wm.detect(white_noise(y, 10, np.random.default_rng([i, 2])), sr)
        row = per.setdefault(tname, {"detected": 0, "wrong": 0, "n": 0, "false_alarms": 0,
                                     "unmarked": 0, "mark_s": MIN_MARK_S})
        row["n"] += 1
        row["detected"] += any(d.payload == payload for d in dets)
        row["wrong"] += sum(1 for d in dets if d.payload not in (None, payload))
        row["false_alarms"] += len(wm.detect(white_noise(x, 10, np.random.default_rng([i, 2])),
                                             sr))
        row["unmarked"] += 1
        line.append(f"{tname}={int(any(d.payload == payload for d in dets))}")
        # ...and pitch-shifted by 1, 0.5 and 0.1 semitone either way (the pitch search needs ~6 s)
        # (and by ffmpeg's asetrate + atempo, a time-domain method, for +-1 and +-0.1)
        for tool, st in [("", s) for s in (1.0, -1.0, 0.5, -0.5, 0.1, -0.1)] + [
                ("ffmpeg_", s) for s in (1.0, -1.0, 0.1, -0.1)]:
            tname = f"pitch_{tool}{st:+g}st_edit_mark"

            def shift(z, st=st, tool=tool, sr=sr):
                if tool:
                    return ffmpeg_pitch(z, sr, st)
                return librosa.effects.pitch_shift(z, sr=sr, n_steps=st).astype(np.float32)

            dets = wm.detect(shift(y), sr)
            row = per.setdefault(tname, {"detected": 0, "wrong": 0, "n": 0, "false_alarms": 0,
                                         "unmarked": 0, "mark_s": MIN_MARK_S})
            row["n"] += 1
            row["detected"] += any(d.payload == payload for d in dets)
            row["wrong"] += sum(1 for d in dets if d.payload not in (None, payload))
            row["false_alarms"] += len(wm.detect(shift(x), sr))
            row["unmarked"] += 1
            line.append(f"{tname}={int(any(d.payload == payload for d in dets))}")
        print(f"{name}: " + " ".join(line), flush=True)
    result = {"files": len(files), "attacks": per,
              "detect_s_per_minute": 60 * t_detect / t_audio}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "watermark_attacks.json").write_text(json.dumps(result, indent=2),
                                                     encoding="utf-8")
    for k, v in per.items():
        print(f"{k:14s} detected {v['detected']}/{v['n']}  wrong {v['wrong']}  "
              f"false alarms {v['false_alarms']}/{v['unmarked']}")
    print(f"detection: {result['detect_s_per_minute']:.2f} s per minute of audio")


def write_page(clips, snrs) -> None:
    """A listening page: each clip original and marked, the span and its segmental SNR."""
    import soundfile as sf

    from retake.awareness import watermark as wm

    folder = RESULTS / "watermark"
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for k, (name, x, y, sr, (a, b)) in enumerate(clips):
        lo, hi = int(max(0, a - 1) * sr), int(min(len(x) / sr, b + 1) * sr)
        for kind, sig in (("original", x), ("marked", y)):
            sf.write(folder / f"{k:02d}-{kind}.wav", sig[lo:hi], sr, subtype="PCM_16")
        snr = wm.segmental_snr(x, y, sr, a, b)
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{a - lo / sr:.2f}-{b - lo / sr:.2f} s</td>"
            f"<td>{snr:.1f} dB</td>"
            f"<td><audio controls src='watermark/{k:02d}-original.wav'></audio></td>"
            f"<td><audio controls src='watermark/{k:02d}-marked.wav'></audio></td></tr>")
    page = (
        "<!doctype html><meta charset='utf-8'><title>Retake watermark: listen</title>"
        "<h1>Watermark: original vs marked</h1>"
        f"<p>The marked span is given in clip time. Mean segmental SNR over all files: "
        f"{np.mean(snrs):.1f} dB. Listen on headphones for hiss or roughness in the span.</p>"
        "<table border=1 cellpadding=4><tr><th>file</th><th>marked span</th><th>seg. SNR</th>"
        "<th>original</th><th>marked</th></tr>" + "".join(rows) + "</table>")
    (RESULTS / "watermark.html").write_text(page, encoding="utf-8")


if __name__ == "__main__":
    main()
