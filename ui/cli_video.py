"""The video commands of `retake`: faces extract/sort, swap, train. Thin over `video/`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from retake.core.atomic import check_folder, check_writable, refuse_inputs
from retake.core.errors import FaceError, RetakeError, VideoError
from retake.ui.console import err, out
from retake.ui.gate import ConsentOpt, ConsentTakeOpt, ConsentTextOpt, require_consent
from retake.ui.request import read_transcript
from retake.video.swappers import DEFAULT_SHAPE

faces_app = typer.Typer(help="Face sets: extract aligned faces from videos or images, sort "
                        "them.", no_args_is_help=True)

DetectorOpt = Annotated[Literal["hog", "cnn"], typer.Option(
    "--detector", help="Face detector: hog (fast) or cnn (finds turned and small faces, "
    "slower).")]
Device = Literal["auto", "cpu", "cuda"]


def _models(detector: str):
    from retake.video.faces import FaceModels

    return FaceModels(detector=detector)


def _bar(label: str, unit: str):
    from retake.ui.progress import progress_bar

    return progress_bar(label, unit=unit, enabled=err.is_terminal)


def _reference(path: Path | None, models):
    if path is None:
        return None
    from retake.video.media import read_image
    from retake.video.swap_landmark import source_face

    rgb = read_image(path)
    return models.embed(rgb, source_face(rgb, models))


def _position(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        x, y = (float(v) for v in text.split(","))
    except ValueError:
        raise FaceError(f"--position {text!r}: give X,Y as fractions of the frame, "
                        "e.g. 0.3,0.5") from None
    if not (0 <= x <= 1 and 0 <= y <= 1):
        raise FaceError("--position: X and Y are fractions of the frame, between 0 and 1")
    return x, y


@faces_app.command("extract")
def faces_extract(
    inputs: Annotated[list[Path], typer.Argument(help="Videos, images or folders of images.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Faceset folder (created; "
                                         "an existing one is resumed).")],
    size: Annotated[int, typer.Option(help="Crop size in pixels.")] = 256,
    faces: Annotated[Literal["all", "largest", "reference"],
                     typer.Option(help="Which faces.")] = "all",
    reference: Annotated[Path | None, typer.Option(help="Photo of the person to keep "
                                                   "(with --faces reference).")] = None,
    detector: DetectorOpt = "hog",
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="Track one video as "
                                         "N frame ranges in parallel processes (at most the "
                                         "CPU cores; about 250 MB each); the faceset equals a "
                                         "one-process run's. Only a new faceset of one video "
                                         "with --faces all is split.")] = 1,
    ray: Annotated[str | None, typer.Option("--ray", help="Run the pieces as Ray tasks at "
                                            "this address (auto or HOST:PORT).")] = None,
) -> None:
    """Detect, track and align faces; write crops and their metadata into a faceset."""
    from retake.video.faceset import extract

    if not 32 <= size <= 1024:
        raise RetakeError("--size: choose between 32 and 1024 pixels")
    if output.exists() and not output.is_dir():
        raise RetakeError(f"{output}: is a file; a faceset is a folder")
    crops = (output / "faces").resolve()
    for p in inputs:
        if p.resolve() == output.resolve() or crops in (p.resolve(), *p.resolve().parents):
            raise RetakeError(f"{output}: the faceset would be written over the input {p}; "
                              "choose another folder")
    refuse_inputs([output / "faces.jsonl", output / "faceset.json"], inputs)
    check_folder(output)
    models = _models(detector)
    ref = _reference(reference, models)
    if faces == "reference" and ref is None:
        raise FaceError("--faces reference needs --reference PHOTO")
    with _bar("extracting", "frames") as progress:
        if (workers > 1 or ray) and len(inputs) == 1:
            from retake.video.faceset_parallel import extract_faces_parallel

            fs = extract_faces_parallel(inputs[0], output, models, size=size, faces=faces,
                                        reference=ref, workers=workers, ray=ray,
                                        progress=progress)
        else:
            fs = extract(inputs, output, models, size=size, faces=faces, reference=ref,
                         progress=progress)
    err.print(f"{len(fs.records)} faces in {output}; sort them with "
              f"`retake faces sort {output} --by blur`")


@faces_app.command("sort")
def faces_sort(
    faceset: Annotated[Path, typer.Argument(help="Faceset folder.")],
    by: Annotated[Literal["blur", "yaw", "size", "identity", "histogram"],
                  typer.Option(help="Sort key.")] = "blur",
) -> None:
    """Order a faceset's crops (renames them NNNNN_...) as DeepFaceLab's sorter does."""
    from retake.video.faceset import sort_faceset

    order = sort_faceset(faceset, by)
    table = Table("#", "file", "blur", "yaw", "size", title=f"sorted by {by}")
    for i, r in enumerate(order[:5] + (order[-3:] if len(order) > 8 else [])):
        table.add_row(str(i if i < 5 else len(order) - (8 - i)), r.file, f"{r.blur:.0f}",
                      f"{r.yaw:+.2f}", f"{r.size:.0f}")
    out.print(table)


def swap(
    target: Annotated[Path, typer.Option("--target", "-t", help="Video or image to change.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output .mp4 (or an image "
                                         "file for an image target).")],
    source: Annotated[Path | None, typer.Option("--source", "-s", help="Photo of the face "
                                                "to put in (engine landmark).")] = None,
    model: Annotated[Path | None, typer.Option("--model", "-m", help="Model folder from "
                                               "`retake train` (engine autoencoder).")] = None,
    faces: Annotated[Literal["largest", "all", "reference", "position"],
                     typer.Option(help="Target face(s).")] = "largest",
    reference: Annotated[Path | None, typer.Option(help="Photo of the target person to "
                                                   "swap (with --faces reference).")] = None,
    position: Annotated[str | None, typer.Option(help="X,Y fractions of the frame (with "
                                                 "--faces position).")] = None,
    source_face: Annotated[int | None, typer.Option(help="Which face of a group source "
                                                    "photo (0 = largest).")] = None,
    shape: Annotated[float, typer.Option(min=0.0, max=1.0, help="How much of the source's "
                                         "face shape to carry (0 = target's, 1 = source's).")
                     ] = DEFAULT_SHAPE,
    colour: Annotated[Literal["lab", "reinhard", "histogram", "none"],
                      typer.Option(help="Colour matching (lab: skin-only statistics, "
                                   "features keep their hue; reinhard: the older whole-"
                                   "face statistics).")] = "lab",
    blend: Annotated[Literal["multiband", "feather", "poisson"],
                     typer.Option(help="Blending (multiband: Laplacian pyramid inside the "
                                  "target's face outline).")] = "multiband",
    keep_mouth: Annotated[bool, typer.Option(help="Keep the target's own mouth.")] = False,
    detector: DetectorOpt = "hog",
    device: Annotated[Device, typer.Option(help="For --model: where to run it.")] = "auto",
    direction: Annotated[str, typer.Option(help="For --model: dst_to_src (put the --src "
                                           "face in) or src_to_dst.")] = "dst_to_src",
    mask: Annotated[Literal["learned", "landmarks", "both"],
                    typer.Option(help="For --model: which mask.")] =
    "learned",
    consent: ConsentOpt = False,
    consent_recording: ConsentTakeOpt = None,
    consent_statement: ConsentTextOpt = None,
) -> None:
    """Swap a face: a photo (--source) or a trained model (--model) onto a video or image.

    Same frames, timing and audio; the output is labelled as synthetic and signed.
    """
    from retake.core.cache import default_cache_dir
    from retake.video.blend import MergeOptions
    from retake.video.engines import build_swapper
    from retake.video.media import is_image
    from retake.video.swap import FaceChoice
    from retake.video.swap import swap as run_swap

    if (source is None) == (model is None):
        raise RetakeError("give either --source PHOTO or --model MODEL")
    if not target.is_file():
        raise VideoError(f"{target}: no such file")
    image_target = is_image(target)
    if image_target and not is_image(output):
        raise RetakeError(f"{output}: the target is an image, so name an image output "
                          "(.png or .jpg)")
    if not image_target and output.suffix.lower() != ".mp4":
        raise RetakeError(f"{output}: the output of a video swap is an .mp4 file")
    refuse_inputs([output], [target, source, reference, consent_recording,
                             consent_statement])
    check_writable([output])
    if faces == "reference" and reference is None:
        raise FaceError("--faces reference needs --reference PHOTO")
    voice = None  # the target's speech, which a consent recording is compared with
    if consent_recording is not None and not image_target:
        from retake.video.media import probe as probe_video

        voice = target if probe_video(target).has_audio else None
    provenance = require_consent(consent, consent_recording, consent_statement, voice,
                                 [source])
    models = _models(detector)
    swapper = build_swapper("landmark" if source is not None else "autoencoder", models,
                            source=source, source_face=source_face, shape=shape, model=model,
                            direction=direction, device=device, mask=mask)
    choice = FaceChoice(faces, _reference(reference, models), _position(position))
    options = MergeOptions(colour=colour, blend=blend, keep_mouth=keep_mouth)
    if model is not None and hasattr(swapper, "check_target"):
        swapper.check_target(target, models)
    kwargs = {"choice": choice, "merge_options": options, "provenance": provenance}
    if not image_target:
        kwargs["cache_dir"] = default_cache_dir()
    with _bar("swapping", "frames") as bar:
        if bar is not None and not image_target:
            kwargs["progress"] = bar
        res = run_swap(target, output, swapper, models, **kwargs)
    note = f"; no face in frames {res.missing_ranges()}" if res.missing else ""
    err.print(f"wrote {output}: {res.swapped}/{res.frames} frames swapped{note}. "
              "It is labelled as synthetic media.")


def train(
    src: Annotated[Path, typer.Option("--src", help="Faceset of the face to put in.")],
    dst: Annotated[Path, typer.Option("--dst", help="Faceset of the face to replace.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Model folder (resumed if it "
                                         "holds a checkpoint).")],
    steps: Annotated[int, typer.Option(help="Total training steps to reach (re-running "
                                       "the command resumes up to it).")] = 2000,
    minutes: Annotated[float | None, typer.Option(help="Stop after this many minutes "
                                                  "(a checkpoint is saved).")] = None,
    resolution: Annotated[int, typer.Option(help="Face size the model works at (64-128).")] =
    64,
    batch: Annotated[int, typer.Option(help="Batch size.")] = 8,
    encoder_dims: Annotated[int, typer.Option(help="Encoder width (4-64; 32 suits a CPU, "
                                              "48 a GPU).")] = 32,
    decoder_dims: Annotated[int, typer.Option(help="Decoder width (4-64; 32 suits a CPU, "
                                              "64 a GPU).")] = 32,
    bottleneck: Annotated[int, typer.Option(help="Code size (8-512; 128 suits a CPU, 256 a "
                                            "GPU).")] = 128,
    preview_every: Annotated[int, typer.Option(help="Write a preview every N steps.")] = 100,
    gan_after: Annotated[int | None, typer.Option(help="Add a PatchGAN loss after this "
                                                  "step.")] = None,
    device: Annotated[Device, typer.Option(help="Where to train.")] =
    "auto",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Train a DeepFaceLab-style autoencoder (shared encoder, one decoder per face)."""
    from retake.video.autoencoder import TrainOptions
    from retake.video.autoencoder import train as run_train

    for faceset in (src, dst):
        if output.resolve() == faceset.resolve():
            raise RetakeError(f"{output}: the model would be written into the faceset "
                              f"{faceset}; choose another folder")
    check_folder(output)
    opts = TrainOptions(resolution=resolution, batch_size=batch, steps=steps,
                        preview_every=preview_every, gan_after=gan_after, device=device,
                        seed=seed, time_limit=None if minutes is None else minutes * 60,
                        encoder_dims=encoder_dims, decoder_dims=decoder_dims,
                        bottleneck=bottleneck)
    with _bar("training", "steps") as bar:
        history = run_train(src, dst, output, opts, progress=bar)
    losses = history.get("loss", [])
    last = f"{losses[-1]:.3f}" if losses else "n/a"
    err.print(f"saved {output} at step {history['step'][-1] if losses else 0}; last loss "
              f"{last}; previews in {output / 'previews'}. Swap with "
              f"`retake swap --model {output} --target VIDEO -o OUT.mp4`")


