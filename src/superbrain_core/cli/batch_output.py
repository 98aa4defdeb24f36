"""How ``superbrain batch`` and ``nightly`` show a run: the progress bar and the report."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from superbrain_core.cli.boundary import err_console

console = Console()


def batch_progress() -> Progress:
    return Progress(
        TextColumn("[bold]batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


def print_report(report: Any) -> None:
    table = Table("", "count", title=f"Batch run {report.run_id or '(dry run)'}")
    for name, value in report.counts().items():
        if name != "routed":
            table.add_row(name, str(value))
    for dest, count in sorted(report.routed.items()):
        table.add_row(f"→ {dest}", str(count))
    console.print(table)
    if report.dry_run and report.proposals:
        changes = Table("message", "now", "would go to", "confidence", title="Dry run")
        for p in report.proposals:
            changes.add_row(
                f"{p.chat_id}:{p.message_id}",
                p.current or "—",
                p.proposed,
                f"{p.confidence:.2f}",
            )
        console.print(changes)
        if report.changes > len(report.proposals):
            console.print(f"…and {report.changes - len(report.proposals)} more changes")
    for f in report.failures:
        state = "quarantined" if f.quarantined else f"attempt {f.attempts}, will retry"
        err_console.print(
            f"[yellow]failed[/] {f.chat_id}:{f.message_id} ({state}): {f.error}", highlight=False
        )
    unlisted = report.failed + report.quarantined - len(report.failures)
    if unlisted > 0:
        err_console.print(f"[yellow]…and {unlisted} more failed messages[/]")
    console.print(report.digest, highlight=False)
