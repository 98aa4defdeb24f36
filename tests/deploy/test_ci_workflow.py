"""The GitHub Actions workflow: tests as .ci/run runs them, images only after them.

GitHub cannot be run here, so these tests read the workflow and check the
promises it makes: the Postgres service and ``CI=true`` the suite depends on,
pinned actions, images built from the Dockerfiles under test, and manifests
rendered with the same names the kustomization uses.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github/workflows/ci.yml"
IMAGES = sorted(p.parent.name for p in ROOT.glob("deploy/*/Dockerfile"))


def workflow() -> dict[str, Any]:
    doc = yaml.safe_load(WORKFLOW.read_text())
    # YAML 1.1 reads the bare key `on` as True.
    doc["on"] = doc.pop(True)
    return doc


def steps(job: str) -> list[dict[str, Any]]:
    return workflow()["jobs"][job]["steps"]


def test_runs_on_pushes_to_main_and_on_pull_requests() -> None:
    on = workflow()["on"]
    assert on["push"]["branches"] == ["main"]
    assert "pull_request" in on
    assert workflow()["permissions"] == {"contents": "read"}


def test_tests_run_like_ci_run_does() -> None:
    job = workflow()["jobs"]["test"]
    postgres = job["services"]["postgres"]
    assert postgres["image"].startswith("postgres:")
    assert postgres["env"]["POSTGRES_HOST_AUTH_METHOD"] == "trust"
    assert "5432:5432" in postgres["ports"]
    assert job["env"]["CI"] == "true", "a skipped Postgres or samples test must fail CI"
    assert job["env"]["PIP_CONSTRAINT"].endswith("/deploy/constraints.txt")
    python = next(s for s in steps("test") if s.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["python-version"] == "3.11"
    assert any(s.get("run") == "make test" for s in steps("test"))
    assert "make test" in (ROOT / ".ci/run").read_text(), "the same command as .ci/run"


def test_missing_shared_samples_fail_loudly() -> None:
    """They live outside the repository; CI fetches them or says why it cannot."""
    job = workflow()["jobs"]["test"]
    fetch = next(s for s in steps("test") if s.get("with", {}).get("path") == "shared")
    assert job["env"]["SUPERBRAIN_SHARED_DIR"].endswith("/shared")
    refuse = next(s for s in steps("test") if "::error::" in s.get("run", ""))
    assert fetch["if"].replace("!=", "==") == refuse["if"], "exactly one of the two runs"
    assert "exit 1" in refuse["run"]


def test_every_action_is_pinned_to_a_commit() -> None:
    uses = [s["uses"] for job in workflow()["jobs"].values() for s in job["steps"] if "uses" in s]
    assert uses
    loose = [u for u in uses if not re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u)]
    assert not loose, loose
    text = WORKFLOW.read_text()
    for use in set(uses):
        assert re.search(re.escape(use) + r" # v\d+\.\d+\.\d+", text), f"{use}: say the version"


def test_images_are_built_only_on_main_after_the_tests() -> None:
    job = workflow()["jobs"]["images"]
    assert job["needs"] == "test"
    assert "github.event_name == 'push'" in job["if"]
    assert "github.ref == 'refs/heads/main'" in job["if"]
    assert job["permissions"] == {"contents": "read", "packages": "write"}
    assert sorted(job["strategy"]["matrix"]["image"]) == IMAGES
    build = next(
        s for s in job["steps"] if s.get("uses", "").startswith("docker/build-push-action")
    )
    assert build["with"]["file"] == "deploy/${{ matrix.image }}/Dockerfile"
    assert build["with"]["context"] == "."
    assert build["with"]["push"] is True
    assert build["with"]["tags"].endswith(":${{ github.sha }}")
    name = next(s for s in job["steps"] if s.get("id") == "name")
    assert "ghcr.io/${GITHUB_REPOSITORY_OWNER,,}/superbrain-${{ matrix.image }}" in name["run"]


def test_rendered_manifests_replace_the_kustomization_placeholders() -> None:
    """The overlay's image names must be the base's, or kustomize silently keeps the placeholders."""
    job = workflow()["jobs"]["manifests"]
    assert job["needs"] == "images"
    render = next(s for s in job["steps"] if "kubectl kustomize" in s.get("run", ""))
    base = yaml.safe_load((ROOT / "k8s/kustomization.yaml").read_text())
    for image in base["images"]:
        role = image["name"]
        assert image["newName"] == f"ghcr.io/OWNER/{role}", "the CI image repository is the role"
        assert f"- name: {image['newName']}\n" in render["run"]
        assert f"newName: ghcr.io/${{owner}}/{role}\n" in render["run"]
        assert f'grep -q "{role}:${{GITHUB_SHA}}"' in render["run"]
    assert {f"superbrain-{i}" for i in IMAGES} == {i["name"] for i in base["images"]}
