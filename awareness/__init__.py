"""awareness: the marks every output gets and the checks that find edits.

Two layers in one room. The marks (`watermark`, `provenance`, `consent`, `speaker`) import only
`core` and `align`, so `voice` and `video` can mark what they make. The checks (`forensics`,
`lipclosure`, `detect`) sit above `voice` and `video`, whose analysis they reuse.
"""
