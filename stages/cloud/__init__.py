"""What every cloud backend shares: keys and endpoints, error kinds, downloads and the price table."""
