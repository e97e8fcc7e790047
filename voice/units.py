"""Concatenative unit selection over the speaker's own phones, as in VoCo (Jin et al. 2017).

New words are spelled as ARPAbet phones; each target phone gets candidates: phones with the
same label from the recording. A Viterbi search picks the sequence that minimises
target cost (context, word position, duration, pitch) plus join cost (spectral, pitch and
loudness continuity; zero where two candidates already follow each other in the recording,
so longer natural stretches, diphones and beyond, are preferred).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from retake.voice.analysis import Recording, Unit, phone_class


@dataclass
class Target:
    """A phone to produce, with the context and prosody it should have."""

    label: str
    left: str
    right: str
    position: str
    duration: float  # seconds
    f0: float  # Hz, 0 for unvoiced
    cepstra: np.ndarray | None = None  # how the query voice said it (unit_cepstra), if known
    glide: float = 0.0  # semitones the pitch moves across the phone (from the query voice)


@dataclass(frozen=True)
class Edge:
    """The recording's frame that new speech joins at one end of its span (10 ms MFCC,
    F0, log energy): selection weighs the join with it as with any unit join."""

    mfcc: np.ndarray
    f0: float
    energy: float


@dataclass(frozen=True)
class Weights:
    """Relative weights of the costs (tuned on the reconstruction benchmark)."""

    context: float = 2.0
    position: float = 0.3
    duration: float = 1.0
    pitch: float = 1.0
    acoustic: float = 2.5  # distance to the query voice's phone (speaker-normalised cepstra)
    join_spectral: float = 1.0
    join_pitch: float = 0.5
    join_energy: float = 0.3
    join_base: float = 0.6
    foreign: float = 4.5  # extra target cost of a query-voice phone the speaker has too


PARTS = 3  # a phone's cepstra are compared in this many parts (start, middle, end)


def unit_cepstra(rec: Recording, start: float, end: float, mean: np.ndarray,
                 std: np.ndarray) -> np.ndarray:
    """Normalised c1..c12 of [start, end) in `PARTS` equal parts, their means concatenated."""
    a = rec.frame(start)
    b = max(rec.frame(end), a + 1)
    frames = (rec.mfcc[a:b, 1:13] - mean) / std
    if not len(frames):
        frames = np.zeros((1, 12))
    edges = np.linspace(0, len(frames), PARTS + 1)
    parts = []
    for k in range(PARTS):
        lo = int(edges[k])
        hi = max(int(np.ceil(edges[k + 1])), lo + 1)
        parts.append(frames[lo:min(hi, len(frames))].mean(axis=0) if lo < len(frames)
                     else frames[-1])
    return np.concatenate(parts)


def speech_stats(rec: Recording) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of c1..c12 over the louder half of a recording's frames
    (speech, not pauses): the speaker normalisation that makes two voices comparable."""
    e = rec.energy
    loud = rec.mfcc[: len(e)][e >= np.percentile(e, 50), 1:13]
    if len(loud) < 10:
        loud = rec.mfcc[:, 1:13]
    return loud.mean(axis=0), loud.std(axis=0) + 1e-3


def _ctx_cost(a: str, b: str) -> float:
    if a == b:
        return 0.0
    return 0.5 if phone_class(a) == phone_class(b) else 1.0


def _semitones(a: float, b: float) -> float:
    return abs(12.0 * math.log2(a / b)) if a > 0 and b > 0 else 0.0


