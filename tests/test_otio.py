"""`OUT.otio`: an edit as an OpenTimelineIO timeline that reads back with the right cuts and
inserted spans."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest
import soundfile as sf

from retake.voice.otio import timeline, write_otio
from retake.voice.report import EditReport, EditSpan
from retake.voice.timemap import Inserted, TimeMap

SAID = "The quick brown fox jumps over the lazy dog near the river bank."


def _clips(track) -> list:
    return list(track.find_clips())


def _ranges(track) -> list[tuple[str, int, int, int, int]]:
    """(media, source start, source duration, track start, track duration) of each clip."""
    out = []
    for c in _clips(track):
        r, place = c.source_range, track.range_of_child(c)
        out.append((c.media_reference.target_url, round(r.start_time.value),
                    round(r.duration.value), round(place.start_time.value),
                    round(place.duration.value)))
    return out


def _hand_made() -> tuple[TimeMap, EditReport]:
    """Original 10 s: 2-3 s deleted; "big" inserted at 5 s (0.5 s, synthesized);
    7-8 s replaced by "red car" (re-used, 1.5 s)."""
    knots = [(0.0, 0.0), (2.0, 2.0), (3.0, 2.0), (5.0, 4.0), (5.0, 4.5), (7.0, 6.5),
             (7.0, 8.0), (8.0, 8.0), (10.0, 10.0)]
    inserted = [Inserted(4.0, 4.5, 5.0, "big", "synthesized"),
                Inserted(6.5, 8.0, 7.0, "red car", "reused")]
    report = EditReport([EditSpan("delete", "very", 2.0, 2.0, "cut"),
                         EditSpan("insert", "big", 4.0, 4.5, "units"),
                         EditSpan("replace", "red car", 6.5, 8.0, "reuse")])
    return TimeMap(knots, inserted, 10.0, 10.0), report


def test_hand_made_map_exact_ranges(tmp_path: Path) -> None:
    tm, report = _hand_made()
    path = tmp_path / "out.otio"
    write_otio(path, tm, report, "in.wav", 100, "out.wav")
    tl = otio.adapters.read_from_file(str(path))
    [track] = tl.tracks
    assert track.kind == otio.schema.TrackKind.Audio
    assert _ranges(track) == [
        ("in.wav", 0, 200, 0, 200),       # kept 0-2 s
        ("in.wav", 300, 200, 200, 200),   # 2-3 s cut; kept 3-5 s
        ("out.wav", 400, 50, 400, 50),    # "big", from the edited file
        ("in.wav", 500, 200, 450, 200),   # kept 5-7 s
        ("out.wav", 650, 150, 650, 150),  # "red car" in place of 7-8 s
        ("in.wav", 800, 200, 800, 200),   # kept 8-10 s
    ]
    assert tl.duration() == otio.opentime.RationalTime(1000, 100)
    inserted = [c for c in _clips(track) if c.markers]
    assert [c.name for c in inserted] == ["big (units)", "red car (reuse)"]
    big, car = (c.markers[0] for c in inserted)
    assert (big.name, big.color, car.name, car.color) == (
        "big", otio.schema.MarkerColor.RED, "red car", otio.schema.MarkerColor.GREEN)
    assert dict(big.metadata["retake"]) == {"engine": "units", "text": "big",
                                            "source": "synthesized"}
    assert big.marked_range == inserted[0].source_range
    [cut] = track.markers
    assert cut.name == "cut: very" and cut.marked_range.start_time.value == 200
    ref = _clips(track)[0].media_reference
    assert isinstance(ref, otio.schema.ExternalReference)
    assert ref.available_range.duration.value == 1000


def test_dub_has_video_and_audio_tracks_at_the_frame_rate() -> None:
    tm, report = _hand_made()
    tl = timeline(tm, report, "in.mp4", 25, "out.mp4", video=True)
    video, audio = tl.tracks
    assert video.kind == otio.schema.TrackKind.Video and audio.kind == otio.schema.TrackKind.Audio
    assert _ranges(video) == _ranges(audio)
    assert _ranges(video)[1] == ("in.mp4", 75, 50, 50, 50)
    assert tl.duration() == otio.opentime.RationalTime(250, 25)


def test_unknown_original_is_a_missing_reference_and_rounding_is_exact() -> None:
    # edges off the sample grid: the clips still tile the edited time exactly
    tm = TimeMap([(0.0, 0.0), (1.00004, 1.00004), (2.3, 1.00004), (4.0, 2.70004),
                  (4.0, 3.1234), (5.0, 4.1234)],
                 [Inserted(2.70004, 3.1234, 4.0, "new")], 5.0, 4.1234)
    tl = timeline(tm, None, None, 16000, "e.wav")
    [track] = tl.tracks
    assert isinstance(_clips(track)[0].media_reference, otio.schema.MissingReference)
    assert track.duration().value == round(4.1234 * 16000)
    assert [c.name for c in _clips(track)] == ["original", "original", "new (unknown)",
                                                "original"]


def test_otio_json_conversion_offline(tmp_path: Path) -> None:
    """Another adapter bundled with the wheel reads and writes it (otioz: a zip bundle)."""
    tm, report = _hand_made()
    (tmp_path / "in.wav").write_bytes(b"")
    (tmp_path / "out.wav").write_bytes(b"")
    tl = timeline(tm, report, str(tmp_path / "in.wav"), 100, str(tmp_path / "out.wav"))
    text = otio.adapters.write_to_string(tl, "otio_json")
    again = otio.adapters.read_from_string(text, "otio_json")
    assert again.duration() == tl.duration()
    # otioz bundles the media; it wants absolute file URLs (as a tool would resolve them)
    for c in tl.find_clips():
        c.media_reference.target_url = otio.url_utils.url_from_filepath(
            c.media_reference.target_url)
    otio.adapters.write_to_file(tl, str(tmp_path / "bundle.otioz"))
    back = otio.adapters.read_from_file(str(tmp_path / "bundle.otioz"))
    assert back.duration() == tl.duration()


@pytest.fixture(scope="module")
def edit(tmp_path_factory):
    """A real edit of espeak speech: one word cut, one replaced by new speech."""
    from retake.align.audio import load_audio, write_wav
    from retake.align.espeak import synthesize
    from retake.voice import EditOptions, Editor, write_result

    tmp = tmp_path_factory.mktemp("otio")
    s = synthesize(SAID, rate_wpm=160)
    memo = tmp / "memo.wav"
    write_wav(memo, s.audio, s.sample_rate)
    editor = Editor()
    rec = editor.load(load_audio(memo), SAID)
    new = SAID.replace("quick ", "").replace("lazy", "sleepy")
    result = editor.edit(rec, new, EditOptions(verify=False))
    (tmp / "out").mkdir()
    paths = write_result(result, tmp / "out" / "edited.wav", source=memo)
    return result, paths, memo


def test_edit_writes_otio_that_reads_back(edit) -> None:
    result, paths, memo = edit
    assert list(paths) == ["wav", "json", "textgrid", "timemap", "report", "otio"]
    assert paths["otio"].name == "edited.otio" and paths["otio"].is_file()
    tl = otio.adapters.read_from_file(str(paths["otio"]))
    [track] = tl.tracks
    sr, tm = result.sample_rate, result.timemap
    clips = _clips(track)
    # the original is referenced relative to the .otio (one folder up here)
    kept = [c for c in clips if c.metadata["retake"]["kind"] == "kept"]
    assert kept and {c.media_reference.target_url for c in kept} == {"../memo.wav"}
    assert (paths["otio"].parent / kept[0].media_reference.target_url).resolve() == \
        memo.resolve()
    # kept clips = the time map's kept segments, in original and in edited time
    want = [(o0, o1, e0) for (o0, e0), (o1, e1) in zip(tm.knots, tm.knots[1:], strict=False)
            if o1 - o0 > 1e-9 and e1 - e0 > 1e-9]
    assert len(kept) == len(want)
    for c, (o0, o1, e0) in zip(kept, want, strict=True):
        r = c.source_range
        assert abs(r.start_time.value - o0 * sr) <= 1
        assert abs(r.end_time_exclusive().value - o1 * sr) <= 1
        assert abs(track.range_of_child(c).start_time.value - e0 * sr) <= 1
    # the synthesized span of the report is one clip of the edited file, marked red
    [span] = result.report.synthesized
    [new] = [c for c in clips if c.markers]
    assert new.media_reference.target_url == "edited.wav"
    place = track.range_of_child(new)
    assert abs(place.start_time.value - span.start * sr) <= 1
    assert abs(place.end_time_exclusive().value - span.end * sr) <= 1
    [marker] = new.markers
    assert marker.name == "sleepy" and marker.color == otio.schema.MarkerColor.RED
    assert marker.metadata["retake"]["engine"] == span.engine
    assert span.engine in new.name and "sleepy" in new.name
    # no gap: the track lasts exactly as long as the edited audio
    frames = sf.info(str(paths["wav"])).frames
    assert track.duration() == otio.opentime.RationalTime(frames, sr)
    assert tl.duration().to_seconds() == pytest.approx(tm.edited_duration, abs=1 / sr)
    assert [m.name for m in track.markers] == ["cut: quick"]


def test_studio_offers_the_timeline_among_the_downloads(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from retake.align.audio import write_wav
    from retake.align.espeak import synthesize
    from retake.ui.studio import Studio

    said = "The meeting starts on Friday morning. Please bring the report and your laptop."
    s = synthesize(said, rate_wpm=150)
    write_wav(tmp_path / "memo.wav", s.audio, s.sample_rate)
    studio = Studio(tmp_path / "root")
    me = SimpleNamespace(session_hash="otio")
    studio.analyse(str(tmp_path / "memo.wav"), None, said, me)
    out, files, *_ = studio.render(said.replace("Friday", "Monday"), 1, me, agreed=True)
    [path] = [Path(f) for f in files if f.endswith(".otio")]
    assert path.stem == Path(out).stem
    clips = list(otio.adapters.read_from_file(str(path)).find_clips())
    # the kept clips refer to the uploaded recording beside it in the session folder
    kept = {c.media_reference.target_url for c in clips if not c.markers}
    assert len(kept) == 1 and (path.parent / kept.pop()).is_file()
    assert [c.markers[0].name for c in clips if c.markers] == ["monday"]
