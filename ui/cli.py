"""The `retake` command line: one sub-command per job, thin over the library calls."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from retake.core.atomic import check_writable, refuse_inputs
from retake.core.errors import RetakeError, TranscriptError
from retake.ui.console import err, out
from retake.ui.gate import ConsentOpt, ConsentTakeOpt, ConsentTextOpt
from retake.ui.request import read_transcript

EXIT_OK, EXIT_INPUT, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
VERIFY_UNTRUSTED, VERIFY_INVALID, VERIFY_UNSIGNED = 4, 5, 6
EXIT_CODES = ("Exit codes: 0 done; 1 bad input or environment (one `error:` line says what "
              "to do); 2 usage error (an unknown option, a missing argument); 3 internal "
              "error (a bug: rerun with RETAKE_DEBUG=1 and report the traceback); "
              "`retake verify` has its own codes (see its --help); 130 interrupted.")

app = typer.Typer(
    name="retake",
    help=(
        "Retake: edit speech by editing its transcript, offline.\n\n"
        "Start with `retake align AUDIO TRANSCRIPT -o OUT` to see what was said when, "
        "or `retake demo` to run everything on a built-in sample."
    ),
    epilog=EXIT_CODES,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

LanguageOpt = Annotated[
    str, typer.Option("--language", "-l", help="Language of the speech (BCP-47, e.g. en).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout "
                                       "(for scripts) instead of tables.")]


def _print_json(data: object) -> None:
    """JSON on stdout, nothing else (messages go to stderr)."""
    import json

    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def _version(value: bool) -> None:
    if value:
        from retake.core.version import __version__

        out.print(f"retake {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _global(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] =
    False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Say more about each step "
                                          "(log messages of every stage).")] = False,
) -> None:
    """Retake: edit speech by editing its transcript, offline."""
    level = logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING
    logging.getLogger("retake").setLevel(level)
    if quiet:
        err.quiet = True




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
    as_json: JsonOpt = False,
    workers: Annotated[int, typer.Option("--workers", "-j", min=1, help="Cut a long "
                                         "recording at pauses into N pieces aligned in "
                                         "parallel (at most the CPU cores; about 400 MB "
                                         "each); word times stay within about 20 ms of a "
                                         "one-process run.")] = 1,
    ray: Annotated[str | None, typer.Option("--ray", help="Align the pieces as Ray tasks at "
                                            "this address (auto or HOST:PORT).")] = None,
) -> None:
    """Align a transcript to speech: word and phone times with per-word confidence."""
    from retake.align import aligner, load_audio
    from retake.align.formats import output_paths, write_alignment
    from retake.core.cache import default_cache_dir

    text = read_transcript(transcript)
    paths = output_paths(output, audio.stem)
    refuse_inputs(paths.values(), [audio, transcript])
    check_writable(paths.values())  # before the alignment, not after it
    from retake.align.audio import ALIGN_RATE

    sound = load_audio(audio, ALIGN_RATE)  # the aligner's rate: one copy of a long file
    for w in sound.warnings:
        err.print(f"[yellow]warning[/]: {w}")
    from retake.ui.progress import progress_bar

    with progress_bar("aligning", enabled=sys.stderr.isatty()) as progress:
        if workers > 1 or ray:
            from retake.align.parallel import align_parallel

            al = align_parallel(sound, text, workers=workers, ray=ray, language=language,
                                engine=engine, cache_dir=default_cache_dir() if cache else None)
        else:
            al = aligner.align(sound, text, language=language, engine=engine,
                               progress=progress,
                               cache_dir=default_cache_dir() if cache else None)
    write_alignment(al, paths)
    if as_json:
        _print_json({"alignment": al.to_dict(), "outputs": {k: str(v) for k, v in paths.items()}})
    elif table:
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

    refuse_inputs([output], [audio])
    check_writable([output])
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
                                       "span; the one an independent recogniser hears "
                                       "best (then the most like the speaker) is used.")
                       ] = 1,
    pitch: Annotated[float, typer.Option(min=-12.0, max=12.0, help="Semitones added to new "
                                         "words.")] = 0.0,
    emphasis: Annotated[float, typer.Option(min=0, max=1, help="Stress on new words, 0-1.")
                        ] = 0.0,
    speed: Annotated[float, typer.Option(min=0.5, max=2.0, help="Speed of new words.")] = 1.0,
    seed: Annotated[int, typer.Option(min=0, max=2**31 - 1, help="The same seed gives the "
                                      "same audio; another gives a variant of new words.")] = 0,
    reuse: Annotated[bool, typer.Option(help="Take words the recording already says from the "
                                        "recording itself.")] = True,
    own_phones: Annotated[bool, typer.Option(
        "--own-phones", help="Build new words from the speaker's own phones only (the query "
        "voice lends just the ones the recording never has), even where they fit badly.")
    ] = False,
    voice: Annotated[list[str] | None, typer.Option(
        "--voice", help="More of the speaker: a profile name or folder, or an audio file "
        "(repeatable).")] = None,
    similarity: Annotated[bool, typer.Option(help="Also measure how like the speaker each "
                                             "new span sounds (loads a speaker model: a "
                                             "few seconds more).")] = False,
    language: LanguageOpt = "en",
    consent: ConsentOpt = False,
    consent_recording: ConsentTakeOpt = None,
    consent_statement: ConsentTextOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a recording say new words by editing its transcript."""
    from retake.align import load_audio
    from retake.align import transcribe as run_transcribe
    from retake.core.cache import default_cache_dir
    from retake.core.engines import find
    from retake.ui.gate import require_consent
    from retake.ui.progress import progress_bar
    from retake.ui.request import EditRequest, check, resolve
    from retake.voice import EditOptions, Editor, write_result
    from retake.voice.engines import VOICE_ENGINES
    from retake.voice.io import output_paths

    request = check(EditRequest(transcript=transcript, to=to, edits=edits, draft=draft,
                                language=language))
    find(VOICE_ENGINES, engine, "voice")
    refuse_inputs(output_paths(output).values(),
                  [audio, transcript, to, edits, consent_recording, consent_statement,
                   *(voice or [])])
    check_writable(output_paths(output).values())  # before the analysis, not after it
    sound = load_audio(audio)
    for w in sound.warnings:
        err.print(f"[yellow]warning[/]: {w}")
    provenance = require_consent(consent, consent_recording, consent_statement, sound, [audio])
    resolved = resolve(request, lambda s=sound: run_transcribe(s, language=language).text)
    if resolved.drafted:
        err.print(f"[yellow]using the recogniser's draft transcript[/]: {resolved.transcript}")
    editor = Editor(language=language, cache_dir=default_cache_dir())
    from retake.voice.profile import resolve_voice

    # Saved profiles (and names that are nothing) are checked before the analysis; audio
    # files given as --voice are analysed after the recording (that is the heavy part).
    early = {v: resolve_voice(v, editor) for v in (voice or []) if not Path(v).is_file()}
    with progress_bar("analysing", enabled=sys.stderr.isatty()) as progress:
        rec = editor.load(sound, resolved.transcript, progress=progress)
    new_text = resolved.new_text
    voices = [r for v in (voice or [])
              for r in (early[v] if v in early else resolve_voice(v, editor))]
    result = editor.edit(rec, new_text, EditOptions(
        engine=engine, takes=takes, pitch=pitch, emphasis=emphasis, speed=speed, reuse=reuse,
        similarity=similarity, seed=seed, own_phones=own_phones, stream=True), voices)
    # The edited audio is computed a stretch at a time as it is written (stream=True) from
    # the input's kept stretches; then neither it, the input nor the models are held while
    # the output is signed.
    del rec, sound, voices, editor
    paths = write_result(result, output, provenance, drop_audio=True)
    if as_json:
        _print_json({"report": result.report.to_dict(),
                     "outputs": {k: str(v) for k, v in paths.items()}})
        return
    table = Table(title=f"{len(result.report.edits)} edit(s)")
    cols = ["edit", "text", "at (s)", "made by", "heard (open recognition)"]
    for col in cols + (["voice similarity"] if similarity else []) + ["weak because"]:
        table.add_column(col)
    for e in result.report.edits:
        label = e.heard_label()
        heard = {"no": "[red]no", "unsure": "[yellow]unsure"}.get(label, label)
        sim = ["" if e.similarity is None else f"{e.similarity:.2f}"] if similarity else []
        table.add_row(e.kind, escape(e.text), f"{e.start:.2f}-{e.end:.2f}", e.engine,
                      heard, *sim, escape("; ".join(e.weaknesses())))
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
    folder: Annotated[Path | None, typer.Option(help="Save here (a new folder) instead of "
                                               "your data folder.")] = None,
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
    where = save_profile(profile, folder or profiles_dir() / name)
    _print_profile(profile.summary())
    err.print(f"saved {where}; use it with `retake edit ... --voice {name}`")


