"""Writing an edit's results: the audio (with disclosure metadata) and its descriptions.

`OUT.wav` is accompanied by `OUT.json` and `OUT.TextGrid` (the new Alignment),
`OUT.timemap.json` (original → edited time), `OUT.report.json` and `OUT.otio` (the edit as
an OpenTimelineIO timeline, for editors); all appear together or not at all.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from retake.align.formats import to_textgrid
from retake.align.types import Alignment
from retake.awareness.provenance import Provenance
from retake.core.atomic import atomic_group
from retake.core.errors import RetakeError
from retake.core.version import __version__
from retake.voice.edit import EditResult


def disclosure(result: EditResult) -> str:
    """The line embedded in the audio file's metadata."""
    spans = ", ".join(f"{e.start:.2f}-{e.end:.2f}s" for e in result.report.synthesized)
    return f"Edited with Retake {__version__}; synthesized speech at: {spans or 'none'}"


def output_paths(out: str | os.PathLike) -> dict[str, Path]:
    """The files an edit writes for `-o OUT.wav` (OUT alone means OUT.wav)."""
    out = Path(out)
    if out.suffix and out.suffix.lower() != ".wav" and len(out.suffix) <= 5:
        raise RetakeError(f"{out}: an edit is written as a .wav (with its .json, .TextGrid, "
                          ".timemap.json, .report.json and .otio beside it); name it OUT.wav")
    base = out.with_suffix("") if out.suffix.lower() == ".wav" else out
    return {
        "wav": base.with_suffix(".wav"),
        "json": base.with_suffix(".json"),
        "textgrid": base.with_suffix(".TextGrid"),
        "timemap": base.with_name(base.name + ".timemap.json"),
        "report": base.with_name(base.name + ".report.json"),
        "otio": base.with_suffix(".otio"),
    }


def write_wav_with_metadata(path: str, samples: np.ndarray, sample_rate: int, comment: str
                            ) -> None:
    """16-bit wav whose INFO chunk says how it was made."""
    import soundfile as sf

    with sf.SoundFile(path, "w", samplerate=sample_rate, channels=1, subtype="PCM_16",
                      format="WAV") as f:
        f.software = f"Retake {__version__}"
        f.comment = comment
        for a in range(0, len(samples), 1 << 20):  # in blocks: no clipped copy of it all
            f.write(np.clip(samples[a:a + (1 << 20)], -1, 1))


def write_result(result: EditResult, out: str | os.PathLike,
                 provenance: Provenance | None = None,
                 source: str | os.PathLike | None = None,
                 drop_audio: bool = False) -> dict[str, Path]:
    """Write the edited audio and its alignment, time map, report and OTIO timeline
    atomically.

    The wav carries a signed C2PA manifest (awareness/provenance.py): the input files by
    hash (`provenance.ingredients`, the edited recording first), the synthesized time
    ranges, and the consent record; it is signed before the group is published.
    `provenance` defaults to the one the result carries (none: consent not recorded).
    `source`, the original recording, is what the timeline's kept clips refer to (default:
    the first ingredient, the edited recording; none known: a missing reference).
    `drop_audio`: once the wav is written, let go of `result.samples` (left empty), so a
    streamed edit no longer holds the original recording while the file is signed.
    """
    from retake.voice.otio import relative_url, write_otio

    provenance = provenance or result.provenance or Provenance()
    paths = output_paths(out)
    if source is None and provenance.ingredients:
        source = provenance.ingredients[0]
    keys = list(paths)
    with atomic_group([paths[k] for k in keys]) as tmps:
        tmp = dict(zip(keys, tmps, strict=True))
        write_wav_with_metadata(tmp["wav"], result.samples, result.sample_rate,
                                disclosure(result))
        if drop_audio:
            result.samples = np.zeros(0, np.float32)
        Path(tmp["json"]).write_text(result.alignment.to_json(), encoding="utf-8")
        to_textgrid(result.alignment).save(tmp["textgrid"], format="long_textgrid",
                                           includeBlankSpaces=True)
        Path(tmp["timemap"]).write_text(result.timemap.to_json(), encoding="utf-8")
        Path(tmp["report"]).write_text(result.report.to_json(), encoding="utf-8")
        write_otio(tmp["otio"], result.timemap, result.report,
                   None if source is None else relative_url(source, paths["otio"]),
                   result.sample_rate, paths["wav"].name)
        provenance.sign_file(tmp["wav"], [], [],
                             synthetic_spans=[(e.start, e.end)
                                              for e in result.report.synthesized],
                             title=paths["wav"].name)
    return paths


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The software and comment fields of a wav file."""
    import soundfile as sf

    with sf.SoundFile(str(path)) as f:
        return {"software": f.software or "", "comment": f.comment or ""}


__all__ = ["Alignment", "disclosure", "read_metadata", "write_result"]
