"""A DeepFaceLab-style face-swap model: one shared encoder, one decoder per identity.

Both people's faces go through the same encoder, so its code learns pose, expression and
lighting; each decoder learns to paint one person from that code. Swapping is encoding a
destination face and decoding it with the source decoder. The layout follows DFL's "DF"
model (strided 5x5 convolutions, a dense bottleneck, pixel-shuffle upscaling, residual
decoder blocks), shrunk so that 64 px training on a laptop CPU makes visible progress in
minutes. Each decoder outputs RGB and a face mask (both through a sigmoid).

A model folder holds `model.pt` (state dicts only, loaded with `weights_only=True`),
`model.json` (framing, architecture, identities, steps done, options), `loss.json` (the loss
per step) and `previews/` (PNG grids). All three files are replaced together atomically, so
an interrupted run resumes from its last checkpoint.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from retake.core.atomic import atomic_group
from retake.core.errors import EngineUnavailable, FaceError, RetakeError
from retake.core.progress import Progress
from retake.video.faceset import Faceset, load
from retake.video.geometry import MIRROR, apply, crop_matrix, region_mask

IDENTITIES = ("src", "dst")
MODEL_VERSION = 1


@dataclass
class TrainOptions:
    """Training settings. `steps` is the total to reach, so re-running resumes to it.

    resolution: model crop side in pixels (a multiple of 16, 32..256; 64-128 are sensible);
    padding: crop margin around the face as a fraction of its width (as in `crop_matrix`);
    gan_after: step after which a PatchGAN loss sharpens the source decoder (None: never);
    time_limit: stop (and save) after this many seconds even if `steps` is not reached;
    device: 'auto' (CUDA when present, else CPU), 'cpu', 'cuda' or 'cuda:N';
    workers: threads that build the next steps' batches while the network trains (None:
    none on a CPU, whose cores the network uses, up to 12 beside a GPU). Batches depend
    only on (seed, step) either way;
    augment: where the batches are augmented: 'threads' (NumPy and OpenCV, `workers`),
    'device' (tensor ops on the training device, `_TensorFeeder`) or 'auto' (the device
    beside a GPU, threads on a CPU).
    """

    resolution: int = 64
    padding: float = 0.2
    batch_size: int = 8
    learning_rate: float = 5e-4
    steps: int = 2000
    preview_every: int = 100
    save_every: int = 250
    gan_after: int | None = None
    gan_weight: float = 0.1
    seed: int = 0
    device: str = "auto"
    time_limit: float | None = None
    encoder_dims: int = 32
    bottleneck: int = 128
    decoder_dims: int = 32
    workers: int | None = None
    augment: str = "auto"


# ---------------------------------------------------------------- network

class _Down(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.Conv2d(cin, cout, 5, 2, 2), nn.LeakyReLU(0.1))


class _Up(nn.Sequential):
    """Double the side: a 3x3 convolution to 4x channels, then pixel shuffle."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(nn.Conv2d(cin, cout * 4, 3, 1, 1), nn.LeakyReLU(0.1),
                         nn.PixelShuffle(2))


