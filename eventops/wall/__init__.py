"""Social wall: sources, normalisation, moderation."""
