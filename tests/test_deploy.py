"""The container image, compose file and Kubernetes manifests under deploy/, checked offline.

No image can be pulled or built here and no cluster runs, so this checks what can be checked without
them: every manifest validates against the Kubernetes schemas of the newest releases
(kubernetes-validate, strict: unknown fields fail), the manifests and the compose file reference only
things that exist, the image runs exactly the Procfile's commands, and the entrypoint and health check
start and probe the real services.
"""
from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from aisle.config import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
K8S = DEPLOY / "k8s"
SERVICES = ("nlu", "actions", "rasa", "web")  # the Procfile's entries
AUTOSCALED = {"web", "rasa", "nlu"}
PYTHON = str(REPO_ROOT / ".venv/bin/python")


def load_module(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, DEPLOY / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


entrypoint = load_module("entrypoint")
healthcheck = load_module("healthcheck")


def kustomization() -> dict[str, Any]:
    return yaml.safe_load((K8S / "kustomization.yaml").read_text())


def manifests() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for name in kustomization()["resources"]:
        for doc in yaml.safe_load_all((K8S / name).read_text()):
            if doc is not None:
                docs.append((name, doc))
    return docs


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in manifests() if doc["kind"] == kind}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


# --- Kubernetes -----------------------------------------------------------------------------------------

def test_kustomization_lists_every_manifest_and_only_existing_ones() -> None:
    listed = set(kustomization()["resources"])
    present = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


def newest_kubernetes_versions(count: int) -> list[str]:
    from kubernetes_validate.utils import all_versions

    def key(version: str) -> tuple[int, ...]:
        return tuple(int(part) for part in version.split("."))

    return sorted(set(all_versions()), key=key)[-count:]  # it lists each version once per schema flavour


def test_every_manifest_validates_against_current_kubernetes_schemas() -> None:
    try:
        from kubernetes_validate import utils as kv
    except ImportError:
        pytest.skip("kubernetes-validate is not installed (locks/app.lock has it: make setup)")
    versions = newest_kubernetes_versions(3)
    assert len(versions) == 3 and tuple(map(int, versions[-1].split("."))) >= (1, 37), versions
    checked = 0
    for file, doc in manifests():
        for version in versions:
            try:
                kv.validate(doc, version, strict=True)
            except kv.ValidationError as err:
                pytest.fail(f"{file}: {doc['kind']} {doc['metadata']['name']} is invalid for Kubernetes "
                            f"{version}: {err.message} at {'/'.join(map(str, err.path))}")
            checked += 1
    # namespace, config, secret, job, 4 × (deployment, service), 3 × (hpa, pdb), network policy
    assert checked == 3 * 19


def test_strict_validation_catches_a_misspelt_field() -> None:
    """The check above can fail: a typo that Kubernetes would silently drop is refused."""
    try:
        from kubernetes_validate import utils as kv
    except ImportError:
        pytest.skip("kubernetes-validate is not installed (locks/app.lock has it: make setup)")
    deployment = by_kind("Deployment")["aisle-web"]
    container(deployment)["readinesProbe"] = container(deployment).pop("readinessProbe")
    with pytest.raises(kv.ValidationError):
        kv.validate(deployment, newest_kubernetes_versions(1)[0], strict=True)


