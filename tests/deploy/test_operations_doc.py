"""docs/operations.md: every command it tells an operator to type exists as written.

A runbook is read at the worst moment; a renamed option found then costs more
than a failing test now. Each ``superbrain ...`` line in a shell block is walked
through the real Typer app (commands, sub-commands, options), and the
Kubernetes names it uses are checked against the manifests.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from superbrain_core.cli.commands import app

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs/operations.md"


def shell_lines(text: str) -> list[str]:
    """Lines of ```sh blocks, continuation lines joined, comments dropped."""
    lines: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def superbrain_argvs(text: str) -> list[list[str]]:
    argvs = []
    for line in shell_lines(text):
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        parts: list[list[str]] = [[]]
        for token in lexer:
            if set(token) <= set(";&|"):
                parts.append([])
            else:
                parts[-1].append(token)
        for words in parts:
            while words and re.fullmatch(r"[A-Z_]+=.*", words[0]):
                words.pop(0)  # VAR=value prefixes
            if words and words[0] == "superbrain":
                argvs.append(words[1:])
    return argvs


def check(argv: list[str]) -> tuple[str, ...]:
    """Walk ``argv`` through the CLI the way click would; fail on anything unknown.

    Returns the command path, e.g. ``("db", "migrate")``.
    """
    command: Any = typer.main.get_command(app)  # typer's own (vendored) click command
    path: list[str] = []
    args = list(argv)
    while args:
        word = args.pop(0)
        if word.startswith("--"):
            name = word.split("=", 1)[0]
            params = {o: p for p in command.params for o in p.opts}
            assert name in params, f"`{command.name}` has no option {name}"
            param = params[name]
            if param.param_type_name == "option" and not param.is_flag and "=" not in word:
                assert args, f"{name} needs a value"
                args.pop(0)
            continue
        if hasattr(command, "commands"):
            assert word in command.commands, f"`{command.name}` has no command {word!r}"
            command = command.commands[word]
            path.append(word)
            continue
        arguments = [p for p in command.params if p.param_type_name == "argument"]
        assert arguments, f"`{command.name}` takes no argument, got {word!r}"
    assert not hasattr(command, "commands"), f"`{command.name}` needs a sub-command"
    return tuple(path)


def test_the_runbook_uses_the_commands_that_matter() -> None:
    used = {check(argv) for argv in superbrain_argvs(DOC.read_text())}
    for needed in [("db", "migrate"), ("db", "status"), ("stats",), ("batch",), ("explain",)]:
        assert needed in used, needed


@pytest.mark.parametrize("argv", superbrain_argvs(DOC.read_text()), ids=lambda argv: " ".join(argv))
def test_every_superbrain_command_in_the_runbook_exists(argv: list[str]) -> None:
    check(argv)


def test_the_checker_refuses_what_does_not_exist() -> None:
    with pytest.raises(AssertionError, match="no option --retry"):
        check(["batch", "--retry"])
    with pytest.raises(AssertionError, match="no command 'upgrade'"):
        check(["db", "upgrade"])
    with pytest.raises(AssertionError, match="needs a sub-command"):
        check(["db"])


def test_kubernetes_names_in_the_runbook_exist() -> None:
    text = DOC.read_text()
    docs = [
        doc
        for path in (ROOT / "k8s").glob("*.yaml")
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc["kind"] != "Kustomization"
    ]
    names = {(d["kind"].lower(), d["metadata"]["name"]) for d in docs}
    for kind, name in re.findall(r"\b(cronjob|deployment|service|secret)/([a-z0-9-]+)", text):
        assert (kind, name) in names, f"{kind}/{name}"
    for namespace in re.findall(r"kubectl -n (\S+)", text):
        assert namespace == "super-brain"
    for name in re.findall(r"secret generic (\S+)", text):
        assert name == "superbrain-secrets"
    secret_keys = set(yaml.safe_load((ROOT / "k8s/secret.example.yaml").read_text())["stringData"])
    for key in re.findall(r"--from-literal=([A-Z_]+)=", text):
        assert key in secret_keys, key
