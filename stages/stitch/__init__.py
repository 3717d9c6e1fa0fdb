"""stitch stage backends."""