def lipsync(
    face: Annotated[Path, typer.Argument(help="Video of the speaker, or a photo of a face.")],
    audio: Annotated[Path, typer.Argument(help="The speech the mouth must say.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output .mp4.")],
    transcript: Annotated[str | None, typer.Option("--transcript", "-t", help="What the "
                                                   "speech says (a file or the text); "
                                                   "transcribed when absent.")] = None,
    detector: DetectorOpt = "hog",
    consent: ConsentOpt = False,
    consent_recording: ConsentTakeOpt = None,
    consent_statement: ConsentTextOpt = None,
) -> None:
    """Re-render the mouth of a video or photo to say AUDIO (mouths from the video itself)."""
    from retake.core.cache import default_cache_dir
    from retake.video.lipsync import lipsync as run_lipsync

    if output.suffix.lower() != ".mp4":
        raise RetakeError(f"{output}: the output of lip-sync is an .mp4 file")
    for p in (face, audio):
        if not p.is_file():
            raise RetakeError(f"{p}: no such file")
    refuse_inputs([output], [face, audio, transcript, consent_recording, consent_statement])
    check_writable([output])
    text = read_transcript(transcript) if transcript is not None else None
    provenance = require_consent(consent, consent_recording, consent_statement, audio)
    with _bar("lip-sync", "frames") as bar:
        res = run_lipsync(face, audio, output, transcript=text, models=_models(detector),
                          cache_dir=default_cache_dir(), provenance=provenance,
                          progress=bar)
    err.print(f"wrote {output}: {res['frames']} frames for {res['speech_s']:.1f} s of speech "
              f"({res['words']} words; {res['bank']} mouths to choose from). It is labelled "
              "as synthetic media.")
    if res.get("words_guessed"):
        err.print(f"[yellow]warning[/]: {res['words_guessed']} of {res['words']} words could "
                  "not be found in the speech; their mouth shapes are spread over it by "
                  "dictionary (check the transcript)")


