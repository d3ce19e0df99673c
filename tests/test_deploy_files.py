"""The deployment files stay in step with the code: every setting documented in
.env.example, every Procfile process deployable (systemd, compose, entrypoint), the
proxy's /ws upgrade, executable and syntactically valid shell scripts. No database."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
SYSTEMD = DEPLOY / "systemd"
SHELL_SCRIPTS = [DEPLOY / "docker-entrypoint.sh", DEPLOY / "make-env.sh"]
APP_SERVICES = ("web", "ws", "feed", "worker", "beat")
SERVERS = ("web", "ws")  # the uvicorn processes: the same command in the Procfile, systemd and docker


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


# --- helpers --------------------------------------------------------------------------------


def settings_env_names() -> set[str]:
    """Names openalgo/ reads from the environment: env("X"), env.<type>("X"),
    os.environ.get("X") / os.environ["X"], and the generated secrets of localenv."""
    names: set[str] = set()
    env_call = re.compile(r"""\benv(?:\.\w+)?\(\s*["']([A-Z][A-Z0-9_]*)["']""")
    # A read, not a write: os.environ["X"] = ... sets a variable for libraries, it is no setting.
    os_environ = re.compile(
        r"""os\.(?:environ\.get\(|environ\[|getenv\()\s*["']([A-Z][A-Z0-9_]*)["'](?!\s*\]\s*=[^=])"""
    )
    for path in (ROOT / "openalgo").glob("*.py"):
        text = _read(path)
        names.update(env_call.findall(text))
        names.update(os_environ.findall(text))
    localenv = _read(ROOT / "openalgo" / "localenv.py")
    names.update(re.findall(r"""["']([A-Z][A-Z0-9_]*)["']\s*:\s*lambda""", localenv))
    names.discard("DJANGO_SETTINGS_MODULE")  # set by manage.py/asgi.py, not a setting
    return names


def procfile_processes() -> dict[str, str]:
    processes = {}
    for line in _read(ROOT / "Procfile").splitlines():
        if match := re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line):
            processes[match.group(1)] = match.group(2)
    return processes


def documented_names() -> set[str]:
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", _read(ROOT / ".env.example"), flags=re.M))


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """A systemd unit as {section: [(key, value), ...]} (keys may repeat)."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current = None
    for raw in _read(path).splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"{path.name}: key outside a section: {line}"
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: not KEY=value: {line}"
        current.append((key.strip(), value.strip()))
    return sections


def unit_values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [value for k, value in unit.get(section, []) if k == key]


def load_compose() -> dict:
    yaml = pytest.importorskip("yaml")  # PyYAML comes with drf-spectacular
    return yaml.safe_load(_read(ROOT / "docker-compose.yml"))


def nginx_location(conf: str, prefix: str) -> str:
    """The body of `location PREFIX { ... }` in the TLS server (the one listening on 443)."""
    conf = conf[conf.index("listen 443"):]
    match = re.search(r"location\s+" + re.escape(prefix) + r"\s*\{(.*?)\n\s*\}", conf, flags=re.S)
    assert match, f"no `location {prefix}` block"
    return match.group(1)


# --- (a) .env.example documents every setting ---------------------------------------------------


def test_settings_scan_finds_the_known_settings():
    # Guards the scanner itself: if the regexes broke, the next test would pass vacuously.
    names = settings_env_names()
    assert {"SECRET_KEY", "API_KEY_PEPPER", "FERNET_KEYS", "DATABASE_URL", "REDIS_URL",
            "ZMQ_XSUB_ADDRESS", "OPENALGO_VAR_DIR", "OPENALGO_ENV_FILE", "MAX_REQUEST_BYTES"} <= names
    assert len(names) >= 30


def test_env_example_documents_every_setting():
    missing = settings_env_names() - documented_names()
    assert not missing, f".env.example lacks: {sorted(missing)}"


def test_env_example_documents_procfile_variables():
    used = set()
    for command in procfile_processes().values():
        used.update(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", command))
    assert used, "Procfile variables not found"
    missing = used - documented_names()
    assert not missing, f".env.example lacks Procfile variables: {sorted(missing)}"


def test_env_example_documents_the_simulated_market():
    text = _read(ROOT / ".env.example")
    for line in ("# SIM_MARKET_HOURS=always", "# SIM_SEED=20250101", "# SIM_TICKS_PER_SECOND=1.5"):
        assert line in text.splitlines()


def test_env_example_holds_no_secret_values():
    # The generated secrets are documented, never set: a copy of .env.example must not
    # give two installations the same keys.
    for name in ("SECRET_KEY", "API_KEY_PEPPER", "FERNET_KEYS"):
        assert not re.search(rf"^\s*{name}=", _read(ROOT / ".env.example"), flags=re.M), name


def test_every_documented_setting_has_a_comment():
    lines = _read(ROOT / ".env.example").splitlines()
    for index, line in enumerate(lines):
        if re.match(r"^#?\s*[A-Z][A-Z0-9_]*=", line):
            # Walk up over the setting lines of its group to the explaining comment.
            above = index - 1
            while above >= 0 and re.match(r"^#?\s*[A-Z][A-Z0-9_]*=", lines[above]):
                above -= 1
            assert above >= 0 and lines[above].startswith("#") and lines[above].strip("# "), line


# --- (b) every Procfile process is deployable ------------------------------------------------


def test_procfile_has_the_five_processes():
    assert set(procfile_processes()) == set(APP_SERVICES)


def test_the_servers_are_uvicorn_with_the_flags_the_app_relies_on():
    import shlex

    processes = procfile_processes()
    apps = {"web": "openalgo.asgi:application", "ws": "openalgo.feed_asgi:application"}
    ports = {"web": ("PORT", "5000", "WEB_CONCURRENCY"), "ws": ("WS_PORT", "8765", "FEED_PROCESSES")}
    for name in SERVERS:
        argv = shlex.split(processes[name])
        assert argv[:4] == ["python", "-m", "uvicorn", apps[name]], name
        flags = {a for a in argv[4:] if a.startswith("--no-")}
        rest = [a for a in argv[4:] if a not in flags]
        assert all(a.startswith("--") for a in rest[::2]), rest
        options = dict(zip(rest[::2], rest[1::2]))
        port, default, count = ports[name]
        assert options["--host"] == "${HOST:-127.0.0.1}" and options["--port"] == f"${{{port}:-{default}}}", name
        assert options["--workers"] == f"${{{count}:-1}}", name
        # The app reads X-Forwarded-* itself, and only with BEHIND_TLS_PROXY (its rate-limit key,
        # audit IPs): uvicorn must leave the peer address alone, as daphne did.
        assert "--no-proxy-headers" in flags, name
        assert {"--no-access-log", "--no-server-header"} <= flags, name  # our own request log
        assert options.get("--lifespan") == "off", name
        # Frames are encoded once per mode for every socket: compressing per socket would undo it.
        assert options.get("--ws-per-message-deflate") == "false", name
        # Daphne's limit: above the feed's MAX_FRAME (64 KB) the app answers its own error frame.
        from marketdata.stream.consumer import MAX_FRAME

        assert MAX_FRAME < int(options["--ws-max-size"]) <= 1024 * 1024, name
        assert options.get("--ws-ping-interval") and options.get("--ws-ping-timeout"), name
        assert int(options["--timeout-graceful-shutdown"]) > 0, name


@pytest.mark.parametrize("process", sorted(procfile_processes()))
def test_process_has_a_systemd_unit(process):
    path = SYSTEMD / f"openalgo-{process}.service"
    assert path.is_file(), f"missing {path.relative_to(ROOT)}"
    unit = parse_unit(path)
    assert unit_values(unit, "Unit", "PartOf") == ["openalgo.target"]
    service = dict(unit["Service"])
    assert service["User"] == "openalgo"
    assert service["WorkingDirectory"] == "/opt/openalgo"
    assert service["EnvironmentFile"] == "/opt/openalgo/.env"
    assert service["Restart"] == "on-failure"
    assert service["ExecStart"].startswith("/opt/openalgo/.venv/bin/")
    assert service["NoNewPrivileges"] == "true"
    assert service["PrivateTmp"] == "true"
    assert service["ProtectSystem"] == "strict"
    assert "/opt/openalgo/var" in service["ReadWritePaths"].split()
    # The .env must override the unit's defaults: EnvironmentFile= after Environment=.
    keys = [k for k, _ in unit["Service"]]
    assert keys.index("EnvironmentFile") > max(i for i, k in enumerate(keys) if k == "Environment")
    wanted = " ".join(unit_values(parse_unit(SYSTEMD / "openalgo.target"), "Unit", "Wants")).split()
    assert path.name in wanted


def test_systemd_commands_match_the_procfile():
    procfile = procfile_processes()
    units = {name: dict(parse_unit(SYSTEMD / f"openalgo-{name}.service")["Service"]) for name in procfile}
    for name in SERVERS:
        # The Procfile's line itself, ${VAR:-default} as ${VAR} (the unit's Environment= holds the default).
        expected = "/opt/openalgo/.venv/bin/" + re.sub(r"\$\{(\w+):-[^}]*\}", r"${\1}", procfile[name])
        assert units[name]["ExecStart"] == expected, name
    assert units["feed"]["ExecStart"].endswith("manage.py runfeed")
    assert "celery -A openalgo worker" in units["worker"]["ExecStart"]
    assert "celery -A openalgo beat" in units["beat"]["ExecStart"]
    # Every ${VAR} used on an ExecStart line has a default in the unit.
    for name, service in units.items():
        defaults = set()
        for value in unit_values(parse_unit(SYSTEMD / f"openalgo-{name}.service"), "Service", "Environment"):
            defaults.update(pair.split("=", 1)[0] for pair in value.split())
        used = set(re.findall(r"\$\{(\w+)\}", service["ExecStart"]))
        assert used <= defaults, f"{name}: no default for {sorted(used - defaults)}"


def test_target_installs_into_multi_user():
    target = parse_unit(SYSTEMD / "openalgo.target")
    assert unit_values(target, "Install", "WantedBy") == ["multi-user.target"]


@pytest.mark.parametrize("process", sorted(procfile_processes()))
def test_process_has_a_compose_service_and_an_entrypoint_role(process):
    services = load_compose()["services"]
    assert process in services
    assert services[process]["command"][0] == process
    assert re.search(rf"^\s*{re.escape(process)}\)\s*$", _read(DEPLOY / "docker-entrypoint.sh"), flags=re.M)


# --- (c) docker-compose.yml and Dockerfile ------------------------------------------------------


def test_compose_services_and_shared_environment():
    compose = load_compose()
    services = compose["services"]
    assert {"postgres", "redis", *APP_SERVICES} <= set(services)
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name
    for name in APP_SERVICES:
        service = services[name]
        assert service["build"] in (".", {"context": "."}), name
        env_file = service["env_file"]
        assert env_file == ".env" or ".env" in env_file, name
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and "@postgres:5432/" in env["DATABASE_URL"], name
        assert env["REDIS_URL"] == "redis://redis:6379/0", name
        assert env["OPENALGO_VAR_DIR"] == "/app/var", name
        assert any(volume.startswith("openalgo-var:/app/var") for volume in service["volumes"]), name
    assert {"postgres-data", "openalgo-var"} <= set(compose["volumes"])
    assert any(v.startswith("postgres-data:/var/lib/postgresql/data") for v in services["postgres"]["volumes"])


def test_compose_web_ports_and_zeromq_addresses():
    services = load_compose()["services"]
    ports = {name: [str(port) for port in services[name].get("ports", [])] for name in APP_SERVICES}
    # HTTP from web, the feed port from the feed server; nothing else is published.
    assert [port.rsplit(":", 2)[-2:] for port in ports["web"]] == [["5000", "5000"]]
    assert [port.rsplit(":", 2)[-2:] for port in ports["ws"]] == [["8765", "8765"]]
    assert not any(ports[name] for name in ("feed", "worker", "beat"))
    # The feed binds (a bind address must be an interface, not a service name); everyone
    # else connects to it by its compose name.
    feed_env = services["feed"]["environment"]
    assert feed_env["ZMQ_XSUB_BIND"] == "tcp://0.0.0.0:5555"
    assert feed_env["ZMQ_XPUB_BIND"] == "tcp://0.0.0.0:5556"
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["ZMQ_XSUB_ADDRESS"] == "tcp://feed:5555", name
        assert env["ZMQ_XPUB_ADDRESS"] == "tcp://feed:5556", name
    assert "localhost" in services["web"]["environment"]["ALLOWED_HOSTS"]


def test_dockerfile():
    text = _read(ROOT / "Dockerfile")
    assert re.search(r"^FROM python:3\.11-slim\b", text, flags=re.M)
    user = re.findall(r"^USER\s+(\S+)", text, flags=re.M)
    assert user and user[-1] not in ("root", "0"), "the image must not run as root"
    assert re.search(r"^EXPOSE\s+5000\s+8765\s*$", text, flags=re.M)
    assert "pip install" in text and "requirements.txt" in text
    assert re.search(r"^ENTRYPOINT\s+\[\"/app/deploy/docker-entrypoint\.sh\"\]", text, flags=re.M)
    collect = next(line for line in re.split(r"\n(?=RUN )", text) if "collectstatic" in line)
    for name in ("SECRET_KEY", "API_KEY_PEPPER", "FERNET_KEYS"):
        assert f"{name}=" in collect, f"collectstatic needs a build-only {name}"
        assert not re.search(rf"^(ENV|ARG)\b.*\b{name}\b", text, flags=re.M), f"{name} must not persist"


def test_dockerfile_copies_every_app_and_never_the_local_secrets():
    text = _read(ROOT / "Dockerfile")
    copied = {m.group(1).rstrip("/") for m in re.finditer(r"^COPY\s+(\S+)\s+\S+\s*$", text, flags=re.M)}
    needed = {"manage.py", "templates", "static", "deploy/docker-entrypoint.sh"}
    needed |= {path.parent.name for path in ROOT.glob("*/apps.py")}
    needed |= {path.parent.name for path in ROOT.glob("*/settings.py")}
    # Every top-level package the apps import (core/ has no apps.py), except the test suite.
    needed |= {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert needed <= copied, f"Dockerfile does not copy {sorted(needed - copied)}"
    assert not copied & {".", ".env", ".venv", "var"}, "never copy the work tree's .env/.venv/var"


# --- (d) reverse proxies -------------------------------------------------------------------------


def test_nginx_ws_location_upgrades_to_the_feed_port():
    conf = _read(DEPLOY / "nginx" / "openalgo.conf")
    # The browser channel is the web process's: its longer prefix wins over /ws.
    browser = nginx_location(conf, "/ws/app")
    assert re.search(r"proxy_pass\s+http://127\.0\.0\.1:5000;", browser)
    assert re.search(r"proxy_set_header\s+Upgrade\s+\$http_upgrade;", browser)
    ws = nginx_location(conf, "/ws")
    assert re.search(r"proxy_pass\s+http://127\.0\.0\.1:8765/;", ws), "/ws must go to the WS port's root"
    assert re.search(r"proxy_http_version\s+1\.1;", ws)
    assert re.search(r"proxy_set_header\s+Upgrade\s+\$http_upgrade;", ws)
    assert re.search(r"proxy_set_header\s+Connection\s+\$connection_upgrade;", ws)
    assert re.search(r"map\s+\$http_upgrade\s+\$connection_upgrade", conf)
    timeout = re.search(r"proxy_read_timeout\s+(\d+)s?;", ws)
    assert timeout and int(timeout.group(1)) >= 3600


def test_nginx_tls_redirect_and_forwarded_headers():
    conf = _read(DEPLOY / "nginx" / "openalgo.conf")
    assert re.search(r"listen\s+80;", conf) and re.search(r"return\s+301\s+https://", conf)
    assert re.search(r"listen\s+443\s+ssl", conf)
    assert re.search(r"ssl_certificate\s+\S+", conf) and re.search(r"ssl_certificate_key\s+\S+", conf)
    assert re.search(r"client_max_body_size\s+1m;", conf)
    root = nginx_location(conf, "/")
    assert re.search(r"proxy_pass\s+http://127\.0\.0\.1:5000;", root)
    for location in (root, nginx_location(conf, "/ws"), nginx_location(conf, "/ws/app")):
        # The app trusts the last X-Forwarded-For hop: nginx must append, not replace.
        assert re.search(r"X-Forwarded-For\s+\$proxy_add_x_forwarded_for;", location)
        assert re.search(r"X-Forwarded-Proto\s+\$scheme;", location)


def test_nginx_config_syntax(tmp_path):
    nginx, openssl = shutil.which("nginx"), shutil.which("openssl")
    if not (nginx and openssl):
        pytest.skip("nginx or openssl not installed")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=test", "-days", "1",
                    "-keyout", tmp_path / "key.pem", "-out", tmp_path / "cert.pem"], check=True, capture_output=True)
    site = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {tmp_path / 'key.pem'};",
                  _read(DEPLOY / "nginx" / "openalgo.conf"))
    site = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {tmp_path / 'cert.pem'};", site)
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log; events {{}}\n"
        f"http {{ access_log off; client_body_temp_path {tmp_path}; proxy_temp_path {tmp_path};"
        f" include {tmp_path}/site.conf; }}\n"
    )
    result = subprocess.run([nginx, "-t", "-c", tmp_path / "nginx.conf", "-p", tmp_path],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_caddyfile_proxies_ws_and_http():
    text = _read(DEPLOY / "Caddyfile")
    assert re.search(r"handle_path\s+/ws\*\s*\{\s*reverse_proxy\s+127\.0\.0\.1:8765", text)
    assert re.search(r"handle\s+/ws/app\*\s*\{\s*reverse_proxy\s+127\.0\.0\.1:5000", text)
    assert re.search(r"reverse_proxy\s+127\.0\.0\.1:5000", text)


# --- (e) shell scripts ---------------------------------------------------------------------------


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_shell_script_is_executable_and_parses(script):
    assert script.is_file()
    assert os.access(script, os.X_OK), f"{script.name} is not executable"
    tracked = subprocess.run(["git", "ls-files", "-s", "--", script.relative_to(ROOT)],
                             cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode == 0 and tracked.stdout:
        assert tracked.stdout.startswith("100755 "), f"{script.name} is not 100755 in git: {tracked.stdout}"
    result = subprocess.run(["bash", "-n", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def _run_entrypoint(tmp_path: Path, *args: str) -> list[str]:
    """Run the entrypoint with stub python/celery that log their arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "calls.log"
    for tool in ("python", "celery"):
        stub = bin_dir / tool
        stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{log}"\n')
        stub.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run([DEPLOY / "docker-entrypoint.sh", *args], env=env, capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stderr
    return log.read_text().splitlines() if log.exists() else []


def _procfile_command(name: str, **env: str) -> str:
    import shlex

    expanded = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m.group(1), m.group(2)), procfile_processes()[name])
    return " ".join(shlex.split(expanded))


