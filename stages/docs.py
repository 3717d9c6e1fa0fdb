"""The README's table of built-in backends, made from the registry and the backends' ``Options`` models.

``python -m stages.docs`` prints it; ``python -m stages.docs --write README.md`` rewrites the part of the
README between the two markers below, so the table never drifts from the code.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Literal, get_args, get_origin

from pydantic import BaseModel

from stages.backend import Backend
from stages.contracts import Frozen
from stages.registry import BUILTIN, STAGES, backend_class

START, END = "<!-- backends-table:start -->", "<!-- backends-table:end -->"
UNKEYED = " (not in the cache key)"


def backends_markdown() -> str:
    """The generated block: a row per built-in backend, then a table for each Options base several of them share."""
    rows = [(stage, name, backend_class(stage, name)) for stage in STAGES for name in BUILTIN[stage]]
    shared = _shared_bases([cls for _, _, cls in rows])
    lines = ["| stage | backend | needs | options |", "|---|---|---|---|"]
    for stage, name, cls in rows:
        lines.append(f"| {stage} | `{name}` | {_needs(cls)} | {_options_cell(cls, shared)} |")
    for base, users in shared.items():
        lines += ["", f"`{base.__name__}`: {_first_line(base.__doc__)}", "",
                  "| option | default | description | in cache keys |", "|---|---|---|---|"]
        unkeyed = frozenset.intersection(*(user.unkeyed_options for user in users))
        lines += [f"| `{field}` | {default} | {text} | {'no' if field in unkeyed else 'yes'} |"
                  for field, default, text in _fields(base)]
    return "\n".join(lines) + "\n"


def generated_part(text: str, where: str = "README.md") -> str:
    """The text between the table's markers in ``text`` (ValueError naming ``where`` when they are missing)."""
    _, start, rest = text.partition(START)
    body, end, _ = rest.partition(END)
    if not (start and end):
        raise ValueError(f"{where} has no '{START}' ... '{END}' markers around the backends table")
    return body.strip("\n") + "\n"


def with_table(text: str, where: str = "README.md") -> str:
    """``text`` with the part between the markers replaced by the current table."""
    generated_part(text, where)
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n\n{backends_markdown()}\n{END}{tail}"  # blank lines keep the table its own block


def _shared_bases(classes: list[type[Backend]]) -> dict[type[BaseModel], list[type[Backend]]]:
    """Options bases (short of Frozen itself) that two or more backends' Options derive from, with those backends."""
    users: dict[type[BaseModel], list[type[Backend]]] = {}
    for cls in classes:
        for base in cls.Options.__mro__[1:]:
            if issubclass(base, Frozen) and base is not Frozen:
                users.setdefault(base, []).append(cls)
    return {base: found for base, found in users.items() if len(found) > 1}


def _options_cell(cls: type[Backend], shared: dict[type[BaseModel], list[type[Backend]]]) -> str:
    """A backend's own options, one a line, then the shared tables whose options it also takes."""
    bases = [base for base in shared if issubclass(cls.Options, base)]
    own = [(f, d, t) for f, d, t in _fields(cls.Options) if not any(_inherited(cls.Options, f, b) for b in bases)]
    lines = [f"`{field}` = {default}: {text}{UNKEYED if field in cls.unkeyed_options else ''}"
             for field, default, text in own]
    lines += [f"and the `{base.__name__}` options (below)" for base in bases]
    return "<br>".join(lines) or "—"


def _fields(model: type[BaseModel]) -> list[tuple[str, str, str]]:
    """Each field of ``model`` as (name, default as YAML would write it, description with its choices)."""
    defaults = model().model_dump(mode="json")
    found = []
    for field, info in model.model_fields.items():
        choices = get_args(info.annotation) if get_origin(info.annotation) is Literal else ()
        text = (info.description or "").rstrip(".")
        if choices:
            text += f"{'; ' if text else ''}one of {', '.join(f'`{c}`' for c in choices)}"
        found.append((field, f"`{_escape(json.dumps(defaults[field], ensure_ascii=False))}`", _escape(text)))
    return found


def _inherited(model: type[BaseModel], field: str, base: type[BaseModel]) -> bool:
    """Whether ``model`` takes ``field`` from ``base`` unchanged (no class between them declares it again)."""
    between = [k for k in model.__mro__ if k is not base and issubclass(k, base)]
    return field in base.model_fields and not any(field in vars(k).get("__annotations__", {}) for k in between)


def _needs(cls: type[Backend]) -> str:
    """What a backend needs to run: the provider it calls and the key it calls with, a GPU, the modules it imports."""
    keys = ", ".join(f"`{key}`" for key in cls.env_keys)
    parts = [" with ".join(filter(None, (f"calls {cls.provider}" if cls.provider else "", keys)))]
    parts += ["a GPU" if cls.needs_gpu else ""]
    parts += [f"modules {', '.join(f'`{m}`' for m in cls.packages)}" if cls.packages else ""]
    return "<br>".join(part for part in parts if part) or "—"


def _first_line(doc: str | None) -> str:
    """The first line of a docstring."""
    return (doc or "").strip().split("\n")[0]


def _escape(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|")


def main(argv: list[str] | None = None) -> int:
    """Print the table, or with ``--write FILE`` rewrite the part of FILE between the markers."""
    parser = argparse.ArgumentParser(prog="python -m stages.docs", description=main.__doc__)
    parser.add_argument("--write", type=Path, metavar="FILE", help="the README to update in place")
    args = parser.parse_args(argv)
    if args.write is None:
        sys.stdout.write(backends_markdown())
        return 0
    text = args.write.read_text(encoding="utf-8")
    try:
        updated = with_table(text, str(args.write))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if updated != text:
        args.write.write_text(updated, encoding="utf-8")
    print(f"{args.write}: backends table {'updated' if updated != text else 'already current'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
