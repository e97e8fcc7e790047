"""Finding the watermark after a phase-vocoder pitch shift (issue 18).

A pitch shift by a factor g (librosa, Rubber Band, SoX `pitch`, an editor's "change pitch")
time-stretches by g with a phase vocoder, then resamples back. Resampling the received audio
by g again undoes the second step: what is left is the original cut into segments of a few
hundred ms (between the vocoder's repeated or skipped frames), each delayed a little more,
and in each the phase of every fine frequency bin turned by its own unknown constant. So the
chips no longer add up across bins, but within one bin and one segment they still do:

- Presence. The received audio, resampled by g, is analysed in 64 ms frames (phase
  transform in the band); each bin is correlated with the sync block over chunks of
  `CHUNK` frames (0.77 s), and the squared magnitudes are summed over the bins: a statistic
  blind to each bin's phase. Its lag drifts by (1 - 1/g) frame per frame (the vocoder's
  delays); the best lag line over `WINDOW` chunks (6.1 s) gives a z-score against the
  statistic's own spread over all lags. On the bench's edit-length marks the true factor
  ranked first among all factors tried in 26 of 28 shifts.
- Payload. Each chunk's phase in each bin is read off the sync (a pilot) and the carrier's
  soft bits are read against it. The window is read on 8 chunkings (4 chunk grids, and the
  audio shifted by half a frame) whose soft bits are summed: a segment's edge falls inside
  different chunks of each, so their pilots err differently. The coded bits' posteriors
  (forward-backward over the code) then rebuild the whole mark, sync and carrier, as the
  pilot of the next round, each bit's own share left out of its soft value.
- Which factors are decoded. Presence on 2 chunk grids ranks every factor; the best
  `CANDIDATES` are read again on all 8 chunkings and ranked by their mean z, which is less
  noisy (on the bench's +-1 semitone edit marks it put the true factor first in 42 of the
  46 shifts where it was among those 8, against 33 by the 2 grids; 17 + 15 of 50 found,
  was 16 + 15).
- False alarms. Only the `DECODES` factors ranked best (with a presence z of at least
  `pitch_threshold`) are decoded, `ROUNDS` rounds each: at most 32 CRC checks per search,
  each passed by chance with probability 2^-16; and a payload must name a Retake version
  up to this one (9 of the 256 codes at 0.2). So at most 32 * 2^-16 * 9/256 ~ 2e-5 false
  payloads per searched piece (one file, or 60 s of a long one): ~0.06 per 10 hours of
  10 s files, ~0.01 per 10 hours of long ones. Null trials (bench/watermark.py, 8 keys on
  the 25 unmarked files, 200 searches, 800 factors decoded): no payload.
- Factors. The bins stay coherent over a chunk only if g is right to about 1e-4, which a
  search over every factor cannot afford (~600 factors), and a coarse statistic (chunks of
  4 frames, factor steps of 1e-3) did not find it. Pitch-shifting tools take
  semitones or cents and apply the exact ratio 2^(n/12), so the factors tried are whole
  tenths of a semitone within +-`pitch_range` semitones (plain resampling is the speed
  search's). A shift by an arbitrary factor (0.537 semitone) is not found.

Steps, measured at the exact factor (true-factor runs on the bench files whose mark is the
full 6 s, 28 shifts of +-1 semitone): sync-only pilot 3 of 24 (8 files, earlier set);
re-encoded Viterbi decisions as the next pilot 11 of 24; 0.77 s chunks instead of 0.51 s
20 of 24; forward-backward posteriors 23 of 28; 8 chunkings summed 24-25 of 28 (25 with a
pilot of the true mark, the bound). A factor off by 1e-4 kept 17 of 24, off by 2e-4 none.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from retake.awareness.watermark import (
    _MEMORY,
    CODED_BITS,
    RATE,
    Detection,
    Payload,
    WatermarkSettings,
    _scrambled,
    _sequences,
    _trellis,
    _viterbi,
    _window,
    version_code,
)
from retake.core.version import __version__

N_FFT = 1024  # 64 ms frames: a bin (15.6 Hz) about as wide as a vocoder's
HOP = 256
CHUNK = 48  # frames summed coherently in each bin (0.77 s)
WINDOW = 8  # chunks per presence window (6.1 s, what `retake edit` marks)
OFFSETS = 2  # chunk grids tried, CHUNK / OFFSETS frames apart (a mark need not start on one)
LLR_SCALE = 2.0  # channel LLR of a soft bit per its spread (a rough fit)
CANDIDATES = 8  # factors whose presence is read again on every chunking (best z first)
DECODES = 4  # factors decoded per search, best presence z over every chunking first
GRIDS = 4  # chunk grids each decoded window is read on, CHUNK / GRIDS frames apart
SHIFTS = (0, 128)  # samples: and the audio shifted by each (a lag is one frame)
SPEC_BLOCK = 512  # frames transformed at a time (memory)
ROUNDS = 8  # decoding rounds (each re-reads the soft bits against the decoded mark)


def pitch_factors(settings: WatermarkSettings) -> np.ndarray:
    """The pitch factors tried: whole tenths of a semitone, 0 excluded, within the range."""
    n = int(round(settings.pitch_range * 10))
    steps = np.array([s for s in range(-n, n + 1) if s != 0], float)
    return 2.0 ** (steps / 120.0)


def find_pitched(y16: np.ndarray, settings: WatermarkSettings) -> list[Detection]:
    """Marks in 16 kHz audio whose pitch was shifted by one of `pitch_factors` (times are
    those of `y16`). At most one, the best-scoring decodable candidate, is returned; its
    edges are those of the window read (chunks of 0.77 s), not located further."""
    import soxr

    if settings.pitch_range <= 0 or len(y16) < settings.block:
        return []
    sync_t, carrier_t = _templates(settings)
    carrier_c = np.conj(carrier_t)  # 10 MB: once per search, not once per chunking

    def resampled(g: float) -> np.ndarray:
        return soxr.resample(np.asarray(y16, np.float64), RATE, RATE * g, "HQ")

    best_z: dict[float, float] = {}  # factor -> best presence z (spectra not kept: memory)
    for g in map(float, pitch_factors(settings)):
        spec = _band_spec(resampled(g), settings)
        for off in range(0, CHUNK, CHUNK // OFFSETS):
            found = _best_window(spec[off:], g, sync_t)
            if found is not None and found[0] >= settings.pitch_threshold:
                best_z[g] = max(best_z.get(g, -np.inf), found[0])
    # presence on 2 chunk grids is noisy: the best few are read on all 8 chunkings and
    # ranked again by their mean z (spectra again, not kept: memory)
    top = sorted(best_z, key=lambda f: -best_z[f])[:CANDIDATES]
    windows = {g: _windows(resampled(g), g, sync_t, settings) for g in top}
    pooled = {g: np.mean([found[0] for *_, found in w]) for g, w in windows.items() if w}
    newest = version_code(__version__)
    for g in sorted(pooled, key=lambda f: -pooled[f])[:DECODES]:
        reads = _reads(resampled(g), g, windows[g], sync_t, carrier_c, settings)
        payload = _decode(reads, settings)
        # a payload naming a version yet to come is taken for a chance CRC match
        if payload is not None and payload.version <= newest:
            top = max(reads, key=lambda r: r.z)
            how = f"pitch shifted by {12 * np.log2(g):+.1f} semitones"
            return [Detection(top.start, min(len(y16) / RATE, top.end), payload, top.z, top.z,
                              how)]
    return []


@dataclass
class _Read:
    """One chunking of a candidate window: its sync pilot and each coded bit's correlation
    per chunk and bin, and where it lies (seconds of the received audio)."""

    pilot: np.ndarray  # (chunks, bins)
    per_bit: np.ndarray  # (bits, chunks, bins)
    z: float
    start: float
    end: float


def _reads(b: np.ndarray, g: float, windows: list[tuple[int, int, tuple[float, int, int]]],
           sync_t: np.ndarray, carrier_c: np.ndarray, settings: WatermarkSettings
           ) -> list[_Read]:
    """The best window of `b` (received audio resampled by `g`) read in every chunking
    (`windows`, from `_windows`). `carrier_c`: the carrier templates, conjugated."""
    reads = []
    specs = {shift: _band_spec(b[shift:], settings) for shift in SHIFTS}
    for shift, off, (z, d0, c0) in windows:
        sub = specs[shift][off:]
        n_chunks = len(sub) // CHUNK
        w = min(WINDOW, n_chunks)
        rows = np.arange(c0 * CHUNK, (c0 + w) * CHUNK)
        phase = (rows - d0 - np.repeat(_drift(g, n_chunks), CHUNK)[rows]) % len(sync_t)
        # fold each chunk's frames by their place in the block, then correlate
        folded = np.zeros((w, len(sync_t), sub.shape[1]), np.complex64)
        chunk = np.repeat(np.arange(w), CHUNK)
        np.add.at(folded, (chunk, phase), sub[rows])
        pilot = np.einsum("cpk,pk->ck", folded, np.conj(sync_t))
        per_bit = np.einsum("cpk,jpk->jck", folded, carrier_c, optimize=True)
        start = ((off + c0 * CHUNK) * HOP + shift) / RATE / g
        end = ((off + (c0 + w) * CHUNK) * HOP + shift) / RATE / g
        reads.append(_Read(pilot, per_bit, z, start, end))
    return reads


def _windows(b: np.ndarray, g: float, sync_t: np.ndarray, settings: WatermarkSettings
             ) -> list[tuple[int, int, tuple[float, int, int]]]:
    """(shift, grid offset, (z, lag, first chunk) of the best window) of `b` (received
    audio resampled by `g`) in each chunking: GRIDS chunk grids, CHUNK / GRIDS frames
    apart, and the audio shifted by SHIFTS samples (the lag is found to a frame)."""
    out = []
    for shift in SHIFTS:
        spec = _band_spec(b[shift:], settings)
        for off in range(0, CHUNK, CHUNK // GRIDS):
            found = _best_window(spec[off:], g, sync_t)
            if found is not None:
                out.append((shift, off, found))
    return out


def _drift(g: float, n_chunks: int) -> np.ndarray:
    """Frames the mark's lag has gained by each chunk (the vocoder's delays, undone by g)."""
    return np.round((1 - 1 / g) * CHUNK * np.arange(n_chunks)).astype(int)


def _best_window(spec: np.ndarray, g: float, sync_t: np.ndarray
                 ) -> tuple[float, int, int] | None:
    """(z, starting lag, first chunk) of the window of `WINDOW` chunks whose sync power,
    along the lag's drift, stands highest over the statistic's spread at every lag."""
    n_chunks = len(spec) // CHUNK
    if n_chunks == 0:
        return None
    power = _lag_power(spec[:n_chunks * CHUNK], _drift(g, n_chunks), sync_t)  # (lags, chunks)
    mu = float(np.median(power))
    sd = 1.4826 * float(np.median(np.abs(power - mu))) + 1e-12
    w = min(WINDOW, n_chunks)
    sums = np.cumsum(np.pad(power, ((0, 0), (1, 0))), axis=1)
    window = (sums[:, w:] - sums[:, :-w] - w * mu) / (sd * np.sqrt(w))  # (lags, starts)
    d0, c0 = np.unravel_index(int(np.argmax(window)), window.shape)
    return float(window[d0, c0]), int(d0), int(c0)


def _lag_power(spec: np.ndarray, steps: np.ndarray, sync_t: np.ndarray) -> np.ndarray:
    """Sum over bins of |chunk's correlation with the sync|^2, for every starting lag.

    Each chunk's frames are folded by their place in the block, then correlated with the
    sync's spectra circularly over the block's frame positions (FFT): the same as summing
    frame by frame at every lag, several times faster.
    """
    period = len(sync_t)
    n_chunks = len(steps)
    folded = np.zeros((n_chunks, period, spec.shape[1]), np.complex64)
    chunk = np.arange(n_chunks)
    for j in range(CHUNK):
        folded[chunk, (chunk * CHUNK + j - steps) % period] += spec[chunk * CHUNK + j]
    corr = np.fft.ifft(np.fft.fft(folded, axis=1) * np.conj(np.fft.fft(sync_t, axis=0)),
                       axis=1)
    return np.sum(np.abs(corr) ** 2, axis=2).T.astype(np.float32)


def _decode(reads: list[_Read], settings: WatermarkSettings) -> Payload | None:
    """Pilot-aided soft decoding over every chunking of a window.

    Each chunk's phase in each bin is read off its sync (the pilot); the carrier's soft
    bits are read against it and summed over the chunkings (their chunk edges fall at
    different places, so their pilots err differently); then the coded bits' posteriors
    (forward-backward over the code) rebuild the whole mark as a stronger pilot for the
    next round, each bit's own share left out of its soft value.
    """
    if not reads:
        return None
    flip = _scrambled(np.zeros(CODED_BITS, np.uint8), settings) == 1
    energy = [np.sum(np.abs(r.per_bit) ** 2, axis=(1, 2)) for r in reads]
    signs = np.zeros(CODED_BITS)  # expected sign of each scrambled coded bit on the air
    for _ in range(ROUNDS):
        raw = np.zeros(CODED_BITS)
        for r, e in zip(reads, energy, strict=True):
            ref = r.pilot + np.tensordot(signs, r.per_bit, axes=1)
            one = np.real(np.sum(r.per_bit * np.conj(ref)[None], axis=(1, 2))) - signs * e
            raw += one / (np.std(one) + 1e-30)
        soft = np.where(flip, -raw, raw)
        payload = Payload.unpack(_viterbi(soft))
        if payload is not None:
            return payload
        llr = _coded_posteriors(LLR_SCALE * soft / (np.std(soft) + 1e-30))
        signs = np.where(flip, -1.0, 1.0) * np.tanh(llr / 2)
    return None


def _coded_posteriors(llr: np.ndarray) -> np.ndarray:
    """Posterior log-likelihood ratios (positive: 1) of the coded bits given channel ones:
    the forward-backward (BCJR) pass over the code's trellis, zero state at both ends."""
    n_states = 1 << _MEMORY
    ns = np.arange(n_states)
    prev, signs = _trellis()
    steps = llr.reshape(-1, signs.shape[-1])
    gamma = np.exp(np.clip(0.5 * np.einsum("ksi,ti->tks", signs, steps), -60, 60))
    alpha = np.zeros((len(steps) + 1, n_states))
    beta = np.zeros_like(alpha)
    alpha[0, 0] = beta[-1, 0] = 1.0
    for t in range(len(steps)):
        a = np.sum(alpha[t][prev] * gamma[t], axis=0)
        alpha[t + 1] = a / a.sum()
    succ = np.stack([(ns >> 1) | (b << (_MEMORY - 1)) for b in (0, 1)])  # (2, states)
    for t in range(len(steps) - 1, -1, -1):
        b = np.sum(gamma[t][ns & 1, succ] * beta[t + 1][succ], axis=0)
        beta[t] = b / b.sum()
    post = alpha[:-1][:, prev] * gamma * beta[1:][:, None, :]  # (steps, 2, states)
    ones = np.einsum("tks,ksi->ti", post, (signs > 0).astype(float))
    total = post.sum(axis=(1, 2))[:, None]
    p1 = np.clip(ones / total, 1e-12, 1 - 1e-12)
    return np.log(p1 / (1 - p1)).ravel()


