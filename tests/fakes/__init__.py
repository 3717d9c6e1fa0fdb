"""A local fake of the cloud providers, speaking their wire formats, with faults on demand."""
