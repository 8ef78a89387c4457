"""Parentalités: the application core and the letter itself (issues, composition, mail-out, archive)."""
