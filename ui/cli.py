"""The `retake` command line: one sub-command per job, thin over the library calls."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from retake.core.errors import RetakeError, TranscriptError
from retake.ui.gate import ConsentOpt, ConsentTakeOpt, ConsentTextOpt
from retake.ui.request import read_transcript

app = typer.Typer(
    name="retake",
    help=(
        "Retake: edit speech by editing its transcript, offline.\n\n"
        "Start with `retake align AUDIO TRANSCRIPT -o OUT` to see what was said when, "
        "or `retake demo` to run everything on a built-in sample."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)

LanguageOpt = Annotated[
    str, typer.Option("--language", "-l", help="Language of the speech (BCP-47, e.g. en).")
]




def _word_table(al, title: str) -> Table:
    table = Table(title=title, show_lines=False)
    for col, just in (("#", "right"), ("word", "left"), ("start", "right"), ("end", "right"),
                      ("conf", "right"), ("phones", "left")):
        table.add_column(col, justify=just)
    for i, w in enumerate(al.words):
        if w.aligned:
            conf = f"{w.confidence:.2f}"
            style = "yellow" if w.confidence < 0.3 else None
            table.add_row(str(i), w.text, f"{w.start:.3f}", f"{w.end:.3f}", conf,
                          " ".join(p.label for p in w.phones), style=style)
        else:
            table.add_row(str(i), w.text, "-", "-", "-", "not found", style="red")
    return table


def _report_spans(al) -> None:
    for s in al.unaligned:
        err.print(f"[yellow]note[/]: {s.kind} {s.start:.2f}-{s.end:.2f} s: {s.note}")


@app.command()
def align(
    audio: Annotated[Path, typer.Argument(help="Speech: any file FFmpeg reads (wav, mp3, m4a, "
                                               "the audio of an mp4, ...).")],
    transcript: Annotated[str, typer.Argument(help="What is said: a text file, or the text "
                                                   "itself in quotes.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output base name or folder: "
                                         "writes OUT.json, OUT.TextGrid, OUT.labels.txt.")],
    engine: Annotated[str, typer.Option(help="Alignment engine (see `retake engines`).")] =
    "pocketsphinx",
    language: LanguageOpt = "en",
    table: Annotated[bool, typer.Option(help="Print the word table.")] = True,
    cache: Annotated[bool, typer.Option(help="Reuse an earlier alignment of the same "
                                             "audio and text.")] = True,
) -> None:
    """Align a transcript to speech: word and phone times with per-word confidence."""
    from retake.align import aligner, load_audio
    from retake.align.formats import output_paths, write_alignment
    from retake.core.cache import default_cache_dir

    text = read_transcript(transcript)
    paths = output_paths(output, audio.stem)
    sound = load_audio(audio)
    for w in sound.warnings:
        err.print(f"[yellow]warning[/]: {w}")
    from retake.ui.progress import progress_bar

    with progress_bar("aligning", enabled=sys.stderr.isatty()) as progress:
        al = aligner.align(sound, text, language=language, engine=engine, progress=progress,
                           cache_dir=default_cache_dir() if cache else None)
    write_alignment(al, paths)
    if table:
        out.print(_word_table(al, f"{audio.name}: {len(al.aligned_words())} of "
                                  f"{len(al.words)} words aligned"))
    _report_spans(al)
    err.print("wrote " + ", ".join(str(p) for p in paths.values()))


@app.command()
def transcribe(
    audio: Annotated[Path, typer.Argument(help="Speech: any file FFmpeg reads.")],
    output: Annotated[Path | None, typer.Option("--output", "-o",
                                                help="Write the draft text here.")] = None,
    language: LanguageOpt = "en",
) -> None:
    """Draft a transcript by speech recognition. It is a DRAFT: correct it, then align."""
    from retake.align import load_audio
    from retake.align import transcribe as run
    from retake.core.atomic import write_text
    from retake.ui.progress import progress_bar

    sound = load_audio(audio)
    with progress_bar("transcribing", enabled=sys.stderr.isatty()) as progress:
        draft = run(sound, language=language, progress=progress)
    if not draft.words:
        err.print("[yellow]no words recognised[/]: is there speech in this file?")
        raise typer.Exit(1)
    err.print("[bold yellow]DRAFT transcript from speech recognition: check and correct it "
              "before aligning or editing.[/]")
    out.print(draft.text, soft_wrap=True, highlight=False)
    if output:
        write_text(output, draft.text + "\n")
        err.print(f"wrote {output}")


@app.command()
def edit(
    audio: Annotated[Path, typer.Argument(help="The recording to edit (any format FFmpeg reads).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Edited wav; its alignment, "
                                         "time map and report are written beside it.")],
    to: Annotated[str | None, typer.Option("--to", help="The new text (what the recording "
                                           "should say), or a file holding it.")] = None,
    edits: Annotated[Path | None, typer.Option("--edits", help="JSON list of operations on "
                                               "the transcript's words instead of --to.")] = None,
    transcript: Annotated[str | None, typer.Option(
        "--transcript", "-t", help="What the recording says now: a file or the text.")] = None,
    draft: Annotated[bool, typer.Option(help="Without --transcript, use the speech "
                                        "recogniser's draft as the transcript.")] = False,
    engine: Annotated[str, typer.Option(help="How new words are made (see `retake engines`).")
                      ] = "units",
    takes: Annotated[int, typer.Option(min=1, max=10, help="Render N candidates of each new "
                                       "span; the best is used.")] = 1,
    pitch: Annotated[float, typer.Option(help="Semitones added to new words.")] = 0.0,
    emphasis: Annotated[float, typer.Option(min=0, max=1, help="Stress on new words, 0-1.")
                        ] = 0.0,
    speed: Annotated[float, typer.Option(min=0.5, max=2.0, help="Speed of new words.")] = 1.0,
    reuse: Annotated[bool, typer.Option(help="Take words the recording already says from the "
                                        "recording itself.")] = True,
    voice: Annotated[list[str] | None, typer.Option(
        "--voice", help="More of the speaker: a profile name or folder, or an audio file "
        "(repeatable).")] = None,
    language: LanguageOpt = "en",
    consent: ConsentOpt = False,
    consent_recording: ConsentTakeOpt = None,
    consent_statement: ConsentTextOpt = None,
) -> None:
    """Make a recording say new words by editing its transcript."""
    import json

    from retake.align import load_audio
    from retake.align import transcribe as run_transcribe
    from retake.align.normalize import tokenize
    from retake.core.cache import default_cache_dir
    from retake.voice import EditOptions, Editor, write_result
    from retake.voice.edit import EditError
    from retake.voice.plan import apply_edits

    if (to is None) == (edits is None):
        raise EditError("give the new text with --to, or operations with --edits (one of them)")
    if engine != "units" and not engine.startswith("coqui:"):
        raise EditError(f"no voice engine {engine!r}; use units or coqui:MODEL (see "
                        "`retake engines`)")
    sound = load_audio(audio)
    for w in sound.warnings:
        err.print(f"[yellow]warning[/]: {w}")
    from retake.ui.gate import require_consent

    provenance = require_consent(consent, consent_recording, consent_statement, sound, [audio])
    if transcript is None:
        if not draft:
            raise TranscriptError("give the recording's transcript with --transcript (or "
                                  "--draft to use `retake transcribe`'s draft as it is)")
        text = run_transcribe(sound, language=language).text
        err.print(f"[yellow]using the recogniser's draft transcript[/]: {text}")
    else:
        text = read_transcript(transcript)
    editor = Editor(language=language, cache_dir=default_cache_dir())
    from retake.ui.progress import progress_bar

    with progress_bar("analysing", enabled=sys.stderr.isatty()) as progress:
        rec = editor.load(sound, text, progress=progress)
    if edits is not None:
        try:
            ops = json.loads(edits.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EditError(f"{edits}: not a readable JSON list of edits ({exc})") from None
        if not isinstance(ops, list):
            raise EditError(f"{edits}: expected a JSON list of edit operations")
        new_text = apply_edits([t.text for t in tokenize(text, language)], ops)
    else:
        new_text = read_transcript(to)
    from retake.voice.profile import resolve_voice

    voices = [r for v in (voice or []) for r in resolve_voice(v, editor, default_cache_dir())]
    result = editor.edit(rec, new_text, EditOptions(
        engine=engine, takes=takes, pitch=pitch, emphasis=emphasis, speed=speed, reuse=reuse,
        similarity=True), voices)
    paths = write_result(result, output, provenance)
    table = Table(title=f"{len(result.report.edits)} edit(s)")
    for col in ("edit", "text", "at (s)", "made by", "heard on re-align", "voice similarity"):
        table.add_column(col)
    for e in result.report.edits:
        heard = "" if e.found_on_realign is None else ("yes" if e.found_on_realign else "[red]no")
        sim = "" if e.similarity is None else f"{e.similarity:.2f}"
        table.add_row(e.kind, e.text, f"{e.start:.2f}-{e.end:.2f}", e.engine, heard, sim)
    out.print(table)
    err.print("wrote " + ", ".join(str(p) for p in paths.values()))


voice_app = typer.Typer(help="Voice profiles: more recordings of a speaker for better "
                         "edits.", no_args_is_help=True)
app.add_typer(voice_app, name="voice")


@voice_app.command("build")
def voice_build(
    name: Annotated[str, typer.Argument(help="Name to save the profile under.")],
    files: Annotated[list[Path], typer.Argument(help="Recordings of the speaker; a transcript "
                                                "FILE.txt beside each is used if present.")],
    folder: Annotated[Path | None, typer.Option(help="Save here instead of the cache.")] = None,
    language: LanguageOpt = "en",
) -> None:
    """Build and save a voice profile; say how much speech it holds and what it lacks."""
    from retake.core.cache import default_cache_dir
    from retake.voice import Editor
    from retake.voice.profile import build_profile, profiles_dir, save_profile

    if not name.replace("-", "").replace("_", "").isalnum():
        raise TranscriptError(f"profile name {name!r}: use letters, digits, - and _")
    editor = Editor(language=language, cache_dir=default_cache_dir())
    profile = build_profile(name, files, editor)
    where = save_profile(profile, folder or profiles_dir(default_cache_dir()) / name)
    _print_profile(profile.summary())
    err.print(f"saved {where}; use it with `retake edit ... --voice {name}`")


@voice_app.command("show")
def voice_show(name: Annotated[str, typer.Argument(help="Profile name or folder.")]) -> None:
    """Show what a saved voice profile holds."""
    import json

    from retake.core.cache import default_cache_dir
    from retake.voice.profile import profiles_dir

    for folder in (Path(name), profiles_dir(default_cache_dir()) / name):
        if (folder / "profile.json").exists():
            _print_profile(json.loads((folder / "profile.json").read_text()))
            return
    raise TranscriptError(f"no voice profile {name!r}")


def _print_profile(summary: dict) -> None:
    out.print(f"[bold]{summary['name']}[/]: {summary['minutes']} min of speech in "
              f"{summary['recordings']} recording(s); {summary['phones']} of 39 phones; "
              f"{summary['diphone_coverage'] * 100:.0f}% of common diphones")
    if summary["missing_phones"]:
        out.print("  never heard (these fall back to converted synthetic speech): "
                  + " ".join(summary["missing_phones"]))
    if summary["missing_common_diphones"]:
        out.print("  common diphones not yet heard: "
                  + " ".join(summary["missing_common_diphones"][:15]))


@app.command()
def engines() -> None:
    """List every engine of every stage, and whether it can run here now."""
    from retake.core.engines import ALIGN_ENGINES, TRANSCRIBE_ENGINES
    from retake.video.swappers import VIDEO_ENGINES
    from retake.voice.engines import VOICE_ENGINES

    table = Table(title="Retake engines")
    for col in ("stage", "engine", "runs here", "what it is", "weights (licence)"):
        table.add_column(col)
    for spec in (*ALIGN_ENGINES, *TRANSCRIBE_ENGINES, *VOICE_ENGINES, *VIDEO_ENGINES):
        missing = spec.probe()
        status = "[green]yes[/]" if not missing else f"[red]no[/]: {missing}"
        name = spec.name + (" (default)" if spec.default else "")
        table.add_row(spec.stage, name, status, spec.summary, f"{spec.weights} ({spec.license})")
    out.print(table)


@app.command()
def demo(
    output: Annotated[Path, typer.Option("--out", "-o", help="Folder for the demo's files.")] =
    Path("out"),
) -> None:
    """Run the main job offline on a built-in sample and write the results to OUT/."""
    from retake.ui.demo import run_demo

    run_demo(output, out, err)


@app.command()
def verify(
    file: Annotated[Path, typer.Argument(help="A file Retake (or anything C2PA) signed.")],
    trust_local: Annotated[bool, typer.Option(help="Trust this computer's own Retake "
                                              "signing root.")] = True,
) -> None:
    """Check a file's Content Credentials (C2PA): who made it, what was edited, intact?"""
    from retake.awareness.provenance import verify as run_verify

    if not file.is_file():
        raise RetakeError(f"{file}: no such file")
    v = run_verify(file, trust_local=trust_local)
    out.print(v.summary(), highlight=False)
    if v.state == "Invalid":
        err.print("[bold red]the file was changed after it was signed, or its manifest is "
                  "damaged[/]")
        raise typer.Exit(1)
    if v.state == "None":
        err.print("no Content Credentials in this file")
        raise typer.Exit(2)


