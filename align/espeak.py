"""A thin ctypes binding to the espeak-ng library that ships inside the `espeakng-loader` wheel.

Two uses: grapheme-to-phoneme conversion for words the pronouncing dictionary lacks, and
synthesis of test and demo speech together with espeak-ng's own word and phoneme timings
(the ground truth that alignment tests measure against).

espeak-ng keeps its state in the C library (one voice, one callback at a time), so every
call goes through one lock and sets the voice it needs; nothing of ours is global but the
loaded library handle.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

_LOCK = threading.RLock()

# espeak_EVENT types (speak_lib.h)
_EV_LIST_TERMINATED = 0
_EV_WORD = 1
_EV_END = 5
_EV_MSG_TERMINATED = 6
_EV_PHONEME = 7

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_PHONEME_IPA = 0x0002
_INIT_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_PHONEMES_IPA = 0x02
_POS_CHARACTER = 1
_PARAM_RATE = 1
_PARAM_PITCH = 3


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


class EspeakError(RuntimeError):
    """The espeak-ng library could not be loaded or refused a request."""


@dataclass(frozen=True)
class _Lib:
    dll: ctypes.CDLL
    sample_rate: int


def _load(path: str) -> _Lib:
    """Load the espeak-ng library at `path` and initialise it."""
    import espeakng_loader

    dll = ctypes.CDLL(path)
    dll.espeak_Initialize.restype = ctypes.c_int
    dll.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    dll.espeak_TextToPhonemes.restype = ctypes.c_char_p
    dll.espeak_TextToPhonemes.argtypes = [
        ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int
    ]
    dll.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    dll.espeak_SetVoiceByName.restype = ctypes.c_int
    dll.espeak_SetSynthCallback.argtypes = [_SynthCallback]
    dll.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
    dll.espeak_Synth.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
        ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
    ]
    dll.espeak_Synth.restype = ctypes.c_int
    dll.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
    dll.espeak_ng_SetRandSeed.restype = None
    # espeak-ng wants the folder that *contains* espeak-ng-data.
    data_path = espeakng_loader.get_data_path()
    parent = str(data_path).rsplit("/espeak-ng-data", 1)[0]
    options = _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA | _INIT_DONT_EXIT
    rate = dll.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, parent.encode(), options)
    if rate <= 0:
        raise EspeakError(f"espeak-ng failed to initialise with data at {data_path}")
    return _Lib(dll, rate)


def _library_path() -> str:
    try:
        import espeakng_loader
    except ImportError as exc:  # pragma: no cover - dependency is declared
        raise EspeakError("espeakng-loader is not installed; reinstall retake") from exc
    return espeakng_loader.get_library_path()


@lru_cache(maxsize=1)
def _lib() -> _Lib:
    """The bundled espeak-ng, loaded once per process (text to phonemes)."""
    return _load(_library_path())


@lru_cache(maxsize=1)
def _private_copy() -> str:
    """A copy of the library of this process's own, so that synthesis can load and unload
    it without touching the long-lived instance `_lib()` holds."""
    import atexit
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="retake-espeak-")
    atexit.register(shutil.rmtree, folder, True)
    path = os.path.join(folder, "libespeak-ng-synth.so")
    shutil.copyfile(_library_path(), path)
    return path


@contextlib.contextmanager
def _fresh_lib() -> Iterator[_Lib]:
    """espeak-ng in its initial state. Its wave generator keeps state between utterances
    (a pitch-flutter phase in a function-level static that nothing resets), so the same text
    would come out a few samples different on every call; a freshly loaded copy of the
    library (about 6 ms) makes synthesis depend on its input alone."""
    import _ctypes

    lib = _load(_private_copy())
    try:
        yield lib
    finally:
        lib.dll.espeak_Terminate.restype = ctypes.c_int
        lib.dll.espeak_Terminate()
        _ctypes.dlclose(lib.dll._handle)


def _set_voice(lib: _Lib, voice: str) -> None:
    if lib.dll.espeak_SetVoiceByName(voice.encode()) != 0:
        raise EspeakError(f"espeak-ng has no voice {voice!r}")


def voice_for_language(language: str) -> str:
    """The espeak-ng voice name for a language tag such as 'en' or 'en-US'."""
    tag = language.lower()
    return {"en": "en-us", "en-us": "en-us", "en-gb": "en-gb"}.get(tag, tag)


def text_to_ipa(text: str, language: str = "en") -> list[list[str]]:
    """IPA phonemes of `text`, one list per spoken word, phonemes separated as espeak-ng sees them.

    Stress marks stay attached to the phoneme that follows them; callers strip what they do
    not need. Punctuation splits the text into clauses, which are joined back in order.
    """
    lib = _lib()
    mode = _PHONEMES_IPA | (ord("_") << 8)
    words: list[list[str]] = []
    with _LOCK:
        _set_voice(lib, voice_for_language(language))
        buf = ctypes.create_string_buffer(text.encode("utf-8"))
        ptr = ctypes.c_char_p(ctypes.addressof(buf))
        while ptr.value:
            out = lib.dll.espeak_TextToPhonemes(ctypes.byref(ptr), _CHARS_UTF8, mode)
            if out is None:
                break
            for chunk in out.decode("utf-8", "replace").split():
                phones = [p for p in chunk.split("_") if p]
                if phones:
                    words.append(phones)
    return words


@dataclass(frozen=True)
class SynthWord:
    """One word espeak-ng spoke: its character span in the input text and its start time."""

    text: str
    char_start: int
    start: float


@dataclass(frozen=True)
class SynthPhone:
    """One phoneme espeak-ng spoke (IPA) and its start time in seconds."""

    label: str
    start: float


@dataclass(frozen=True)
class Synthesis:
    """Speech made by espeak-ng with the timings it reports for it."""

    audio: np.ndarray  # mono float32 in [-1, 1]
    sample_rate: int
    words: list[SynthWord]
    phones: list[SynthPhone]


def synthesize(
    text: str, language: str = "en", rate_wpm: int = 160, pitch: int = 50, seed: int = 0
) -> Synthesis:
    """Speak `text` with espeak-ng; return the audio and the word/phoneme start times it reports.

    espeak-ng varies its output at random (pitch and timing jitter, noise sources); its
    generator is reseeded with `seed` before every call, so the same text gives the same audio.
    """
    chunks: list[np.ndarray] = []
    events: list[tuple[int, int, int, int, str]] = []

    def on_audio(wav, n, ev) -> int:  # called by espeak-ng, possibly many times
        if n > 0:
            chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).astype(np.float32) / 32768.0)
        i = 0
        while ev[i].type != _EV_LIST_TERMINATED:
            e = ev[i]
            label = bytes(e.id.string).split(b"\0", 1)[0].decode("utf-8", "replace")
            events.append((e.type, e.text_position, e.length, e.audio_position, label))
            i += 1
        return 0

    callback = _SynthCallback(on_audio)
    data = text.encode("utf-8") + b"\0"
    with _LOCK, _fresh_lib() as lib:
        _set_voice(lib, voice_for_language(language))
        lib.dll.espeak_SetParameter(_PARAM_RATE, int(rate_wpm), 0)
        lib.dll.espeak_SetParameter(_PARAM_PITCH, int(pitch), 0)
        lib.dll.espeak_SetSynthCallback(callback)
        lib.dll.espeak_ng_SetRandSeed(int(seed))
        err = lib.dll.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if err != 0:
            raise EspeakError(f"espeak-ng synthesis failed (code {err})")
        sample_rate = lib.sample_rate
    audio = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    # text_position counts characters from 1; map back to Python string offsets.
    words = []
    phones = []
    for etype, pos, length, ms, label in events:
        if etype == _EV_WORD:
            start = max(pos - 1, 0)
            words.append(SynthWord(text[start:start + length], start, ms / 1000.0))
        elif etype == _EV_PHONEME and label:
            phones.append(SynthPhone(label, ms / 1000.0))
    return Synthesis(audio, sample_rate, words, phones)
