"""An inaudible watermark that marks synthesized speech and survives ordinary handling.

Every span Retake synthesizes carries a short payload (tool version, edit id, CRC-16) as
spread-spectrum noise hidden under the speech, so a copy that has been re-encoded, resampled,
trimmed or spliced into other audio can still be recognised as edited, and where.

Design (spread spectrum in a speech band, after Cox et al. 1997 and Kirovski & Malvar 2003):

- Chips. The mark is built at 16 kHz from two white pseudo-noise sequences drawn from a key,
  band-limited to 1.5-5.5 kHz (kept by MP3/AAC at 64 kbit/s and by any resampling to 16 kHz
  or more; above most of the speech power, so a given segmental SNR allows a stronger mark):
  a sync sequence and a data carrier. One block of 7680 chips (0.48 s) carries `sync_share`
  (30 %) of the power as the sync sequence and the rest as the carrier, whose 480 slots of 16
  chips are sign-modulated by the payload: 48 bits (version, edit id, CRC-16) coded by a
  rate-1/3, K=7 convolutional code into 162 bits (about 3 slots each, scattered over the
  block), scrambled by the key, decoded by soft Viterbi. Blocks repeat back to back from
  the start of the span: the mark is periodic, so any 0.48 s of it holds every coded bit
  and a trimmed or spliced piece still decodes.
- Shaping. The chips are shaped in the short-time spectrum (32 ms frames, 8 ms hop) to
  `strength_db` below the host's local spectral envelope (power smoothed over ~300 Hz, about
  a critical band, held over ~40 ms of forward masking), so the mark lives where speech masks
  it; no frame's mark exceeds `cap_db` of the frame's whole power (thin, fricative or
  decaying frames). In pauses of the span the envelope is floored at `floor_db` below the
  span's loud level, so quiet parts still carry the mark, under a typical room-noise floor.
- Detection. The audio is resampled to 16 kHz and whitened by phase transform (every
  time-frequency tile of the band set to unit magnitude, times how far it stands above the
  steady noise floor), so the tiles between harmonics, where the mark is strongest relative
  to the host, count fully. The whitened signal is cross-correlated with the sync block at
  every lag (one FFT), normalised by the running RMS of that correlation (a z-score, about
  N(0,1) on unmarked audio), folded by block and summed over two blocks (0.96 s windows).
  The best lag of each window above `threshold` is decoded (soft bits summed over every
  marked chip, partial blocks included), and the span is located by a change-point search
  on the correlation with the whole decoded block in 80 ms windows. A second pass sums
  four blocks (1.92 s windows) and reports only payloads whose CRC holds, where the first
  decoded none: a long mark in noise, whose 2-block windows hover about the threshold. A
  third sums twelve (5.76 s, about what an edit marks) and keeps only payloads that also
  name a Retake version up to this one: a quiet recording's edit mark in noise.
- Length. `retake edit` marks MIN_MARK_S (6 s, voice/edit.py) around each new word, since
  noise is what a longer mark survives: at 10 dB SNR (white; the 25 bench files, one
  span each, the same seeds) the payload came back from 7 of 23 files marked for 2 s, 15
  of 19 marked for 4 s and 13 of 14 marked for 6 s (9 of 14 without the 4-block pass),
  with no detection on 200 noisy unmarked file-key pairs.

- Speed. Audio played faster or slower by resampling (a video platform's re-timing, a
  tape or a phone path: time and pitch scaled by the same factor f) shifts the chips: the
  correlation is lost beyond |f - 1| ~ 1e-4. When nothing carrying a payload is found at
  f = 1, a coarse search over f in 1 +- `speed_range` (grid `speed_step`, ~250 factors)
  correlates the sync block stretched to 7680/f chips with the whitened audio in the
  band's complex baseband and takes magnitudes (so a factor off by 2e-4 still peaks); the
  best factor, if its statistic reaches `speed_threshold`, is refined to ~1e-5 on the real
  correlation, the audio resampled back by it, and searched as above with the sync
  threshold raised to `threshold_speed` and only CRC-valid payloads reported. The search
  costs ~2 s of CPU per minute of audio (one thread), about ten times the rest.
- Pitch. A phase-vocoder pitch shift scrambles the chips' phase across frequency bins,
  but not within one bin over a few hundred ms: when nothing carrying a payload is found,
  `watermark_pitch.find_pitched` reads the sync bin by bin, whatever its phase, at every
  pitch factor of a whole tenth of a semitone within +-`pitch_range`, and decodes the
  payload with the sync, then the decoded mark, as the phase reference (that module has
  the method and figures). It needs about the 6 s an edit marks; a 2 s mark is mostly lost.
- What the mark does not survive (bench/watermark.py --attacks-only): a phase-vocoder
  pitch shift on a mark of 2 s (the bin-by-bin reading needs more chips), or by a factor
  that is not a whole tenth of a semitone; a time-domain pitch shift of a semitone
  (ffmpeg's asetrate + atempo: WSOLA splices every ~23 ms, each piece delayed by its own
  few ms, which scrambles every bin's phase piece by piece; 1 of 25 edit marks each way,
  where 0.1 semitone leaves pieces the speed search reads, 25 of 25); and white noise at
  10 dB SNR on a mark of 2 s or less (the payload's 162 coded bits over 2 s cannot be
  decoded even at the right alignment), which is what a short file gives.
- A second, magnitude-domain layer was tried for both (issue 18) and not kept: within this
  mark's audibility budget (segmental SNR 26.4 dB on the bench) none gets strong enough
  over a 2 s span. A phase vocoder keeps each fine bin's magnitude and phase advance but
  not the phases across bins, so what survives it is either quadratic in the mark (tones,
  band energy: at -13 dB the mark adds 5 % to a tile's power) or, for a keyed modulation
  of the host's own spectrum (linear in its depth), read against the host's spread of
  log-energy (about 1.3 nats per tile; 4-9 dB per band and 64 ms slot). Measured z-scores
  at the true span (bench spans of 2 s; null: the same attack on the unmarked files, one
  window per file; a detector scanning hours of audio would need well above those nulls,
  about 7.5 by extrapolation):
  * keyed +-1 dB patchwork of 12 log-spaced bands (0.5-5.5 kHz, 64 ms slots, 9 files): costs
    1.7 dB of segmental SNR and is not told apart from unmarked speech even unattacked;
  * keyed +- modulation of 62.5 Hz x 128 ms tiles in the band, on the same masking envelope
    with half of the mark's power, searched over frequency-warp factors 1 +- 7.5 % (25
    files): median 8.6 unattacked; 5.1 / 4.7 / 5.5 / 5.5 after +1 / -1 / +0.5 / -0.5
    semitone (unmarked maxima 5.0-6.3, so 4-17 of 25 even above that optimistic bar);
    4.1 at 10 dB SNR;
  * keyed tones, phase-flipped per 256 ms slot and read differentially (30 % of the power,
    5 files): medians 3.7-4.6 against unmarked maxima of 4.8-5.5.
  For 10 dB noise, the sync summed over 4 blocks instead of 2 reaches a median best z of
  5.9 on the marked files against at most 5.0 on unmarked ones: short of the 7 that a
  detection without a payload needs.
  Strength against 10 dB white noise (the 25 bench files, 2 s spans, right payload; mean
  segmental SNR of the mark): band 1.5-5.5 kHz at -13 dB / cap -21.5 dB (these settings)
  7/25 at 26.5 dB; cap -18: 11/25 at 25.3 dB; -10 dB / cap -15: 21/25 at 22.5 dB. A band
  from 0.7 kHz (more of speech's power under the mark): 4/25 at 24.9 dB (the frame cap
  binds, the mark is spread thinner), 14/25 at 22.8 dB with cap -18, 22/25 at 19.8 dB at
  -10 / -15. No false alarms on the noisy unmarked files in any. So 90 % needs about 4-5 dB
  more mark than now. Kept as is: a crude Johnston-style noise-to-mask ratio (Bark bands,
  spreading, tonality offset; no absolute threshold; independent of this embedder's own
  masking) puts the mark's worst band per frame at +6.5 dB on average (23 % of frame-bands
  over the mask), about what MP3 at 64 kbit/s does to the same spans (+9.6 dB, 23.5 %);
  -10 / -15 gives +10.6 dB (30 %): no headroom to spend by that measure, and the new
  words' quality comes first.

False alarms. A detection with a payload needs its window's best sync z-score above
`threshold` (4.5) *and* the CRC-16 to hold. On unmarked speech (bench/watermark.py: the
shared speech with 200 keys, ~10.9 hours of null trials) 2.6 % of windows have a best z above
4.5; their decoded bits are then random, so each of the two decodes per candidate passes the
CRC with probability 2^-16: 75000 windows per 10 hours * 0.026 * 2 / 65536 = 0.06 false
payload detections per 10 hours; the second pass's 4-block windows (2.5 % above 4.5) add as
many, 0.12 in all (none seen in the null trials); the third pass's 12-block windows, up to
three decodes each, keep only payloads naming a version up to this one (9 of 256 codes at
0.2), which adds ~0.003. A detection without a valid payload is
reported only when the sync z-score alone reaches `threshold_alone` (7.0); a Gumbel fit to
the measured window maxima (mean 3.8, sd 0.33) puts that at ~2e-6 per window, ~0.1 per 10
hours. The speed
search adds one more candidate per file at most (its best factor, refined over 17): it is
tried only when the coarse statistic reaches 7 (on unmarked speech, 25 files x 6 keys, its
maximum over all factors was 6.0 +- 0.3, at most 6.9), and then needs a sync z of 5 and a
valid CRC. The pitch search decodes at most 4 factors, 8 rounds each, and keeps a payload
only if it names a Retake version up to this one: at most 32 * 2^-16 * 9/256 ~ 2e-5 false
payloads per searched file or 60 s piece (`watermark_pitch`; none in its null trials).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from retake.core.errors import RetakeError
from retake.core.version import __version__

RATE = 16000  # Hz: chips, analysis and detection all run at this rate
PAYLOAD_BITS = 48
_GENERATORS = (0o133, 0o145, 0o175)  # rate-1/3, constraint-length-7 convolutional code
_MEMORY = 6
CODED_BITS = len(_GENERATORS) * (PAYLOAD_BITS + _MEMORY)  # 162, with a zero tail
_N_FFT = 512  # 32 ms frames for shaping and whitening
_HOP_EMBED = 128
_HOP_DETECT = 256


class WatermarkError(RetakeError):
    """The watermark cannot be embedded (bad span, too low a sample rate, bad payload)."""


@dataclass(frozen=True)
class WatermarkSettings:
    """The key and the knobs of the watermark; embed and detect must use the same ones."""

    seed: int = 0x5245_5441  # the key: both pseudo-noise sequences derive from it
    band: tuple[float, float] = (1500.0, 5500.0)  # Hz
    strength_db: float = -13.0  # mark power vs the host's local spectral envelope, in band
    cap_db: float = -21.5  # most mark power in a frame vs the frame's whole power
    floor_db: float = -40.0  # pause floor vs the span's loud envelope (90th percentile)
    block: int = 7680  # chips per payload repetition (0.48 s at 16 kHz)
    slot: int = 16  # chips per data slot (1 ms)
    sync_share: float = 0.3  # fraction of the mark's power in the sync sequence
    window_blocks: int = 2  # blocks summed for the sync decision (0.96 s)
    long_window_blocks: int = 4  # a second pass over 1.92 s windows, payloads only (0: off)
    edit_window_blocks: int = 12  # a third, over 5.76 s (an edit's mark), payloads only, and
    # only those naming a Retake version up to this one (0: off)
    threshold: float = 4.5  # sync z-score needed for a detection whose CRC holds
    threshold_alone: float = 7.0  # sync z-score needed to report one without a valid payload
    speed_range: float = 0.05  # speed changes searched at detection: factors 1 +- this (0: off)
    speed_step: float = 4e-4  # grid of the coarse speed search (its statistic holds to +-2e-4)
    speed_threshold: float = 7.0  # coarse-search statistic needed to try a changed speed
    threshold_speed: float = 5.0  # sync z-score (with a valid CRC) at a searched speed
    pitch_range: float = 1.5  # pitch shifts searched, semitones (tenths tried; 0: off)
    pitch_threshold: float = 2.5  # presence z a pitch factor needs to be decoded at all


DEFAULT = WatermarkSettings()


@dataclass(frozen=True)
class Payload:
    """What the mark says: the tool's version code (8 bits) and an edit id (24 bits).

    On the air it is 48 bits: version, edit id, then a CRC-16 (CCITT) of both, which is what
    keeps unmarked audio from decoding to a payload.
    """

    version: int
    edit_id: int

    def __post_init__(self) -> None:
        if not 0 <= self.version < 1 << 8:
            raise WatermarkError(f"payload version must be 0-255, got {self.version}")
        if not 0 <= self.edit_id < 1 << 24:
            raise WatermarkError(f"payload edit id must be 0-{(1 << 24) - 1}, got {self.edit_id}")

    def pack(self) -> np.ndarray:
        """The 48 bits (0/1, most significant first) that are embedded."""
        word = (self.version << 24) | self.edit_id
        bits = _int_bits(word, 32)
        return np.concatenate([bits, _int_bits(_crc16(bits), 16)])

    @classmethod
    def unpack(cls, bits: np.ndarray) -> Payload | None:
        """The payload of 48 decoded bits, or None when their CRC does not hold."""
        bits = np.asarray(bits, dtype=np.uint8)
        if bits.shape != (PAYLOAD_BITS,):
            return None
        if _crc16(bits[:32]) != _bits_int(bits[32:]):
            return None
        word = _bits_int(bits[:32])
        return cls(word >> 24, word & 0xFFFFFF)


def version_code(version: str) -> int:
    """An 8-bit code for a 'MAJOR.MINOR.PATCH' version: 2, 4 and 2 bits, each saturating."""
    parts = [int("".join(ch for ch in p if ch.isdigit()) or 0) for p in version.split(".")[:3]]
    major, minor, patch = (parts + [0, 0, 0])[:3]
    return (min(major, 3) << 6) | (min(minor, 15) << 2) | min(patch, 3)


@dataclass(frozen=True)
class Detection:
    """A marked stretch found in audio: seconds in the analysed signal, payload, strength.

    `score` is the z-score of the correlation with the whole decoded mark over the stretch
    (about N(0,1) on unmarked audio); `sync_score` that of the sync search that found it;
    `altered` says how the audio had been changed when the mark was found only after
    undoing it ("played 2.0% faster", "pitch shifted by +1.0 semitones"), else "".
    """

    start: float
    end: float
    payload: Payload | None
    score: float
    sync_score: float
    altered: str = ""


def embed(samples: np.ndarray, sample_rate: int, payload: Payload, start: float = 0.0,
          end: float | None = None, settings: WatermarkSettings = DEFAULT) -> np.ndarray:
    """A copy of `samples` whose [start, end) seconds carry `payload`; the rest is untouched.

    samples: mono float audio, shape (n,); sample_rate in Hz (at least 2.2x the band's top).
    """
    x = _mono(samples)
    _check_rate(sample_rate, settings)
    duration = len(x) / sample_rate
    end = duration if end is None else min(float(end), duration)
    start = max(0.0, float(start))
    if end - start < 0.02:
        raise WatermarkError(f"span {start:.3f}-{end:.3f} s is too short to watermark")
    margin = 0.25  # s of context on each side for the envelope
    a = int(max(0.0, start - margin) * sample_rate)
    b = min(len(x), int(np.ceil((end + margin) * sample_rate)))
    from retake.align.audio import resample

    host = resample(x[a:b], sample_rate, RATE).astype(np.float64)
    i0 = int(round((start - a / sample_rate) * RATE))
    i1 = min(len(host), int(round((end - a / sample_rate) * RATE)))
    chips = _periodic(block_pattern(payload, settings), len(host), i0)
    mark = _shape(host, chips, i0, i1, settings) * _span_ramp(len(host), i0, i1)
    mark = resample(mark.astype(np.float32), RATE, sample_rate)
    n = min(len(mark), b - a)
    mark = mark[:n]
    s0, s1 = int(round(start * sample_rate)) - a, int(round(end * sample_rate)) - a
    mark[:max(0, s0)] = 0.0  # the resampler's ringing must not leave the span
    mark[max(0, s1):] = 0.0
    out = x.copy()
    out[a:a + n] += mark
    return out


def detect(samples: np.ndarray, sample_rate: int, settings: WatermarkSettings = DEFAULT
           ) -> list[Detection]:
    """The marked stretches of `samples` (mono, any rate >= 8 kHz), in time order.

    Audio played up to `settings.speed_range` faster or slower is searched too (see
    `_find_sped`); times are always those of `samples`. Audio longer than two `PIECE_S`
    is searched in overlapping pieces (memory flat in length: one whitened copy of a
    10-minute file and its correlations took 1.6 GB), and their findings merged; each
    piece without a payload runs its own speed search, so the speed path's false-alarm
    budget (one candidate per file, below) becomes one per piece: still ~0.002 per hour.
    """
    x = _mono(samples)
    piece, overlap = int(PIECE_S * sample_rate), int(PIECE_OVERLAP_S * sample_rate)
    if len(x) <= 2 * piece:
        return _detect_piece(x, sample_rate, settings)
    found: list[Detection] = []
    for a in range(0, len(x), piece):
        a0, b0 = max(0, a - overlap), min(len(x), a + piece + overlap)
        shift = a0 / sample_rate
        found += [replace(d, start=d.start + shift, end=d.end + shift)
                  for d in _detect_piece(x[a0:b0], sample_rate, settings)]
        if b0 == len(x):
            break
    # a piece that saw only the edge of a mark its neighbour decoded adds nothing
    return _without_shadows(_merge(found))


PIECE_S = 60.0  # long audio is searched in pieces of this length...
PIECE_OVERLAP_S = 4.0  # ...overlapping by this much (several blocks) either side


def _detect_piece(x: np.ndarray, sample_rate: int, settings: WatermarkSettings
                  ) -> list[Detection]:
    """`detect` on one stretch of audio (the whole file, or a piece of a long one)."""
    from retake.align.audio import resample

    y16 = resample(x, sample_rate, RATE).astype(np.float64)
    y, quality = _whiten(y16, settings)
    found = _find(y, quality, settings)
    if settings.speed_range > 0 and not any(d.payload is not None for d in found):
        found = _merge(found + _find_sped(y16, y, settings))
    if settings.pitch_range > 0 and not any(d.payload is not None for d in found):
        from retake.awareness.watermark_pitch import find_pitched

        found = _without_shadows(_merge(found + find_pitched(y16, settings)))
    return found


def sync_scores(samples: np.ndarray, sample_rate: int, settings: WatermarkSettings = DEFAULT,
                blocks: tuple[int, ...] = ()) -> list[np.ndarray]:
    """The best sync z-score of every detection window: the null statistic thresholds come from.

    One array per window length in `blocks` (default: `window_blocks` alone), one value per
    window (hop one block); the audio is whitened and correlated once for all of them.
    """
    from retake.align.audio import resample

    y, _ = _whiten(resample(_mono(samples), sample_rate, RATE).astype(np.float64), settings)
    z = _sync_z(y, settings)
    return [_window_maxima(z, settings, b)[0] for b in blocks or (settings.window_blocks,)]


def block_pattern(payload: Payload, settings: WatermarkSettings = DEFAULT) -> np.ndarray:
    """One block of the unshaped mark at 16 kHz: sync plus sign-modulated carrier, unit power."""
    sync, carrier, slot_bit = _sequences(settings)
    signs = 2.0 * _scrambled(_encode(payload.pack()), settings) - 1.0
    data = _bandlimit(carrier * np.repeat(signs[slot_bit], settings.slot), settings)
    data /= np.sqrt(np.mean(data ** 2))
    return np.sqrt(settings.sync_share) * sync + np.sqrt(1 - settings.sync_share) * data


def segmental_snr(original: np.ndarray, marked: np.ndarray, sample_rate: int,
                  start: float = 0.0, end: float | None = None, frame: float = 0.02,
                  active_db: float = 40.0) -> float:
    """Mean per-frame SNR (dB, each frame clipped to [-10, 35]) of the mark over [start, end).

    Only frames within `active_db` of the loudest frame count, the usual segmental SNR over
    speech. 20 ms frames.
    """
    n = int(frame * sample_rate)
    a = int(start * sample_rate)
    b = len(original) if end is None else int(end * sample_rate)
    x = np.asarray(original[a:b], np.float64)
    e = np.asarray(marked[a:b], np.float64) - x
    k = len(x) // n
    if k == 0:
        raise WatermarkError("span too short for a segmental SNR")
    px = np.sum(x[:k * n].reshape(k, n) ** 2, axis=1)
    pe = np.sum(e[:k * n].reshape(k, n) ** 2, axis=1)
    active = px > px.max() * 10 ** (-active_db / 10)
    snr = 10 * np.log10((px + 1e-20) / (pe + 1e-20))
    return float(np.mean(np.clip(snr[active], -10, 35)))


# --- sequences and payload coding -------------------------------------------------------

def _sequences(settings: WatermarkSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sync block (band-limited, unit power), raw ±1 carrier, and each slot's bit index."""
    if settings.block % settings.slot:
        raise WatermarkError("block must be a whole number of slots")
    n_slots = settings.block // settings.slot
    if n_slots < CODED_BITS:
        raise WatermarkError("block too short for the coded payload")
    rng = np.random.default_rng([settings.seed, 1])
    sync = _bandlimit(rng.standard_normal(settings.block), settings)
    sync /= np.sqrt(np.mean(sync ** 2))
    carrier = rng.choice([-1.0, 1.0], settings.block)
    slot_bit = rng.permutation(np.arange(n_slots) % CODED_BITS)
    return sync, carrier, slot_bit


def _scrambled(bits: np.ndarray, settings: WatermarkSettings) -> np.ndarray:
    """Bits XOR a key stream, so payloads such as all zeros look random on the air."""
    mask = np.random.default_rng([settings.seed, 2]).integers(0, 2, CODED_BITS)
    return np.bitwise_xor(np.asarray(bits, np.uint8), mask.astype(np.uint8))


def _parity(values: np.ndarray) -> np.ndarray:
    """Parity (0/1) of each non-negative integer, elementwise."""
    values = np.asarray(values).copy()
    out = np.zeros(values.shape, np.uint8)
    while np.any(values):
        out ^= (values & 1).astype(np.uint8)
        values >>= 1
    return out


def _encode(bits: np.ndarray) -> np.ndarray:
    """Rate-1/3 convolutional code (K=7) with a zero tail: 48 bits -> 162 coded bits."""
    state = 0
    out = []
    for bit in np.concatenate([np.asarray(bits, np.uint8), np.zeros(_MEMORY, np.uint8)]):
        reg = (int(bit) << _MEMORY) | state
        out += [int(_parity(np.array(reg & g))) for g in _GENERATORS]
        state = reg >> 1
    return np.array(out, np.uint8)


@functools.lru_cache(maxsize=1)
def _trellis() -> tuple[np.ndarray, np.ndarray]:
    """The code's trellis: each state's two predecessors (2, states), and the coded signs
    (+-1) of the transition from each into it (2, states, outputs)."""
    n_states = 1 << _MEMORY
    ns = np.arange(n_states)
    bit = ns >> (_MEMORY - 1)  # the input bit that leads into state ns
    prev = np.stack([((ns << 1) & (n_states - 1)) | k for k in (0, 1)])  # (2, states)
    reg = (bit << _MEMORY) | prev
    signs = np.stack([2.0 * _parity(reg & g) - 1.0 for g in _GENERATORS], axis=-1)
    return prev, signs


def _viterbi(soft: np.ndarray) -> np.ndarray:
    """Maximum-likelihood payload bits from soft coded values (positive means a 1 was sent)."""
    n_states = 1 << _MEMORY
    prev, signs = _trellis()
    steps = soft.reshape(-1, len(_GENERATORS))
    metric = np.full(n_states, -np.inf)
    metric[0] = 0.0
    choice = np.zeros((len(steps), n_states), np.uint8)
    for t, s in enumerate(steps):
        cand = metric[prev] + signs @ s  # (2, states)
        choice[t] = np.argmax(cand, axis=0)
        metric = np.max(cand, axis=0)
    state, bits = 0, []
    for t in range(len(steps) - 1, -1, -1):
        bits.append(state >> (_MEMORY - 1))
        state = prev[choice[t, state], state]
    return np.array(bits[::-1][:PAYLOAD_BITS], np.uint8)


def _crc16(bits: np.ndarray) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) of a bit string."""
    crc = 0xFFFF
    for bit in np.asarray(bits, np.uint8):
        top = (crc >> 15) ^ int(bit)
        crc = (crc << 1) & 0xFFFF
        if top:
            crc ^= 0x1021
    return crc


def _int_bits(value: int, n: int) -> np.ndarray:
    return np.array([(value >> (n - 1 - i)) & 1 for i in range(n)], np.uint8)


def _bits_int(bits: np.ndarray) -> int:
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value


# --- signal helpers ---------------------------------------------------------------------

def _mono(samples: np.ndarray) -> np.ndarray:
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim != 1:
        raise WatermarkError(f"expected mono audio of shape (n,), got shape {x.shape}")
    # block by block: no mask the length of a long recording
    if not all(np.isfinite(x[a:a + (1 << 20)]).all() for a in range(0, len(x), 1 << 20)):
        raise WatermarkError("audio holds NaN or infinite samples")
    return x


def _check_rate(sample_rate: int, settings: WatermarkSettings) -> None:
    if sample_rate < 2.2 * settings.band[1]:
        raise WatermarkError(f"{sample_rate} Hz is too low to watermark: the mark needs up to "
                             f"{settings.band[1]:.0f} Hz; use at least 16000 Hz")


def _band_gain(n_fft: int, settings: WatermarkSettings) -> np.ndarray:
    """Per-bin gain: 1 inside the band, raised-cosine edges 150 Hz wide, 0 outside."""
    f = np.fft.rfftfreq(n_fft, 1 / RATE)
    lo, hi = settings.band
    edge = 150.0
    rise = np.clip((f - (lo - edge)) / edge, 0, 1)
    fall = np.clip(((hi + edge) - f) / edge, 0, 1)
    return np.sin(0.5 * np.pi * np.minimum(rise, fall)) ** 2


def _bandlimit(x: np.ndarray, settings: WatermarkSettings) -> np.ndarray:
    """Circular band-limiting of one block (the mark is periodic, so no edge effects)."""
    return np.fft.irfft(np.fft.rfft(x) * _band_gain(len(x), settings), n=len(x))


def _periodic(block: np.ndarray, n: int, origin: int) -> np.ndarray:
    """`block` repeated to length n, with its first chip at index `origin`."""
    idx = (np.arange(n) - origin) % len(block)
    return block[idx]


def _span_ramp(n: int, i0: int, i1: int, ramp: int = 160) -> np.ndarray:
    """1 on [i0, i1), 0 outside, with 10 ms raised-cosine edges inside the span."""
    g = np.zeros(n)
    g[i0:i1] = 1.0
    r = min(ramp, (i1 - i0) // 2)
    if r > 0:
        up = np.sin(0.5 * np.pi * (np.arange(r) + 0.5) / r) ** 2
        g[i0:i0 + r] = up
        g[i1 - r:i1] = up[::-1]
    return g


def _window(n_fft: int, hop: int) -> np.ndarray:
    """Periodic Hann for 4x overlap; its square root for 2x (both overlap-add to a constant)."""
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    return hann if n_fft // hop >= 4 else np.sqrt(hann)


def _stft(x: np.ndarray, hop: int) -> np.ndarray:
    """Frames (centred, zero-padded) of x times the window, as spectra: shape (frames, bins)."""
    win = _window(_N_FFT, hop)
    pad = _N_FFT // 2
    n_frames = (len(x) + 2 * pad - _N_FFT) // hop + 2
    xp = np.zeros((n_frames - 1) * hop + _N_FFT)
    xp[pad:pad + len(x)] = x
    frames = np.lib.stride_tricks.sliding_window_view(xp, _N_FFT)[::hop]
    return np.fft.rfft(frames * win, axis=1)


def _istft(spec: np.ndarray, hop: int, length: int) -> np.ndarray:
    """Weighted overlap-add inverse of `_stft` (exact where nothing was changed)."""
    win = _window(_N_FFT, hop)
    frames = np.fft.irfft(spec, n=_N_FFT, axis=1) * win
    r = _N_FFT // hop
    t = len(frames)
    acc = np.zeros((t + r - 1, hop))
    norm = np.zeros((t + r - 1, hop))
    parts = frames.reshape(t, r, hop)
    w2 = (win ** 2).reshape(r, hop)
    for j in range(r):
        acc[j:j + t] += parts[:, j]
        norm[j:j + t] += w2[j]
    pad = _N_FFT // 2
    y = acc.ravel() / np.maximum(norm.ravel(), 1e-8)
    return y[pad:pad + length]


def _shape(host: np.ndarray, chips: np.ndarray, i0: int, i1: int,
           settings: WatermarkSettings) -> np.ndarray:
    """The chips filtered, frame by frame, to `strength_db` under the host's masking envelope."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    hop = _HOP_EMBED
    spec_host = _stft(host, hop)
    spec_chips = _stft(chips, hop)
    power = uniform_filter1d(np.abs(spec_host) ** 2, size=9, axis=1, mode="nearest")
    env = np.sqrt(power)
    for k in range(1, 6):  # forward masking: a loud frame covers the next ~40 ms, decaying
        env[k:] = np.maximum(env[k:], env[:-k] * 10 ** (-4.0 * k / 20))
    f0, f1 = i0 // hop, max(i0 // hop + 1, i1 // hop + 1)
    loud = np.percentile(env[f0:f1], 90, axis=0)
    band = _band_gain(_N_FFT, settings)
    strength = 10 ** (settings.strength_db / 20)
    # no frame's mark above `cap_db` of the frame's whole power (fricatives, thin frames)
    mark_power = np.sum((strength * env * band) ** 2, axis=1)
    frame_power = minimum_filter1d(np.sum(np.abs(spec_host) ** 2, axis=1), 5)  # +-16 ms
    cap = np.sqrt(np.minimum(1.0, frame_power * 10 ** (settings.cap_db / 10)
                             / np.maximum(mark_power, 1e-30)))
    env = np.maximum(env * cap[:, None], loud * 10 ** (settings.floor_db / 20))
    win_power = np.sum(_window(_N_FFT, hop) ** 2)  # E|chip spectrum|^2 for unit-power chips
    gain = strength * env * band
    return _istft(gain * spec_chips / np.sqrt(win_power), hop, len(host))