class Inventory:
    """The units of one or more recordings of a speaker, indexed by label, with per-phone
    duration statistics. Recording 0 is the one being edited; others come from a voice
    profile. Unit indices are renumbered to be unique across recordings."""

    def __init__(self, recs: Recording | list[Recording],
                 exclude: list[tuple[float, float]] = ()) -> None:
        recs = recs if isinstance(recs, list) else [recs]
        self.recs = recs
        self.rec = recs[0]
        self.units: list[Unit] = []
        self._by_id: dict[int, Unit] = {}
        offset = 0
        for s, rec in enumerate(recs):
            for u in rec.units:
                if s == 0 and any(u.start < b and u.end > a for a, b in exclude):
                    continue
                g = replace(u, index=offset + u.index, source=s,
                            next_index=None if u.next_index is None else offset + u.next_index)
                self.units.append(g)
                self._by_id[g.index] = g
            offset += len(rec.units)
        self.by_label: dict[str, list[Unit]] = {}
        for u in self.units:
            self.by_label.setdefault(u.label, []).append(u)
        self._follows = {u.index: u.next_index for u in self.units
                         if u.next_index is not None and u.next_index in self._by_id}
        d = np.diff(self.rec.mfcc, axis=0)
        self._mfcc_scale = float(np.median(np.linalg.norm(d, axis=1))) + 1e-6
        self._cepstra: dict[int, np.ndarray] = {}
        self._stats: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.foreign_source: int | None = None  # the recording of another voice, if any
        self.own_labels = set(self.by_label)  # the phones the speaker said

    def cepstra(self, u: Unit) -> np.ndarray:
        """The unit's cepstra normalised by its own recording's speech statistics (built on
        first use, per unit), comparable with a query voice's phone."""
        hit = self._cepstra.get(u.index)
        if hit is None:
            if u.source not in self._stats:
                self._stats[u.source] = speech_stats(self.recs[u.source])
            hit = unit_cepstra(self.recs[u.source], u.start, u.end, *self._stats[u.source])
            self._cepstra[u.index] = hit
        return hit

    def with_foreign(self, rec: Recording, labels: set[str]) -> Inventory:
        """This inventory plus the phones `labels` of another voice's `rec` (the query
        voice, converted toward the speaker): used only for phones the speaker lacks."""
        inv = Inventory.__new__(Inventory)
        inv.__dict__.update(self.__dict__)
        inv.recs = [*self.recs, rec]
        offset = max((u.index for u in self.units), default=-1) + 1
        foreign = [replace(u, index=offset + u.index, source=len(self.recs),
                           next_index=None if u.next_index is None else offset + u.next_index)
                   for u in rec.units if u.label in labels]
        inv.units = [*self.units, *foreign]
        inv._by_id = {**self._by_id, **{u.index: u for u in foreign}}
        inv.by_label = {k: list(v) for k, v in self.by_label.items()}
        for u in foreign:
            inv.by_label.setdefault(u.label, []).append(u)
        ids = {u.index for u in foreign}
        inv._follows = {**self._follows, **{u.index: u.next_index for u in foreign
                                            if u.next_index in ids}}
        inv._cepstra, inv._stats = dict(self._cepstra), dict(self._stats)
        inv.foreign_source = len(self.recs)
        return inv

    def foreign(self, u: Unit) -> bool:
        """Whether `u` comes from another voice (see `with_foreign`)."""
        return u.source == self.foreign_source

    def unit(self, index: int) -> Unit:
        """The unit with this (inventory-wide) index."""
        return self._by_id[index]

    def minutes(self) -> float:
        """Minutes of aligned speech the inventory draws on."""
        return sum(u.duration for u in self.units) / 60.0

    def has(self, label: str) -> bool:
        """Whether the inventory holds at least one unit of `label`."""
        return label in self.by_label

    def mean_duration(self, label: str, position: str | None = None) -> float:
        """The speaker's mean duration of `label` (in that word position, if seen there)."""
        units = self.by_label.get(label, [])
        at = [u.duration for u in units if u.position == position] if position else []
        if len(at) >= 2:
            return float(np.mean(at))
        if units:
            return float(np.mean([u.duration for u in units]))
        same = [u.duration for u in self.units if phone_class(u.label) == phone_class(label)]
        return float(np.mean(same)) if same else 0.08

    def follows(self, a: Unit, b: Unit) -> bool:
        """Whether `b` comes right after `a` in the recording (a natural join)."""
        return self._follows.get(a.index) == b.index

    def target_cost(self, u: Unit, t: Target, w: Weights) -> float:
        """How far unit `u` is from what target `t` asks for."""
        cost = w.context * (_ctx_cost(u.left, t.left) + _ctx_cost(u.right, t.right))
        if u.source == self.foreign_source and w.foreign and t.label in self.own_labels:
            cost += w.foreign
        cost += w.position * (u.position != t.position)
        cost += w.duration * abs(math.log(max(u.duration, 0.01) / max(t.duration, 0.01)))
        if t.f0 > 0 and u.f0 > 0:
            cost += w.pitch * _semitones(u.f0, t.f0) / 6.0
        if t.cepstra is not None and w.acoustic:
            d = float(np.linalg.norm(self.cepstra(u) - t.cepstra))
            cost += w.acoustic * d / math.sqrt(len(t.cepstra))
        return cost

    def edge_cost(self, edge: Edge, u: Unit, w: Weights, before: bool) -> float:
        """How audible the join between the recording's `edge` frame and unit `u` would
        be: `edge` comes before `u` (`before`) or after it."""
        r = self.recs[u.source]
        f = r.frame(u.start) if before else max(r.frame(u.end) - 1, 0)
        spec = float(np.linalg.norm(edge.mfcc - r.mfcc[f])) / self._mfcc_scale
        pitch = _semitones(edge.f0, r.f0[f]) / 4.0
        energy = abs(edge.energy - r.energy[f]) / 6.0
        return w.join_spectral * spec + w.join_pitch * pitch + w.join_energy * energy

    def join_cost(self, a: Unit, b: Unit, w: Weights) -> float:
        """How audible the join from unit `a` to unit `b` would be (0 if natural)."""
        if self.follows(a, b):
            return 0.0
        ra, rb = self.recs[a.source], self.recs[b.source]
        fa, fb = max(ra.frame(a.end) - 1, 0), rb.frame(b.start)
        spec = float(np.linalg.norm(ra.mfcc[fa] - rb.mfcc[fb])) / self._mfcc_scale
        pitch = _semitones(ra.f0[fa], rb.f0[fb]) / 4.0
        energy = abs(ra.energy[fa] - rb.energy[fb]) / 6.0
        return w.join_base + w.join_spectral * spec + w.join_pitch * pitch + w.join_energy * energy


