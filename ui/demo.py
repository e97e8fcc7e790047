"""`retake demo`: the main jobs on a built-in sample, offline: align it, then edit it by text.

The sample voiceover is spoken here by a neural voice (hibari-tts; its weights ship inside
its wheel), so the edit works on natural-sounding speech, as a user's own recording would be.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

SAMPLE_TEXT = (
    "Welcome to Retake. This short voiceover was generated on your machine, and every "
    "word of it has been aligned, even numbers like 42 and names like Zurich. Change a "
    "word in the transcript, and Retake says the new word in the same voice, then tells "
    "you plainly where the audio was changed."
)


def reference_word_starts(synth, text: str) -> dict[int, float]:
    """Start time of each word espeak-ng spoke, keyed by its character offset in `text`.

    espeak-ng's word events fire before a word's first sound (during a stop's closure), so
    the first phoneme event after a word event is taken as the word's start.
    """
    starts: dict[int, float] = {}
    events = sorted(synth.words, key=lambda w: w.start)
    for k, w in enumerate(events):
        nxt = events[k + 1].start if k + 1 < len(events) else float("inf")
        first = next((p.start for p in synth.phones if w.start <= p.start < nxt), None)
        if first is not None:
            starts[w.char_start] = first
    return starts


def speak_sample(seed: int = 0) -> tuple[np.ndarray, int]:
    """The built-in voiceover, spoken by the neural voice (the same audio for a seed)."""
    from retake.voice.query import QueryVoice

    rate = 22050
    return QueryVoice(aligner=None).speak(SAMPLE_TEXT, rate, seed=seed), rate


def run_demo(folder: Path, out: Console, err: Console) -> None:
    """Generate the sample, align it, write every output, print the word table."""
    from retake.align import Audio, aligner
    from retake.align.audio import write_wav
    from retake.align.formats import output_paths, write_alignment
    from retake.core.atomic import write_text

    folder.mkdir(parents=True, exist_ok=True)
    err.print("[bold]1/5[/] speaking the built-in sample with a neural voice (hibari-tts, "
              "offline) ...")
    samples, rate = speak_sample()
    wav = folder / "sample.wav"
    write_wav(wav, samples, rate)
    write_text(folder / "sample.txt", SAMPLE_TEXT + "\n")

    err.print("[bold]2/5[/] aligning the transcript to the speech ...")
    audio = Audio(samples, rate)
    al = aligner.align(audio, SAMPLE_TEXT)
    paths = output_paths(folder / "sample", "sample")
    write_alignment(al, paths)

    table = Table(title="Built-in sample: aligned words (times in seconds)")
    for col in ("word", "start", "end", "conf", "phones"):
        table.add_column(col, justify="left" if col in ("word", "phones") else "right")
    for w in al.words:
        table.add_row(w.text, f"{w.start:.3f}", f"{w.end:.3f}", f"{w.confidence:.2f}",
                      " ".join(p.label for p in w.phones))
    out.print(table)
    out.print(f"wrote {wav}, " + ", ".join(str(p) for p in paths.values()))
    run_edit_demo(folder, audio, out, err)


EDITED_TEXT = SAMPLE_TEXT.replace("has been aligned", "has been edited").replace(
    "numbers like 42 and names like Zurich", "names like Zurich and numbers like 42").replace(
    "the same voice", "the speaker's own voice")


def run_edit_demo(folder: Path, audio, out: Console, err: Console) -> None:
    """Edit the sample by text and write the edited audio, its TextGrid and its report."""
    from retake.voice import Editor, write_result

    err.print("[bold]3/5[/] editing it by text: " + EDITED_TEXT)
    editor = Editor()
    rec = editor.load(audio, SAMPLE_TEXT)
    result = editor.edit(rec, EDITED_TEXT)
    paths = write_result(result, folder / "edited.wav")
    table = Table(title="Edits (times in the edited file)")
    for col in ("edit", "words", "at", "made by", "heard (open recognition)"):
        table.add_column(col)
    for e in result.report.edits:
        heard = e.heard_label()
        table.add_row(e.kind, e.text, f"{e.start:.2f}-{e.end:.2f}", e.engine, heard)
    out.print(table)
    out.print("wrote " + ", ".join(str(p) for p in paths.values()))
    run_video_demo(folder, out, err)


def run_video_demo(folder: Path, out: Console, err: Console) -> None:
    """Lip-sync a still face (scikit-image's astronaut) to the edited speech, then swap it.

    The face ships inside a pip dependency, so the whole story runs offline anywhere.
    """
    import numpy as np
    import skimage.data

    from retake.video.faces import FaceModels
    from retake.video.lipsync import lipsync
    from retake.video.media import write_image
    from retake.video.swap import swap_video
    from retake.video.swap_landmark import LandmarkSwapper, source_face

    models = FaceModels()
    face = folder / "face.png"
    write_image(face, skimage.data.astronaut())
    err.print("[bold]4/5[/] lip-syncing a still face to the edited speech ...")
    talking = folder / "talking.mp4"
    res = lipsync(face, folder / "edited.wav", talking, transcript=EDITED_TEXT, models=models)
    err.print(f"      {res['frames']} frames, {res['words']} words")
    err.print("[bold]5/5[/] swapping in a mirrored, re-lit copy of the face (a stand-in "
              "second person) ...")
    other = np.ascontiguousarray(skimage.data.astronaut()[:, ::-1])
    other = np.clip(other.astype(np.float32) * [1.08, 0.95, 0.9], 0, 255).astype(np.uint8)
    swapper = LandmarkSwapper(other, source_face(other, models))
    final = folder / "demo.mp4"
    swap_video(talking, final, swapper, models)
    out.print(f"wrote {talking} (lip-synced) and {final} (lip-synced and face-swapped); both "
              "are labelled as synthetic media in their metadata")
