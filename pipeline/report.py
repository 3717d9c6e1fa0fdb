"""What the user sees in the terminal: stage progress bars, the final summary and the status table."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipeline.outputs.manifest import RunSummary
from stages.registry import STAGES
from stages.text import shorten

console = Console(stderr=True, highlight=False)
RETRY_CHARS = 70  # of a retry's reason, on a progress bar


class StageProgress:
    """A progress bar per stage: shots done out of shots to compute."""

    def __init__(self) -> None:
        self.bars = Progress(
            TextColumn("[bold]{task.description:<10}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[note]}"),
            TimeElapsedColumn(), console=console, transient=False,
        )
        self.tasks: dict[str, Any] = {}
        self.notes: dict[str, str] = {}  # each bar's own note, shown again once a retry note has been seen

    def __enter__(self) -> StageProgress:
        self.bars.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.bars.__exit__(*exc)

    def planned(self, counts: dict[str, tuple[int, int]]) -> None:
        """Add one bar per stage that has work."""
        for stage in STAGES:
            todo, total = counts.get(stage, (0, 0))
            if stage not in self.tasks and todo:
                note = f"({total - todo} cached)" if total - todo else ""
                self.tasks[stage] = self.bars.add_task(stage, total=todo, note=note)
                self.notes[stage] = note

    def done(self, stage: str, shot: int | None, computed: bool) -> None:
        """Advance a stage's bar (a job planned as work may turn out cached: it is done all the same)."""
        if stage not in self.tasks:
            if stage != "script" or not computed:
                return
            self.tasks[stage] = self.bars.add_task(stage, total=1, note="")
        self.bars.update(self.tasks[stage], advance=1, note=self.notes.get(stage, ""))

    def retrying(self, stage: str, shot: int | None, delay: float, reason: str) -> None:
        """Say on the stage's bar (or, without one, on a line of its own) which job waits, how long and why."""
        who = f"shot {shot:02d}" if shot is not None else stage
        note = f"{who} retries in {delay:.0f} s: {shorten(reason, RETRY_CHARS)}"
        if stage in self.tasks:
            self.bars.update(self.tasks[stage], note=f"[yellow]{_plain(note)}[/]")
        else:
            console.print(f"[yellow]{_plain(note if shot is None else f'{stage} · {note}')}[/]")


def print_summary(summary: RunSummary) -> None:
    """The closing lines of `film make`."""
    film, wall = summary.film_seconds, summary.wall_seconds
    head = f"[bold green]done[/] in {wall:.1f} s"
    if film:
        head += f": {film:.1f} s of film"
        if summary.film_made:  # a film taken from the cache says nothing about speed
            head += f" ({film / max(wall, 1e-6):.1f}× realtime)"
    if summary.loudness_lufs is not None:
        head += f", {summary.loudness_lufs:.1f} LUFS"
    console.print(head)
    console.print(f"jobs (per shot and stage, plus script and stitch): {summary.computed} computed, "
                  f"{summary.cached} cached")
    busy = ", ".join(f"{k} {v:.1f}s" for k, v in summary.stage_work_seconds.items() if v)
    if busy:
        console.print(f"stage work: {busy}")
    for name, path in summary.outputs.items():
        console.print(f"  {name:<14} {path}")
    spend = summary.spend
    if spend.total_usd:
        by_stage = ", ".join(f"{k} ${v:.4f}" for k, v in spend.by_stage.items())
        budget = f" of a ${spend.budget_usd:.2f} budget" if spend.budget_usd is not None else ""
        console.print(f"spent: ${spend.total_usd:.4f}{budget} ({by_stage}); per shot in manifest.json")
    for note in summary.notes:
        console.print(f"[yellow]note:[/] {note}")
    for refusal in summary.refused:
        console.print(f"[bold red]refused:[/] shot {refusal.shot or 0:02d} {refusal.stage}: {_plain(refusal.reason)}")
    if summary.refused:
        console.print("[bold]fix:[/] reword those shots' prompts or narration in screenplay.yaml and run again; "
                      "the film above was made without them")


