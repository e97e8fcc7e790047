"""Boundary refinement after alignment (placeholder during development)."""

from __future__ import annotations

import numpy as np


def refine_boundaries(x: np.ndarray, sample_rate: int, results: list) -> None:
    """Adjust word boundaries in place."""
    return None
