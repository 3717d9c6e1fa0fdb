"""`film serve`: the film flow as a served Prefect deployment, so runs start from the UI with parameters.

The deployment's parameters are the CLI's: ``project`` (a project file path, relative to where `film serve`
runs), ``out``, ``only``, ``force``, ``shots``, ``until`` and ``budget``; each run executes in a subprocess
of this one and reports to the same Prefect server as `film make`.
"""
from __future__ import annotations

import os
from pathlib import Path

from pipeline.errors import UserError

DEPLOYMENT = "film"


def serve(start: Path, name: str = DEPLOYMENT, limit: int = 1) -> None:
    """Serve the film flow as deployment ``film/<name>`` until interrupted (at most ``limit`` runs at once), to the
    `film ui` of the workspace of folder ``start``."""
    from pipeline.prefect import env as prefect_env

    prefect_env.configure(start)
    if "PREFECT_API_URL" not in os.environ:
        raise UserError("film serve needs a running Prefect server to register with",
                        "start one with `film ui` (in another terminal), or set PREFECT_API_URL")
    from pipeline.prefect.flow import film_flow

    print(f"serving deployment film/{name} to {os.environ['PREFECT_API_URL'].removesuffix('/api')}; "
          "start runs from its page in the UI (Ctrl-C stops)", flush=True)
    film_flow.serve(name=name, limit=limit, print_starting_message=False,
                    description="Make or remake a film: project file, and optionally only/force stages, shots, until.")
