"""Professionals who receive the letter: double opt-in, consent records, one-click unsubscribe
(preferences, segments, imports and bounces come in later issues)."""
