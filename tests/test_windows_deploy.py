"""The Windows deployment files stay in step with the Procfile, the Makefile and the systemd
units: deploy/windows/run.ps1 (`make run` for Windows), the WinSW service definitions and
install-services.ps1. There is no Windows (and no PowerShell) on this machine: the files are
checked structurally here, and parsed by PowerShell's own parser where pwsh is installed.
What they run, `python -m openalgo.process NAME`, is exercised for real in
openalgo/tests/test_process.py."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path, PureWindowsPath

import pytest

from tests.test_deploy_files import parse_unit, procfile_processes, unit_values

ROOT = Path(__file__).resolve().parents[1]
WINDOWS = ROOT / "deploy" / "windows"
SERVICES = WINDOWS / "services"
RUN = WINDOWS / "run.ps1"
INSTALL = WINDOWS / "install-services.ps1"
PROCESSES = sorted(procfile_processes())


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def service(name: str) -> ET.Element:
    return ET.parse(SERVICES / f"openalgo-{name}.xml").getroot()


def resolve(winsw_path: str) -> Path:
    """A WinSW path relative to %BASE% (the services folder), as a path on this machine."""
    assert winsw_path.startswith("%BASE%\\"), winsw_path
    return Path(os.path.normpath(SERVICES / PureWindowsPath(winsw_path.removeprefix("%BASE%\\")).as_posix()))


def seconds(duration: str) -> int:
    match = re.fullmatch(r"(\d+)\s*(sec|secs|min|mins|hour|hours)", duration.strip())
    assert match, duration
    return int(match.group(1)) * {"sec": 1, "secs": 1, "min": 60, "mins": 60, "hour": 3600, "hours": 3600}[
        match.group(2)]


def powershell_problems(text: str) -> str | None:
    """A light syntax check: (), {}, [] balance outside comments and strings, and no
    "$name:" variable reference. Returns the first problem, or None."""
    text = re.sub(r"<#.*?#>", "", text, flags=re.S)
    stack: list[tuple[str, int]] = []
    pairs = {")": "(", "}": "{", "]": "["}
    line, i, quote = 1, 0, ""
    while i < len(text):
        char = text[i]
        if char == "\n":
            line += 1
        if quote == "'":
            if char == "'" and text[i + 1:i + 2] == "'":
                i += 1
            elif char == "'":
                quote = ""
        elif quote == '"':
            if char == "`":
                i += 1
            elif char == '"':
                quote = ""
        elif char == "#":
            while i < len(text) and text[i] != "\n":
                i += 1
            continue
        elif char == "`":
            i += 1
        elif char in "'\"":
            quote = char
        elif char in "({[":
            stack.append((char, line))
        elif char in ")}]":
            if not stack or stack[-1][0] != pairs[char]:
                return f"unbalanced {char!r} on line {line}"
            stack.pop()
        i += 1
    if quote:
        return f"unterminated {quote} string"
    if stack:
        return f"unclosed {stack[-1][0]!r} from line {stack[-1][1]}"
    # "$name: ..." is a parse error ("Variable reference is not valid"): it reads as a drive-
    # qualified name. Write "${name}:". Single-quoted strings do not expand, so skip them.
    code = re.sub(r"'(?:[^']|'')*'", "''", "\n".join(line.split("#", 1)[0] for line in text.splitlines()))
    bad = re.search(r"\$(?!(?:env|script|global|local|using|private|variable):)[A-Za-z_]\w*:(?![A-Za-z_\\])", code)
    if bad:
        return f"variable reference {bad.group(0)!r} needs braces: ${{name}}:"
    return None


# --- WinSW services -----------------------------------------------------------------------------


def test_every_procfile_process_has_exactly_one_service():
    assert sorted(path.stem.removeprefix("openalgo-") for path in SERVICES.glob("*.xml")) == PROCESSES


@pytest.mark.parametrize("name", PROCESSES)
def test_service_runs_the_procfile_process_in_the_project_venv(name):
    root = service(name)
    assert root.tag == "service"
    assert root.findtext("id") == f"openalgo-{name}"
    assert root.findtext("name") and root.findtext("description")
    assert resolve(root.findtext("workingdirectory", "")) == ROOT
    assert resolve(root.findtext("executable", "")) == ROOT / ".venv" / "Scripts" / "python.exe"
    assert root.findtext("arguments", "").split() == ["-m", "openalgo.process", name]
    assert root.findtext("startmode") == "Automatic"


@pytest.mark.parametrize("name", PROCESSES)
def test_service_restarts_on_failure_and_rotates_its_logs(name):
    root = service(name)
    failures = root.findall("onfailure")
    assert failures and all(element.get("action") == "restart" for element in failures)
    assert all(seconds(element.get("delay", "0 sec")) <= 60 for element in failures)
    assert seconds(root.findtext("resetfailure", "")) >= 600
    log = root.find("log")
    assert log is not None and log.get("mode") == "roll-by-size"
    assert 1024 <= int(log.findtext("sizeThreshold", "0")) <= 102400  # KB
    assert int(log.findtext("keepFiles", "0")) >= 2
    assert resolve(root.findtext("logpath", "")) == ROOT / "var" / "logs"


@pytest.mark.parametrize("name", PROCESSES)
def test_service_account_stop_time_and_order_match_the_systemd_unit(name):
    root = service(name)
    account = root.find("serviceaccount")
    assert account is not None
    assert (account.findtext("domain"), account.findtext("user")) == ("NT AUTHORITY", "LocalService")
    assert root.findtext("stopparentprocessfirst") == "true"
    unit = parse_unit(ROOT / "deploy" / "systemd" / f"openalgo-{name}.service")
    stop = int(dict(unit["Service"])["TimeoutStopSec"])
    assert seconds(root.findtext("stoptimeout", "")) == stop, "WinSW and systemd give the process the same time"
    after = " ".join(unit_values(unit, "Unit", "After")).split()
    wanted = sorted(f"openalgo-{other}" for other in PROCESSES if f"openalgo-{other}.service" in after)
    assert sorted(element.text or "" for element in root.findall("depend")) == wanted


def test_install_script_installs_every_service_with_its_account():
    text = _read(INSTALL)
    assert "$ErrorActionPreference = 'Stop'" in text
    assert "WindowsBuiltInRole]::Administrator" in text, "must refuse to run unelevated"
    names = re.search(r"\$Names\s*=\s*@\(([^)]*)\)", text)
    assert names
    listed = re.findall(r"'([a-z]+)'", names.group(1))
    assert sorted(listed) == PROCESSES and listed[0] == "feed", "feed first: web and worker depend on it"
    for command in ("install", "start", "stop", "uninstall"):
        assert re.search(rf"@\('{command}'\)", text), command
    # The account the XML files name gets read access to the project and write access to var.
    assert "*S-1-5-19" in text  # LocalService's SID
    assert re.search(r"\(OI\)\(CI\)RX", text) and re.search(r"'var'\).*\(OI\)\(CI\)M", text)
    assert "$LASTEXITCODE" in text
    # A .venv made from a per-user Python would not run as LocalService: refused up front.
    assert "pyvenv.cfg" in text and "'Users'" in text
    assert powershell_problems(text) is None, powershell_problems(text)


# --- run.ps1 ---------------------------------------------------------------------------------------


def makefile_run_steps() -> list[str]:
    recipe = re.search(r"^run:.*?\n((?:\t.*\n)+)", _read(ROOT / "Makefile"), flags=re.M)
    assert recipe
    return re.findall(r"manage\.py (\w+)", recipe.group(1))


def test_run_script_does_what_make_run_does_in_the_same_order():
    text = _read(RUN)
    steps = makefile_run_steps()
    assert steps == ["prepare"]
    positions = [text.index(f"'manage.py', '{step}'") for step in steps]
    assert positions == sorted(positions)
    assert re.search(r"'-m', 'venv'", text) and re.search(r"'pip', 'install', '--quiet', '-r'", text)
    assert "requirements.txt" in text


def test_run_script_starts_the_procfile_processes():
    text = _read(RUN)
    names = re.search(r"\$Processes\s*=\s*@\(([^)]*)\)", text)
    assert names and sorted(re.findall(r"'([a-z]+)'", names.group(1))) == PROCESSES
    assert re.search(r"Start-Process -FilePath \$VenvPython -ArgumentList @\('-m', 'openalgo\.process', \$name\)", text)
    assert "-NoNewWindow" in text and "-PassThru" in text
    # Stops the rest when one process stops, and on Ctrl+C (finally), with their children.
    assert "HasExited" in text and re.search(r"finally\s*\{", text) and "taskkill.exe /PID" in text and "/T" in text


def test_run_script_is_strict_and_checks_every_native_exit_code():
    text = _read(RUN)
    assert "$ErrorActionPreference = 'Stop'" in text
    assert "Set-StrictMode -Version Latest" in text
    assert "if ($LASTEXITCODE -ne 0)" in text
    # Every call of the venv's python (except Start-Process) goes through Invoke-Native.
    for line in text.splitlines():
        if "$VenvPython" in line and not line.lstrip().startswith(("$VenvPython =", "#")):
            assert "Invoke-Native" in line or "Start-Process" in line or "Test-Path" in line, line
    assert powershell_problems(text) is None, powershell_problems(text)


def test_powershell_check_finds_mistakes():
    assert powershell_problems("if ($a) { 'x' }") is None
    assert powershell_problems("if ($a) { 'x(' ") == "unclosed '{' from line 1"
    assert powershell_problems("$a = @('a', 'b'") == "unclosed '(' from line 1"
    assert powershell_problems("# (\n<# { #>\n\"`\"(\"") is None
    assert "needs braces" in powershell_problems('throw "No $VenvPython: run it"')
    assert powershell_problems('throw "No ${VenvPython}: run $env:HOST"; $x = \'$a: b\'') is None


@pytest.mark.parametrize("script", [RUN, INSTALL], ids=lambda p: p.name)
def test_powershell_parses_the_script(script):
    pwsh = shutil.which("pwsh") or shutil.which("powershell")
    if not pwsh:
        pytest.skip("no PowerShell on this machine (pwsh): only the structural checks ran")
    command = (f"$errors = $null; [System.Management.Automation.Language.Parser]::ParseFile('{script}', "
               "[ref]$null, [ref]$errors) | Out-Null; $errors | ForEach-Object { $_.ToString() }; exit $errors.Count")
    result = subprocess.run([pwsh, "-NoProfile", "-NonInteractive", "-Command", command], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


# --- what Windows needs besides ---------------------------------------------------------------------


def test_pywin32_is_required_on_windows_for_the_embedded_celery_transport():
    # Without REDIS_URL Celery uses kombu's filesystem transport, which on Windows locks its
    # files with pywin32 (win32file); on Linux the marker keeps it out.
    import kombu.transport.filesystem as filesystem

    assert "import win32file" in Path(filesystem.__file__).read_text()
    assert re.search(r'^pywin32==[\d.]+; sys_platform == "win32"$', _read(ROOT / "requirements.txt"), flags=re.M)


def test_readme_documents_the_windows_steps():
    text = _read(ROOT / "deploy" / "README.md")
    for needle in ("deploy\\windows\\run.ps1", "install-services.ps1", "WinSW", "-SetupOnly"):
        assert needle in text, needle
