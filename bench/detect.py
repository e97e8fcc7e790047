"""Detector benchmark: untouched versus Retake-edited material from ../shared/media.

Untouched: every speech file and talking clip. Edited: a one-word voice edit of every speech
file that is long enough; a one-word dub of every clip; a lip-sync of every clip to another
speaker's sentence, once as Retake makes it (lips closed on M/B/P) and once as a naive
generator would (`close_bilabials=False`). For each signal (splice, lip closure,
watermark) and their combination: ROC AUC and equal-error rate over the items where the
signal applies. Writes bench/results/detect.json.
"""

from __future__ import annotations

import json
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MEDIA = ROOT.parent / "shared" / "media"
RESULTS = ROOT / "bench" / "results"

warnings.filterwarnings("ignore")


def _auc_eer(scores: list[float], labels: list[int]) -> tuple[float | None, float | None]:
    from sklearn.metrics import roc_auc_score, roc_curve

    if len(set(labels)) < 2:
        return None, None
    auc = float(roc_auc_score(labels, scores))
    fpr, tpr, _ = roc_curve(labels, scores)
    fnr = 1 - tpr
    i = int(np.argmin(np.abs(fnr - fpr)))
    return round(auc, 3), round(float((fpr[i] + fnr[i]) / 2), 3)


def combined(signals: dict) -> float:
    """One number from the signals: each scaled to its flag level, the largest wins."""
    from retake.awareness.detect import SPLICE_FLAG

    parts = [signals.get("splice", 0.0) / SPLICE_FLAG,
             signals.get("lip_closure", 0.0) / 0.25,
             2.0 * (signals.get("watermark", 0.0) > 0)]
    return float(max(parts))


def main() -> None:
    if not (MEDIA / "speech").is_dir():
        print(f"skipped: {MEDIA} is absent")
        return
    from retake.align import load_audio, transcribe
    from retake.align.audio import write_wav
    from retake.awareness.detect import detect
    from retake.video.dub import dub
    from retake.video.faces import FaceModels
    from retake.video.lipsync import lipsync
    from retake.voice import Editor

    models = FaceModels()
    editor = Editor()
    items: list[dict] = []

    def run(path: Path, label: int, kind: str, text: str | None) -> None:
        r = detect(path, transcript=text, models=models)
        row = {"item": path.name, "kind": kind, "edited": label, **r.signals,
               "combined": round(combined(r.signals), 3)}
        print(json.dumps(row))
        items.append(row)

    speech = []
    lj = MEDIA / "speech" / "ljspeech"
    lines = dict(ln.split("|", 1) for ln in (lj / "transcripts.txt").read_text().splitlines()
                 if "|" in ln)
    for name, text in lines.items():
        f = lj / (name if name.endswith(".wav") else name + ".wav")
        if f.is_file():
            speech.append((f, text.strip()))
    arctic = MEDIA / "speech" / "arctic"
    for ln in (arctic / "transcripts.txt").read_text().splitlines() if \
            (arctic / "transcripts.txt").is_file() else []:
        if "|" in ln or "\t" in ln:
            name, text = ln.replace("\t", "|", 1).split("|", 1)
            f = arctic / (name if name.endswith(".wav") else name + ".wav")
            if f.is_file():
                speech.append((f, text.strip()))
    for f in sorted((MEDIA / "speech" / "mfa").glob("*.wav")):
        lab = f.with_suffix(".lab")
        if lab.is_file():
            speech.append((f, lab.read_text().strip()))
    clips = sorted((MEDIA / "video").glob("*.mp4"))
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        for f, text in speech:
            run(f, 0, "speech", text)
            sound = load_audio(f)
            if sound.duration < 3.5:
                continue
            rec = editor.load(sound, text)
            words = text.split()
            i = len(words) // 2
            new = " ".join(words[:i] + ["yesterday"] + words[i + 1:])
            res = editor.edit(rec, new)
            out = t / f"edit-{f.stem}.wav"
            write_wav(out, res.samples, res.sample_rate)
            run(out, 1, "voice edit", new)
        other = speech[0]
        for c in clips:
            said = transcribe(load_audio(c)).text
            run(c, 0, "clip", said)
            words = said.split()
            k = len(words) // 2
            new = " ".join(words[:k] + ["maybe"] + words[k + 1:])
            out = t / f"dub-{c.stem}.mp4"
            dub(c, out, new, transcript=said, editor=editor, models=models)
            run(out, 1, "dub", new)
            for close in (True, False):
                out = t / f"ls-{c.stem}-{close}.mp4"
                lipsync(c, other[0], out, transcript=other[1], models=models,
                        close_bilabials=close)
                run(out, 1, "lip-sync" if close else "naive lip-sync", other[1])
    summary: dict = {"items": len(items), "edited": sum(r["edited"] for r in items)}
    for signal in ("splice", "lip_closure", "watermark", "combined"):
        rows = [r for r in items if signal in r]
        auc, eer = _auc_eer([r[signal] for r in rows], [r["edited"] for r in rows])
        summary[signal] = {"n": len(rows), "auc": auc, "eer": eer}
    by_kind = {}
    for kind in sorted({r["kind"] for r in items}):
        rows = [r for r in items if r["kind"] == kind]
        by_kind[kind] = {"n": len(rows), "combined_mean": round(float(np.mean(
            [r["combined"] for r in rows])), 3),
            "flagged_share": round(float(np.mean([r["combined"] >= 1.0 for r in rows])), 3)}
    summary["by_kind"] = by_kind
    print(json.dumps(summary, indent=1))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "detect.json").write_text(json.dumps({"summary": summary, "items": items},
                                                    indent=1) + "\n")
    print(f"wrote {RESULTS / 'detect.json'}")


if __name__ == "__main__":
    main()
