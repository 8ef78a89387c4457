"""Partners' side: structures, contributions and their moderation (feeds, fiches action and the
directory of actions come in later issues)."""
