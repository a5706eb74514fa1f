"""Tier 3: helpers that exist to serve the book's chapters (prose with computed numbers, ...).

Nothing here is part of the layers (tier 1) or the library (tier 2); a chapter that needs a
figure, a demo or a sentence with measured numbers gets it from here.
"""