class _Residual(nn.Module):
    def __init__(self, ch: int) -> None:
        super().__init__()
        self.a = nn.Conv2d(ch, ch, 3, 1, 1)
        self.b = nn.Conv2d(ch, ch, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.b(F.leaky_relu(self.a(x), 0.2))
        return F.leaky_relu(x + y, 0.2)


class _Encoder(nn.Module):
    """Image (n, 3, r, r) in 0..1 → code (n, bottleneck, r/8, r/8)."""

    def __init__(self, resolution: int, dims: int, bottleneck: int) -> None:
        super().__init__()
        self.side = resolution // 16
        self.bottleneck = bottleneck
        self.convs = nn.Sequential(_Down(3, dims), _Down(dims, dims * 2),
                                   _Down(dims * 2, dims * 4), _Down(dims * 4, dims * 8))
        flat = dims * 8 * self.side ** 2
        self.squeeze = nn.Linear(flat, bottleneck)
        self.expand = nn.Linear(bottleneck, bottleneck * self.side ** 2)
        self.up = _Up(bottleneck, bottleneck)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.convs(x * 2 - 1).flatten(1)
        h = self.expand(self.squeeze(h)).view(-1, self.bottleneck, self.side, self.side)
        return self.up(h)


class _Decoder(nn.Module):
    """Code (n, bottleneck, r/8, r/8) → RGB (n, 3, r, r) and mask (n, 1, r, r) in 0..1."""

    def __init__(self, bottleneck: int, dims: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _Up(bottleneck, dims * 4), _Residual(dims * 4),
            _Up(dims * 4, dims * 2), _Residual(dims * 2),
            _Up(dims * 2, dims), _Residual(dims))
        self.out = nn.Conv2d(dims, 4, 5, 1, 2)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.sigmoid(self.out(self.body(z)))
        return y[:, :3], y[:, 3:]


class FaceAutoencoder(nn.Module):
    """The shared encoder and the two identity decoders ('src', 'dst')."""

    def __init__(self, resolution: int, encoder_dims: int = 32, bottleneck: int = 128,
                 decoder_dims: int = 32) -> None:
        super().__init__()
        self.resolution = resolution
        self.encoder = _Encoder(resolution, encoder_dims, bottleneck)
        self.decoders = nn.ModuleDict({k: _Decoder(bottleneck, decoder_dims)
                                       for k in IDENTITIES})

    def forward(self, x: torch.Tensor, identity: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode faces and paint them as `identity`: (rgb, mask)."""
        return self.decoders[identity](self.encoder(x))


class PatchDiscriminator(nn.Module):
    """PatchGAN: one real/fake logit per overlapping patch of about 1/4 of the face."""

    def __init__(self, dims: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, dims, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(dims, dims * 2, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(dims * 2, dims * 4, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(dims * 4, 1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1)


# ---------------------------------------------------------------- losses

def _gaussian(size: int, sigma: float, device: torch.device) -> torch.Tensor:
    t = torch.arange(size, dtype=torch.float32, device=device) - (size - 1) / 2
    g = torch.exp(-t ** 2 / (2 * sigma ** 2))
    g = g / g.sum()
    return (g[:, None] * g[None, :]).expand(3, 1, size, size).contiguous()


def ssim(a: torch.Tensor, b: torch.Tensor, window: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Mean structural similarity of two (n, 3, h, w) batches in 0..1 (Wang et al. 2004)."""
    k = _gaussian(window, sigma, a.device)
    c1, c2 = 0.01 ** 2, 0.03 ** 2

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, k, groups=3)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2)
    return (num / den).mean()


def dssim(a: torch.Tensor, b: torch.Tensor, window: int = 11) -> torch.Tensor:
    """Structural dissimilarity (1 - SSIM) / 2: 0 for identical images."""
    return (1 - ssim(a, b, window)) / 2


def _window(resolution: int) -> int:
    """DFL's SSIM window: about 1/11.6 of the side, odd, at least 3."""
    return max(3, int(resolution / 11.6) | 1)


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor,
                        mask: torch.Tensor) -> torch.Tensor:
    """10 x (DSSIM + MSE) of the face inside the mask; the background costs nothing."""
    p, t = pred * mask, target * mask
    mse = ((p - t) ** 2).sum() / (mask.sum() * 3 + 1e-6)
    return 10 * dssim(p, t, _window(pred.shape[-1])) + 10 * mse


# ---------------------------------------------------------------- data

def random_warp(img: np.ndarray, rng: np.random.Generator, strength: float = 0.03,
                cells: int = 5) -> np.ndarray:
    """A smooth random grid warp (DFL's "random warp") of a square image; the border stays.

    A `cells` x `cells` grid of normal offsets (`strength` x side) is upsampled bicubically
    to a dense displacement field and tapered to zero at the edges. The encoder sees the
    warped face and must rebuild the unwarped one, which teaches it faces, not pixels.
    """
    import cv2

    side = img.shape[0]
    offs = rng.normal(0, strength * side, size=(2, cells, cells)).astype(np.float32)
    t = np.linspace(0, np.pi, side, dtype=np.float32)
    taper = np.sin(t)[:, None] * np.sin(t)[None, :]
    dx = cv2.resize(offs[0], (side, side), interpolation=cv2.INTER_CUBIC) * taper
    dy = cv2.resize(offs[1], (side, side), interpolation=cv2.INTER_CUBIC) * taper
    grid = np.arange(side, dtype=np.float32)
    mx = grid[None, :] + dx
    my = grid[:, None] + dy
    return cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


