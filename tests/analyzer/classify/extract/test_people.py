"""Names in any case come out in the nominative; pymorphy3 loads only when used."""

from __future__ import annotations

import subprocess
import sys

import pytest

from superbrain_core.analyzer.classify.extract.people import find_people, morph, nominative


def names(text: str, *, loose: bool = False) -> list[str]:
    return [p.name for p in find_people(text, loose=loose)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("обед с Татьяной", ["Татьяна"]),
        ("написать Косте", ["Костя"]),  # Коста and Костя both fit: the -я diminutive wins
        ("подарок коле", ["Коля"]),
        ("созвон с Андреем Викторовичем", ["Андрей Викторович"]),
        ("позвонить Ирине Павловне", ["Ирина Павловна"]),
        ("встреча с сергеем петровичем", ["Сергей Петрович"]),
        ("с михаилом палычем обсудить", ["Михаил Палыч"]),
        ("забрать зарядку у алены", ["Алёна"]),  # ё restored from the dictionary
        ("посидеть с артемом", ["Артём"]),
        ("у вити сегодня днюха", ["Витя"]),
        ("занести ключи андрюхе", ["Андрюха"]),
        ("взять у семена перфоратор", ["Семён"]),  # семена is seeds, but "у" wants a person
        ("кино с Олей и Дашей", ["Оля", "Даша"]),
        ("позвонить бабушке", ["Бабушка"]),
        ("заехать к тёте гале", ["Тётя Галя"]),
        ("встреча с Анной Смирновой", ["Анна Смирнова"]),
        ("call with Bob", ["Bob"]),
        ("dinner w/ nina & leo", ["Nina", "Leo"]),
        ("drinks at sam's", ["Sam"]),
        ("remind me to call dad", ["Dad"]),
    ],
)
def test_names_in_the_nominative(text: str, expected: list[str]) -> None:
    assert names(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "купить хлеб и молоко",
        "родители приедут в субботу",  # a collective, not a person
        "позвонить юристу",  # a role
        "вебинар по маркетингу",  # pymorphy guesses a name for unknown words: not taken
        "интересно получится ли",
        "sync with the team",
        "paid for dinner",
    ],
)
def test_no_people(text: str) -> None:
    assert names(text) == []


def test_a_contact_line_takes_any_name_reading() -> None:
    assert names("няня гуля +7 900 000 00 00", loose=True)[:1] == ["Гуля"]
    assert names("electrician tom", loose=True) == ["Tom"]


def test_each_person_once_in_order_with_spans() -> None:
    text = "Маше и маше"
    found = find_people(text)
    assert [p.name for p in found] == ["Маша"]
    assert text[found[0].start : found[0].end] == "Маше"


def test_nominative_of_one_word() -> None:
    assert nominative("косте", "datv") == "Костя"
    assert nominative("Петром") == "Пётр"
    assert nominative("маме") == "Мама"
    assert nominative("стол") is None


def test_the_analyser_is_loaded_once() -> None:
    assert morph() is morph()


def test_importing_the_rules_does_not_load_pymorphy3() -> None:
    code = (
        "import sys\n"
        "import superbrain_core.analyzer.classify.rules\n"
        "import superbrain_core.analyzer.classify.extract.people\n"
        "assert 'pymorphy3' not in sys.modules, 'pymorphy3 imported eagerly'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_cli_help_imports_neither_pymorphy3_nor_the_rules() -> None:
    code = (
        "import sys\n"
        "from superbrain_core.cli import main\n"
        "sys.argv = ['superbrain', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = [m for m in sys.modules if m.startswith(('pymorphy3', 'number_parser'))]\n"
        "assert not loaded, loaded\n"
        "assert 'superbrain_core.analyzer.classify.rules' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