def select(inv: Inventory, targets: list[Target], weights: Weights = Weights(),
           candidates: int = 40, left: Edge | None = None, right: Edge | None = None
           ) -> list[Unit | None]:
    """Viterbi unit selection; None for a target whose phone the inventory lacks. `left`
    and `right`: the recording's frames the span joins (their join costs count too)."""
    cands: list[list[Unit]] = []
    tcost: list[np.ndarray] = []
    for t in targets:
        pool = inv.by_label.get(t.label, [])
        if not pool:
            cands.append([])
            tcost.append(np.zeros(0))
            continue
        costs = np.array([inv.target_cost(u, t, weights) for u in pool])
        keep = np.argsort(costs)[:candidates]
        # Always offer the units that naturally continue the previous target's candidates.
        chosen = [pool[i] for i in keep]
        if cands and cands[-1]:
            ids = {u.index for u in chosen}
            for prev in cands[-1]:
                nxt = inv._follows.get(prev.index)
                if nxt is not None and nxt not in ids and inv.unit(nxt).label == t.label:
                    chosen.append(inv.unit(nxt))
                    ids.add(nxt)
        cands.append(chosen)
        tcost.append(np.array([inv.target_cost(u, t, weights) for u in chosen]))
    if left is not None and cands and cands[0]:
        tcost[0] = tcost[0] + [inv.edge_cost(left, u, weights, True) for u in cands[0]]
    if right is not None and cands and cands[-1]:
        tcost[-1] = tcost[-1] + [inv.edge_cost(right, u, weights, False) for u in cands[-1]]

    out: list[Unit | None] = [None] * len(targets)
    # Viterbi over each stretch of targets that all have candidates.
    i = 0
    while i < len(targets):
        if not cands[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(targets) and cands[j + 1]:
            j += 1
        score = tcost[i].copy()
        back: list[np.ndarray] = []
        for k in range(i + 1, j + 1):
            join = np.array([[inv.join_cost(a, b, weights) for b in cands[k]]
                             for a in cands[k - 1]])
            total = score[:, None] + join
            back.append(np.argmin(total, axis=0))
            score = total.min(axis=0) + tcost[k]
        best = int(np.argmin(score))
        path = [best]
        for bp in reversed(back):
            path.append(int(bp[path[-1]]))
        path.reverse()
        for k, c in zip(range(i, j + 1), path, strict=True):
            out[k] = cands[k][c]
        i = j + 1
    return out
