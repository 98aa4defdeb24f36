"""``superbrain eval``: how well a classifier files a labelled corpus, in tables.

Registered on the main app with one line (:mod:`superbrain_core.cli.commands`).
The figures come from :mod:`superbrain_core.analyzer.evaluation`; this module
only chooses the classifier, prints, and turns the floors into an exit code.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import anyio
import typer
from rich.console import Console
from rich.table import Table

from superbrain_core.cli.boundary import EXIT_INPUT_ERROR, err_console
from superbrain_core.settings import Settings

if TYPE_CHECKING:
    from superbrain_core.analyzer.evaluation import EvalReport

console = Console(highlight=False)

#: Where the project's own corpus lives in a checkout.
DEFAULT_CORPUS = Path("tests/corpus")


def _percent(value: float | None, option: str) -> float | None:
    """A floor given as 92 or 0.92, as a fraction."""
    if value is None:
        return None
    fraction = value / 100 if value > 1 else value
    if not 0 <= fraction <= 1:
        raise typer.BadParameter("a share between 0 and 100", param_hint=option)
    return fraction


def evaluate(
    ctx: typer.Context,
    classifier: Annotated[
        str, typer.Option(help="rules (offline), webhook or openai (configured from env).")
    ] = "rules",
    corpus: Annotated[
        Path, typer.Option(help="A corpus folder of .jsonl files, or one .jsonl file.")
    ] = DEFAULT_CORPUS,
    split: Annotated[
        str, typer.Option(help="tune, holdout (never tuned on) or all; floors apply to it.")
    ] = "all",
    min_table: Annotated[
        float | None, typer.Option(help="Exit 1 below this share (%) filed in the right table.")
    ] = None,
    min_fields: Annotated[
        float | None, typer.Option(help="Exit 1 below this share (%) of fields right.")
    ] = None,
    worst: Annotated[int, typer.Option(help="How many of the worst misses to show.")] = 10,
) -> None:
    """Score a classifier on a labelled corpus: tables, fields, chains, confusion, speed."""
    from superbrain_core.analyzer.classify.factory import make_classifier
    from superbrain_core.analyzer.evaluation import evaluate as run_evaluation
    from superbrain_core.analyzer.evaluation import load_corpus, select

    settings = ctx.find_object(Settings)
    zone = ZoneInfo(settings.timezone) if settings is not None else ZoneInfo("Europe/Moscow")
    table_floor = _percent(min_table, "--min-table")
    field_floor = _percent(min_fields, "--min-fields")
    items = load_corpus(corpus)
    chosen = select(items, split)
    if not chosen:
        err_console.print(f"[red]error:[/] the corpus at {corpus} has no {split!r} items")
        raise typer.Exit(EXIT_INPUT_ERROR)
    model = make_classifier(classifier)

    async def run() -> dict[str, EvalReport]:
        try:
            reports = {}
            for name in ("tune", "holdout"):
                part = select(items, name)
                if part and split in {name, "all"}:
                    reports[name] = await run_evaluation(model, part, zone)
            if split == "all":
                reports["all"] = await run_evaluation(model, chosen, zone)
            return reports
        finally:
            await model.aclose()

    reports = anyio.run(run)
    _summary(reports)
    report = reports[split]
    _details(report, worst)
    failed = []
    if table_floor is not None and report.table_accuracy < table_floor:
        failed.append(f"tables {report.table_accuracy:.1%} < {table_floor:.1%}")
    if field_floor is not None and report.field_accuracy < field_floor:
        failed.append(f"fields {report.field_accuracy:.1%} < {field_floor:.1%}")
    if failed:
        err_console.print(f"[red]below the floor on {split}:[/] " + "; ".join(failed))
        raise typer.Exit(EXIT_INPUT_ERROR)


def _summary(reports: Mapping[str, EvalReport]) -> None:
    table = Table("slice", "items", "right table", "fields right", "chains right", "msg/s")
    first: EvalReport | None = None
    for name, report in reports.items():
        first = first or report
        table.add_row(
            name,
            str(report.count),
            f"{report.table_accuracy:.1%}",
            f"{report.field_accuracy:.1%}",
            f"{report.chain_accuracy:.1%}",
            f"{report.per_second:,.0f}",
        )
    if first is not None:
        table.title = f"{first.classifier} {first.version}"
    console.print(table)


def _details(report: EvalReport, worst: int) -> None:
    tables = Table("table", "precision", "recall", "items", title="Per table")
    for name, (precision, recall, support) in report.per_table().items():
        tables.add_row(name, f"{precision:.1%}", f"{recall:.1%}", str(support))
    fields = Table("field", "right", "labelled", title="Per field")
    for name, (accuracy, support) in report.per_field().items():
        fields.add_row(name, f"{accuracy:.1%}", str(support))
    console.print(tables, fields)
    confusion = report.confusion()
    names = sorted({e for e, _ in confusion} | {a for _, a in confusion})
    grid = Table("expected \\ filed", *names, title="Confusion")
    for expected in names:
        grid.add_row(expected, *(str(confusion.get((expected, a), "")) for a in names))
    console.print(grid)
    misses = Table("id", "text", "expected", "actual", title=f"Worst {worst} misses")
    for o in report.worst(worst):
        text = " ⏎ ".join(m.text for m in o.item.messages)
        want = [f"table={o.item.table}"] + [
            f"{k}={e}" for k, (e, _, ok) in o.fields.items() if not ok
        ]
        got = [f"table={o.actual_table}" + (f" ({o.error})" if o.error else "")] + [
            f"{k}={a}" for k, (_, a, ok) in o.fields.items() if not ok
        ]
        misses.add_row(o.item.id, text[:80], "\n".join(want), "\n".join(got))
    console.print(misses)
