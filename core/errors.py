"""Errors a user can act on. Every stage raises these; the CLI prints their message on one line.

They live in `align/` because alignment is the foundation every other stage imports.
"""

from __future__ import annotations


class RetakeError(Exception):
    """A problem with the user's input or environment, with a message that says what to do."""


class AudioError(RetakeError):
    """The audio could not be read, is empty, or holds no speech."""


class TranscriptError(RetakeError):
    """The transcript is unreadable or holds nothing that can be spoken."""


class AlignmentError(RetakeError):
    """The speech and the transcript could not be aligned at all."""


class EngineUnavailable(RetakeError):
    """The chosen engine cannot run here (a model file or a GPU is missing)."""


class VideoError(RetakeError):
    """A video or image could not be read, or has no usable stream."""


class FaceError(RetakeError):
    """No usable face was found, or the choice of face is ambiguous."""
