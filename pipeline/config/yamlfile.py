"""Load YAML files into validated models with errors that name the file, line and field."""
from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from pipeline.errors import UserError

M = TypeVar("M", bound=BaseModel)


class YamlDocument:
    """A parsed YAML file that remembers the line of every mapping key and list item."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        try:
            self.node = yaml.compose(text, Loader=yaml.SafeLoader)
            self.data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark, opened = getattr(exc, "problem_mark", None), getattr(exc, "context_mark", None)
            where = f"{path}:{mark.line + 1}" if mark else str(path)
            problem = getattr(exc, "problem", None) or str(exc)
            context = getattr(exc, "context", None)
            if opened is not None and context and (mark is None or opened.line != mark.line):
                # an unclosed bracket or quote is noticed lines later: name where it was opened too
                problem += f" ({context} that starts at line {opened.line + 1})"
            raise UserError(f"{where}: YAML syntax error: {problem}",
                            "fix the YAML syntax at the line(s) named") from None
        _refuse_duplicate_keys(path, self.node)

    @classmethod
    def read(cls, path: Path, what: str) -> YamlDocument:
        """Read and parse ``path``; ``what`` names the file in errors ("project file")."""
        if not path.is_file():
            raise UserError(f"{what} not found: {path}", "check the path (it is relative to where you run film)")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"cannot read {what} {path}: {exc}", "save it as UTF-8 text") from None
        return cls(path, text)

    def line_of(self, loc: tuple[Any, ...]) -> int | None:
        """1-based line of the deepest node along the field path ``loc`` that exists."""
        node, line = self.node, None
        if node is not None:
            line = node.start_mark.line + 1
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                pair = next(((k, v) for k, v in node.value if k.value == part), None)
                if pair is None:
                    break
                line, node = pair[0].start_mark.line + 1, pair[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
        return line

    def where(self, loc: tuple[Any, ...]) -> str:
        """``file:line`` for a field path."""
        line = self.line_of(loc)
        return f"{self.path}:{line}" if line else str(self.path)

    def validate(self, model: type[M], hint: str, context: dict[str, Any] | None = None) -> M:
        """Validate the document into ``model``; the first errors become one UserError."""
        if not isinstance(self.data, dict):
            raise UserError(f"{self.path}: expected a mapping of fields at the top level", hint)
        try:
            return model.model_validate(self.data, context=context)
        except ValidationError as exc:
            raise self.error_from(exc, hint) from None

    def error_from(self, exc: ValidationError, hint: str, prefix: tuple[Any, ...] = ()) -> UserError:
        """Turn a pydantic ValidationError into a UserError listing each field, line and reason."""
        errors = exc.errors()
        # a tuple whose only item failed is also "too short": that follows from the item's own error
        errors = [e for e in errors if not (e["type"] == "too_short" and any(
            len(o["loc"]) > len(e["loc"]) and o["loc"][:len(e["loc"])] == e["loc"] for o in errors))]
        lines = []
        for err in errors[:5]:
            loc = prefix + tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            field = ".".join(str(p) for p in loc) or "(top level)"
            lines.append(f"{self.where(loc)}: {field}: {_reason(err)}")
        more = len(errors) - 5
        if more > 0:
            lines.append(f"... and {more} more")
        return UserError("\n".join(lines), hint)


def _refuse_duplicate_keys(path: Path, node: Any) -> None:
    """A key given twice in one mapping is an error (YAML loaders silently keep the last value)."""
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                line = key.start_mark.line + 1
                if key.value in seen:
                    raise UserError(f"{path}:{line}: {key.value}: given twice (also on line {seen[key.value]})",
                                    "keep one of them")
                seen[key.value] = line
            _refuse_duplicate_keys(path, value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(path, item)


def _reason(err: ErrorDetails) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown field (remove it or check its spelling)"
    if kind == "missing":
        return "required field is missing"
    msg = err["msg"]
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    got = err.get("input")
    if "credentials" in msg:  # never echo what may be a secret
        return msg
    if kind not in ("missing",) and not isinstance(got, (dict, list)) and got is not None:
        return f"{msg} (got {got!r})"
    return msg