def test_entrypoint_web_migrates_then_serves_http(tmp_path):
    calls = _run_entrypoint(tmp_path, "web")
    assert calls[0] == "python manage.py migrate --noinput"
    assert calls[-1] == _procfile_command("web", HOST="0.0.0.0")


def test_entrypoint_ws_serves_the_feed_with_the_procfile_command(tmp_path):
    assert _run_entrypoint(tmp_path, "ws") == [_procfile_command("ws", HOST="0.0.0.0")]


@pytest.mark.parametrize(("role", "expected"), [
    ("feed", "python manage.py runfeed"),
    ("worker", "celery -A openalgo worker --loglevel=INFO --concurrency=2"),
    ("beat", "celery -A openalgo beat --loglevel=INFO"),
])
def test_entrypoint_other_roles_run_without_migrating(tmp_path, role, expected):
    assert _run_entrypoint(tmp_path, role) == [expected]


def test_entrypoint_manage_role(tmp_path):
    assert _run_entrypoint(tmp_path, "manage", "apikey", "admin") == ["python manage.py apikey admin"]


def test_make_env_generates_the_three_secrets_once(tmp_path):
    target = tmp_path / ".env"
    env = {**os.environ, "SECRET_KEY": "from-the-shell"}
    first = subprocess.run([DEPLOY / "make-env.sh", target], env=env, capture_output=True, text=True, check=True)
    assert "from-the-shell" not in target.read_text()
    content = target.read_text()
    for name in ("SECRET_KEY", "API_KEY_PEPPER", "FERNET_KEYS"):
        assert re.search(rf"^{name}=\S+", content, flags=re.M)
        assert content.split(f"{name}=", 1)[1].split()[0] not in first.stdout, "secrets must not be printed"
    assert target.stat().st_mode & 0o077 == 0
    subprocess.run([DEPLOY / "make-env.sh", target], capture_output=True, check=True)
    assert target.read_text() == content
