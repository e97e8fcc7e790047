"""The studio's Detect tab: look for traces of edits in a file."""

from __future__ import annotations

import gradio as gr

from retake.ui.session import (
    AUDIO_TYPES,
    VIDEO_TYPES,
    check_type,
    cleared,
    sealed,
)


class DetectJobs:
    """The Detect tab's jobs (a part of `Studio`)."""

    @sealed
    def run_detect(self, file: str | None, transcript: str, request, progress=None):
        """The verdict with each signal on its scale (and the file's Content Credentials),
        the detector's HTML page inline, and the JSON and HTML downloads."""
        import html as html_lib

        from retake.awareness.detect import detect, write_report
        from retake.ui.verdict import check_credentials, verdict, verdict_html

        s = self.session(request)
        s.cancel.clear()
        src = self._keep(s, check_type(file, AUDIO_TYPES + VIDEO_TYPES,
                                        "an audio or video file"), "detect")
        video = src.suffix.lower() in VIDEO_TYPES
        stages = ("voice", "face") if video else ("voice",)
        with self._hold(s, progress, "detect", *stages):
            if progress is not None:
                progress(0.1, desc="examining")
            report = detect(src, transcript=(transcript or "").strip() or None,
                            models=self.models())
            if progress is not None:
                progress(0.9, desc="checking Content Credentials")
            creds = check_credentials(src)
        n = len(list(s.folder.glob("detect-*"))) + 1
        jpath, hpath = write_report(report, s.folder / f"detect-{n}")
        frame = (f'<iframe title="report" style="width:100%;height:900px;border:0" '
                 f'srcdoc="{html_lib.escape(hpath.read_text())}"></iframe>')
        return (verdict_html(verdict(report, creds, video)), frame,
                [str(jpath), str(hpath)])


def detect_tab(studio, agreed) -> None:
    """The Detect tab's widgets and events."""
    self, guard = studio, studio.guard
    with gr.Tab("Detect"):
        gr.Markdown("Look for traces of edits: lips open on M/B/P, splices in the "
                    "audio, Retake's own watermark, and the file's Content Credentials "
                    "(as `retake verify` reads them). A clean report is not proof "
                    "that a file is authentic.")
        det_file = gr.File(label="Audio or video", file_types=AUDIO_TYPES + VIDEO_TYPES,
                           type="filepath", elem_id="detect-file")
        det_text = gr.Textbox(label="What is said (empty: transcribe)", lines=2)
        det_btn = gr.Button("Examine", variant="primary", elem_id="detect")
        det_summary = gr.HTML(elem_id="detect-summary")
        det_html = gr.HTML()
        det_files = gr.File(label="Report (JSON, HTML)", file_count="multiple",
                            interactive=False)

        @guard
        def do_detect(f, t, request: gr.Request, progress=gr.Progress()):  # noqa: B008
            return self.run_detect(f, t, request, progress)

        cleared(det_btn.click(do_detect, [det_file, det_text],
                              [det_summary, det_html, det_files]))
