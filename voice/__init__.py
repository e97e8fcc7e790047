"""voice: edit a recording by editing its transcript.

    from retake.align import load_audio
    from retake.voice import Editor, write_result
    editor = Editor()
    rec = editor.load(load_audio("memo.wav"), "Meet me at noon.")
    result = editor.edit(rec, "Meet me at three.")
    write_result(result, "memo-edited.wav")
"""

from retake.voice.edit import EditError, EditOptions, Editor, EditResult
from retake.voice.io import read_metadata, write_result
from retake.voice.timemap import TimeMap

__all__ = ["EditError", "EditOptions", "EditResult", "Editor", "TimeMap", "read_metadata",
           "write_result"]
