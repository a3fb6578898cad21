"""deploy/: the Compose file validates against the Compose specification and describes what
docs/replicas.md says (PostgreSQL, two replicas with /healthz, a load balancer, secrets from an env
file); the Kubernetes outline holds together."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).parents[1]
DEPLOY = ROOT / "deploy"
COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
SECRETS = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "KALEYRA_API_KEY")


def replicas() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in COMPOSE["services"].items()
        if service.get("build", {}).get("context") == ".."
    }


def test_compose_file_validates_against_the_compose_specification() -> None:
    schema = json.loads((ROOT / "tests/fixtures/compose-spec.schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema)  # its $schema: draft-07
    validator.validate(COMPOSE)
    # The schema is strict enough to matter: a misspelt key is refused.
    typo = copy.deepcopy(COMPOSE)
    typo["services"]["voicebot-a"]["healthchek"] = typo["services"]["voicebot-a"]["healthcheck"]
    assert not validator.is_valid(typo)


def test_two_replicas_of_the_repos_image_share_one_postgresql_16() -> None:
    postgres = COMPOSE["services"]["postgres"]
    assert postgres["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert len(replicas()) == 2
    for service in replicas().values():
        assert (DEPLOY / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
        env = service["environment"]
        assert re.fullmatch(
            r"postgresql://voicebot:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432/voicebot",
            env["DATABASE_URL"],
        )
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
        check = " ".join(service["healthcheck"]["test"])
        assert f"http://127.0.0.1:{env['PORT']}/healthz" in check


def test_secrets_come_from_an_env_file_that_git_ignores() -> None:
    for service in replicas().values():
        assert service["env_file"] == [{"path": ".env", "required": True}]
        assert not set(SECRETS) & set(service["environment"])
    example = (DEPLOY / "env.example").read_text()
    for name in ("POSTGRES_PASSWORD", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"):
        assert re.search(rf"^{name}=$", example, re.MULTILINE), f"{name} missing or filled in"
    assert ".env" in (ROOT / ".gitignore").read_text().split()
    assert "deploy" in (ROOT / ".dockerignore").read_text().split()  # not in the build context


def test_the_load_balancer_checks_healthz_on_every_replica() -> None:
    balancer = COMPOSE["services"]["loadbalancer"]
    [mount] = balancer["volumes"]
    source = mount.split(":")[0]
    config = (DEPLOY / source).read_text()
    assert "http-check send meth GET uri /healthz" in config
    assert "http-check expect status 200" in config
    servers = re.findall(r"^\s*server (\S+) (\S+):(\d+)", config, re.MULTILINE)
    assert {(name, host) for name, host, _ in servers} == {(n, n) for n in replicas()}
    assert {port for *_, port in servers} == {"3000"}
    assert set(balancer["depends_on"]) == set(replicas())
    assert balancer["ports"] == ["${VOICEBOT_PORT:-3000}:8080"] and "bind :8080" in config


def test_the_kubernetes_outline_holds_together() -> None:
    docs = {d["kind"]: d for d in yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text())}
    deployment, secret, service = docs["Deployment"], docs["Secret"], docs["Service"]
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]
    [container] = pod["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert "httpGet" not in container["livenessProbe"]  # a database outage restarts nothing
    assert container["envFrom"] == [{"secretRef": {"name": secret["metadata"]["name"]}}]
    assert {"DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"} <= set(secret["stringData"])
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels
    assert service["spec"]["selector"] == labels
    [port] = service["spec"]["ports"]
    assert port["targetPort"] in {p["name"] for p in container["ports"]}
