"""``superbrain eval``: the corpus loads, the figures are right, floors set the exit code.

A classifier that answers from the labels themselves must score 100%; one that
files everything as a note must score exactly what the counts say; the OpenAI
classifier is run for real against an OpenAI-compatible server on loopback that
answers from the corpus labels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import anyio
import pytest

from superbrain_core.analyzer.classify.schema import Classification, ClassifierInput, ItemType
from superbrain_core.analyzer.evaluation import (
    CorpusItem,
    evaluate,
    load_corpus,
    same,
    select,
)
from superbrain_core.errors import InputError
from tests.acceptance.loopback import _serve
from tests.acceptance.test_cli import run

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "corpus"
MSK = ZoneInfo("Europe/Moscow")


def _labels() -> dict[str, dict[str, Any]]:
    return {i.messages[0].text: dict(i.expect) for i in load_corpus(CORPUS)}


def _verdict(expect: dict[str, Any], name: str) -> Classification:
    known = {k: v for k, v in expect.items() if k in Classification.__annotations__}
    return Classification.from_json(
        {**known, "confidence": 0.99, "classifier": name, "classifier_version": "1"}
    )


class Oracle:
    """Answers every item with its own label: the scorer must give 100%."""

    name = "oracle"
    version = "1"

    def __init__(self) -> None:
        self.labels = _labels()

    async def classify(self, item: ClassifierInput) -> Classification:
        return _verdict(self.labels[item.text or ""], self.name)

    async def aclose(self) -> None:
        return None


class AlwaysNote:
    name = "notes"
    version = "1"

    async def classify(self, item: ClassifierInput) -> Classification:
        return Classification(ItemType.NOTE, 0.9, self.name, self.version)

    async def aclose(self) -> None:
        return None


def test_the_corpus_is_big_and_has_an_untuned_slice() -> None:
    items = load_corpus(CORPUS)
    messages = [i for i in items if not i.is_chain]
    chains = [i for i in items if i.is_chain]
    assert len(messages) >= 400 and len(chains) >= 30
    holdout = select(items, "holdout")
    assert 0.15 * len(items) < len(holdout) < 0.4 * len(items)
    assert {i.table for i in holdout} >= {"events", "tasks", "notes", "expenses", "links"}


def test_labels_scored_against_themselves_are_all_right() -> None:
    items = [i for i in load_corpus(CORPUS) if not i.is_chain]
    report = anyio.run(evaluate, Oracle(), items, MSK)
    assert report.table_accuracy == 1.0
    for name, (accuracy, _) in report.per_field().items():
        assert accuracy == 1.0, name


def test_a_classifier_that_files_everything_as_a_note_gets_what_the_counts_say() -> None:
    items = load_corpus(CORPUS)
    report = anyio.run(evaluate, AlwaysNote(), items, MSK)
    notes = sum(1 for i in items if i.table == "notes")
    assert report.table_accuracy == pytest.approx(notes / len(items))
    precision, recall, support = report.per_table()["notes"]
    assert (precision, recall, support) == (pytest.approx(notes / len(items)), 1.0, notes)
    assert report.per_table()["events"][1] == 0.0
    assert report.confusion()[("events", "notes")] == sum(i.table == "events" for i in items)
    assert report.worst(3) and all(o.misses for o in report.worst(3))


@pytest.mark.parametrize(
    ("field", "expected", "actual", "right"),
    [
        ("starts_at", "2026-12-02T11:00:00+03:00", "2026-12-02T08:00:30+00:00", True),
        ("starts_at", "2026-12-02T11:00:00+03:00", "2026-12-02T11:00:00+00:00", False),
        ("amount", "1500", "1500.00", True),
        ("amount", "1500", None, False),
        ("people", ["Пётр Иванович"], ("петр иванович",), True),
        ("people", ["Марина"], ("Марине",), False),
        ("url", "https://docs.python.org/3/library", "https://DOCS.python.org/3/library/", True),
        ("phone", "+79161234567", "+7 916 123-45-67", True),
        ("recurrence", "FREQ=WEEKLY;BYDAY=TU", "RRULE:BYDAY=TU;FREQ=WEEKLY", True),
        ("recurrence", "FREQ=WEEKLY;BYDAY=TU", None, False),
        ("currency", "RUB", "rub", True),
    ],
)
def test_fields_are_compared_the_way_the_owner_reads_them(
    field: str, expected: Any, actual: Any, right: bool
) -> None:
    assert same(field, expected, actual) is right


def test_a_broken_corpus_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": "a", "text": "x", "date": "2026-11-24T10:00:00+03:00",'
        ' "expect": {"type": "note"}}\n{not json\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"bad.jsonl:2: invalid JSON"):
        load_corpus(bad)
    bad.write_text(
        '{"id": "a", "text": "x", "date": "2026-11-24T10:00:00", "expect": {"type": "note"}}\n',
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="no UTC offset"):
        load_corpus(bad)
    with pytest.raises(InputError, match="no corpus here"):
        load_corpus(tmp_path / "missing")


def test_eval_prints_the_tables_and_floors_set_the_exit_code(tmp_path: Path) -> None:
    args = ("eval", "--corpus", str(CORPUS), "--split", "holdout", "--worst", "3")
    ok = run(tmp_path, *args, "--min-table", "10", "--min-fields", "5")
    assert ok.returncode == 0, ok.stderr
    for heading in ("Per table", "Per field", "Confusion", "Worst 3 misses", "holdout", "msg/s"):
        assert heading in ok.stdout
    low = run(tmp_path, *args, "--min-table", "99.9")
    assert low.returncode == 1
    assert "below the floor on holdout: tables" in low.stderr


def test_eval_runs_the_openai_classifier_against_a_compatible_server(tmp_path: Path) -> None:
    labels = _labels()
    asked: list[str] = []

    def handle(path: str, body: bytes) -> tuple[int, bytes]:
        request = json.loads(body)
        user = json.loads(request["messages"][-1]["content"])
        text = user["message"]["text"]
        asked.append(text)
        expect = {k: v for k, v in labels[text].items() if k in Classification.__annotations__}
        answer = {**expect, "confidence": 0.95}
        reply = {"choices": [{"message": {"role": "assistant", "content": json.dumps(answer)}}]}
        return 200, json.dumps(reply).encode()

    for url in _serve(handle):
        result = run(
            tmp_path,
            "eval",
            "--classifier",
            "openai",
            "--corpus",
            str(CORPUS / "messages.jsonl"),
            "--split",
            "holdout",
            "--min-table",
            "100",
            env={"OPENAI_BASE_URL": f"{url}/v1", "OPENAI_API_KEY": "sk-test"},
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "openai" in result.stdout and "100.0%" in result.stdout
    holdout = [i for i in load_corpus(CORPUS / "messages.jsonl") if i.split == "holdout"]
    assert len(asked) == len(holdout)


def test_corpus_items_become_classifier_inputs_with_their_chain() -> None:
    chain = next(i for i in load_corpus(CORPUS) if i.is_chain and len(i.messages) >= 3)
    assert isinstance(chain, CorpusItem)
    item = chain.to_input(MSK)
    assert item.text == chain.messages[0].text
    assert len(item.clarifications) == len(chain.messages) - 1
    assert [m.from_bot for m in item.chain] == [m.from_bot for m in chain.messages]
