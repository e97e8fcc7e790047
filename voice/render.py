"""Turn selected units into audio, then shape duration and pitch with PSOLA (Praat).

Units that follow each other in the recording are cut out as one stretch; other joins are
short equal-power crossfades at the lowest-energy point near the boundary. Praat's
overlap-add resynthesis (parselmouth) then gives every phone its target duration and the
whole span a smooth pitch contour that meets the context at both ends.

A word with a phone the recording never contains is spoken by espeak-ng and converted toward
the speaker (pitch via PSOLA, spectral envelope via the ratio of long-term spectra, level),
rather than left silent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from retake.voice.analysis import VOWELS, Recording, Unit
from retake.voice.units import Target

XFADE_S = 0.006


@dataclass
class Rendered:
    """New speech: samples, phone boundaries in seconds from its start, and how it was made."""

    samples: np.ndarray
    phones: list[tuple[str, float, float]]
    engine: str  # "units" | "fallback"
    joins: int = 0  # unnatural joins inside it
    substituted: list[str] = field(default_factory=list)  # "OY→AO": stand-ins for missing phones
    borrowed: list[str] = field(default_factory=list)  # phones said by the query voice


def _fade(n: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0, np.pi / 2, n, dtype=np.float32)
    return np.sin(t), np.cos(t)


class Padded:
    """A stretch of a long recording with silence before and/or after it, without copying
    the stretch (`concatenate` writes the three parts; `np.asarray` makes the array)."""

    def __init__(self, left: int, core: np.ndarray, right: int) -> None:
        self.left, self.core, self.right = left, core, right

    def __len__(self) -> int:
        return self.left + len(self.core) + self.right

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:]
        return out if dtype is None else out.astype(dtype)

    def __getitem__(self, index: slice) -> np.ndarray:
        a, b, _ = index.indices(len(self))
        out = np.empty(max(0, b - a), np.float32)
        self._into(a, out)
        return out

    def write_into(self, out: np.ndarray, at: int, skip: int) -> None:
        """Write all but the first `skip` samples into `out` from index `at`."""
        self._into(skip, out[at:at + len(self) - skip])

    def _into(self, a: int, dest: np.ndarray) -> None:
        """Samples [a, a + len(dest)) into `dest`: silence, then the stretch, then silence."""
        dest[:] = 0.0
        c0, c1 = max(a, self.left), min(a + len(dest), self.left + len(self.core))
        if c1 > c0:
            dest[c0 - a:c1 - a] = self.core[c0 - self.left:c1 - self.left]


def concatenate(pieces: list, sample_rate: int, xfade_s: float = XFADE_S,
                fades: list[float] | None = None) -> np.ndarray:
    """Join pieces that each carry half a crossfade of extra audio at both joined ends, with
    equal-power crossfades: `xfade_s` long, or `fades[k]` seconds at join k. The output is
    allocated once (a long recording is not copied once per join)."""
    overlaps, size = [], len(pieces[0])
    for k, p in enumerate(pieces[1:]):
        n = max(1, int((fades[k] if fades else xfade_s) * sample_rate))
        m = min(n, size, len(p))
        overlaps.append(m)
        size += len(p) - m
    out = np.empty(size, np.float32)
    _put(out, pieces[0], 0, 0)
    at = len(pieces[0])
    for p, m in zip(pieces[1:], overlaps, strict=True):
        if m > 0:
            f_in, f_out = _fade(m)
            out[at - m:at] = out[at - m:at] * f_out + p[:m].astype(np.float32) * f_in
        _put(out, p, at, m)
        at += len(p) - m
    return out


def _put(out: np.ndarray, piece, at: int, skip: int) -> None:
    """Piece [skip:] into out[at:] (a `Padded` piece without materialising it)."""
    if isinstance(piece, Padded):
        piece.write_into(out, at, skip)
    else:
        out[at:at + len(piece) - skip] = piece[skip:]


def _cut(rec: Recording, t: float, search_s: float = 0.006) -> int:
    """Sample index near time `t` where the signal is quietest (within ±search_s)."""
    sr = rec.sample_rate
    a, b = int((t - search_s) * sr), int((t + search_s) * sr)
    a, b = max(a, 0), min(b, len(rec.samples) - 1)
    if b <= a:
        return int(np.clip(t * sr, 0, len(rec.samples)))
    w = max(1, int(0.001 * sr))
    seg = np.abs(rec.samples[a:b + w])
    local = np.convolve(seg, np.ones(w) / w, mode="valid")[: b - a]
    return a + int(np.argmin(local))


def render_units(recs: list[Recording], units: list[Unit], targets: list[Target],
                 seed: int = 0) -> Rendered:
    """Concatenate selected units (natural runs kept whole) and apply target prosody.
    `recs` are the inventory's recordings (a unit's `source` indexes them)."""
    sr = recs[0].sample_rate
    half = int(XFADE_S * sr / 2)
    # Group into runs of units that follow each other in the recording.
    runs: list[list[int]] = []
    for k, u in enumerate(units):
        if runs and units[runs[-1][-1]].next_index == u.index:
            runs[-1].append(k)
        else:
            runs.append([k])
    pieces, bounds, t = [], [], 0.0
    for run in runs:
        first, last = units[run[0]], units[run[-1]]
        rec = recs[first.source]
        a, b = _cut(rec, first.start), _cut(rec, last.end)
        piece = rec.samples[max(0, a - half):min(len(rec.samples), b + half)]
        pieces.append(piece)
        for k in run:
            u = units[k]
            s0 = t + (u.start - first.start)
            bounds.append((u.label, s0, t + (u.end - first.start)))
        t += (b - a) / sr
    audio = concatenate(pieces, sr)
    # first piece keeps its leading half-fade of context; trim it so phone times line up
    audio = audio[half:] if len(audio) > 2 * half else audio
    phones = [(lab, max(0.0, s), max(0.0, e)) for lab, s, e in bounds]
    shaped, phones = apply_prosody(audio, sr, phones, targets, seed)
    return Rendered(shaped, phones, "units", joins=len(runs) - 1)


def apply_prosody(audio: np.ndarray, sample_rate: int, phones: list[tuple[str, float, float]],
                  targets: list[Target], seed: int = 0
                  ) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    """PSOLA: stretch each phone to its target duration; move pitch to the targets' contour
    while keeping the units' own movement inside it (`natural_contour`). Returns audio and
    the new phone boundaries.

    Praat's overlap-add draws random numbers (for unvoiced stretches); its generators are
    seeded with `seed` first, so the same input gives the same audio."""
    import parselmouth
    from parselmouth.praat import call, run

    run(f"random_initializeWithSeedUnsafelyButPredictably ({int(seed)})")
    snd = parselmouth.Sound(audio.astype(np.float64), sample_rate)
    total = snd.get_total_duration()
    manip = call(snd, "To Manipulation", 0.01, 60, 500)
    dur = call("Create DurationTier", "dur", 0, total)
    new_phones, t_new = [], 0.0
    for (lab, s, e), tg in zip(phones, targets, strict=True):
        s, e = min(s, total), min(max(e, s + 0.005), total)
        ratio = float(np.clip(tg.duration / max(e - s, 0.005), 0.4, 2.5))
        call(dur, "Add point", s + 0.001, ratio)
        call(dur, "Add point", max(e - 0.001, s + 0.002), ratio)
        d = (e - s) * ratio
        new_phones.append((lab, t_new, t_new + d))
        t_new += d
    call([manip, dur], "Replace duration tier")
    pitch = call(manip, "Extract pitch tier")
    voiced = [(s + e) / 2 for (lab, s, e), tg in zip(phones, targets, strict=True)
              if tg.f0 > 0 and (lab in VOWELS or lab in ("M", "N", "NG", "L", "R", "W", "Y"))]
    n_points = call(pitch, "Get number of points")
    if voiced and n_points > 0:
        times = np.array([call(pitch, "Get time from index", i) for i in range(1, n_points + 1)])
        values = np.array([call(pitch, "Get value at index", i)
                           for i in range(1, n_points + 1)])
        contour = natural_contour(times, values, phones, targets)
        call(pitch, "Remove points between", 0, total)
        for t, f in zip(times, contour, strict=True):
            call(pitch, "Add point", float(t), float(f))
        call([manip, pitch], "Replace pitch tier")
    out = call(manip, "Get resynthesis (overlap-add)")
    samples = out.values[0].astype(np.float32)
    return samples, new_phones


def natural_contour(times: np.ndarray, values: np.ndarray,
                    phones: list[tuple[str, float, float]], targets: list[Target],
                    keep: float = 1.0) -> np.ndarray:
    """New pitch for the points (`times`, `values` in Hz) of concatenated units: each voiced
    phone is shifted so its median meets its target, the shift gliding between phone centres
    (no steps), and `keep` of each unit's own movement around its median stays (flattening
    it to a line is what made new words sound read in: pitch SD 0.7 semitones against the
    speaker's 1.3-2.8)."""
    centres, shifts = [], []
    for (_, s, e), tg in zip(phones, targets, strict=True):
        inside = values[(times >= s) & (times <= e)]
        if tg.f0 > 0 and len(inside):
            centres.append((s + e) / 2)
            shifts.append(np.log2(tg.f0) - np.log2(float(np.median(inside))))
    if not centres:
        return values
    log_f = np.log2(values)
    shift = np.interp(times, centres, shifts)
    # the query voice's glide inside each phone (a rise or fall across a vowel), centred
    for (_, s, e), tg in zip(phones, targets, strict=True):
        inside = (times >= s) & (times <= e)
        if tg.glide and e > s and inside.any():
            shift[inside] += tg.glide / 12 * ((times[inside] - s) / (e - s) - 0.5)
    # the units' own movement: a 60 ms running median carries their slow rise and fall, the
    # rest is the fine movement of which `keep` stays (all of it: at 0.8, new spans on LJ
    # Speech moved 0.67 as much as the speaker's own words; at 1.0, 0.92)
    line = np.array([np.median(log_f[np.abs(times - t) <= 0.03]) for t in times])
    new = line + shift + keep * (log_f - line)
    # glide over the joins between units: a 30 ms moving average removes steps, not contours
    near = np.abs(times[:, None] - times[None, :]) <= 0.015
    return 2.0 ** ((near @ new) / near.sum(axis=1))


