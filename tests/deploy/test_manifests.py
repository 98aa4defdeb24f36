"""Kubernetes manifests: valid against the API schemas, and saying what we mean.

Schema validity comes from ``kubernetes_validate`` (offline schemas, strict: an
unknown or misspelt field is an error). The rest reads the YAML and checks the
properties the deployment depends on: the night's schedule, one bot replica,
locked-down pods, secrets only by reference to the one Secret, and environment
variables that the code really reads.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import latest_version

from superbrain_core.analyzer import nightly
from superbrain_core.logs import redact_text
from superbrain_core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
SRC = ROOT / "src" / "superbrain_core"
NAMESPACE = "super-brain"
SECRET = "superbrain-secrets"
CONFIG = "superbrain-config"
SECRET_EXAMPLE = K8S / "secret.example.yaml"
KUSTOMIZATION = K8S / "kustomization.yaml"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p != KUSTOMIZATION)
#: The version the issue names, and the newest the installed schemas know.
K8S_VERSIONS = sorted({"1.33.0", latest_version()})
UID = 10001
RBAC_KINDS = {"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"}
#: An obvious placeholder: empty, or a description in angle brackets.
PLACEHOLDER = re.compile(r"|<[^<>]+>")


def load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def resources() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in load(path)]


def one(kind: str, name: str, docs: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    found = [
        d
        for d in (resources() if docs is None else docs)
        if d["kind"] == kind and d["metadata"]["name"] == name
    ]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def cronjob() -> dict[str, Any]:
    return one("CronJob", "batch-analyzer")


def deployment() -> dict[str, Any]:
    return one("Deployment", "superbrain-bot")


def pod_specs(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] == "CronJob":
            yield doc["metadata"]["name"], doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        elif doc["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]
        elif doc["kind"] == "Pod":
            yield doc["metadata"]["name"], doc["spec"]


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def env_entries(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for owner, spec in pod_specs(docs):
        for container in containers(spec):
            for entry in container.get("env", []):
                yield f"{owner}/{container['name']}", entry


def example_secret() -> dict[str, str]:
    (doc,) = load(SECRET_EXAMPLE)
    assert doc["kind"] == "Secret" and doc["metadata"]["name"] == SECRET
    assert "data" not in doc, "the example uses readable stringData only"
    values = doc["stringData"]
    assert isinstance(values, dict)
    return values


def kustomization() -> dict[str, Any]:
    (doc,) = load(KUSTOMIZATION)
    return doc


# -- schema validity -------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_manifest_is_valid_kubernetes(path: Path, version: str) -> None:
    docs = load(path)
    assert docs, f"{path.name} holds no resource"
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_strict_validation_rejects_a_misspelt_field() -> None:
    """The schema check above catches typos, not only missing required fields."""
    doc = cronjob()
    doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["securityContex"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, latest_version(), strict=True)


def test_every_resource_is_in_the_namespace() -> None:
    for doc in [*resources()]:
        if doc["kind"] == "Namespace":
            assert doc["metadata"]["name"] == NAMESPACE
        else:
            assert doc["metadata"].get("namespace") == NAMESPACE, doc["metadata"]["name"]


# -- the nightly CronJob ---------------------------------------------------------


def test_cronjob_runs_at_three_moscow_time_one_at_a_time() -> None:
    spec = cronjob()["spec"]
    assert spec["schedule"] == "0 3 * * *"
    assert spec["timeZone"] == "Europe/Moscow"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert 0 < spec["startingDeadlineSeconds"] <= 4 * 3600
    assert spec["successfulJobsHistoryLimit"] >= 1
    assert spec["failedJobsHistoryLimit"] >= 1


def test_cronjob_runs_are_bounded() -> None:
    job = cronjob()["spec"]["jobTemplate"]["spec"]
    # Started at 03:00, a run must be over before the owner's morning.
    assert 0 < job["activeDeadlineSeconds"] <= 4 * 3600
    assert 0 <= job["backoffLimit"] <= 3
    assert job["ttlSecondsAfterFinished"] > 0
    assert job["template"]["spec"]["restartPolicy"] == "Never"


def test_cronjob_does_not_retry_what_a_retry_cannot_fix() -> None:
    """2 (configuration), 3 (some quarantined), 4 (digest undelivered) and 75 (run lock
    held) fail the Job at once; only 1 (storage) and crashes are retried."""
    job = cronjob()["spec"]["jobTemplate"]["spec"]
    (container,) = job["template"]["spec"]["containers"]
    fail_now = [
        rule["onExitCodes"]
        for rule in job["podFailurePolicy"]["rules"]
        if rule["action"] == "FailJob" and "onExitCodes" in rule
    ]
    assert len(fail_now) == 1
    assert fail_now[0]["operator"] == "In"
    assert fail_now[0]["containerName"] == container["name"]
    assert set(fail_now[0]["values"]) == {2, 3, 4, 75}
    codes = {nightly.EXIT_CONFIG_ERROR, nightly.EXIT_SOME_FAILED, nightly.EXIT_NOT_DELIVERED}
    assert set(fail_now[0]["values"]) == codes | {nightly.EXIT_LOCKED}
    assert nightly.EXIT_STORAGE_ERROR not in fail_now[0]["values"], "storage errors are retried"


def test_cronjob_runs_the_nightly_image() -> None:
    (container,) = cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "superbrain-batch"
    assert "command" not in container and "args" not in container, "the image's ENTRYPOINT runs"


def test_cronjob_stops_gracefully_and_names_the_lock_holder_after_the_job() -> None:
    """SIGTERM gives the run time to release claims and the lock; a retried pod of the
    same Job then takes over a lease its killed predecessor left."""
    pod = cronjob()["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert 30 <= pod["terminationGracePeriodSeconds"] <= 120
    (container,) = pod["containers"]
    holder = {e["name"]: e for e in container["env"]}["SUPERBRAIN_RUN_HOLDER"]
    field = holder["valueFrom"]["fieldRef"]["fieldPath"]
    assert field == "metadata.labels['batch.kubernetes.io/job-name']"


# -- the bot ---------------------------------------------------------------------


def test_bot_is_one_replica_replaced_not_rolled() -> None:
    spec = deployment()["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}


def test_bot_probes_hit_the_health_endpoints_on_the_listen_port() -> None:
    (container,) = deployment()["spec"]["template"]["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    listen = next(e["value"] for e in container["env"] if e["name"] == "SUPERBRAIN_LISTEN")
    assert listen == "0.0.0.0:8080"
    assert ports.get("http") == 8080

    def target(probe: str) -> tuple[str, int]:
        get = container[probe]["httpGet"]
        port = get["port"]
        return get["path"], ports[port] if isinstance(port, str) else port

    assert target("livenessProbe") == ("/healthz", 8080)
    assert target("readinessProbe") == ("/readyz", 8080)
    assert target("startupProbe") == ("/healthz", 8080)
    source = (SRC / "bot" / "server.py").read_text()
    assert 'add_get("/healthz"' in source and 'add_get("/readyz"' in source


def test_bot_service_reaches_the_bot() -> None:
    service = one("Service", "superbrain-bot")
    template = deployment()["spec"]["template"]
    labels = template["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment()["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (port,) = service["spec"]["ports"]
    (container,) = template["spec"]["containers"]
    assert port["targetPort"] in {p["name"] for p in container["ports"]}


def test_bot_keeps_its_spool_on_a_claim() -> None:
    """The spool holds updates while storage is down: an emptyDir would lose them."""
    spec = deployment()["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    (container,) = spec["containers"]
    data = next(m for m in container["volumeMounts"] if m["mountPath"] == "/data")
    claim = volumes[data["name"]]["persistentVolumeClaim"]["claimName"]
    one("PersistentVolumeClaim", claim)


# -- pod security ----------------------------------------------------------------


def test_there_are_two_workloads() -> None:
    assert sorted(name for name, _ in pod_specs(resources())) == [
        "batch-analyzer",
        "superbrain-bot",
    ]


@pytest.mark.parametrize("workload", ["batch-analyzer", "superbrain-bot"])
def test_pods_are_locked_down(workload: str) -> None:
    spec = dict(pod_specs(resources()))[workload]
    assert spec["serviceAccountName"] == "superbrain"
    assert spec["automountServiceAccountToken"] is False
    for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
        assert not spec.get(forbidden), forbidden
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] == UID
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in containers(spec):
        ctx = container["securityContext"]
        name = container["name"]
        assert ctx["runAsNonRoot"] is True, name
        assert ctx.get("runAsUser", UID) == UID, name
        assert ctx["readOnlyRootFilesystem"] is True, name
        assert ctx["allowPrivilegeEscalation"] is False, name
        assert ctx.get("privileged", False) is False, name
        assert ctx["capabilities"]["drop"] == ["ALL"], name
        assert not ctx["capabilities"].get("add"), name
        assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}, name
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= container["resources"][kind].keys(), (name, kind)


@pytest.mark.parametrize("workload", ["batch-analyzer", "superbrain-bot"])
def test_the_only_writable_paths_are_mounted_volumes(workload: str) -> None:
    """HOME and TMPDIR point at /tmp and the data dir at /data (see the Dockerfiles)."""
    spec = dict(pod_specs(resources()))[workload]
    volumes = {v["name"]: v for v in spec["volumes"]}
    for container in containers(spec):
        mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
        assert "emptyDir" in mounts["/tmp"], "/tmp is an emptyDir"
        assert "/data" in mounts
        assert all(not m.get("readOnly") for m in container["volumeMounts"])


def test_service_account_has_no_rights() -> None:
    account = one("ServiceAccount", "superbrain")
    assert account["automountServiceAccountToken"] is False
    kinds = {doc["kind"] for doc in resources()}
    assert not kinds & RBAC_KINDS, "nothing binds a role to the service account"


# -- secrets and environment -----------------------------------------------------


def test_example_secret_holds_no_values() -> None:
    for key, value in example_secret().items():
        assert isinstance(value, str), key
        assert PLACEHOLDER.fullmatch(value), f"{key}: not empty and not an <obvious placeholder>"
        assert redact_text(value) == value, f"{key}: looks like a real credential"


def test_example_secret_is_never_applied() -> None:
    """Applying placeholders would overwrite the real Secret created by hand."""
    listed = kustomization()["resources"]
    assert SECRET_EXAMPLE.name not in listed
    applied = [doc for name in listed for doc in load(K8S / name)]
    assert all(doc["kind"] != "Secret" for doc in applied)


def test_secrets_come_only_from_the_one_secret_by_reference() -> None:
    keys = example_secret().keys()
    used: set[str] = set()
    for where, entry in env_entries(resources()):
        source = entry.get("valueFrom", {})
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            assert ref["name"] == SECRET, where
            assert ref["key"] in keys, f"{where}: key {ref['key']} is not in the example"
            assert ref["key"] == entry["name"], f"{where}: key and variable differ"
            used.add(ref["key"])
        elif "fieldRef" in source:
            # The downward API: facts about the pod itself, never a credential.
            assert source["fieldRef"]["fieldPath"].startswith("metadata."), where
        else:
            assert "value" in entry or "configMapKeyRef" in source, where
            value = entry.get("value", "")
            assert redact_text(value) == value, f"{where}: a credential written inline"
    assert used == set(keys), f"keys in the example no workload reads: {set(keys) - used}"
    for _owner, spec in pod_specs(resources()):
        for container in containers(spec):
            for source in container.get("envFrom", []):
                assert "secretRef" not in source, (
                    "secrets by key, so each workload gets only its own"
                )
                assert source["configMapRef"]["name"] == CONFIG


def test_the_bot_does_not_get_classifier_keys() -> None:
    names = {e["name"] for _, e in env_entries([deployment()])}
    assert not names & {"OPENAI_API_KEY", "N8N_WEBHOOK_TOKEN", "N8N_WEBHOOK_BASE"}


def variables_read_by_the_code() -> set[str]:
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        found |= set(re.findall(r"""["']([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)["']""", path.read_text()))
    return found


def test_every_variable_in_the_manifests_is_read_by_the_code() -> None:
    named = {e["name"] for _, e in env_entries(resources())}
    named |= set(one("ConfigMap", CONFIG)["data"])
    named |= set(example_secret())
    unknown = sorted(named - variables_read_by_the_code())
    assert not unknown, f"set in k8s/ but read nowhere in src/: {unknown}"


def test_config_map_values_are_valid_settings() -> None:
    """The ConfigMap goes through the same validation as the environment at start-up."""
    data = one("ConfigMap", CONFIG)["data"]
    assert all(isinstance(v, str) for v in data.values()), "ConfigMap values are strings"
    settings = Settings.from_env(env=data)
    assert str(settings.data_dir) == "/data"
    night = nightly.NightlySettings.from_env(env=data)
    assert night.classifier == data["SUPERBRAIN_CLASSIFIER"]
    assert night.max_attempts == int(data["SUPERBRAIN_MAX_ATTEMPTS"])
    assert night.concurrency == int(data["SUPERBRAIN_BATCH_CONCURRENCY"])
    assert data["SUPERBRAIN_TIMEZONE"] == "Europe/Moscow"
    assert data["SUPERBRAIN_CLASSIFIER"] in {"rules", "webhook", "openai"}
    assert float(data["SUPERBRAIN_CLASSIFIER_TIMEOUT"]) > 0


# -- kustomization ---------------------------------------------------------------


def test_kustomization_lists_every_manifest_but_the_example_secret() -> None:
    listed = kustomization()["resources"]
    assert len(listed) == len(set(listed))
    expected = {p.name for p in MANIFESTS} - {SECRET_EXAMPLE.name}
    assert set(listed) == expected


def test_kustomization_owns_every_image_reference() -> None:
    doc = kustomization()
    assert doc["namespace"] == NAMESPACE
    images = {i["name"]: i for i in doc["images"]}
    for _owner, spec in pod_specs(resources()):
        for container in containers(spec):
            assert container["image"] in images, container["image"]
            assert ":" not in container["image"], "the tag is set in kustomization.yaml only"
    for image in images.values():
        assert image["newName"].startswith("ghcr.io/")
        assert image["newTag"]


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its built-in kustomize) is not installed")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [d for d in yaml.safe_load_all(result.stdout) if d is not None]


def test_rendered_kustomization_is_valid_and_complete(rendered: list[dict[str, Any]]) -> None:
    for doc in rendered:
        kubernetes_validate.validate(doc, latest_version(), strict=True)
        assert doc["kind"] != "Secret", "the kustomization must not carry the Secret"
    assert sorted((d["kind"], d["metadata"]["name"]) for d in rendered) == sorted(
        (d["kind"], d["metadata"]["name"]) for d in resources() if d["kind"] != "Secret"
    )
    images = {c["image"] for _, spec in pod_specs(rendered) for c in containers(spec)}
    assert images == {f"{i['newName']}:{i['newTag']}" for i in kustomization()["images"]}
