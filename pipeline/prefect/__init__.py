"""Everything that talks to Prefect: the flow and its tasks, the UI's artifacts, the Prefect environment, the
servers (the run's own, `film ui`) and `film serve`. The only package of film that imports ``prefect``."""
