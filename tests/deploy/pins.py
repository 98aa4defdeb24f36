"""What the container images install, worked out from the project and the test venv.

The images are built with ``PIP_CONSTRAINT=deploy/constraints.txt``; a package
missing from that file would be resolved afresh on every build, so two builds of
the same commit could ship different code. This module walks the dependency
metadata installed in ``.venv`` (the versions the test suite runs against),
starting from ``pyproject.toml`` and the extras an image asks for, so the tests
can compare the constraints with the packages the image really gets.

``python -m tests.deploy.pins`` prints the runtime pins for every image, ready
to paste into ``deploy/constraints.txt``.
"""

from __future__ import annotations

import importlib.metadata as md
import re
import tomllib
from pathlib import Path

import attrs
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = ROOT / "deploy/constraints.txt"
#: The extras each image installs, keyed by its deploy/ directory.
IMAGE_EXTRAS = {"batch": ("postgres", "supabase"), "bot": ("bot", "postgres", "supabase")}
#: The images run CPython 3.11 on Linux; markers are evaluated for that target.
TARGET = {
    **default_environment(),
    "python_version": "3.11",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "os_name": "posix",
    "platform_python_implementation": "CPython",
    "implementation_name": "cpython",
}


def pyproject() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as fh:
        return tomllib.load(fh)


def _applies(req: Requirement, extras: frozenset[str]) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate({**TARGET, "extra": e}) for e in (extras or {""}))


@attrs.frozen
class Edge:
    """``parent`` (a label) requires ``requirement``."""

    parent: str
    requirement: Requirement


def runtime_closure(extras: tuple[str, ...]) -> list[Edge]:
    """Every requirement the project with ``extras`` brings in, transitively.

    Each distribution is walked once per set of extras asked of it, from the
    metadata installed in the running environment, with markers evaluated for
    the image's platform (:data:`TARGET`).
    """
    project = pyproject()["project"]
    assert isinstance(project, dict)
    stack = [Edge("superbrain-core", Requirement(r)) for r in project["dependencies"]]
    for extra in extras:
        stack += [
            Edge(f"superbrain-core[{extra}]", Requirement(r))
            for r in project["optional-dependencies"][extra]
        ]
    stack = [e for e in stack if _applies(e.requirement, frozenset())]
    edges: list[Edge] = []
    seen: set[tuple[NormalizedName, frozenset[str]]] = set()
    while stack:
        edge = stack.pop()
        req = edge.requirement
        edges.append(edge)
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        dist = md.distribution(req.name)
        for raw in dist.requires or []:
            child = Requirement(raw)
            if _applies(child, frozenset(req.extras)):
                stack.append(Edge(f"{key[0]} {dist.version}", child))
    return edges


def closure_names(extras: tuple[str, ...]) -> set[NormalizedName]:
    return {canonicalize_name(e.requirement.name) for e in runtime_closure(extras)}


def read_constraints(path: Path = CONSTRAINTS) -> dict[NormalizedName, str]:
    """``name==version`` lines of a constraints file; anything else is an error."""
    pins: dict[NormalizedName, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][A-Za-z0-9.+!-]*)", line)
        assert match, f"{path.name}:{number}: not an exact pin: {line!r}"
        name = canonicalize_name(match.group(1))
        assert name not in pins, f"{path.name}:{number}: {name} is pinned twice"
        pins[name] = match.group(2)
    return pins


def main() -> None:
    names: set[NormalizedName] = set()
    for extras in IMAGE_EXTRAS.values():
        names |= closure_names(extras)
    for name in sorted(names):
        print(f"{name}=={md.version(name)}")


if __name__ == "__main__":
    main()
