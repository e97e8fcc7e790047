"""video: faces, face swap, lip-sync, retiming, muxing and edit detection."""