@dataclass
class FaceBank:
    """One identity's faces in memory, pre-shrunk near model scale, with their landmarks."""

    name: str
    images: list[np.ndarray]
    landmarks: list[np.ndarray]
    embedding: list[float] | None
    resolution: int
    padding: float
    matrices: list[np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.matrices = [crop_matrix(p, self.resolution, self.padding) for p in self.landmarks]

    @classmethod
    def from_faceset(cls, fs: Faceset, resolution: int, padding: float) -> FaceBank:
        """Load every crop; shrink it (area filter) so the model crop is at most 1.25x down."""
        import cv2

        if len(fs.records) < 2:
            raise FaceError(f"{fs.root}: holds {len(fs.records)} face(s); a model needs at "
                            "least 2 of each person (extract more frames or photos)")
        images, lms = [], []
        for rec in fs.records:
            img = fs.image(rec)
            pts = np.asarray(rec.aligned, float)
            m = crop_matrix(pts, resolution, padding)
            scale = math.sqrt(abs(np.linalg.det(m[:, :2])))
            f = min(1.0, scale * 1.25)
            if f < 1.0:
                side = max(8, round(img.shape[0] * f))
                f = side / img.shape[0]
                img = cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA)
                pts = (pts + 0.5) * f - 0.5
            images.append(img)
            lms.append(pts)
        embs = [r.embedding for r in fs.records if r.embedding is not None]
        mean = np.mean(np.array(embs, float), 0).round(6).tolist() if embs else None
        return cls(fs.root.name, images, lms, mean, resolution, padding)

    def __len__(self) -> int:
        return len(self.images)

    def sample(self, i: int, rng: np.random.Generator | None) -> tuple[np.ndarray, ...]:
        """Face `i` at model framing: (warped input, target, mask), float32 in 0..1.

        With `rng`, a small similarity jitter (±8°, ±5 % scale, ±4 % shift), a coin-flip
        mirror and a random warp of the input; without, the plain aligned crop.
        """
        import cv2

        r = self.resolution
        m = self.matrices[i]
        flip = False
        if rng is not None:
            ang = math.radians(rng.uniform(-8, 8))
            sc = rng.uniform(0.95, 1.05)
            shift = rng.uniform(-0.04, 0.04, 2) * r
            flip = bool(rng.random() < 0.5)
            m = _jittered(m, r, ang, sc, shift, flip)
        target = cv2.warpAffine(self.images[i], m, (r, r), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT)
        pts = apply(m, self.landmarks[i])
        if flip:
            pts = pts[MIRROR]
        mask = region_mask((r, r), pts, "face")
        warped = random_warp(target, rng) if rng is not None else target
        return (warped.astype(np.float32) / 255, target.astype(np.float32) / 255, mask)

    def batch(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        """`n` random augmented faces: (inputs, targets, masks) as NCHW float32 arrays."""
        idx = rng.integers(0, len(self), n)
        parts = [self.sample(int(i), rng) for i in idx]
        return _stack(parts)

    def fixed(self, n: int) -> tuple[np.ndarray, ...]:
        """`n` evenly spaced faces without augmentation (for previews)."""
        idx = np.linspace(0, len(self) - 1, min(n, len(self))).round().astype(int)
        return _stack([self.sample(int(i), None) for i in idx])


def _jittered(m: np.ndarray, r: int, angle: float, scale: float, shift: np.ndarray,
              flip: bool) -> np.ndarray:
    """The crop matrix `m` (to an `r`-pixel crop) turned by `angle` (radians) and scaled
    about the crop's centre, shifted by `shift` pixels, then mirrored if `flip`."""
    c = (r - 1) / 2
    rot = scale * np.array([[math.cos(angle), -math.sin(angle)],
                            [math.sin(angle), math.cos(angle)]])
    jit = np.hstack([rot, (np.array([c, c]) - rot @ [c, c] + shift)[:, None]])
    m = _compose(jit, m)
    return _compose(np.array([[-1.0, 0, r - 1], [0, 1.0, 0]]), m) if flip else m


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The 2x3 affine `a` after `b`."""
    return (np.vstack([a, [0, 0, 1]]) @ np.vstack([b, [0, 0, 1]]))[:2]


def _stack(parts: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    inp = np.stack([p[0] for p in parts]).transpose(0, 3, 1, 2)
    tgt = np.stack([p[1] for p in parts]).transpose(0, 3, 1, 2)
    msk = np.stack([p[2] for p in parts])[:, None]
    return (np.ascontiguousarray(inp), np.ascontiguousarray(tgt), np.ascontiguousarray(msk))


class _Feeder:
    """The augmented batches of each step, built ahead on worker threads (OpenCV and NumPy
    release the GIL) so a fast GPU does not wait on them; with no workers, built in line."""

    AHEAD = 3  # batches in flight per worker

    def __init__(self, banks: dict[str, FaceBank], opts: TrainOptions, workers: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.banks, self.opts = banks, opts
        self.pool = ThreadPoolExecutor(workers, "retake-batch") if workers > 0 else None
        self.depth = workers * self.AHEAD
        self.pending: dict[int, object] = {}

    def make(self, step: int) -> dict[str, tuple[np.ndarray, ...]]:
        """Step `step`'s batch of each identity (the rng depends on seed and step only)."""
        rng = np.random.default_rng([self.opts.seed, step])
        return {k: self.banks[k].batch(rng, self.opts.batch_size) for k in IDENTITIES}

    def get(self, step: int) -> dict[str, tuple[np.ndarray, ...]]:
        if self.pool is None:
            return self.make(step)
        for s in range(step, step + self.depth):
            if s not in self.pending:
                self.pending[s] = self.pool.submit(self.make, s)
        for s in [s for s in self.pending if s < step]:
            self.pending.pop(s).cancel()
        return self.pending.pop(step).result()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


class _TensorFeeder:
    """The augmentation of `FaceBank.sample` done as tensor ops on the training device.

    Beside a GPU the batches built by CPU threads set the pace (about 29 steps/s at 128 px
    with 12 threads on the H200 bench, the GPU mostly idle), so there each bank is uploaded
    once: its crops resized to one side, and each crop's face mask drawn once in the crop's
    own pixels. A step draws the same kinds of random numbers as `sample` (similarity
    jitter, mirror, a 5x5 grid warp; from NumPy's generator seeded by (seed, step)) and
    applies them with `grid_sample`: one affine grid per face gives the target crop and its
    mask, the warp's displacement field added to an identity grid gives the input. The
    results are close to `sample`'s but not identical (bilinear sampling of a resized crop,
    reflection about the edge pixel), so a run is reproducible on one device, not across
    the two feeders.
    """

    def __init__(self, banks: dict[str, FaceBank], opts: TrainOptions,
                 dev: torch.device) -> None:
        import cv2

        self.opts, self.dev = opts, dev
        self.r = r = banks["src"].resolution
        self.sets = {}
        for k, bank in banks.items():
            side = max(img.shape[0] for img in bank.images)
            imgs, masks, mats = [], [], []
            for img, pts, m in zip(bank.images, bank.landmarks, bank.matrices, strict=True):
                f = side / img.shape[0]
                if img.shape[0] != side:
                    img = cv2.resize(img, (side, side), interpolation=cv2.INTER_LINEAR)
                # pixel centres: big pixel x' = (x + 0.5) f - 0.5
                back = np.array([[1 / f, 0, 0.5 / f - 0.5], [0, 1 / f, 0.5 / f - 0.5]])
                imgs.append(img)
                masks.append(region_mask((side, side), (pts + 0.5) * f - 0.5, "face"))
                mats.append(_compose(m, back))
            self.sets[k] = (
                torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous().to(dev),
                torch.from_numpy((np.stack(masks)[:, None] * 255).round().astype(np.uint8))
                .to(dev), np.stack(mats), side)  # uint8: a big faceset fits a small GPU
        t = torch.linspace(0, math.pi, r, device=dev)
        self.taper = (torch.sin(t)[:, None] * torch.sin(t)[None, :])[None]
        ident = torch.linspace(-1, 1, r, device=dev)
        gy, gx = torch.meshgrid(ident, ident, indexing="ij")
        self.identity = torch.stack([gx, gy], -1)[None]  # (1, r, r, 2) as grid_sample takes

    def _affine(self, m: np.ndarray, side: int) -> torch.Tensor:
        """grid_sample thetas (n, 2, 3): output crop pixels → source image, normalised."""
        r = self.r
        n = len(m)
        full = np.tile(np.eye(3), (n, 1, 1))
        full[:, :2] = m
        inv = np.linalg.inv(full)  # crop pixel → image pixel
        out = np.array([[(r - 1) / 2, 0, (r - 1) / 2], [0, (r - 1) / 2, (r - 1) / 2],
                        [0, 0, 1]])
        into = np.array([[2 / (side - 1), 0, -1], [0, 2 / (side - 1), -1], [0, 0, 1]])
        theta = into @ inv @ out
        return torch.from_numpy(theta[:, :2].astype(np.float32)).to(self.dev)

    def batch(self, k: str, rng: np.random.Generator, n: int
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`n` augmented faces of identity `k`: (inputs, targets, masks) on the device."""
        r = self.r
        imgs, masks, mats, side = self.sets[k]
        idx = rng.integers(0, len(mats), n)
        ang = np.radians(rng.uniform(-8, 8, n))
        sc = rng.uniform(0.95, 1.05, n)
        shift = rng.uniform(-0.04, 0.04, (n, 2)) * r
        flip = rng.random(n) < 0.5
        offs = rng.normal(0, 0.03 * r, size=(n, 2, 5, 5)).astype(np.float32)
        m = np.stack([_jittered(mats[j], r, ang[i], sc[i], shift[i], bool(flip[i]))
                      for i, j in enumerate(idx)])
        return self._render(k, idx, m, offs)

    def plain(self, k: str, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Faces `idx` of identity `k` at model framing, unaugmented: (crops, masks)."""
        idx = np.asarray(idx, int)
        offs = np.zeros((len(idx), 2, 5, 5), np.float32)
        _, target, mask = self._render(k, idx, self.sets[k][2][idx], offs)
        return target, mask

    def _render(self, k: str, idx: np.ndarray, m: np.ndarray, offs: np.ndarray
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        r = self.r
        imgs, masks, _, side = self.sets[k]
        n = len(idx)
        grid = F.affine_grid(self._affine(m, side), [n, 1, r, r], align_corners=True)
        sel = torch.from_numpy(idx).to(self.dev)
        target = F.grid_sample(imgs[sel].float() / 255, grid, mode="bilinear",
                               padding_mode="reflection", align_corners=True)
        mask = F.grid_sample(masks[sel].float() / 255, grid, mode="bilinear", padding_mode="zeros",
                             align_corners=True)
        field = F.interpolate(torch.from_numpy(offs).to(self.dev), size=(r, r),
                              mode="bicubic", align_corners=False) * self.taper[:, None]
        warp = self.identity + field.permute(0, 2, 3, 1) * (2 / (r - 1))
        inputs = F.grid_sample(target, warp, mode="bilinear", padding_mode="reflection",
                               align_corners=True)
        return inputs, target, mask


def _workers(opts: TrainOptions, dev: torch.device) -> int:
    if opts.workers is not None:
        return max(0, int(opts.workers))
    return 0 if dev.type == "cpu" else max(1, min(12, (os.cpu_count() or 2) - 2))


# ---------------------------------------------------------------- model folders

def pick_device(device: str = "auto") -> torch.device:
    """'auto' → the first CUDA device when there is one, else the CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise RetakeError(f"unknown device {device!r}; use auto, cpu or cuda") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise EngineUnavailable("no CUDA GPU is available here; use --device cpu")
    return dev


@dataclass
class TrainedModel:
    """A loaded model: the network (eval mode) plus what model.json says about it."""

    net: FaceAutoencoder
    meta: dict
    device: torch.device

    @property
    def resolution(self) -> int:
        return int(self.meta["resolution"])

    @property
    def padding(self) -> float:
        return float(self.meta["padding"])

    @torch.no_grad()
    def paint(self, crops: np.ndarray, identity: str) -> tuple[np.ndarray, np.ndarray]:
        """Re-paint aligned crops (n, r, r, 3) uint8 as `identity`.

        Returns RGB (n, r, r, 3) float32 in 0..255 and masks (n, r, r) float32 in 0..1.
        """
        x = torch.from_numpy(np.ascontiguousarray(crops, np.float32) / 255)
        x = x.permute(0, 3, 1, 2).to(self.device)
        rgb, mask = self.net(x, identity)
        rgb = rgb.permute(0, 2, 3, 1).float().cpu().numpy() * 255
        return rgb.astype(np.float32), mask[:, 0].float().cpu().numpy()


def _arch(opts: TrainOptions) -> dict:
    return {"encoder_dims": opts.encoder_dims, "bottleneck": opts.bottleneck,
            "decoder_dims": opts.decoder_dims}


def model_info(model_dir: str | os.PathLike) -> dict:
    """The model.json of a model folder, checked; raises `EngineUnavailable` when unusable."""
    root = Path(model_dir)
    if not root.is_dir():
        raise EngineUnavailable(f"{root}: no such model folder; train one with `retake train`")
    meta_path, weights = root / "model.json", root / "model.pt"
    if not meta_path.is_file() or not weights.is_file():
        raise EngineUnavailable(f"{root}: not a trained model (model.json or model.pt is "
                                "missing); train one with `retake train`")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):  # ValueError: bad JSON or UTF-8
        raise EngineUnavailable(f"{root}: model.json is damaged; retrain the model or "
                                "restore the folder") from None
    version = meta.get("version", 0) if isinstance(meta, dict) else 0
    if _is_int(version) and version > MODEL_VERSION:
        raise EngineUnavailable(f"{root}: made by a newer Retake (model version "
                                f"{version}); update Retake")
    problem = _meta_problem(meta)
    if problem:
        raise EngineUnavailable(f"{root}: model.json is damaged or crafted ({problem}); "
                                "retrain the model or restore the folder")
    return meta


# What `retake train` can make: model.json is checked against these before any tensor is
# built, so a crafted one cannot make a swap allocate gigabytes.
RESOLUTIONS = (32, 256)  # a multiple of 16 (the encoder halves the side four times)
ARCH_LIMITS = {"encoder_dims": (4, 64), "bottleneck": (8, 512), "decoder_dims": (4, 64)}
MAX_PARAMETERS = 100_000_000  # 400 MB of float32 weights; the defaults at 256 px: 17 M


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: object, lo: float, hi: float) -> bool:
    return (isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            and lo <= v <= hi)


def _arch_problem(resolution: object, arch: object) -> str | None:
    """Why a resolution and architecture are outside what training allows, or None."""
    if not _is_int(resolution) or resolution % 16 \
            or not RESOLUTIONS[0] <= resolution <= RESOLUTIONS[1]:
        return (f"resolution {resolution!r} is not a multiple of 16 from {RESOLUTIONS[0]} "
                f"to {RESOLUTIONS[1]}")
    if not isinstance(arch, dict) or set(arch) != set(ARCH_LIMITS):
        return f"arch must hold exactly {', '.join(ARCH_LIMITS)}"
    for key, (lo, hi) in ARCH_LIMITS.items():
        if not _is_int(arch[key]) or not lo <= arch[key] <= hi:
            return f"{key} {arch[key]!r} is not a whole number from {lo} to {hi}"
    with torch.device("meta"):  # counts parameters without allocating them
        n = sum(p.numel() for p in FaceAutoencoder(resolution, **arch).parameters())
    if n > MAX_PARAMETERS:
        return f"the network would have {n / 1e6:.0f} M parameters (at most " \
               f"{MAX_PARAMETERS // 1_000_000} M)"
    return None


def _meta_problem(meta: object) -> str | None:
    """Why model.json's fields are not what `train` writes (types and ranges), or None."""
    if not isinstance(meta, dict):
        return "not a JSON object"
    missing = [k for k in ("resolution", "padding", "arch", "steps") if k not in meta]
    if missing:
        return f"no {', '.join(missing)}"
    if not _is_int(meta.get("version", 0)) or meta.get("version", 0) < 0:
        return "version is not a whole number"
    problem = _arch_problem(meta["resolution"], meta["arch"])
    if problem:
        return problem
    if not _is_number(meta["padding"], 0, 1):
        return "padding is not a number from 0 to 1"
    if not _is_int(meta["steps"]) or not 0 <= meta["steps"] <= 10**12:
        return "steps is not a whole number from 0"
    options = meta.get("options", {})
    if not isinstance(options, dict):
        return "options is not an object"
    seed = options.get("seed", 0)
    if not _is_int(seed) or not -(2**63) <= seed < 2**64:
        return "the seed is not a 64-bit whole number"
    identities = meta.get("identities", {})
    if not isinstance(identities, dict) or not all(isinstance(v, dict)
                                                   for v in identities.values()):
        return "identities is not an object of objects"
    for key, ident in identities.items():
        emb = ident.get("embedding")
        if emb is not None and not (isinstance(emb, list) and len(emb) == 128
                                    and all(_is_number(x, -1e3, 1e3) for x in emb)):
            return f"the {key} embedding is not 128 finite numbers"
        if not isinstance(ident.get("name", ""), str):
            return f"the {key} name is not a string"
    return None


def _read_weights(root: Path, device: torch.device) -> dict:
    try:
        state = torch.load(root / "model.pt", map_location=device, weights_only=True)
    except Exception as exc:  # any unpickling or zip failure means a damaged file
        raise EngineUnavailable(f"{root}: model.pt is damaged ({type(exc).__name__}); "
                                "retrain the model or restore the folder") from None
    if not isinstance(state, dict) or "net" not in state:
        raise EngineUnavailable(f"{root}: model.pt holds no Retake model; retrain it")
    return state


def _build(meta: dict, device: torch.device, state: dict | None, root: Path) -> FaceAutoencoder:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(meta.get("options", {}).get("seed", 0)))
        net = FaceAutoencoder(int(meta["resolution"]), **meta["arch"])
    if state is not None:
        try:
            net.load_state_dict(state["net"])
        except (RuntimeError, KeyError, TypeError) as exc:
            raise EngineUnavailable(f"{root}: model.pt does not match model.json "
                                    f"({str(exc).splitlines()[0]}); retrain the model") from None
    return net.to(device)


def load_model(model_dir: str | os.PathLike, device: str = "auto") -> TrainedModel:
    """Load a model folder written by `train`, for swapping (eval mode, no gradients)."""
    root = Path(model_dir)
    meta = model_info(root)
    dev = pick_device(device)
    net = _build(meta, dev, _read_weights(root, dev), root)
    net.eval()
    return TrainedModel(net, meta, dev)


def _save(root: Path, meta: dict, state: dict, history: dict) -> None:
    with atomic_group([root / "model.pt", root / "model.json", root / "loss.json"]) as tmps:
        torch.save(state, tmps[0])
        Path(tmps[1]).write_text(json.dumps(meta, indent=1))
        Path(tmps[2]).write_text(json.dumps(history, separators=(",", ":")))


def _preview_grid(net: FaceAutoencoder, src: tuple, dst: tuple,
                  device: torch.device) -> np.ndarray:
    """RGB uint8 grid, one face per row: dst | dst rebuilt | dst as src | src | src rebuilt."""
    was = net.training
    net.eval()
    with torch.no_grad():
        d = torch.from_numpy(dst[1]).to(device)
        s = torch.from_numpy(src[1]).to(device)
        cols = [d, net(d, "dst")[0], net(d, "src")[0], s, net(s, "src")[0]]
    net.train(was)
    n = min(len(d), len(s))
    rows = [torch.cat([c[i] for c in cols], dim=2) for i in range(n)]
    grid = torch.cat(rows, dim=1).permute(1, 2, 0).clamp(0, 1).cpu().numpy()
    img = (grid * 255).round().astype(np.uint8)
    rep = max(1, 128 // net.resolution)
    return img.repeat(rep, 0).repeat(rep, 1) if rep > 1 else img


def _read_history(root: Path, done: int) -> dict:
    """loss.json cut back to the checkpoint's step count (empty when absent or damaged)."""
    history: dict[str, list] = {k: [] for k in HISTORY_KEYS}
    path = root / "loss.json"
    try:
        saved = json.loads(path.read_text()) if path.is_file() else {}
        keep = sum(1 for s in saved.get("step", []) if s <= done)
        return {k: list(saved.get(k, []))[:keep] for k in HISTORY_KEYS}
    except (json.JSONDecodeError, AttributeError, TypeError, UnicodeDecodeError):
        return history  # the history is a convenience; a damaged one restarts


def _identity(bank: FaceBank, fs: Faceset) -> dict:
    return {"name": bank.name, "faceset": str(fs.root.resolve()), "faces": len(bank),
            "embedding": bank.embedding}


# ---------------------------------------------------------------- training

HISTORY_KEYS = ("step", "loss", "src", "dst", "mask", "gan", "disc")


class _Session:
    """One training run's state: network, optimisers, data, history, steps done."""

    def __init__(self, root: Path, banks: dict[str, FaceBank], meta: dict,
                 opts: TrainOptions, dev: torch.device, state: dict | None,
                 history: dict) -> None:
        self.root, self.banks, self.meta, self.opts, self.dev = root, banks, meta, opts, dev
        self.history = history
        self.done = int(meta["steps"])
        self.saved = self.done
        self.net = _build(meta, dev, state, root)
        self.net.train()
        self.opt = torch.optim.Adam(self.net.parameters(), lr=opts.learning_rate)
        self.disc: PatchDiscriminator | None = None
        self.disc_opt: torch.optim.Optimizer | None = None
        if state is not None:
            try:
                self.opt.load_state_dict(state["optimizer"])
                if "disc" in state:
                    self._make_disc(state)
            except (KeyError, ValueError, RuntimeError):
                raise EngineUnavailable(f"{root}: model.pt's optimiser state is damaged; "
                                        "train into a new folder") from None
            for g in self.opt.param_groups:
                g["lr"] = opts.learning_rate
        self.fixed = {k: b.fixed(4) for k, b in banks.items()}
        on_device = opts.augment == "device" or (opts.augment == "auto" and dev.type != "cpu")
        self.tensors = _TensorFeeder(banks, opts, dev) if on_device else None
        self.feeder = None if on_device else _Feeder(banks, opts, _workers(opts, dev))

    def _make_disc(self, state: dict | None = None) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.opts.seed + 1)
            self.disc = PatchDiscriminator().to(self.dev)
        self.disc_opt = torch.optim.Adam(self.disc.parameters(), lr=self.opts.learning_rate,
                                         betas=(0.5, 0.999))
        if state is not None and "disc" in state:
            self.disc.load_state_dict(state["disc"])
            self.disc_opt.load_state_dict(state["disc_optimizer"])

    def step(self) -> dict[str, float]:
        """One optimisation step on a batch of each identity; the batch depends on (seed, step)."""
        opts = self.opts
        if self.feeder is None:
            rng = np.random.default_rng([opts.seed, self.done])
            batches = {k: self.tensors.batch(k, rng, opts.batch_size) for k in IDENTITIES}
        else:
            batches = {k: [torch.from_numpy(a).to(self.dev, non_blocking=True) for a in parts]
                       for k, parts in self.feeder.get(self.done).items()}
        recon, image_loss, mask_loss = {}, {}, 0.0
        for k in IDENTITIES:
            inp, tgt, msk = batches[k]
            rgb, pred_mask = self.net(inp, k)
            recon[k] = rgb
            image_loss[k] = reconstruction_loss(rgb, tgt, msk)
            mask_loss = mask_loss + 10 * F.mse_loss(pred_mask, msk)
        total = image_loss["src"] + image_loss["dst"] + mask_loss
        losses = {}
        gan_on = opts.gan_after is not None and self.done >= opts.gan_after
        if gan_on:
            if self.disc is None:
                self._make_disc()
            _, tgt, msk = batches["src"]
            logits = self.disc(recon["src"] * msk)
            g_loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
            total = total + opts.gan_weight * g_loss
            losses["gan"] = float(g_loss.detach())
        self.opt.zero_grad(set_to_none=True)
        total.backward()
        self.opt.step()
        if gan_on:
            real = self.disc(tgt * msk)
            fake = self.disc(recon["src"].detach() * msk)
            d_loss = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                      + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))) / 2
            self.disc_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            self.disc_opt.step()
            losses["disc"] = float(d_loss.detach())
        losses.update(loss=float(total.detach()), src=float(image_loss["src"].detach()),
                      dst=float(image_loss["dst"].detach()), mask=float(mask_loss.detach()))
        self.done += 1
        self.history["step"].append(self.done)
        for k in HISTORY_KEYS[1:]:
            self.history[k].append(round(losses.get(k, 0.0), 6))
        return losses

    def checkpoint(self) -> None:
        """Write model.pt, model.json and loss.json together."""
        self.meta["steps"] = self.done
        blob = {"net": self.net.state_dict(), "optimizer": self.opt.state_dict()}
        if self.disc is not None:
            blob["disc"] = self.disc.state_dict()
            blob["disc_optimizer"] = self.disc_opt.state_dict()
        _save(self.root, self.meta, blob, self.history)
        self.saved = self.done

    def preview(self) -> Path:
        """Write previews/step_NNNNNNN.png and previews/latest.png."""
        from retake.video.media import write_image

        img = _preview_grid(self.net, self.fixed["src"], self.fixed["dst"], self.dev)
        path = self.root / "previews" / f"step_{self.done:07d}.png"
        write_image(path, img)
        write_image(self.root / "previews" / "latest.png", img)
        return path


