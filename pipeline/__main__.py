"""`python -m pipeline` is `film`."""
from pipeline.cli import main

main()
