"""animation stage backends."""