def render_fallback(rec: Recording, words: list[str], targets: list[Target],
                    language: str = "en", aligner=None, seed: int = 0) -> Rendered:
    """Speak words with espeak-ng and convert the voice toward the recording's speaker."""
    from retake.align.espeak import synthesize

    synth = synthesize(" ".join(words), language=language, rate_wpm=160, seed=seed)
    return render_external(rec, synth.audio, synth.sample_rate, words, targets, "fallback",
                           aligner, seed)


def render_external(rec: Recording, audio: np.ndarray, rate: int, words: list[str],
                    targets: list[Target], engine: str, aligner=None, seed: int = 0
                    ) -> Rendered:
    """Speech from another voice (espeak-ng, a coqui model) made to fit the recording:
    resampled, trimmed, its long-term spectrum matched to the speaker's, then each phone
    (found by aligning it) stretched and pitched to the targets."""
    from retake.align.audio import Audio, resample

    x = resample(audio.astype(np.float32), rate, rec.sample_rate)
    env = np.abs(x) > 0.02 * np.max(np.abs(x)) if len(x) and np.max(np.abs(x)) > 0 else None
    idx = np.flatnonzero(env) if env is not None else np.zeros(0, int)
    if len(idx):
        x = x[max(0, idx[0] - 40):idx[-1] + 40]
    x = match_envelope(x, rec)
    phones = None
    if aligner is not None and len(x) > rec.sample_rate // 5:
        try:
            al = aligner.align(Audio(x, rec.sample_rate), " ".join(words))
            got = [(p.label, p.start, p.end) for p in al.phones()]
            if [g[0] for g in got] == [t.label for t in targets]:
                phones = got
        except Exception:  # noqa: BLE001 - fall back to spreading the phones evenly
            phones = None
    if phones is None:
        step = len(x) / rec.sample_rate / max(len(targets), 1)
        phones = [(t.label, k * step, (k + 1) * step) for k, t in enumerate(targets)]
    shaped, phones = apply_prosody(x, rec.sample_rate, phones, targets, seed)
    return Rendered(shaped, phones, engine, joins=0)


