"""The web page's optional kustomize component (k8s/web/): valid, locked down like the
bot, secrets only by reference, and rendered together with the rest when enabled."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from superbrain_core.web.app import parse_listen
from tests.deploy.test_manifests import (
    K8S,
    K8S_VERSIONS,
    NAMESPACE,
    SECRET,
    containers,
    deployment,
    env_entries,
    example_secret,
    kustomization,
    load,
    one,
    pod_specs,
    resources,
    variables_read_by_the_code,
)

WEB = K8S / "web"
WEB_MANIFESTS = sorted(p for p in WEB.glob("*.yaml") if p.name != "kustomization.yaml")


def web_docs() -> list[dict[str, Any]]:
    return [doc for path in WEB_MANIFESTS for doc in load(path)]


def web_deployment() -> dict[str, Any]:
    return one("Deployment", "superbrain-web", web_docs())


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", WEB_MANIFESTS, ids=lambda p: p.name)
def test_web_manifest_is_valid_kubernetes(path: Path, version: str) -> None:
    for doc in load(path):
        kubernetes_validate.validate(doc, version, strict=True)
        assert doc["metadata"]["namespace"] == NAMESPACE


def test_web_is_an_optional_component_listing_its_manifests() -> None:
    component = yaml.safe_load((WEB / "kustomization.yaml").read_text())
    assert component["kind"] == "Component"
    assert set(component["resources"]) == {p.name for p in WEB_MANIFESTS}
    assert "components" not in kustomization(), "web is off unless the owner enables it"
    assert "#   - web" in (K8S / "kustomization.yaml").read_text()


def test_web_pod_is_locked_down_exactly_like_the_bot() -> None:
    bot = dict(pod_specs([deployment()]))["superbrain-bot"]
    web = dict(pod_specs(web_docs()))["superbrain-web"]
    for key in ("serviceAccountName", "automountServiceAccountToken", "securityContext"):
        assert web[key] == bot[key], key
    (bot_container,) = containers(bot)
    (web_container,) = containers(web)
    assert web_container["securityContext"] == bot_container["securityContext"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= web_container["resources"][kind].keys()
    for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
        assert not web.get(forbidden)
    volumes = {v["name"]: v for v in web["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in web_container["volumeMounts"]}
    assert "emptyDir" in mounts["/tmp"]
    claim = mounts["/data"]["persistentVolumeClaim"]["claimName"]
    one("PersistentVolumeClaim", claim, web_docs())


def test_web_runs_superbrain_web_with_probes_on_its_listen_port() -> None:
    spec = dict(pod_specs(web_docs()))["superbrain-web"]
    (container,) = containers(spec)
    assert container["command"] == ["superbrain", "web"]
    assert container["image"] in {i["name"] for i in kustomization()["images"]}
    env = {e["name"]: e for e in container["env"]}
    _, port = parse_listen(env["SUPERBRAIN_WEB_LISTEN"]["value"])
    (declared,) = container["ports"]
    assert declared["containerPort"] == port and declared["name"] == "http"
    for probe in ("startupProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    service = one("Service", "superbrain-web", web_docs())
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "superbrain-web"}
    assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_web_secrets_come_from_the_one_secret_and_the_code_reads_them() -> None:
    keys = example_secret().keys()
    read = variables_read_by_the_code()
    for where, entry in env_entries(web_docs()):
        source = entry.get("valueFrom", {})
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            assert ref["name"] == SECRET and ref["key"] in keys and ref["key"] == entry["name"]
        else:
            assert "value" in entry, where
        assert entry["name"] in read, f"{where}: {entry['name']} is read nowhere in src/"
    names = {e["name"] for _, e in env_entries(web_docs())}
    assert not names & {"TELEGRAM_BOT_TOKEN", "OPENAI_API_KEY", "N8N_WEBHOOK_TOKEN"}
    # The bot signs /web links with the same secret.
    bot_names = {e["name"] for _, e in env_entries([deployment()])}
    assert "SUPERBRAIN_WEB_SECRET" in bot_names


def test_kustomization_with_web_renders_everything(tmp_path: Path) -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its built-in kustomize) is not installed")
    # Enable it exactly as the comment in k8s/kustomization.yaml says.
    copy = tmp_path / "k8s"
    shutil.copytree(K8S, copy)
    text = (copy / "kustomization.yaml").read_text()
    enabled = text.replace("# components:\n#   - web", "components:\n  - web")
    assert enabled != text
    (copy / "kustomization.yaml").write_text(enabled)
    result = subprocess.run(
        [kubectl, "kustomize", str(copy)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    rendered = [d for d in yaml.safe_load_all(result.stdout) if d is not None]
    for doc in rendered:
        kubernetes_validate.validate(doc, latest_version(), strict=True)
    names = {(d["kind"], d["metadata"]["name"]) for d in rendered}
    expected = {(d["kind"], d["metadata"]["name"]) for d in resources() + web_docs()}
    assert names == {n for n in expected if n[0] != "Secret"}
    web = next(
        d
        for d in rendered
        if d["metadata"]["name"] == "superbrain-web" and d["kind"] == "Deployment"
    )
    (container,) = containers(web["spec"]["template"]["spec"])
    assert container["image"].startswith("ghcr.io/") and ":" in container["image"]