@voice_app.command("show")
def voice_show(name: Annotated[str, typer.Argument(help="Profile name or folder.")]) -> None:
    """Show what a saved voice profile holds."""

    from retake.voice.profile import profiles_dir

    for folder in (Path(name), profiles_dir() / name):
        if (folder / "profile.json").exists():
            _print_profile(_profile_summary(folder / "profile.json"))
            return
    raise TranscriptError(f"no voice profile {name!r}")


def _profile_summary(path: Path) -> dict:
    """profile.json's summary, checked (profiles travel between computers: untrusted)."""
    import json
    import math

    damaged = f"{path.parent}: damaged voice profile (profile.json {{}}); build it again"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise RetakeError(damaged.format(f"unreadable: {type(exc).__name__}")) from None
    if not isinstance(data, dict):
        raise RetakeError(damaged.format("is not a JSON object"))
    numbers = ("minutes", "recordings", "phones", "diphone_coverage")
    lists = ("missing_phones", "missing_common_diphones")
    missing = [k for k in ("name", *numbers, *lists) if k not in data]
    if missing:
        raise RetakeError(damaged.format(f"lacks {', '.join(missing)}"))
    for k in numbers:
        v = data[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or not 0 <= v <= 1e9:
            raise RetakeError(damaged.format(f"{k} is not a number"))
    for k in lists:
        if not isinstance(data[k], list) or not all(isinstance(x, str) for x in data[k]):
            raise RetakeError(damaged.format(f"{k} is not a list of names"))
    return {**data, "name": str(data["name"])[:100]}


def _print_profile(summary: dict) -> None:
    out.print(f"[bold]{escape(summary['name'])}[/]: {summary['minutes']} min of speech in "
              f"{summary['recordings']} recording(s); {summary['phones']} of 39 phones; "
              f"{summary['diphone_coverage'] * 100:.0f}% of common diphones")
    if summary["missing_phones"]:
        out.print("  never heard (these fall back to converted synthetic speech): "
                  + escape(" ".join(summary["missing_phones"])))
    if summary["missing_common_diphones"]:
        out.print("  common diphones not yet heard: "
                  + escape(" ".join(summary["missing_common_diphones"][:15])))


def all_engines() -> tuple:
    """Every registry's specs, in the order of the data flow."""
    from retake.align.engines import ALIGN_ENGINES, HELPER_ENGINES, TRANSCRIBE_ENGINES
    from retake.awareness.speaker import SPEAKER_ENGINES
    from retake.video.engines import VIDEO_ENGINES
    from retake.voice.engines import QUERY_ENGINES, VOICE_ENGINES

    return (*ALIGN_ENGINES, *TRANSCRIBE_ENGINES, *HELPER_ENGINES, *SPEAKER_ENGINES,
            *VOICE_ENGINES, *QUERY_ENGINES, *VIDEO_ENGINES)


@app.command()
def engines(
    as_json: JsonOpt = False,
    verify: Annotated[bool, typer.Option(help="Check every weight file's SHA-256 against "
                                         "the registry.")] = False,
) -> None:
    """List every engine of every stage: version, weights and licence, whether it runs here."""
    from retake.core.engines import verify_weights

    specs = all_engines()
    problems = {(s.stage, s.name): verify_weights(s) for s in specs} if verify else {}
    if as_json:
        rows = []
        for s in specs:
            d = s.to_dict()
            if verify:
                d["weight_problems"] = problems[(s.stage, s.name)]
            rows.append(d)
        _print_json(rows)
    else:
        table = Table(title="Retake engines")
        for col in ("stage", "engine", "version", "runs here", "what it is",
                    "weights (licence)"):
            table.add_column(col)
        for spec in specs:
            missing = spec.probe()
            status = "[green]yes[/]" if not missing else f"[red]no[/]: {missing}"
            name = spec.name + (" (default)" if spec.default else "")
            files = f"; {len(spec.files)} file(s) by SHA-256" if spec.files else ""
            table.add_row(spec.stage, name, spec.version(), status, spec.summary,
                          f"{spec.weights} ({spec.license}){files}")
        out.print(table)
    bad = [f"{st}/{n}: {p}" for (st, n), ps in problems.items() for p in ps]
    for line in bad:
        err.print(f"[red]weights[/]: {line}")
    if bad:
        raise typer.Exit(1)


cache_app = typer.Typer(help="The analysis cache (alignments, face tracks): how big, and "
                         "clearing it. Voice profiles are not in it.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@cache_app.command("info")
def cache_info(as_json: JsonOpt = False) -> None:
    """Where the cache is, what it holds, and its size cap ($RETAKE_CACHE_MAX)."""
    from retake.core.cache import default_cache_dir, info

    data = info(default_cache_dir())
    if as_json:
        _print_json(data)
        return
    table = Table("kind", "entries", "MB", title=f"cache {data['folder']}")
    for kind, k in sorted(data["kinds"].items()):
        table.add_row(kind, str(k["entries"]), f"{k['bytes'] / 1e6:.1f}")
    out.print(table)
    out.print(f"{data['entries']} entries, {data['bytes'] / 1e6:.1f} MB of "
              f"{data['max_bytes'] / 1e6:.0f} MB (least recently used go first)")


@cache_app.command("clear")
def cache_clear(
    kind: Annotated[str | None, typer.Option(help="Only this kind (e.g. align, tracks).")] =
    None,
) -> None:
    """Delete the cached analysis (only entries Retake wrote); it is rebuilt when needed."""
    from retake.core.cache import clear, default_cache_dir

    n = clear(default_cache_dir(), kind)
    err.print(f"deleted {n} cache entr{'y' if n == 1 else 'ies'} from {default_cache_dir()}")


@app.command()
def demo(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the demo's files.")] =
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
    as_json: JsonOpt = False,
) -> None:
    """Check a file's Content Credentials (C2PA): who made it, what was edited, intact?

    Exit codes: 0 intact and signed by a trusted signer; 4 intact but the signer is not
    trusted here; 5 changed after signing (or a damaged manifest); 6 no Content
    Credentials; 1 the file cannot be read.
    """
    from dataclasses import asdict

    from retake.awareness.provenance import verify as run_verify

    if not file.is_file():
        raise RetakeError(f"{file}: no such file")
    v = run_verify(file, trust_local=trust_local)
    if as_json:
        _print_json(asdict(v))
    else:
        out.print(v.summary(), highlight=False)
    if v.state == "Invalid":
        err.print("[bold red]the file was changed after it was signed, or its manifest is "
                  "damaged[/]")
        raise typer.Exit(VERIFY_INVALID)
    if v.state == "None":
        err.print("no Content Credentials in this file")
        raise typer.Exit(VERIFY_UNSIGNED)
    if v.state != "Trusted":
        err.print("[yellow]intact, but the signer is not trusted on this computer[/]")
        raise typer.Exit(VERIFY_UNTRUSTED)


@app.command("consent")
def consent_cmd(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Also save the sentence "
                                                "to this text file.")] = None,
) -> None:
    """Print a fresh consent sentence for the speaker to read aloud (strict consent mode)."""
    from retake.awareness.consent import VALID_DAYS, issue_statement
    from retake.core.atomic import write_text

    sentence = issue_statement()["sentence"]
    out.print(sentence, highlight=False)
    if output is not None:
        write_text(output, sentence + "\n")
    err.print(f"Valid for {VALID_DAYS} days on this computer. Record the speaker reading it, "
              "then edit with --consent-recording TAKE.wav "
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
    from retake.ui.cli_live import register as register_live
    from retake.ui.cli_video import register

    register(app)
    register_live(app)


_register_video()


def _register_batch() -> None:
    from retake.ui.cli_batch import register

    register(app)


_register_batch()


def _fail(message: str) -> None:
    """The one `error:` line, then exit 1."""
    err.quiet = False
    err.print(f"[bold red]error[/]: {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(EXIT_INPUT)


def _in_a_parser(exc: BaseException) -> bool:
    """True when `exc` was raised inside a reader of nested data (JSON, YAML, XML, pickle
    or a literal): crafted input, not a bug of Retake's."""
    readers = ("json", "yaml", "xml", "ast", "pickle", "tomllib")
    tb = exc.__traceback__
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if module.split(".")[0] in readers or "json" in module or "yaml" in module:
            return True
        tb = tb.tb_next
    return False


def environment_error(exc: BaseException) -> str | None:
    """What to tell the user about a failure of the computer or of a crafted input rather
    than of Retake (a full disk, a folder that cannot be written, input nested too deeply
    to read, libsndfile refusing a file), or None for a bug."""
    import errno

    if isinstance(exc, RecursionError) and _in_a_parser(exc):
        return ("an input file is nested too deeply to read (a crafted or damaged file?); "
                "check the JSON or YAML files given")
    if isinstance(exc, MemoryError):
        return "not enough memory for this input; close other programs or give a shorter file"
    sf = sys.modules.get("soundfile")
    if sf is not None and isinstance(exc, getattr(sf, "SoundFileError", ())):
        return (f"an audio file could not be read or written ({exc}); check that the disk "
                "is not full and that the file is audio")
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename is not None else ""
        code = exc.errno
        if code in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
            return (f"{where}the disk is full (no space left on device); free some space "
                    "and run again")
        if code == errno.EROFS:
            return f"{where}the disk is read-only; write the output somewhere else"
        if code in (errno.EACCES, errno.EPERM):
            return f"{where}permission denied; check the file's and its folder's permissions"
        if code == errno.ENOENT:
            return f"{where}no such file or folder"
        if code == errno.ENOTDIR:
            return f"{where}a file stands where a folder is needed"
        if code == errno.EISDIR:
            return f"{where}is a folder where a file is needed"
        text = exc.strerror or str(exc) or type(exc).__name__
        return f"{where}{text} (a problem of the disk or the operating system)"
    return None


def main() -> None:
    """Entry point: run the app; exit codes as in EXIT_CODES."""
    from retake.core.allocator import give_back_large_blocks

    give_back_large_blocks()  # peak memory: large freed blocks go back to the system
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    for noisy in ("numba", "urllib3", "httpx", "faster_whisper"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        app()
    except RetakeError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - one line for the user, traceback on demand
        if os.environ.get("RETAKE_DEBUG"):
            raise
        message = environment_error(exc)
        if message is not None:
            _fail(message)
        err.quiet = False
        err.print(f"[bold red]internal error[/]: {type(exc).__name__}: {escape(str(exc))} "
                  "(set RETAKE_DEBUG=1 for the traceback)", highlight=False, soft_wrap=True)
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