def test_kustomize_renders_what_validates() -> None:
    """`kubectl apply -k deploy/k8s` applies kustomize's rendering, not the files: validate that too."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl is not installed: the kustomize rendering of deploy/k8s is not checked")
    try:
        from kubernetes_validate import utils as kv
    except ImportError:
        pytest.skip("kubernetes-validate is not installed (locks/app.lock has it: make setup)")
    done = subprocess.run([kubectl, "kustomize", str(K8S)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rendered = [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    assert len(rendered) == len(manifests())
    image = kustomization()["images"][0]
    for doc in rendered:
        kv.validate(doc, newest_kubernetes_versions(1)[0], strict=True)
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "aisle"
        for c in doc.get("spec", {}).get("template", {}).get("spec", {}).get("containers", []):
            assert c["image"] == f"{image['newName']}:{image['newTag']}"


def test_a_deployment_and_service_per_procfile_service_with_probes_and_resources() -> None:
    deployments, services = by_kind("Deployment"), by_kind("Service")
    assert set(deployments) == {f"aisle-{s}" for s in SERVICES}
    for service in SERVICES:
        deployment = deployments[f"aisle-{service}"]
        pod = deployment["spec"]["template"]["spec"]
        main = container(deployment)
        assert main["args"] == [service] and service in entrypoint.service_commands()
        # Kubernetes' service links would set AISLE_RASA_PORT=tcp://... and break Aisle's configuration.
        assert pod["enableServiceLinks"] is False
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert main["securityContext"]["allowPrivilegeEscalation"] is False
        resources = main["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert main[probe]["httpGet"]["port"] == "http", (service, probe)
        port = main["ports"][0]["containerPort"]
        variable, default = healthcheck.PORTS[service]
        assert port == default  # the port the service listens on by default (AISLE_*_PORT)
        # Restarts only when the process itself stops answering; traffic only when it is ready.
        assert main["startupProbe"]["httpGet"]["path"] == healthcheck.LIVE_PATH
        assert main["livenessProbe"]["httpGet"]["path"] == healthcheck.LIVE_PATH
        assert main["readinessProbe"]["httpGet"]["path"] == healthcheck.READY_PATH
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert deployment["spec"]["template"]["metadata"]["labels"].items() >= selector.items()
        svc = services[f"aisle-{service}"]
        assert svc["spec"]["selector"] == selector
        assert svc["spec"]["ports"][0]["port"] == port


def test_internal_urls_name_the_services_and_their_ports() -> None:
    config = by_kind("ConfigMap")["aisle-config"]["data"]
    services = by_kind("Service")
    for variable in ("AISLE_RASA_URL", "AISLE_ACTION_URL", "AISLE_NLU_URL"):
        match = re.fullmatch(r"http://([a-z-]+):(\d+)(/.*)?", config[variable])
        assert match, config[variable]
        host, port = match.group(1), int(match.group(2))
        assert services[host]["spec"]["ports"][0]["port"] == port, variable
    assert config["AISLE_INTERNAL_HOST"] == "0.0.0.0"


def test_configuration_keys_are_aisle_variables_and_secrets_are_separate() -> None:
    config_source = (REPO_ROOT / "aisle" / "config.py").read_text()
    config = by_kind("ConfigMap")["aisle-config"]["data"]
    secret = by_kind("Secret")["aisle-secrets"]["stringData"]
    secret_keys = {"AISLE_DATABASE_URL", "AISLE_REDIS_URL", "AISLE_INTERNAL_SECRET", "AISLE_WIDGET_SECRET",
                   "AISLE_METRICS_TOKEN"}
    assert secret_keys <= set(secret)
    assert not set(config) & set(secret)
    for key in (*config, *secret):
        assert f'"{key}"' in config_source, f"{key} is not read by aisle/config.py"
    # Shipped placeholders never reach a running service: the entrypoint refuses them.
    assert entrypoint.placeholders(secret) == sorted(secret)
    for _, doc in manifests():
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        for c in spec.get("containers", []):
            refs = {r.get("configMapRef", r.get("secretRef"))["name"] for r in c.get("envFrom", [])}
            assert refs == {"aisle-config", "aisle-secrets"}, doc["metadata"]["name"]


def test_autoscalers_for_web_rasa_and_nlu_target_existing_deployments() -> None:
    deployments, hpas = by_kind("Deployment"), by_kind("HorizontalPodAutoscaler")
    assert {h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()} == {f"aisle-{s}" for s in AUTOSCALED}
    for hpa in hpas.values():
        target = deployments[hpa["spec"]["scaleTargetRef"]["name"]]
        assert "replicas" not in target["spec"], "an HPA-managed Deployment must not pin replicas"
        assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
        # CPU utilisation is measured against requests: the target must request CPU.
        assert container(target)["resources"]["requests"]["cpu"]


def test_migration_job_runs_the_migrate_command() -> None:
    (job,) = by_kind("Job").values()
    main = job["spec"]["template"]["spec"]["containers"][0]
    assert main["args"] == ["migrate"]
    assert entrypoint.service_commands()["migrate"][-2:] == ["aisle", "migrate"]
    assert "pre-install" in job["metadata"]["annotations"]["helm.sh/hook"]


# --- metrics: every service with /metrics is scraped, with the token --------------------------------------

SCRAPED = ("web", "nlu", "actions", "rasa")


def test_compose_prometheus_scrapes_every_metrics_service_with_the_token() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    services = compose()["services"]
    targets = {}
    for job in config["scrape_configs"]:
        assert job["authorization"]["credentials_file"] == "/run/secrets/metrics-token", job["job_name"]
        for static in job["static_configs"]:
            for target in static["targets"]:
                host, port = target.split(":")
                targets[host] = int(port)
    assert targets == {s: healthcheck.PORTS[s][1] for s in SCRAPED}
    assert all(s in services for s in targets)
    prometheus = services["prometheus"]
    assert "./prometheus.yml:/etc/prometheus/prometheus.yml:ro" in prometheus["volumes"]
    assert prometheus["secrets"] == ["metrics-token"]
    assert compose()["secrets"]["metrics-token"] == {"environment": "AISLE_METRICS_TOKEN"}
    assert "AISLE_METRICS_TOKEN" in services["web"]["environment"]


def test_kubernetes_pods_with_metrics_are_annotated_for_the_scrape_job() -> None:
    (job,) = yaml.safe_load((DEPLOY / "prometheus-kubernetes.yml").read_text())["scrape_configs"]
    assert job["kubernetes_sd_configs"][0]["namespaces"]["names"] == [kustomization()["namespace"]]
    assert job["authorization"]["type"] == "Bearer"
    keep = job["relabel_configs"][0]
    assert keep == {"source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
                    "action": "keep", "regex": "true"}
    for name, deployment in by_kind("Deployment").items():
        annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
        service = name.removeprefix("aisle-")
        if service not in SCRAPED:
            assert "prometheus.io/scrape" not in annotations, name
            continue
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/path"] == "/metrics"
        assert int(annotations["prometheus.io/port"]) == container(deployment)["ports"][0]["containerPort"]
    (policy,) = by_kind("NetworkPolicy").values()
    sources = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}} in sources


# --- compose ---------------------------------------------------------------------------------------------

def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_references_only_services_and_volumes_that_exist() -> None:
    spec = compose()
    services = spec["services"]
    assert {"web", "rasa", "actions", "nlu", "postgres", "redis", "migrate"} <= set(services)
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):  # a file of the repository, relative to the compose file
                assert (DEPLOY / source).is_file(), f"{name} mounts missing {source}"
            else:
                assert source in spec["volumes"], f"{name} mounts undeclared volume {source}"
        for secret in service.get("secrets", []):
            assert secret in spec["secrets"], f"{name} uses undeclared secret {secret}"


def test_compose_runs_aisle_services_by_their_procfile_names_and_publishes_only_web() -> None:
    services = compose()["services"]
    known = entrypoint.service_commands()
    aisle = {n: s for n, s in services.items() if s.get("image", "").startswith("${AISLE_IMAGE")}
    assert set(aisle) >= {*SERVICES, "migrate"}
    for name, service in aisle.items():
        command = service["command"]
        assert command[0] in known or command[0].startswith("/bin/"), (name, command)
        env = service["environment"]
        assert env["AISLE_INTERNAL_HOST"] == "0.0.0.0"
        database = env["AISLE_DATABASE_URL"]
        assert database.startswith("postgresql://") and "@postgres:" in database
        assert env["AISLE_REDIS_URL"].startswith("redis://redis:")
        assert "AISLE_INTERNAL_SECRET" in env
        for variable in ("AISLE_RASA_URL", "AISLE_ACTION_URL", "AISLE_NLU_URL"):
            host = re.match(r"http://([a-z]+):", env[variable]).group(1)
            assert host in services, (name, variable)
    published = {n: s["ports"] for n, s in services.items() if s.get("ports")}
    assert published.keys() == {"web", "prometheus"}
    assert all(p.startswith("127.0.0.1:") for p in published["prometheus"])  # metrics stay on the host
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


# --- image: Dockerfile, entrypoint, health check ---------------------------------------------------------

def dockerfile_runs() -> str:
    text = (DEPLOY / "Dockerfile").read_text()
    return re.sub(r"\\\n\s*(#.*\n\s*)*", " ", text)  # one logical line per instruction


def test_entrypoint_runs_the_procfiles_commands_without_keepalive() -> None:
    procfile = {}
    for line in (REPO_ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            words = shlex.split(command)
            procfile[name.strip()] = words[words.index("--") + 1:]
    commands = entrypoint.procfile_commands()
    assert set(procfile) == set(SERVICES) == set(commands)
    for name in SERVICES:
        assert commands[name] == procfile[name]
        assert "aisle.keepalive" not in commands[name]
    # Procfile.production adds only VAR=value settings in front of the same commands.
    production = entrypoint.procfile_commands(REPO_ROOT / "Procfile.production")
    assert {tuple(c) for c in production.values()} == {tuple(c) for c in commands.values()}


def test_dockerfile_builds_both_venvs_and_models_as_the_makefile_does() -> None:
    dockerfile, makefile = dockerfile_runs(), (REPO_ROOT / "Makefile").read_text()
    for venv_line in re.findall(r"scripts/setup_venv\.sh \S+ \S+(?: --\S+)*", makefile):
        assert venv_line in dockerfile, venv_line
    venvs = {c[0].split("/bin/")[0] for c in entrypoint.service_commands().values()}
    assert venvs == {".venv", ".venv-rasa"}
    assert ".venv/bin/python -m nlu_models train" in dockerfile
    rasa_train = re.search(r"\$\(RASA\) (train core --out) \$\(DATA_DIR\)/models (--fixed-model-name \w+)",
                           makefile)
    assert rasa_train
    assert (f".venv-rasa/bin/python -m aisle.rasa_cli {rasa_train.group(1)} var/models {rasa_train.group(2)}"
            in dockerfile)
    assert re.search(r"^USER 10001", dockerfile, re.M) and "useradd" in dockerfile
    assert re.search(r"^FROM .* AS runtime$", dockerfile, re.M)
    entry = '["/usr/bin/tini", "--", "/app/.venv/bin/python", "/app/deploy/entrypoint.py"]'
    assert f"ENTRYPOINT {entry}" in dockerfile
    assert "HEALTHCHECK" in dockerfile


def test_build_context_keeps_secrets_and_local_venvs_out() -> None:
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    for path in (".venv", ".venv-rasa", "var", ".git", "deploy/.env"):
        assert path in ignored


def test_entrypoint_refuses_placeholders_with_a_clear_error() -> None:
    env = {**os.environ, "AISLE_INTERNAL_SECRET": "CHANGE-ME"}
    done = subprocess.run([PYTHON, str(DEPLOY / "entrypoint.py"), "web"], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 78
    assert "AISLE_INTERNAL_SECRET" in done.stderr and "CHANGE-ME" in done.stderr


def test_entrypoint_runs_other_commands_as_given() -> None:
    command = [".venv/bin/python", "-c", "import os; print(os.getcwd())"]
    done = subprocess.run([PYTHON, str(DEPLOY / "entrypoint.py"), *command], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(REPO_ROOT)


def test_healthcheck_finds_the_service_from_pid_1s_command_line(tmp_path: Path) -> None:
    cmdline = tmp_path / "cmdline"
    cmdline.write_bytes(b"/usr/bin/tini\0--\0/app/.venv/bin/python\0/app/deploy/entrypoint.py\0rasa\0")
    assert healthcheck.started_service(cmdline) == "rasa"
    assert healthcheck.main(["migrate"]) == 0  # one-shot commands have nothing to probe


@pytest.mark.timeout(600)
def test_the_images_entrypoint_and_health_check_run_the_real_stack(tmp_path: Path) -> None:
    """What each container runs, on this machine: migrate, then every service through deploy/entrypoint.py
    with the image's network settings, each found healthy by deploy/healthcheck.py, and a chat answered."""
    if os.environ.get("AISLE_SKIP_E2E") == "1":
        pytest.skip("AISLE_SKIP_E2E=1")
    from tests.e2e_stack import Stack

    stack = Stack.create(tmp_path)
    # The image's settings, but on loopback: this machine is shared (the image listens on 0.0.0.0).
    env = {**stack.env, "AISLE_INTERNAL_SECRET": "deploy-test-secret-0123456789"}
    down = subprocess.run([PYTHON, str(DEPLOY / "healthcheck.py"), "nlu"], env=env, capture_output=True,
                          text=True, timeout=30)
    assert down.returncode == 1, "nothing runs yet: the check must fail"
    migrate = subprocess.run([PYTHON, str(DEPLOY / "entrypoint.py"), "migrate"], env=env, capture_output=True,
                             text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stderr
    processes = {}
    try:
        for name in SERVICES:
            log = open(tmp_path / f"{name}.container.log", "ab")
            processes[name] = subprocess.Popen([PYTHON, str(DEPLOY / "entrypoint.py"), name], env=env,
                                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 240
        pending = set(SERVICES)
        last_check: dict[str, str] = {}
        while pending and time.monotonic() < deadline:
            for name in sorted(pending):
                log_tail = (tmp_path / f"{name}.container.log").read_text()[-3000:]
                assert processes[name].poll() is None, log_tail
                done = subprocess.run([PYTHON, str(DEPLOY / "healthcheck.py"), name], env=env,
                                      capture_output=True, text=True, timeout=30)
                last_check[name] = (done.stdout + done.stderr).strip()
                if done.returncode == 0:
                    pending.discard(name)
            time.sleep(2)
        # What the probe last said (a 503 body names what is missing) and each log's end, to diagnose.
        assert not pending, {name: {"probe": last_check.get(name),
                                    "log": (tmp_path / f"{name}.container.log").read_text()[-2000:]}
                             for name in pending}
        # The processes are the services themselves (exec), not a wrapper that would hide a crash.
        assert all("aisle.keepalive" not in " ".join(psutil_cmdline(p.pid)) for p in processes.values())
        status, body = stack.chat("deploy-test", "hello")
        assert status == 200 and body["messages"], body
    finally:
        for proc in processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
        for proc in processes.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()


def psutil_cmdline(pid: int) -> list[str]:
    import psutil

    return psutil.Process(pid).cmdline()


def lock_names(path: Path) -> set[str]:
    from packaging.utils import canonicalize_name

    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return {canonicalize_name(re.split(r"[=<>\[ ]", line, maxsplit=1)[0]) for line in lines}


def test_app_lock_is_complete_on_every_python_3_11_release() -> None:
    """The image's Python is whatever 3.11 its base has (Debian 12's is 3.11.2), and the lock installs with
    --no-deps: a dependency that only older 3.11 releases need (redis → async-timeout before 3.11.3)
    must be in the lock, or the web app fails to import there."""
    from importlib.metadata import PackageNotFoundError, distribution

    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    locked = lock_names(REPO_ROOT / "locks" / "app.lock")
    without_deps = lock_names(REPO_ROOT / "locks" / "app-nodeps.in")  # installed --no-deps on purpose
    missing = set()
    for name in sorted(locked - without_deps):
        try:
            requires = distribution(name).requires or []
        except PackageNotFoundError:
            pytest.skip(f"{name} is in locks/app.lock but not installed: run make setup")
        for line in requires:
            requirement = Requirement(line)
            for patch in range(0, 16):
                env = {**default_environment(), "python_full_version": f"3.11.{patch}",
                       "python_version": "3.11", "extra": ""}
                if requirement.marker is None or requirement.marker.evaluate(env):
                    if canonicalize_name(requirement.name) not in locked:
                        missing.add(f"{name} needs {requirement} on Python 3.11.{patch}")
    assert not missing, sorted(missing)