def dub(
    video: Annotated[Path, typer.Argument(help="Talking-head video with speech.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output .mp4; its alignment, "
                                         "time map and edit report are written beside it.")],
    to: Annotated[str | None, typer.Option("--to", help="The new text, or a file holding "
                                           "it.")] = None,
    edits: Annotated[Path | None, typer.Option("--edits", help="JSON list of operations on "
                                               "the transcript's words.")] = None,
    transcript: Annotated[str | None, typer.Option("--transcript", "-t", help="What the "
                                                   "video says now: a file or the text.")] =
    None,
    draft: Annotated[bool, typer.Option(help="Without --transcript, use the recogniser's "
                                        "draft.")] = False,
    swap: Annotated[Path | None, typer.Option("--swap", help="Also swap the face with this "
                                              "photo.")] = None,
    script: Annotated[Path | None, typer.Option("--script", help="A YAML/JSON dubbing "
                                                "script (transcript, to or edits, swap, "
                                                "voice and face options).")] = None,
    detector: DetectorOpt = "hog",
    consent: ConsentOpt = False,
    consent_recording: ConsentTakeOpt = None,
    consent_statement: ConsentTextOpt = None,
) -> None:
    """Edit what a video's speaker says, by text: new speech, re-synced mouth, one mp4.

    The picture is retimed to the new speech, the mouth re-rendered where speech changed,
    the face optionally swapped; the output is labelled as synthetic and signed.
    """
    from retake.align import load_audio
    from retake.align import transcribe as run_transcribe
    from retake.core.cache import default_cache_dir
    from retake.ui.request import EditRequest, check, resolve
    from retake.video.dub import dub as run_dub
    from retake.voice import EditOptions

    request = check(EditRequest(transcript=transcript, to=to, edits=edits, script=script,
                                draft=draft, swap=swap, detector=detector))
    if output.suffix.lower() != ".mp4":
        raise RetakeError(f"{output}: the output of dub is an .mp4 file")
    if not video.is_file():
        raise VideoError(f"{video}: no such file")
    from retake.video.dub import output_paths

    refuse_inputs(output_paths(output), [video, transcript, to, edits, script, request.swap,
                                         consent_recording, consent_statement])
    check_writable(output_paths(output))
    provenance = require_consent(consent, consent_recording, consent_statement, video)
    resolved = resolve(request, lambda: run_transcribe(load_audio(video)).text)
    if resolved.drafted:
        err.print(f"[yellow]using the recogniser's draft transcript[/]: {resolved.transcript}")
    with _bar("dubbing", "steps") as bar:
        res = run_dub(video, output, resolved.new_text, transcript=resolved.transcript,
                      models=_models(resolved.detector), options=EditOptions(**resolved.voice),
                      swap_source=resolved.swap, cache_dir=default_cache_dir(),
                      progress=bar, provenance=provenance)
    table = Table("edit", "text", "at (s)", "heard (open recognition)", title="dub")
    for e in res.edits:
        table.add_row(e.get("kind", ""), e.get("text", ""),
                      f"{e.get('start', 0):.2f}-{e.get('end', 0):.2f}",
                      {True: "yes", False: "no"}.get(e.get("heard"), "not checked"))
    out.print(table)
    err.print(f"wrote {', '.join(res.outputs)}: {res.frames} frames, mouth re-rendered on "
              f"{res.mouth_frames}, {res.untouched} copied untouched. Labelled as synthetic "
              "media.")


