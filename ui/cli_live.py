"""`retake live`: swap a face in real time from a camera, a stream or a file. Thin over
`video/live.py`; the consent gate and the one-line errors are the `swap` command's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from retake.core.atomic import refuse_inputs
from retake.core.errors import RetakeError
from retake.ui.console import err
from retake.ui.gate import ConsentOpt, ConsentTakeOpt, ConsentTextOpt, require_consent
from retake.video.swappers import DEFAULT_SHAPE


def live(
    source: Annotated[Path | None, typer.Option("--source", "-s", help="Photo of the face "
                                                "to put in (engine landmark).")] = None,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Model folder from "
                                               "`retake train` (engine autoencoder).")] = None,
    input: Annotated[str | None, typer.Option("--input", "-i", help="A video file (played "
                                              "at its own rate) or a stream URL.")] = None,
    camera: Annotated[str | None, typer.Option("--camera", help="A camera: /dev/video0 "
                                               "(Linux), 0 (macOS), the device name "
                                               "(Windows).")] = None,
    record: Annotated[Path | None, typer.Option("--record", "-o", help="Also record the "
                                                "output to this .mp4 (signed).")] = None,
    virtual_camera: Annotated[bool, typer.Option("--virtual-camera", help="Send the output "
                                                 "to a virtual camera (v4l2loopback, OBS).")
                              ] = False,
    label: Annotated[Literal["on", "off"], typer.Option(help="The visible SYNTHETIC label "
                                                        "(off needs consent recorded).")] =
    "on",
    keep_mouth: Annotated[bool, typer.Option(help="Keep the target's own mouth.")] = False,
    face_cap: Annotated[float, typer.Option(
        "--face-cap", min=0.0, help="Swap faces wider than this many pixels between the eyes "
        "at that size and scale them back up (a near 720p face costs far more per frame); "
        "0: always full size.")] = 100.0,
    shape: Annotated[float, typer.Option(min=0.0, max=1.0, help="How much of the source's "
                                         "face shape to carry.")] = DEFAULT_SHAPE,
    realtime: Annotated[bool, typer.Option(help="Play a file at its own rate, dropping "
                                           "frames the swap cannot keep up with.")] = True,
    detector: Annotated[Literal["hog", "cnn"], typer.Option(help="Face detector.")] = "hog",
    consent: ConsentOpt = False,
    consent_recording: ConsentTakeOpt = None,
    consent_statement: ConsentTextOpt = None,
) -> None:
    """Swap a face live: a photo (--source) or a trained model (--model) onto a camera
    (--camera) or a file or stream (--input), to a virtual camera and/or a recording.

    Frames the swap cannot keep up with are dropped, never queued; every frame carries a
    small SYNTHETIC label; a recording keeps the input's timing and audio and is signed.
    """
    from retake.video.engines import build_swapper
    from retake.video.faces import FaceModels
    from retake.video.live import camera_source, run_live

    if (source is None) == (model is None):
        raise RetakeError("give either --source PHOTO or --model MODEL")
    if (input is None) == (camera is None):
        raise RetakeError("give either --input FILE_OR_URL or --camera DEVICE")
    if record is None and not virtual_camera:
        raise RetakeError("nowhere to send the output: give --record OUT.mp4 and/or "
                          "--virtual-camera")
    if record is not None and record.suffix.lower() != ".mp4":
        raise RetakeError(f"{record}: the live recording is an .mp4 file")
    is_file = input is not None and "://" not in input
    if is_file and not Path(input).is_file():
        raise RetakeError(f"{input}: no such file")
    if record is not None:
        refuse_inputs([record], [Path(input) if is_file else None, source,
                                 consent_recording, consent_statement])
    voice = Path(input) if consent_recording is not None and is_file else None
    provenance = require_consent(consent, consent_recording, consent_statement, voice,
                                 [source])
    models = FaceModels(detector=detector)
    swapper = build_swapper("landmark" if source is not None else "autoencoder", models,
                            source=source, shape=shape, model=model)
    where = input if input is not None else camera_source(camera)
    sinks = " and ".join([*([str(record)] if record else []),
                          *(["the virtual camera"] if virtual_camera else [])])

    def started(_stage: str, done: int, _total: int) -> None:
        if done == 1:  # said once frames flow, so a bad source gives only its error line
            err.print(f"live: {input or camera} → {sinks} (Ctrl-C to stop)")

    res = run_live(where, swapper, models, record=record, virtual_camera=virtual_camera,
                   label=label == "on", realtime=realtime, provenance=provenance,
                   keep_mouth=keep_mouth, progress=started, max_iod=face_cap or None)
    s = res.stats
    note = {"disconnected": f"the {'camera' if camera else 'input'} disconnected; stopped "
            "cleanly. ", "stopped": "stopped. "}.get(res.ended, "")
    kept = f"wrote {record} (signed). " if record is not None else ""
    err.print(f"{note}{kept}{s['frames']} frames out, {s['swapped']} swapped, {s['dropped']} "
              f"dropped; {s['fps']} fps, latency p50 {s['latency_p50_ms']} ms, p95 "
              f"{s['latency_p95_ms']} ms; {s['no_face_s']} s without a face. "
              f"{'Labelled as synthetic media.' if label == 'on' else 'Label off.'}")


def register(app: typer.Typer) -> None:
    """Add `retake live` to the main app."""
    app.command("live")(live)
