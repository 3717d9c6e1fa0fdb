"""images stage backends."""