def _ltas(x: np.ndarray, n_fft: int = 1024) -> np.ndarray:
    """Long-term average spectrum (amplitude per bin) over the louder half of the frames."""
    from numpy.lib.stride_tricks import sliding_window_view

    y = np.pad(x.astype(np.float32), (n_fft // 2, n_fft // 2 + max(0, n_fft - len(x))))
    frames = sliding_window_view(y, n_fft)[:: n_fft // 4] * np.hanning(n_fft + 1)[:-1]
    spec = (np.abs(np.fft.rfft(frames, axis=1)) ** 2).T
    loud = spec[:, spec.sum(0) > np.percentile(spec.sum(0), 50)] if spec.shape[1] > 4 else spec
    return np.sqrt(np.mean(loud, axis=1) + 1e-12)


def match_envelope(x: np.ndarray, rec: Recording) -> np.ndarray:
    """Filter `x` so its long-term spectrum follows the speaker's (smoothed ratio, ±12 dB),
    as one zero-phase filter over the whole signal (numpy only: librosa's import alone cost
    a second of every edit that borrows a phone)."""
    if len(x) < 2048:
        return x
    n_fft = 1024
    speech = np.concatenate([rec.samples[int(w.start * rec.sample_rate):int(w.end *
                             rec.sample_rate)] for w in rec.alignment.words if w.aligned]
                            or [rec.samples])
    ratio_db = 20 * np.log10(_ltas(speech, n_fft) / _ltas(x, n_fft))
    smooth = np.convolve(np.pad(ratio_db, 4, mode="symmetric"), np.ones(9) / 9, "valid")
    gain = np.clip(smooth, -12, 12)
    gain -= np.median(gain)
    n = len(x)
    bins = np.fft.rfftfreq(n_fft)
    g = 10 ** (np.interp(np.fft.rfftfreq(n), bins, gain) / 20)
    return np.fft.irfft(np.fft.rfft(x.astype(np.float64)) * g, n).astype(np.float32)
