"""The layout holds: Prefect is spoken to from pipeline/prefect/ alone, stages/ stands on its own, and no
provider SDK or model library is imported by pipeline/."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PREFECT = ("prefect", "prefect_dask")
PROVIDER_SDKS = ("anthropic", "lumaai", "elevenlabs", "fal_client", "openai", "torch", "diffusers", "kokoro")


def imports(path: Path) -> set[str]:
    """Every absolute module name a file imports (at any depth: module level or inside a function)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
    return found


def uses(names: set[str], packages: tuple[str, ...]) -> set[str]:
    """The names that are one of ``packages`` or a module inside one."""
    return {name for name in names if name.split(".")[0] in packages}


def files(folder: str) -> list[Path]:
    """The Python files under a top-level folder of the repository."""
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", files("pipeline"), ids=lambda p: str(p.relative_to(ROOT)))
def test_only_pipeline_prefect_imports_prefect(path):
    if path.is_relative_to(ROOT / "pipeline" / "prefect"):
        return
    assert not uses(imports(path), PREFECT), f"{path.relative_to(ROOT)} imports Prefect: move that code to pipeline/prefect/"


def test_the_flow_is_where_prefect_is_imported():
    assert uses(imports(ROOT / "pipeline" / "prefect" / "flow.py"), PREFECT), "the scan above would pass vacuously"


@pytest.mark.parametrize("path", files("stages"), ids=lambda p: str(p.relative_to(ROOT)))
def test_stages_never_import_pipeline_or_prefect(path):
    assert not uses(imports(path), ("pipeline", *PREFECT)), f"{path.relative_to(ROOT)} reaches up into the pipeline"


@pytest.mark.parametrize("path", files("pipeline"), ids=lambda p: str(p.relative_to(ROOT)))
def test_pipeline_never_imports_a_provider_sdk(path):
    assert not uses(imports(path), PROVIDER_SDKS), f"{path.relative_to(ROOT)} imports a provider SDK: backends do"