def _check_options(opts: TrainOptions) -> None:
    res = opts.resolution
    if not _is_int(res) or res % 16 or not RESOLUTIONS[0] <= res <= RESOLUTIONS[1]:
        raise RetakeError(f"resolution {res} is not supported; use a multiple of 16 "
                          "from 32 to 256 (64 or 128 are usual)")
    problem = _arch_problem(res, _arch(opts))
    if problem:
        raise RetakeError(f"unsupported model size: {problem}")
    if opts.augment not in ("auto", "threads", "device"):
        raise RetakeError(f"augment {opts.augment!r}: use auto, threads or device")
    if opts.batch_size < 1 or opts.steps < 0 or opts.learning_rate <= 0:
        raise RetakeError("batch size must be at least 1, steps not negative and the "
                          "learning rate positive")
    if not 0 <= opts.padding <= 1:
        raise RetakeError("padding must be between 0 and 1")


def train(src_root: str | os.PathLike, dst_root: str | os.PathLike,
          out_dir: str | os.PathLike, options: TrainOptions | None = None,
          progress: Progress | None = None) -> dict:
    """Train (or resume) a src/dst model in `out_dir` until `options.steps` steps are done.

    Each step reconstructs a batch of each identity from randomly warped inputs; the loss
    is masked DSSIM + MSE plus the mask's own MSE (plus a PatchGAN term on the source
    decoder from step `gan_after` on). Checkpoints every `save_every` steps and at the end
    (also on Ctrl-C); previews every `preview_every` steps and at the end. The batches of
    step k depend only on (seed, k), so a resumed run sees the data an uninterrupted one
    would. `progress('training', step, steps)` is called after every step. Returns the loss history:
    lists 'step', 'loss', 'src', 'dst', 'mask', 'gan', 'disc' (also in loss.json).
    """
    opts = options or TrainOptions()
    _check_options(opts)
    root = Path(out_dir)
    if root.exists() and not root.is_dir():
        raise RetakeError(f"{root}: is a file; give a folder for the model")
    dev = pick_device(opts.device)
    state, done = None, 0
    if (root / "model.json").exists() or (root / "model.pt").exists():
        old = model_info(root)
        if int(old["resolution"]) != opts.resolution or old["arch"] != _arch(opts) \
                or abs(float(old["padding"]) - opts.padding) > 1e-9:
            raise RetakeError(f"{root}: holds a {old['resolution']} px model with other "
                              "settings; use the same resolution or a new folder")
        state = _read_weights(root, dev)
        done = int(old["steps"])
    src_fs, dst_fs = load(src_root), load(dst_root)
    banks = {"src": FaceBank.from_faceset(src_fs, opts.resolution, opts.padding),
             "dst": FaceBank.from_faceset(dst_fs, opts.resolution, opts.padding)}
    meta = {"version": MODEL_VERSION, "engine": "autoencoder", "resolution": opts.resolution,
            "padding": opts.padding, "arch": _arch(opts), "steps": done,
            "identities": {"src": _identity(banks["src"], src_fs),
                           "dst": _identity(banks["dst"], dst_fs)},
            "options": asdict(opts)}
    (root / "previews").mkdir(parents=True, exist_ok=True)
    run = _Session(root, banks, meta, opts, dev, state, _read_history(root, done))
    start = time.monotonic()
    try:
        while run.done < opts.steps:
            if opts.time_limit is not None and time.monotonic() - start > opts.time_limit:
                break
            run.step()
            if progress:
                progress("training", run.done, opts.steps)
            if opts.preview_every and run.done % opts.preview_every == 0:
                run.preview()
            if opts.save_every and run.done % opts.save_every == 0:
                run.checkpoint()
    finally:
        if run.feeder is not None:
            run.feeder.close()
        if run.saved != run.done or state is None:
            run.checkpoint()
    if not opts.preview_every or run.done % opts.preview_every:
        run.preview()
    return run.history
