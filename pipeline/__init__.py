"""The film pipeline: CLI, project config, Prefect flow, artifact store and manifest."""
