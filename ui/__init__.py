"""ui: the `retake` command line and the Gradio studio, thin over the library."""