def detect(
    file: Annotated[Path, typer.Argument(help="Audio or video to examine.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Folder for "
                                                "report.json and report.html.")] = None,
    transcript: Annotated[str | None, typer.Option("--transcript", "-t", help="What is said "
                                                   "(a file or the text); transcribed when "
                                                   "absent.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON on "
                                          "stdout.")] = False,
) -> None:
    """Look for traces of voice and face edits; explain the evidence and its limits."""
    from retake.awareness.detect import detect as run_detect
    from retake.awareness.detect import report_paths, write_report

    if not file.is_file():
        raise RetakeError(f"{file}: no such file")
    folder = output or file.with_name(file.stem + "-detect")
    refuse_inputs(report_paths(folder), [file, transcript])
    check_folder(folder)  # before the analysis: report.json and report.html go there
    text = read_transcript(transcript) if transcript is not None else None
    report = run_detect(file, transcript=text)
    jpath, hpath = write_report(report, folder)
    if as_json:
        sys.stdout.write(report.to_json() + "\n")
    else:
        out.print(report.summary(), highlight=False)
    err.print(f"wrote {jpath} and {hpath}")
    err.print("[dim]" + report.limits + "[/]")


def register(app: typer.Typer) -> None:
    """Add the video commands to the main app."""
    app.add_typer(faces_app, name="faces")
    app.command("swap")(swap)
    app.command("train")(train)
    app.command("lipsync")(lipsync)
    app.command("dub")(dub)
    app.command("detect")(detect)
