"""The compose deployment: docker-compose accepts the file and it describes the
suite (no container engine runs here, so this checks the configuration)."""

import os
import re
import subprocess

import crm

COMPOSE = ["docker-compose", "-f", os.path.join(crm.ROOT, "compose", "docker-compose.yml")]


def _compose(*args, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "POSTGRES_"))}
    e.update(env or {})
    r = subprocess.run(COMPOSE + list(args), capture_output=True, text=True, timeout=60,
                       cwd=crm.ROOT, env=e)
    assert r.returncode == 0, "docker-compose %s failed:\n%s" % (" ".join(args), r.stderr)
    return r.stdout


def _service_block(config, name):
    """The lines of one service in the normalised `config` output."""
    lines = config.splitlines()
    start = lines.index("  %s:" % name)
    block = []
    for line in lines[start + 1:]:
        if not line.startswith("    "):
            break
        block.append(line)
    return "\n".join(block)


def test_compose_config_names_the_services():
    services = _compose("config", "--services").split()
    assert sorted(services) == ["broker", "company", "customers", "exchange", "gateway", "migrate",
                                "notes", "notify", "postgres", "search"], services


def test_compose_services_have_two_replicas_and_singletons_one():
    config = _compose("config")
    for name in ("customers", "search", "notes", "company", "notify", "exchange"):
        assert re.search(r"^    scale: 2$", _service_block(config, name), re.M), \
            _service_block(config, name)
    for name in ("broker", "gateway", "migrate", "postgres"):
        assert "scale:" not in _service_block(config, name), name


def test_compose_postgres_image_volume_and_healthcheck():
    block = _service_block(_compose("config"), "postgres")
    assert "    image: postgres:15\n" in block + "\n", block
    assert "pg-data:/var/lib/postgresql/data" in block, block
    assert "pg_isready" in block, block


def test_compose_bus_points_at_the_broker_and_gateway_is_published():
    config = _compose("config")
    for name in ("customers", "search", "notes", "company", "notify", "exchange", "gateway", "migrate"):
        block = _service_block(config, name)
        assert "CRM_BUS_ENDPOINT: tcp://broker:5555" in block, (name, block)
        assert "CRM_DATABASE_URL: host=postgres " in block, (name, block)
    broker = _service_block(config, "broker")
    assert "CRM_BROKER_BUS_ENDPOINT: tcp://0.0.0.0:5555" in broker, broker
    gateway = _service_block(config, "gateway")
    assert "CRM_HTTP_ADDR: 0.0.0.0:8080" in gateway, gateway
    assert re.search(r"published: 8080\s+target: 8080", gateway), gateway
    migrate = _service_block(config, "migrate")
    assert "crmctl migrate && crmctl bootstrap" in migrate, migrate
    assert "condition: service_completed_successfully" in _service_block(config, "customers")


def test_compose_takes_settings_from_the_environment():
    config = _compose("config", env={"POSTGRES_PASSWORD": "s3cret", "CRM_HTTP_PORT": "9090"})
    assert "password=s3cret" in _service_block(config, "customers")
    assert "published: 9090" in _service_block(config, "gateway")


def test_compose_every_bus_program_gets_its_keys():
    config = _compose("config")
    migrate = _service_block(config, "migrate")
    assert "crmctl bus-keys init /var/lib/crm/keys" in migrate, migrate
    assert "- bus-keys:/var/lib/crm/keys:rw" in migrate, migrate
    for name in ("broker", "customers", "search", "notes", "company", "notify", "exchange",
                 "gateway"):
        block = _service_block(config, name)
        assert "- bus-keys:/var/lib/crm/keys:ro" in block, (name, block)
        assert "CRM_BUS_KEYS_DIR: /var/lib/crm/keys" in block, (name, block)
        assert 'CRM_BUS_CURVE: "true"' in block, (name, block)
    assert "condition: service_completed_successfully" in _service_block(config, "broker")
