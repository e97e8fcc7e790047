"""Memory benchmark: peak resident memory of each command against the length of its input.

Issue 18 asks for peak memory <= 1 GB at any length for align, edit, detect, swap and dub.
This builds long inputs from the shared speech (../shared/media/speech: the LJ Speech and
ARCTIC clips read one after another with 0.6 s pauses, looped to the length wanted) and the
shared talking clips (looped by concatenation), runs each `retake` command on them as its own
process, and reads the child's peak RSS from the kernel (`os.wait4`), with its CPU seconds.

    .venv/bin/python bench/memory.py                 # 1, 10, 60 min audio; 10 min video
    .venv/bin/python bench/memory.py --minutes --commands swap detect-video dub  # video only
    .venv/bin/python bench/memory.py --minutes 1 10  # a shorter run
    .venv/bin/python bench/memory.py --commands align detect

Writes bench/results/memory.json (rows from earlier runs of other lengths kept). Inputs are
cached under bench/results/memory_inputs/ (ignored by git; they are generated). Skips
cleanly when the shared media is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"
RESULTS = ROOT / "bench" / "results"
INPUTS = RESULTS / "memory_inputs"
RETAKE = [str(ROOT / ".venv" / "bin" / "retake")]
RATE = 22050
GOAL_MB = 1024


def speech_parts() -> list[tuple[np.ndarray, str]]:
    """(samples at RATE, text) for every shared speech clip with a transcript."""
    import librosa

    parts = []
    for folder in ("ljspeech", "arctic"):
        d = MEDIA / "speech" / folder
        lines = (d / "transcripts.txt").read_text().splitlines() if d.exists() else []
        for line in lines:
            sep = "|" if "|" in line else None
            name, text = (line.split(sep, 1) + [""])[:2]
            name, text = name.strip(), text.strip()
            wav = d / (name if name.endswith(".wav") else f"{name}.wav")
            if not wav.exists() or not text:
                continue
            y, sr = sf.read(wav, dtype="float32", always_2d=True)
            y = y.mean(axis=1)
            if sr != RATE:
                y = librosa.resample(y, orig_sr=sr, target_sr=RATE)
            parts.append((y, text))
    return parts


def long_speech(minutes: float) -> tuple[Path, Path]:
    """A wav of `minutes` of real speech and its transcript (cached)."""
    INPUTS.mkdir(parents=True, exist_ok=True)
    wav, txt = INPUTS / f"speech_{minutes:g}min.wav", INPUTS / f"speech_{minutes:g}min.txt"
    if wav.exists() and txt.exists():
        return wav, txt
    parts = speech_parts()
    pause = np.zeros(int(0.6 * RATE), np.float32)
    texts, n, k = [], 0, 0
    with sf.SoundFile(wav, "w", RATE, 1, subtype="PCM_16") as out:
        while n < minutes * 60 * RATE:
            y, text = parts[k % len(parts)]
            out.write(y)
            out.write(pause)
            texts.append(text)
            n += len(y) + len(pause)
            k += 1
    txt.write_text(" ".join(texts) + "\n")
    return wav, txt


def long_video(minutes: float, clip: Path | None = None) -> Path:
    """A talking clip (Katie Hill's by default) looped to `minutes` (re-encoded with PyAV:
    picture and sound)."""
    import av

    INPUTS.mkdir(parents=True, exist_ok=True)
    clip = clip or MEDIA / "video" / "WDA_KatieHill_000.mp4"
    tag = "" if clip.stem == "WDA_KatieHill_000" else f"_{clip.stem}"
    out = INPUTS / f"video{tag}_{minutes:g}min.mp4"
    if out.exists():
        return out
    tmp = out.with_suffix(".part.mp4")
    with av.open(str(clip)) as src:
        vs = src.streams.video[0]
        rate, width, height = vs.average_rate, vs.codec_context.width, vs.codec_context.height
        sr = src.streams.audio[0].codec_context.sample_rate if src.streams.audio else None
    with av.open(str(tmp), "w") as dst:
        v = dst.add_stream("libx264", rate=rate)
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        v.options = {"preset": "ultrafast", "crf": "20"}
        a = dst.add_stream("aac", rate=sr) if sr else None
        frames, samples = 0, 0
        while frames < minutes * 60 * rate:
            with av.open(str(clip)) as src:
                for frame in src.decode(video=0):
                    fr = av.VideoFrame.from_ndarray(frame.to_ndarray(format="rgb24"), "rgb24")
                    fr.pts = frames
                    dst.mux(v.encode(fr))
                    frames += 1
            if a is not None:
                with av.open(str(clip)) as src:
                    for frame in src.decode(audio=0):
                        frame.pts = samples
                        samples += frame.samples
                        dst.mux(a.encode(frame))
        dst.mux(v.encode())
        if a is not None:
            dst.mux(a.encode())
    tmp.rename(out)
    return out


def measure(cmd: list[str], log: Path, cache: Path) -> dict:
    """Run one command as its own process with its analysis cache in `cache`: wall and CPU
    seconds, peak RSS, exit status."""
    t0 = time.perf_counter()
    env = dict(os.environ, RETAKE_CACHE=str(cache))
    with log.open("w") as f:
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return {"rc": p.returncode, "wall_s": round(time.perf_counter() - t0, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
            "peak_mb": round(usage.ru_maxrss / 1024)}


def first_word(txt: Path) -> tuple[str, str]:
    """A one-word edit in the middle of the transcript: (old text, new text)."""
    words = txt.read_text().split()
    i = len(words) // 2
    new = list(words)
    new[i] = "Geneva"
    return " ".join(words), " ".join(new)


def run(minutes: list[float], video_minutes: list[float], commands: list[str]) -> dict:
    work = INPUTS / "out"
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for m in minutes:
        wav, txt = long_speech(m)
        cases = {
            "align": RETAKE + ["align", str(wav), str(txt), "-o", str(work / f"a{m:g}"),
                               "--no-table", "--no-cache"],
            "edit": RETAKE + ["edit", str(wav), "-t", str(txt), "--to", str(work / f"to{m:g}.txt"),
                              "-o", str(work / f"e{m:g}.wav"), "--consent"],
            "detect": RETAKE + ["detect", str(wav), "-t", str(txt), "-o", str(work / f"d{m:g}")],
        }
        _, new = first_word(txt)
        (work / f"to{m:g}.txt").write_text(new + "\n")
        # the same edit again right after, its analysis cached
        cases = {k: cases[k] for k in ("align", "edit")} | {"edit-warm": cases["edit"],
                                                            "detect": cases["detect"]}
        cache = Path(tempfile.mkdtemp(prefix="retake-mem-"))
        for name, cmd in cases.items():
            if name not in commands and not (name == "edit-warm" and "edit" in commands):
                continue
            if name != "edit-warm":
                shutil.rmtree(cache, ignore_errors=True)  # cold: nothing analysed yet
            r = measure(cmd, work / f"{name}_{m:g}.log", cache)
            r.update(command=name, minutes=m)
            rows.append(r)
            print(json.dumps(r), flush=True)
        shutil.rmtree(cache, ignore_errors=True)
    for m in video_minutes:
        clip = long_video(m)
        photo = MEDIA / "faces" / "obama.jpg"
        cases = {
            "swap": RETAKE + ["swap", "-s", str(photo), "-t", str(clip),
                              "-o", str(work / f"s{m:g}.mp4"), "--consent"],
            "detect-video": RETAKE + ["detect", str(clip), "-o", str(work / f"dv{m:g}")],
            # one word replaced half way through, the transcript drafted by the recogniser
            "dub": RETAKE + ["dub", str(clip), "--draft", "--edits", str(work / "dub.json"),
                             "-o", str(work / f"db{m:g}.mp4"), "--consent"],
        }
        words = int(m * 60 * 2.2)  # about 2.2 words a second in the looped clip
        (work / "dub.json").write_text(json.dumps(
            [{"op": "replace", "from": words // 2, "to": words // 2, "text": "tomorrow"}]))
        cache = Path(tempfile.mkdtemp(prefix="retake-mem-"))
        for name, cmd in cases.items():
            if name not in commands:
                continue
            shutil.rmtree(cache, ignore_errors=True)
            r = measure(cmd, work / f"{name}_{m:g}.log", cache)
            r.update(command=name, minutes=m)
            rows.append(r)
            print(json.dumps(r), flush=True)
    return {"rows": rows, "goal_mb": GOAL_MB}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="*", default=[1, 10, 60])
    parser.add_argument("--video-minutes", type=float, nargs="*", default=[10])
    parser.add_argument("--commands", nargs="+",
                        default=["align", "edit", "detect", "swap", "detect-video", "dub"])
    args = parser.parse_args()
    if not (MEDIA / "speech").exists():
        print("skipped: ../shared/media is absent")
        return
    result = run(args.minutes, args.video_minutes, args.commands)
    out = RESULTS / "memory.json"
    if out.exists():  # rows of other lengths and commands from earlier runs are kept
        fresh = {(r["command"], r["minutes"]) for r in result["rows"]}
        old = json.loads(out.read_text()).get("rows", [])
        result["rows"] = [r for r in old if (r["command"], r["minutes"]) not in fresh] + \
            result["rows"]
        result["rows"].sort(key=lambda r: (r["command"], r["minutes"]))
    tmp = out.with_suffix(".json.part")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.rename(out)
    for r in result["rows"]:
        ok = "ok" if r["peak_mb"] <= GOAL_MB and r["rc"] == 0 else "MISS"
        print(f"{r['command']:>12} {r['minutes']:>5g} min  {r['peak_mb']:>6} MB  "
              f"{r['cpu_s']:>7} s CPU  rc {r['rc']}  {ok}")


if __name__ == "__main__":
    main()