def _band_spec(x: np.ndarray, settings: WatermarkSettings) -> np.ndarray:
    """Phase-transformed spectra of the band's bins, frames centred every HOP samples."""
    k0, k1 = _band_bins(settings)
    win = _window(N_FFT, HOP).astype(np.float32)  # Hann
    pad = N_FFT // 2
    xp = np.zeros(len(x) + 2 * pad + N_FFT, np.float32)
    xp[pad:pad + len(x)] = x
    frames = np.lib.stride_tricks.sliding_window_view(xp, N_FFT)[::HOP][:len(x) // HOP + 1]
    spec = np.empty((len(frames), k1 - k0), np.complex64)
    for i in range(0, len(frames), SPEC_BLOCK):  # in blocks: the full FFT is 4x the band
        part = np.fft.rfft(frames[i:i + SPEC_BLOCK] * win, axis=1)[:, k0:k1]
        spec[i:i + SPEC_BLOCK] = part / (np.abs(part) + 1e-12)
    return spec


def _band_bins(settings: WatermarkSettings) -> tuple[int, int]:
    lo, hi = settings.band
    return int(lo * N_FFT / RATE), int(hi * N_FFT / RATE)


@functools.lru_cache(maxsize=4)
def _templates(settings: WatermarkSettings) -> tuple[np.ndarray, np.ndarray]:
    """Spectra of the sync block, and of each coded bit's share of the carrier, at every
    frame position of one block (the mark is periodic): (P, bins) and (bits, P, bins)."""
    sync, carrier, slot_bit = _sequences(settings)
    period = settings.block // HOP
    k0, k1 = _band_bins(settings)
    win = _window(N_FFT, HOP)
    starts = (np.arange(period) * HOP - N_FFT // 2) % settings.block
    idx = (starts[:, None] + np.arange(N_FFT)[None]) % settings.block  # (P, N_FFT)

    def spectra(seq: np.ndarray) -> np.ndarray:
        return np.fft.rfft(seq[..., idx] * win, axis=-1)[..., k0:k1].astype(np.complex64)

    owner = slot_bit[np.arange(settings.block) // settings.slot]
    bits = np.stack([carrier * (owner == j) for j in range(CODED_BITS)])  # (bits, block)
    return spectra(sync), spectra(bits)


__all__ = ["find_pitched", "pitch_factors"]
