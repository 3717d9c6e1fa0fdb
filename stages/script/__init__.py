"""script stage backends."""
