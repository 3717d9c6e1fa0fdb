"""narration stage backends."""
