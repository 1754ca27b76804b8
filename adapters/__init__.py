"""Chat platforms, entry points and the composition root."""