def _whiten(y: np.ndarray, settings: WatermarkSettings) -> tuple[np.ndarray, np.ndarray]:
    """Phase transform in the band, weighted by how much of each tile is speech, not noise.

    Every time-frequency tile is set to unit magnitude (so harmonics and the quiet bins
    between them count alike, and tiles where the mark outweighs the speech count fully),
    then scaled by sqrt(1 - noise/envelope power): tiles at the recording's steady noise
    floor (10th percentile of each bin over time), where the mark is drowned, count little.
    Also returns, per sample, the mean squared weight over the band: how much mark can be
    expected there (used to locate edges).
    """
    from scipy.ndimage import uniform_filter1d

    spec = _stft(y, _HOP_DETECT)
    power = np.abs(spec) ** 2
    tiny = 1e-18 + 1e-12 * float(np.mean(power) if power.size else 0.0)
    env = uniform_filter1d(power, size=9, axis=1, mode="nearest") + tiny
    noise = np.percentile(env, 10, axis=0) if len(env) > 1 else np.zeros(env.shape[1])
    speech = np.sqrt(np.maximum(1 - noise / env, 0) + 0.01)
    band = _band_gain(_N_FFT, settings)
    spec *= speech * band / np.sqrt(power + tiny)
    quality = np.sum(speech ** 2 * band ** 2, axis=1) / np.sum(band ** 2)
    per_sample = np.repeat(quality, _HOP_DETECT)[_HOP_DETECT // 2:][:len(y)]
    return _istft(spec, _HOP_DETECT, len(y)), per_sample


# --- detection --------------------------------------------------------------------------

def _sync_z(y: np.ndarray, settings: WatermarkSettings) -> np.ndarray:
    """z-score of the sync block's correlation at every lag (block starting at that lag)."""
    from scipy.ndimage import uniform_filter1d
    from scipy.signal import fftconvolve

    sync, _, _ = _sequences(settings)
    if len(y) < settings.block:
        return np.zeros(0)
    r = fftconvolve(y, sync[::-1], mode="valid")
    rms = np.sqrt(uniform_filter1d(r ** 2, size=settings.block, mode="nearest"))
    floor = 1e-6 * (float(np.max(rms)) if rms.size else 0.0) + 1e-12
    return r / np.maximum(rms, floor)


def _window_maxima(z: np.ndarray, settings: WatermarkSettings, blocks: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Best z (summed over `blocks`, default `window_blocks`, blocks at one phase) and its
    phase, per window."""
    nb = settings.block
    rows = max(1, int(np.ceil(len(z) / nb)))
    folded = np.zeros(rows * nb)
    folded[:len(z)] = z
    folded = folded.reshape(rows, nb)
    w = min(blocks or settings.window_blocks, rows)
    summed = sum(folded[i:rows - w + 1 + i] for i in range(w)) / np.sqrt(w)
    phase = np.argmax(summed, axis=1)
    return summed[np.arange(len(phase)), phase], phase


def _find(y: np.ndarray, quality: np.ndarray, settings: WatermarkSettings
          ) -> list[Detection]:
    """Marks in whitened audio: sync windows of `window_blocks` blocks, then of
    `long_window_blocks`, then of `edit_window_blocks`, each longer pass only where the
    shorter ones decoded nothing (their edges are the sharper ones) and reporting only
    payloads whose CRC holds. A mark in noise: at 10 dB SNR, 6 s marks were found with their
    payload in 9 of 14 files by 2-block windows, 13 of 14 with 4-block windows too; the
    5.76 s windows (about the 6 s `retake edit` marks) add a quiet recording whose sync
    reached a z of 5.0 only summed over the whole mark (mfa/cold_corpus: 22 -> 23 of the
    25 bench files). The third pass keeps only payloads naming a Retake version up to this
    one (9 of 256 codes at 0.2), so its windows add ~0.003 false payloads per 10 hours."""
    z = _sync_z(y, settings)
    if len(z) == 0:
        return []
    found = _find_at(y, quality, z, settings, settings.window_blocks, True)
    rows = int(np.ceil(len(z) / settings.block))
    done = min(settings.window_blocks, rows)
    newest = version_code(__version__)
    for blocks, versions in ((settings.long_window_blocks, None),
                             (settings.edit_window_blocks, newest)):
        if min(blocks, rows) <= done:  # a file shorter than the window: already read whole
            continue
        done = min(blocks, rows)
        paid = [d for d in found if d.payload is not None]
        found += [d for d in _find_at(y, quality, z, settings, blocks, False, versions)
                  if not _overlaps(d, paid)]
    return _without_shadows(_merge(found))


def _overlaps(d: Detection, others: list[Detection]) -> bool:
    return any(o.start < d.end and d.start < o.end for o in others)


def _without_shadows(found: list[Detection]) -> list[Detection]:
    """`found` less the detections without a payload that overlap one with a payload (the
    same mark, seen by a pass or a piece that could not decode it)."""
    paid = [d for d in found if d.payload is not None]
    return [d for d in found if d.payload is not None or not _overlaps(d, paid)]


def _find_at(y: np.ndarray, quality: np.ndarray, z: np.ndarray, settings: WatermarkSettings,
             blocks: int, alone: bool, newest: int | None = None) -> list[Detection]:
    """`_find` with windows of `blocks` blocks; `alone`: also report marks without a valid
    payload whose sync reaches `threshold_alone`; `newest`: take a payload naming a later
    version code for a chance CRC match, and decode the best window alone too when its run
    of windows (which reaches past a mark by up to `blocks` - 1 blocks) decoded nothing."""
    nb, threshold = settings.block, settings.threshold
    best, phase = _window_maxima(z, settings, blocks)
    sync, carrier, slot_bit = _sequences(settings)
    found: list[Detection] = []
    used = np.zeros(len(best), bool)
    for row in np.argsort(-best):
        if best[row] < threshold:
            break
        if used[row]:
            continue
        # the run of windows that agree on this phase (to 2 chips) and pass the threshold
        lo = hi = row
        while lo > 0 and best[lo - 1] >= threshold and _near(phase[lo - 1], phase[row], nb):
            lo -= 1
        while hi + 1 < len(best) and best[hi + 1] >= threshold and \
                _near(phase[hi + 1], phase[row], nb):
            hi += 1
        used[lo:hi + 1] = True
        origin = row * nb + int(phase[row])
        a = lo * nb + int(phase[row])
        b = min(len(y), (hi + blocks) * nb + int(phase[row]))
        first = _decode(y, a, b, origin, carrier, slot_bit, settings)
        if first is None and newest is not None and hi > lo:
            # the best window alone: a run of long windows reaches past a short mark
            first = _decode(y, origin, min(len(y), origin + blocks * nb), origin, carrier,
                            slot_bit, settings)
            if first is not None:
                a, b = origin, min(len(y), origin + blocks * nb)
        a, b, score = _locate(y, quality, _reference(first, settings), origin, a, b, settings)
        payload = _decode(y, a, b, origin, carrier, slot_bit, settings) or first
        if payload is not None and newest is not None and payload.version > newest:
            payload = None
        if payload is None and (not alone or best[row] < settings.threshold_alone):
            continue
        if payload is not None and first is None:  # locate again with the whole mark
            a, b, score = _locate(y, quality, _reference(payload, settings), origin, a, b, settings)
        found.append(Detection(a / RATE, b / RATE, payload, score, float(best[row])))
    return found


def _find_sped(y16: np.ndarray, y: np.ndarray, settings: WatermarkSettings
               ) -> list[Detection]:
    """Marks in audio played faster or slower (resampled: time and pitch scaled alike).

    A coarse search (`_speed_statistic`) over factors 1 +- `speed_range` finds the best one;
    the mark's correlation needs the factor to within ~5e-5, so the sync z-score is then
    maximised over 17 factors within a grid step of it (the whitened audio resampled back;
    parabolic peak), and the audio is resampled back by the best and searched as usual. Only
    detections whose CRC holds, with a sync z-score of `threshold_speed` (above `threshold`:
    the search tries ~250 + 17 factors) are reported. Times are those of the received audio.
    """
    import soxr

    grid, stat = _speed_statistic(y, settings)
    if not len(stat) or stat.max() < settings.speed_threshold:
        return []
    f = float(grid[int(np.argmax(stat))])
    fine = f + settings.speed_step * np.linspace(-1, 1, 17)
    zs = np.full(len(fine), -np.inf)
    for k, g in enumerate(fine):
        if abs(g - 1) > 1e-6:
            z = _sync_z(soxr.resample(y, RATE / g, RATE, "HQ"), settings)
            zs[k] = _window_maxima(z, settings)[0].max() if len(z) else -np.inf
    k = int(np.argmax(zs))
    best, best_f = float(zs[k]), float(fine[k])
    if best < settings.threshold_speed:
        return []
    if 0 < k < len(fine) - 1 and np.all(np.isfinite(zs[k - 1:k + 2])):  # parabolic peak
        a, b, c = zs[k - 1:k + 2]
        if a - 2 * b + c < 0:
            best_f += 0.5 * (a - c) / (a - 2 * b + c) * (fine[1] - fine[0])
    back = soxr.resample(y16, RATE / best_f, RATE, "HQ").astype(np.float64)
    yb, quality = _whiten(back, settings)
    scaled = WatermarkSettings(**{**settings.__dict__, "threshold": settings.threshold_speed,
                                  "threshold_alone": np.inf})
    pct = 100 * (best_f - 1)
    how = f"played {abs(pct):.1f}% {'faster' if pct > 0 else 'slower'}"
    return [Detection(d.start / best_f, d.end / best_f, d.payload, d.score, d.sync_score, how)
            for d in _find(yb, quality, scaled) if d.payload is not None]


def _speed_statistic(y: np.ndarray, settings: WatermarkSettings
                     ) -> tuple[np.ndarray, np.ndarray]:
    """For each speed factor f of the grid, the best sync statistic over 2-block windows.

    The sync block is stretched to the sped-up period (7680/f chips), its correlation with
    the whitened audio taken in the complex baseband of the band (overlap-save, one FFT of
    the audio for all factors), and its magnitude used: insensitive to the carrier's phase,
    so a factor off by 2e-4 still peaks. Magnitudes are normalised by their running RMS and
    summed over two blocks. On unmarked speech the best value is about 6 (at most 6.9 seen).
    """
    from scipy.ndimage import uniform_filter1d

    nb, r = settings.block, settings.speed_range
    if r <= 0:
        return np.zeros(0), np.zeros(0)
    grid = _speed_grid(settings)
    longest = int(np.ceil(nb / grid[0])) + 1
    if len(y) < 2 * longest:
        return grid, np.zeros(len(grid))
    n_fft = 65536 if len(y) > 98304 else 16384  # overlap-save chunks (FFT of the audio)
    b0, b1, templates = _speed_templates(settings, n_fft)
    hop = n_fft - longest
    n_ch = int(np.ceil((len(y) - longest + 1) / hop))
    pad = np.zeros(n_ch * hop + n_fft)
    pad[:len(y)] = y
    chunks = np.lib.stride_tricks.sliding_window_view(pad, n_fft)[::hop][:n_ch]
    n_base = n_fft // 2  # baseband: a lag every 2 chips
    ys = np.fft.rfft(chunks, axis=1)[:, b0:b1].astype(np.complex64)
    dec = n_fft / n_base  # chips per baseband sample
    valid = int(hop / dec)
    out = np.zeros(len(grid))
    work = np.zeros((n_ch, n_base), np.complex64)
    rms = None
    for k, f in enumerate(grid):
        length = int(round(nb / f))
        work[:, :b1 - b0] = ys * templates[k]
        mag = np.abs(np.fft.ifft(work, axis=1)[:, :valid]).ravel()[:int((len(y) - length) / dec)]
        if rms is None:  # the correlation's local level hardly depends on the factor
            rms = np.sqrt(uniform_filter1d(mag ** 2, size=int(nb / dec), mode="nearest"))
            rms = np.maximum(rms, 1e-12 + 1e-6 * float(rms.max()))
        n = min(len(mag), len(rms))
        z = mag[:n] / rms[:n]
        period = int(round(length / dec))
        rows = len(z) // period
        if rows < 2:
            continue
        fold = z[:rows * period].reshape(rows, period)
        out[k] = float(np.max(fold[:-1] + fold[1:]))
    return grid, out


def _speed_grid(settings: WatermarkSettings) -> np.ndarray:
    r = settings.speed_range
    return np.arange(1 - r, 1 + r + 1e-12, settings.speed_step)


@functools.lru_cache(maxsize=2)  # ~36 MB for the 65536-point FFT
def _speed_templates(settings: WatermarkSettings, n_fft: int
                     ) -> tuple[int, int, np.ndarray]:
    """Conjugate spectra (band bins b0:b1 of an n_fft FFT) of the sync block stretched to each
    factor's period, 7680/f chips: the periodic sync read at 8x the chip rate, interpolated."""
    nb, up = settings.block, 8
    spec = np.fft.rfft(_sequences(settings)[0])
    big = np.zeros(nb * up // 2 + 1, complex)
    big[:len(spec)] = spec
    sync_up = np.fft.irfft(big, nb * up) * up
    sync_up = np.concatenate([sync_up, sync_up[:2 * up]])  # wraps, for the interpolation
    lo, hi = settings.band
    b0, b1 = int((lo - 200) * n_fft / RATE), int((hi + 200) * n_fft / RATE)
    grid = _speed_grid(settings)
    out = np.zeros((len(grid), b1 - b0), np.complex64)
    for k, f in enumerate(grid):
        t = (np.arange(int(round(nb / f))) * f * up) % (nb * up)
        tpl = np.interp(t, np.arange(len(sync_up)), sync_up)
        out[k] = np.conj(np.fft.rfft(tpl, n_fft)[b0:b1])
    return b0, b1, out


def _near(p: int, q: int, nb: int) -> bool:
    d = abs(int(p) - int(q)) % nb
    return min(d, nb - d) <= 2


def _decode(y: np.ndarray, a: int, b: int, origin: int, carrier: np.ndarray,
            slot_bit: np.ndarray, settings: WatermarkSettings) -> Payload | None:
    """Soft bits summed over every chip in [a, b) of the mark that starts at `origin`."""
    q = (np.arange(a, b) - origin) % settings.block
    soft = np.bincount(slot_bit[q // settings.slot], weights=y[a:b] * carrier[q],
                       minlength=CODED_BITS)
    flip = _scrambled(np.zeros(CODED_BITS, np.uint8), settings)
    return Payload.unpack(_viterbi(np.where(flip == 1, -soft, soft)))


def _reference(payload: Payload | None, settings: WatermarkSettings) -> np.ndarray:
    """The block to correlate with: the whole mark when the payload is known, else sync."""
    if payload is None:
        return _sequences(settings)[0]
    return block_pattern(payload, settings)


def _locate(y: np.ndarray, quality: np.ndarray, ref: np.ndarray, origin: int, a: int, b: int,
            settings: WatermarkSettings, win: int = 1280) -> tuple[int, int, float]:
    """Edges of the marked stretch around [a, b) from 80 ms windows of correlation with the mark.

    Each window's correlation u is a z-score against the same correlation at eight wrong
    phases. Where the mark is, u should be about c*q, with q the window's whitening quality
    (little where noise drowns the speech) and c fitted inside [a, b); the stretch is the run
    maximising the log-likelihood ratio sum of mu*(u - mu/2), mu = max(c*q, 1) (a change-point
    pair). Windows where no mark could show (c*q < 1) count for nothing, so an edge that lies
    in such a stretch is put at its middle. Returns (start, end, overall z-score).
    """
    nb = settings.block
    lo = max(0, a - 3 * nb)
    hi = min(len(y), b + 3 * nb)
    n_win = (hi - lo) // win
    if n_win < 1:
        return a, b, 0.0
    idx = np.arange(lo, lo + n_win * win)
    seg = y[idx].reshape(n_win, win)
    q = (idx - origin) % nb
    d = np.sum(seg * ref[q].reshape(n_win, win), axis=1)
    shifts = nb // 9 * np.arange(1, 9)
    null = np.stack([np.sum(seg * ref[(q + s) % nb].reshape(n_win, win), axis=1)
                     for s in shifts])
    var = np.convolve(np.mean(null ** 2, axis=0), np.ones(5) / 5, mode="same")
    var = np.maximum(var, 1e-12 + 1e-9 * float(np.max(var)))
    u = d / np.sqrt(var)
    qual = np.mean(quality[idx].reshape(n_win, win), axis=1)
    core = slice((a - lo) // win, max((a - lo) // win + 1, (b - lo) // win))
    c = max(float(np.sum(u[core] * qual[core]) / max(np.sum(qual[core] ** 2), 1e-9)), 0.0)
    mu = c * qual
    seen = mu >= 1.0
    llr = np.where(seen, mu * (u - mu / 2), 0.0)
    s0, s1 = _best_run(llr)
    k = s0  # an edge followed by windows where nothing could show moves to their middle
    while k > 0 and not seen[k - 1]:
        k -= 1
    s0 -= (s0 - k) // 2
    k = s1
    while k < n_win and not seen[k]:
        k += 1
    s1 += (k - s1) // 2
    score = float(np.sum(d[s0:s1]) / np.sqrt(np.sum(var[s0:s1])))
    return lo + s0 * win, min(len(y), lo + s1 * win), score


def _best_run(v: np.ndarray) -> tuple[int, int]:
    """[i, j) maximising sum(v[i:j]) (Kadane), at least one element."""
    best, best_i, best_j = -np.inf, 0, 1
    run, run_i = 0.0, 0
    for j, value in enumerate(v):
        if run <= 0:
            run, run_i = 0.0, j
        run += value
        if run > best:
            best, best_i, best_j = run, run_i, j + 1
    return best_i, best_j


MERGE_GAP_S = 1.0  # detections of one payload this close are one mark (dropouts between)


def _merge(found: list[Detection]) -> list[Detection]:
    """Overlapping detections of one payload become one, and so do those of one decoded
    payload less than MERGE_GAP_S apart: a mark is continuous over its span, so a gap is
    a stretch where it was not read (a time-domain pitch shift, ffmpeg's atempo, leaves
    the mark readable in pieces between its splices). The result is in time order."""
    out: list[Detection] = []
    for det in sorted(found, key=lambda d: d.start):
        prev = out[-1] if out else None
        gap = MERGE_GAP_S if det.payload is not None else 0.0
        if prev is not None and det.start < prev.end + gap and det.payload == prev.payload:
            out[-1] = Detection(prev.start, max(prev.end, det.end), prev.payload,
                                max(prev.score, det.score), max(prev.sync_score, det.sync_score),
                                prev.altered or det.altered)
        else:
            out.append(det)
    return out


__all__ = ["DEFAULT", "Detection", "Payload", "WatermarkError", "WatermarkSettings",
           "block_pattern", "detect", "embed", "segmental_snr", "sync_scores", "version_code"]
