"""The README's backends table is made from the registry and the Options models: it fails here when they drift."""
from __future__ import annotations

from pathlib import Path

from stages.docs import END, START, backends_markdown, generated_part, main
from stages.registry import BUILTIN, backend_class

README = Path(__file__).resolve().parents[1] / "README.md"
REGENERATE = "run `.venv/bin/python -m stages.docs --write README.md` and commit the README"


def test_readme_backends_table_matches_the_code():
    assert generated_part(README.read_text(encoding="utf-8")) == backends_markdown(), (
        f"README.md's backends table differs from the backends' code: {REGENERATE}")


def test_every_builtin_backend_and_option_is_described():
    table = backends_markdown()
    for stage, entries in BUILTIN.items():
        for name in entries:
            cls = backend_class(stage, name)
            assert f"| {stage} | `{name}` |" in table
            for field, info in cls.Options.model_fields.items():
                assert info.description, f"{cls.Options.__name__}.{field} has no Field(description=...)"
                assert f"`{field}`" in table


def test_write_replaces_only_the_part_between_the_markers(tmp_path):
    page = tmp_path / "README.md"
    page.write_text(f"# intro\n\nprose before\n\n{START}\nstale table\n{END}\n\nprose after\n", encoding="utf-8")
    assert main(["--write", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert text.startswith("# intro\n\nprose before\n\n") and text.endswith(f"{END}\n\nprose after\n")
    assert "stale table" not in text and generated_part(text) == backends_markdown()
    assert main(["--write", str(page)]) == 0 and page.read_text(encoding="utf-8") == text


def test_write_refuses_a_file_without_the_markers(tmp_path, capsys):
    page = tmp_path / "README.md"
    page.write_text("no table here\n", encoding="utf-8")
    assert main(["--write", str(page)]) == 2
    assert START in capsys.readouterr().err and page.read_text(encoding="utf-8") == "no table here\n"
