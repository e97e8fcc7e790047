"""Slight head motion for a talking photo: a head held perfectly still reads as a photo.

`head_motion` plans, per output frame, a small rigid move of the head: a slow seeded sway
(roll within about a degree and a half, drift of a few percent of the inter-ocular
distance, under 1 Hz, as in a person listening to themselves) plus a nod that follows the
speech's loudness (stressed syllables dip the chin a little). `move_head` applies one: the
head (an ellipse around the landmarks, grown to take in hair and chin) moves rigidly; the
move fades out over about one head width beyond it, so neck, shoulders and the background's
far corners stay where they are and nothing tears. The landmarks move with the head, so the
mouth and blinks are drawn where the head now is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retake.video.geometry import inter_ocular

ROLL_DEG = 1.4  # largest sway, degrees
DRIFT = 0.05  # largest drift, share of the inter-ocular distance
NOD = 0.05  # chin dip at full loudness, share of the inter-ocular distance
SWAY_HZ = (0.15, 0.6)  # the sway's frequency band


@dataclass(frozen=True)
class HeadPose:
    """A head's small rigid move: roll (degrees) and shift (x, y) in inter-ocular units."""

    roll: float = 0.0
    dx: float = 0.0
    dy: float = 0.0


def _smooth_noise(n: int, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Seeded band-limited noise in -1..1: a few sines within `SWAY_HZ`, random phases."""
    t = np.arange(n) / fps
    out = np.zeros(n)
    for _ in range(4):
        f = rng.uniform(*SWAY_HZ)
        out += rng.uniform(0.5, 1.0) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    peak = np.max(np.abs(out)) if n else 1.0
    return out / max(peak, 1e-9)


def loudness_per_frame(samples: np.ndarray, rate: int, n_frames: int, fps: float
                       ) -> np.ndarray:
    """Speech loudness per video frame in 0..1 (RMS in dB over 40 dB below its peak),
    smoothed over ~250 ms so a nod rises and falls rather than twitching."""
    x = np.asarray(samples, np.float32)
    if x.ndim > 1:
        x = x.mean(axis=1)
    hop = rate / fps
    out = np.zeros(n_frames)
    for k in range(n_frames):
        a, b = int(k * hop), int((k + 1) * hop)
        seg = x[a:b]
        out[k] = float(np.sqrt(np.mean(seg ** 2))) if seg.size else 0.0
    db = 20 * np.log10(out + 1e-9)
    level = np.clip((db - (db.max() - 40)) / 40, 0, 1) if n_frames else out
    width = max(1, int(round(0.25 * fps)))
    kernel = np.hanning(2 * width + 1)
    kernel /= kernel.sum()
    return np.convolve(np.pad(level, width, mode="edge"), kernel, mode="valid")


def head_motion(n_frames: int, fps: float, loudness: np.ndarray | None = None,
                seed: int = 0) -> list[HeadPose]:
    """One `HeadPose` per frame: a slow sway, plus nods with the speech's `loudness`."""
    rng = np.random.default_rng(seed)
    roll = ROLL_DEG * _smooth_noise(n_frames, fps, rng)
    dx = DRIFT * _smooth_noise(n_frames, fps, rng)
    dy = 0.5 * DRIFT * _smooth_noise(n_frames, fps, rng)
    if loudness is not None and len(loudness) == n_frames:
        dy = dy + NOD * np.asarray(loudness, float)
    # Start from the photo itself, easing into the motion over the first half second.
    ease = np.clip(np.arange(n_frames) / max(0.5 * fps, 1.0), 0, 1)
    return [HeadPose(float(r * e), float(x * e), float(y * e))
            for r, x, y, e in zip(roll, dx, dy, ease, strict=True)]


def _transform(lms: np.ndarray, pose: HeadPose) -> np.ndarray:
    """2x3 affine of the head's move: roll about the face's centre, then shift."""
    iod = max(inter_ocular(lms), 1.0)
    c = lms.mean(0)
    a = np.deg2rad(pose.roll)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    shift = np.array([pose.dx, pose.dy]) * iod
    return np.hstack([rot, (c + shift - rot @ c)[:, None]])


def _head_weight(shape: tuple[int, ...], lms: np.ndarray) -> np.ndarray:
    """1 over the head (landmarks' ellipse grown for hair and chin), fading to 0 over
    about one head width beyond it (float32 (h, w))."""
    h, w = shape[:2]
    c = lms.mean(0)
    half = np.ptp(lms, axis=0) / 2
    rx, ry = 1.35 * half[0], 1.5 * half[1]
    cy = c[1] - 0.25 * half[1]  # the skull sits above the landmarks' centre
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.sqrt(((xs - c[0]) / rx) ** 2 + ((ys - cy) / ry) ** 2)
    t = np.clip((r - 1.0) / 1.0, 0, 1)
    return (0.5 + 0.5 * np.cos(np.pi * t)).astype(np.float32)


class HeadMover:
    """Moves one photo's head by a `HeadPose` per frame (the weight map is built once)."""

    def __init__(self, rgb: np.ndarray, lms: np.ndarray) -> None:
        self.lms = np.asarray(lms, float)
        self.weight = _head_weight(rgb.shape, self.lms)
        h, w = rgb.shape[:2]
        self.grid = np.mgrid[0:h, 0:w].astype(np.float32)[::-1]  # (x, y)

    def move(self, rgb: np.ndarray, lms: np.ndarray | None, pose: HeadPose
             ) -> tuple[np.ndarray, np.ndarray]:
        """`rgb` (and its landmarks) with the head moved by `pose`; the input is kept."""
        import cv2

        base = self.lms if lms is None else np.asarray(lms, float)
        m = _transform(self.lms, pose)
        moved = base @ m[:, :2].T + m[:, 2]
        if pose == HeadPose():
            return rgb, moved
        # Backward map: where each output pixel comes from, the inverse move weighted
        # by the head's weight at that pixel (near enough for moves this small).
        inv = cv2.invertAffineTransform(m)
        x, y = self.grid
        sx = inv[0, 0] * x + inv[0, 1] * y + inv[0, 2]
        sy = inv[1, 0] * x + inv[1, 1] * y + inv[1, 2]
        wgt = self.weight
        map_x = (x + wgt * (sx - x)).astype(np.float32)
        map_y = (y + wgt * (sy - y)).astype(np.float32)
        out = cv2.remap(rgb, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        return out, moved