@app.command("consent")
def consent_cmd(
    output: Annotated[Path | None, typer.Option("--out", "-o", help="Also save the sentence "
                                                "to this text file.")] = None,
) -> None:
    """Print a fresh consent sentence for the speaker to read aloud (strict consent mode)."""
    from retake.awareness.consent import consent_sentence
    from retake.core.atomic import write_text

    sentence = consent_sentence()
    out.print(sentence, highlight=False)
    if output is not None:
        write_text(output, sentence + "\n")
    err.print("Record the speaker reading it, then edit with --consent-recording TAKE.wav "
              "--consent-statement " + (str(output) if output else '"<the sentence>"'))


@app.command("ui")
def studio(
    host: Annotated[str, typer.Option(help="Address to listen on. Anything but 127.0.0.1 "
                                      "lets other computers use it.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 7860,
) -> None:
    """Open the Retake studio: a local web page to edit, swap and dub."""
    from retake.ui.studio import launch

    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"[bold yellow]warning[/]: listening on {host}: anyone who can reach this "
                  "computer can upload files and run edits. Prefer 127.0.0.1.")
    err.print(f"Retake studio on http://{host}:{port} (Ctrl-C to stop)")
    launch(host, port)


def _register_video() -> None:
    from retake.ui.cli_video import register

    register(app)


_register_video()


def main() -> None:
    """Entry point: run the app; user errors print one line and exit 1."""
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    for noisy in ("align", "numba", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        app()
    except RetakeError as exc:
        err.print(f"[bold red]error[/]: {exc}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - one line for the user, traceback on demand
        if os.environ.get("RETAKE_DEBUG"):
            raise
        err.print(f"[bold red]internal error[/]: {type(exc).__name__}: {exc} "
                  "(set RETAKE_DEBUG=1 for the traceback)", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
