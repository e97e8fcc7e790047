"""voice: edit a recording by editing its transcript.

    from align import load_audio
    from voice import Editor, write_result
    editor = Editor()
    rec = editor.load(load_audio("memo.wav"), "Meet me at noon.")
    result = editor.edit(rec, "Meet me at three.")
    write_result(result, "memo-edited.wav")
"""

from .edit import EditError, EditOptions, Editor, EditResult
from .io import read_metadata, write_result
from .timemap import TimeMap

__all__ = ["EditError", "EditOptions", "EditResult", "Editor", "TimeMap", "read_metadata",
           "write_result"]
