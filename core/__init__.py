"""core: the plumbing every room uses, importing nothing from them.

Errors with messages a user can act on, atomic writes, the analysis cache, the engine
registry, the progress signature and the version.
"""