def print_status(film: Mapping[str, str], rows: Sequence[tuple[str, Mapping[str, str]]],
                 notes: Sequence[str] = ()) -> None:
    """The whole-film stages, then a table of the per-shot stages, then any notes."""
    colour = {"cached": "green", "stale": "yellow", "missing": "red", "waiting": "dim", "damaged": "bold red"}
    out = Console()
    for stage, state in film.items():
        out.print(f"{stage:<8} [{colour.get(state, 'white')}]{state}[/]")
    if rows:
        out.print(_status_table(rows, colour))
    for note in notes:
        out.print(f"[yellow]note:[/] {note}")


def _status_table(rows: Sequence[tuple[str, Mapping[str, str]]], colour: dict[str, str]) -> Table:
    columns = list(rows[0][1])
    table = Table(title="per shot")
    table.add_column("shot")
    for column in columns:
        table.add_column(column)
    for label, cells in rows:
        table.add_row(label, *(f"[{colour.get(cells[c], 'white')}]{cells[c]}[/]" for c in columns))
    return table


def print_backends(rows: list[tuple[str, str, str, list[str]]]) -> None:
    """A table of every registered backend and whether it can run here."""
    table = Table(title="backends")
    for column in ("stage", "backend", "module", "can run here"):
        table.add_column(column)
    for stage, name, target, problems in rows:
        table.add_row(stage, name, target, "[green]yes[/]" if not problems else f"[red]no[/]: {'; '.join(problems)}")
    Console().print(table)


def _plain(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def print_estimate(estimate: dict[str, Any], budget: float | None) -> None:
    """The expected cost of a run, per stage, against the budget if one was given."""
    console.print(f"estimate for '{estimate['project']}': {estimate['shots']} shots ({estimate['source']})")
    if not estimate["lines"]:
        console.print("nothing to pay for: the work to do runs on free backends or is cached")
    for stage, usd in estimate["by_stage"].items():
        paid = [line for line in estimate["lines"] if line["stage"] == stage]
        units = ", ".join(f"{sum(line['units'] for line in paid if line['item'] == item):g} × {item}"
                          for item in dict.fromkeys(line["item"] for line in paid))
        console.print(f"  {stage:<10} ${usd:>9.4f}  ({units})")
    console.print(f"[bold]total ${estimate['total_usd']:.4f}[/]" +
                  (f" against a budget of ${budget:.2f}" + (" [red](over)[/]" if estimate["total_usd"] > budget else "")
                   if budget is not None else ""))


def print_findings(verified: Any) -> None:
    """`film verify`'s table of damaged files (in the store, or published in the out folder) and what --repair
    did, or that all is sound."""
    out, findings = Console(), verified.findings
    if not findings:
        out.print(f"[green]ok[/]: {verified.checked} stored results checked, every file sound")
        return
    out.print(f"store: {verified.store_root}\nout folder: {verified.out_dir}")
    repaired = any(f.action for f in findings)
    table = Table(title=f"{len(findings)} damaged of {verified.checked} results checked")
    table.add_column("what", no_wrap=True)
    table.add_column("file", no_wrap=True)
    for column in ("problem", *(["repair"] if repaired else [])):
        table.add_column(column)
    for f in findings:
        table.add_row(f.what, _plain(Path(f.file).name), _plain(f.problem), *([_plain(f.action)] if repaired else []))
    out.print(table)


def print_collected(found: Any, notes: Sequence[str], dry_run: bool) -> None:
    """What `film gc` removed (or would remove) and how much space that frees."""
    verb = "would remove" if dry_run else "removed"
    Console().print(f"{verb} {found.artifacts} results ({found.files} files) and {found.segments} stitch segment "
                    f"files: {found.bytes / 1e6:.1f} MB {'to free' if dry_run else 'freed'}")
    for note in notes:
        Console().print(f"[yellow]note:[/] {note}")
