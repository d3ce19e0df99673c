"""The AWS Elastic Beanstalk bundle (`make eb-bundle`, deploy/aws/build_bundle.py) is built and
taken apart: what the Docker platform needs at its root, the same image and process types as
docker-compose.yml, the proxy's /ws upgrade (and `nginx -t` where nginx is installed), the
predeploy hook, and nothing secret inside. No AWS account here: structure and settings only."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.test_deploy_files import load_compose, procfile_processes

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parents[1]
AWS = ROOT / "deploy" / "aws"
SECRETS = ("SECRET_KEY", "API_KEY_PEPPER", "FERNET_KEYS")
FROM_ENVIRONMENT = (*SECRETS, "DATABASE_URL", "REDIS_URL")
HOOK = "01-check-environment.sh"


def _builder():
    spec = importlib.util.spec_from_file_location("build_bundle", AWS / "build_bundle.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> zipfile.ZipFile:
    output = tmp_path_factory.mktemp("eb") / "openalgo-eb.zip"
    result = subprocess.run([sys.executable, AWS / "build_bundle.py", "--output", output], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"{output}:" in result.stdout
    return zipfile.ZipFile(output)


def text(bundle: zipfile.ZipFile, name: str) -> str:
    return bundle.read(name).decode("utf-8")


def eb_compose(bundle: zipfile.ZipFile) -> dict:
    return yaml.safe_load(text(bundle, "docker-compose.yml"))


def nginx_location(conf: str, prefix: str) -> str:
    match = re.search(r"location\s+" + re.escape(prefix) + r"\s*\{(.*?)\n\s*\}", conf, flags=re.S)
    assert match, f"no `location {prefix}` block"
    return match.group(1)


# --- files ---------------------------------------------------------------------------------------


def test_bundle_has_the_docker_platform_files_at_its_root(bundle):
    names = set(bundle.namelist())
    assert {"docker-compose.yml", "Dockerfile", ".dockerignore", "requirements.txt", "manage.py",
            "deploy/docker-entrypoint.sh", "deploy/aws/nginx.conf", ".ebextensions/01-openalgo.config",
            f".platform/hooks/predeploy/{HOOK}", f".platform/confighooks/predeploy/{HOOK}"} <= names
    assert all(not name.startswith("/") and ".." not in name.split("/") for name in names)
    # With Docker Compose the platform ignores .platform/nginx (its proxy is off): the proxy
    # is the compose file's nginx container, so no host nginx files that would mislead.
    assert not [name for name in names if name.startswith(".platform/nginx/")]


def test_bundle_holds_every_source_the_dockerfile_copies(bundle):
    names = bundle.namelist()
    for source in _builder().dockerfile_sources(ROOT / "Dockerfile"):
        if (ROOT / source).is_dir():
            tracked = subprocess.run(["git", "ls-files", "--", source], cwd=ROOT, capture_output=True, text=True)
            expected = {line for line in tracked.stdout.splitlines() if "__pycache__" not in line}
            assert expected, source
            assert expected <= set(names), f"{source}: missing {sorted(expected - set(names))[:5]}"
        else:
            assert source in names, source
    assert "core/filelock.py" in names and "openalgo/settings.py" in names


def test_bundle_leaves_out_local_state_and_caches(bundle):
    for name in bundle.namelist():
        parts = name.split("/")
        assert not {".venv", "var", "dist", ".git", "__pycache__", "bench"} & set(parts), name
        assert not name.endswith((".pyc", ".sqlite3")), name
        assert parts[-1] != ".env" and not parts[-1].startswith(".env."), name


def test_hooks_and_the_entrypoint_are_executable_shell_scripts(bundle, tmp_path):
    for name in (f".platform/hooks/predeploy/{HOOK}", f".platform/confighooks/predeploy/{HOOK}",
                 "deploy/docker-entrypoint.sh"):
        info = bundle.getinfo(name)
        assert (info.external_attr >> 16) & 0o111 == 0o111, f"{name} is not executable"
        assert text(bundle, name).startswith("#!/usr/bin/env bash")
        script = tmp_path / Path(name).name
        script.write_bytes(bundle.read(name))
        assert subprocess.run(["bash", "-n", script], capture_output=True).returncode == 0
    assert (bundle.getinfo("docker-compose.yml").external_attr >> 16) & 0o111 == 0


def test_same_tree_same_zip(bundle, tmp_path):
    again = tmp_path / "again.zip"
    assert subprocess.run([sys.executable, AWS / "build_bundle.py", "--output", again], cwd=ROOT,
                          capture_output=True).returncode == 0
    assert again.read_bytes() == Path(bundle.filename).read_bytes()


# --- compose: the same image and processes, the database and Redis from the environment ------------


def test_compose_runs_the_procfile_processes_from_the_same_image(bundle):
    services = eb_compose(bundle)["services"]
    local = load_compose()["services"]
    processes = set(procfile_processes())
    assert set(services) == processes | {"proxy"}, "no postgres or redis: RDS and ElastiCache serve them"
    for name in processes:
        assert services[name]["build"] == local[name]["build"] == "."
        assert services[name]["image"] == local[name]["image"]
        assert services[name]["command"] == local[name]["command"] == [name]
        assert services[name]["env_file"] == ".env", "Elastic Beanstalk's environment properties"
        assert services[name]["restart"] == "unless-stopped"
        assert any(volume.startswith("openalgo-var:/app/var") for volume in services[name]["volumes"])


def test_compose_environment_is_the_local_one_less_what_aws_provides(bundle):
    services = eb_compose(bundle)["services"]
    local = load_compose()["services"]
    for name in procfile_processes():
        env, local_env = services[name]["environment"], local[name]["environment"]
        for key in FROM_ENVIRONMENT:
            assert key not in env, f"{name}: {key} must come from the environment properties"
        for key, value in local_env.items():
            if key in ("DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS"):
                continue
            assert env[key] == value, f"{name}: {key}"
    # ALLOWED_HOSTS is the property (required) plus the host nginx gives the health check.
    assert services["web"]["environment"]["ALLOWED_HOSTS"] == (
        "${ALLOWED_HOSTS:?set the ALLOWED_HOSTS environment property},localhost")


def test_only_the_proxy_is_published(bundle):
    services = eb_compose(bundle)["services"]
    for name in procfile_processes():
        assert "ports" not in services[name], f"{name} must be reached through the proxy only"
    assert services["proxy"]["ports"] == ["80:80"]
    assert services["proxy"]["image"].startswith("nginx:")
    mounts = services["proxy"]["volumes"]
    assert "./deploy/aws/nginx.conf:/etc/nginx/conf.d/default.conf:ro" in mounts
    assert "deploy/aws/nginx.conf" in bundle.namelist()
    assert any(mount.endswith(":/var/log/nginx/healthd") for mount in mounts)
    assert services["web"]["expose"] == ["5000"] and services["ws"]["expose"] == ["8765"]
    assert services["web"]["healthcheck"]["test"] == load_compose()["services"]["web"]["healthcheck"]["test"]


# --- the proxy -------------------------------------------------------------------------------------------


def test_nginx_upgrades_ws_to_the_feed_port(bundle):
    conf = text(bundle, "deploy/aws/nginx.conf")
    assert re.search(r"upstream\s+openalgo_feed\s*\{\s*server\s+ws:8765;", conf)  # the feed server
    assert re.search(r"upstream\s+openalgo_http\s*\{\s*server\s+web:5000;", conf)
    ws = nginx_location(conf, "/ws")
    assert re.search(r"proxy_pass\s+http://openalgo_feed/;", ws), "/ws must go to the WS port's root"
    assert re.search(r"proxy_http_version\s+1\.1;", ws)
    assert re.search(r"proxy_set_header\s+Upgrade\s+\$http_upgrade;", ws)
    assert re.search(r"proxy_set_header\s+Connection\s+\$connection_upgrade;", ws)
    assert re.search(r"map\s+\$http_upgrade\s+\$connection_upgrade", conf)
    timeout = re.search(r"proxy_read_timeout\s+(\d+)s?;", ws)
    assert timeout and int(timeout.group(1)) >= 3600
    root = nginx_location(conf, "/")
    assert re.search(r"proxy_pass\s+http://openalgo_http;", root)
    # The browser channel is the web process's: its longer prefix wins over /ws.
    browser = nginx_location(conf, "/ws/app")
    assert re.search(r"proxy_pass\s+http://openalgo_http;", browser)
    assert re.search(r"proxy_set_header\s+Upgrade\s+\$http_upgrade;", browser)
    assert re.search(r"listen\s+80\s+default_server;", conf)
    assert re.search(r"client_max_body_size\s+1m;", conf)


def test_nginx_forwards_the_client_and_the_scheme_the_load_balancer_saw(bundle):
    conf = text(bundle, "deploy/aws/nginx.conf")
    assert re.search(r"real_ip_header\s+X-Forwarded-For;", conf) and "real_ip_recursive on;" in conf
    for prefix in ("/ws", "/ws/app", "/", "= /health/live"):
        location = nginx_location(conf, prefix)
        # One entry, the client: the app takes the last X-Forwarded-For entry.
        assert re.search(r"X-Forwarded-For\s+\$remote_addr;", location), prefix
        assert re.search(r"X-Forwarded-Proto\s+\$openalgo_forwarded_proto;", location), prefix
    health = nginx_location(conf, "= /health/live")
    assert re.search(r"proxy_set_header\s+Host\s+localhost;", health)
    assert "log_format healthd" in conf and "/var/log/nginx/healthd/application.log." in conf


def test_nginx_config_syntax(bundle, tmp_path):
    nginx = shutil.which("nginx")
    if not nginx:
        pytest.skip("nginx not installed")
    # Outside compose there is no host `web`: point the upstreams at loopback.
    site = text(bundle, "deploy/aws/nginx.conf").replace("server web:", "server 127.0.0.1:")
    site = site.replace("server ws:", "server 127.0.0.1:")
    site = site.replace("/var/log/nginx/", f"{tmp_path}/")
    site = re.sub(r"listen\s+80\s+default_server;", "listen 127.0.0.1:18080 default_server;", site)
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log; events {{}}\n"
        f"http {{ client_body_temp_path {tmp_path}; proxy_temp_path {tmp_path}; include {tmp_path}/site.conf; }}\n"
    )
    result = subprocess.run([nginx, "-t", "-c", tmp_path / "nginx.conf", "-p", tmp_path], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr


# --- Elastic Beanstalk options and the hook ------------------------------------------------------------------


def test_ebextensions_options(bundle):
    options = yaml.safe_load(text(bundle, ".ebextensions/01-openalgo.config"))["option_settings"]
    assert options["aws:elasticbeanstalk:environment"]["LoadBalancerType"] == "application"
    # One feed and one beat per installation: one instance.
    assert options["aws:autoscaling:asg"] == {"MinSize": 1, "MaxSize": 1}
    process = options["aws:elasticbeanstalk:environment:process:default"]
    assert process["HealthCheckPath"] == "/health/live" and str(process["Port"]) == "80"
    assert "health/live" in (ROOT / "openalgo" / "urls.py").read_text()
    assert int(options["aws:elbv2:loadbalancer"]["IdleTimeout"]) >= 3600
    assert "aws:elasticbeanstalk:application:environment" not in options, "properties are set per environment"


def _run_hook(bundle, tmp_path, content: str) -> subprocess.CompletedProcess:
    hook = tmp_path / HOOK
    hook.write_bytes(bundle.read(f".platform/hooks/predeploy/{HOOK}"))
    hook.chmod(0o755)
    env_file = tmp_path / ".env"
    env_file.write_text(content)
    return subprocess.run([hook, env_file], capture_output=True, text=True, timeout=30)


COMPLETE = ("SECRET_KEY=sk-value-1\nAPI_KEY_PEPPER=pepper-value-2\nFERNET_KEYS=fernet-value-3\n"
            "DATABASE_URL=postgres://openalgo:pw-value-4@db.example.rds.amazonaws.com:5432/openalgo\n"
            "REDIS_URL=redis://cache.example.amazonaws.com:6379/0\nALLOWED_HOSTS=openalgo.example.com\n")


def test_hook_accepts_a_complete_environment(bundle, tmp_path):
    result = _run_hook(bundle, tmp_path, COMPLETE)
    assert result.returncode == 0, result.stderr
    for value in ("sk-value-1", "pepper-value-2", "fernet-value-3", "pw-value-4"):
        assert value not in result.stdout + result.stderr


def test_hook_names_what_is_missing_and_never_prints_values(bundle, tmp_path):
    partial = "\n".join(line for line in COMPLETE.splitlines() if not line.startswith(("FERNET_KEYS", "REDIS_URL")))
    result = _run_hook(bundle, tmp_path, partial + "\n")
    assert result.returncode == 1
    assert "FERNET_KEYS" in result.stderr and "REDIS_URL" in result.stderr
    assert "SECRET_KEY" not in result.stderr.split(":", 1)[1].split("\n")[0]
    for value in ("sk-value-1", "pepper-value-2", "pw-value-4"):
        assert value not in result.stdout + result.stderr
    assert _run_hook(bundle, tmp_path, "").returncode == 1


def test_hook_wants_postgresql_and_redis_urls(bundle, tmp_path):
    sqlite = COMPLETE.replace("postgres://openalgo:pw-value-4@db.example.rds.amazonaws.com:5432/openalgo",
                              "sqlite:////app/var/db.sqlite3")
    result = _run_hook(bundle, tmp_path, sqlite)
    assert result.returncode == 1 and "DATABASE_URL" in result.stderr
    tls_redis = COMPLETE.replace("redis://", "rediss://")
    assert _run_hook(bundle, tmp_path, tls_redis).returncode == 0


# --- no secrets ----------------------------------------------------------------------------------------------


def test_no_secret_values_inside(bundle):
    assignment = re.compile(rf"^\s*-?\s*({'|'.join(FROM_ENVIRONMENT)})\s*[:=]\s*\S", re.M)
    for name in bundle.namelist():
        if name.endswith(".py") or name.startswith(("static/", "templates/")):
            continue  # code reads settings; it sets none
        content = text(bundle, name)
        for match in assignment.finditer(content):
            line = content[match.start():content.index("\n", match.start())]
            # The Dockerfile's build-only values (test_dockerfile: they never persist).
            assert name == "Dockerfile" and ("build-only-not-secret" in line or "AAAA" in line), f"{name}: {line}"
    # The secrets of this work tree's own .env (if it has one) appear nowhere.
    local = ROOT / ".env"
    if local.exists():
        values = [line.split("=", 1)[1].strip() for line in local.read_text().splitlines()
                  if line.split("=", 1)[0].strip() in SECRETS and "=" in line]
        blob = b"".join(bundle.read(name) for name in bundle.namelist())
        for value in values:
            assert len(value) < 8 or value.encode() not in blob


def test_env_files_are_never_bundled(tmp_path):
    # A project whose copied folder holds a .env with a secret: the bundle leaves it out.
    builder = _builder()
    project = tmp_path / "project"
    (project / "app").mkdir(parents=True)
    (project / "app" / "main.py").write_text("print('hello')\n")
    (project / "app" / ".env").write_text("SECRET_KEY=planted-bundle-secret\n")
    (project / "app" / ".env.production").write_text("SECRET_KEY=planted-bundle-secret\n")
    (project / "app" / "__pycache__").mkdir()
    (project / "app" / "__pycache__" / "main.cpython-311.pyc").write_bytes(b"\0")
    (project / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY app/ app/\n")
    (project / ".dockerignore").write_text(".env\n")
    for source in set(builder.PLATFORM_FILES.values()) - {"Dockerfile", ".dockerignore"}:
        (project / source).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / source, project / source)
    output = tmp_path / "out.zip"
    names = builder.build(output, project)
    assert "app/main.py" in names
    assert not [name for name in names if ".env" in name.rsplit("/", 1)[-1] or "__pycache__" in name]
    blob = b"".join(zipfile.ZipFile(output).read(name) for name in names)
    assert b"planted-bundle-secret" not in blob


def test_a_missing_copied_source_fails_the_build(tmp_path):
    builder = _builder()
    (tmp_path / "Dockerfile").write_text("FROM x\nCOPY nowhere/ nowhere/\n")
    with pytest.raises(builder.BundleError, match="nowhere"):
        builder.collect(tmp_path)


# --- make and the docs ------------------------------------------------------------------------------------


def test_make_target_builds_dist_openalgo_eb_zip():
    dry = subprocess.run(["make", "-n", "eb-bundle"], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHON": "python3"})
    assert dry.returncode == 0, dry.stderr
    assert "deploy/aws/build_bundle.py --output dist/openalgo-eb.zip" in dry.stdout
    assert "dist/" in (ROOT / ".gitignore").read_text().split()


def test_readme_documents_the_beanstalk_steps():
    text = (ROOT / "deploy" / "README.md").read_text()
    for needle in ("make eb-bundle", "eb init", "eb create", "eb setenv", "eb deploy", "RDS", "ElastiCache",
                   "Amazon Linux 2023"):
        assert needle in text, needle
