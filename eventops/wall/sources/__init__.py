"""Post sources: async iterators of normalised posts, resumable from a stored cursor."""

from __future__ import annotations

from eventops.wall.sources.base import Batch, Item, PostSource

__all__ = ["Batch", "Item", "PostSource"]
