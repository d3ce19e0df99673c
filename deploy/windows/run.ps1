<#
.SYNOPSIS
    `make run` for Windows: installs into .venv, prepares (migrations, the sandbox, static
    files: what changed), then runs web + ws + feed + worker + beat until Ctrl+C (or until one of them stops).

.DESCRIPTION
    Run from anywhere:  powershell -ExecutionPolicy Bypass -File deploy\windows\run.ps1
    Needs only Python 3.11+ (python.org installer or `winget install Python.Python.3.11`).

    The five processes are the Procfile's, each started as `python -m openalgo.process NAME`:
    the Procfile line itself, ${VAR:-default} expanded from the environment and .env, run in
    that Python process (no POSIX shell on Windows). On Windows it adds what Windows needs:
    a selector event loop for uvicorn (web, ws) and `--pool=threads` for the Celery worker.
    Their output goes to this console, as with honcho under `make run`. As `make run` does,
    WEB_CONCURRENCY and FEED_PROCESSES (HTTP and feed-server processes) follow the CPU count
    unless the environment or .env sets them: one each up to 3 CPUs, then CPUs/2 HTTP
    processes, and CPUs/4 feed-server processes from 8 CPUs on.

    -SetupOnly   stop after the setup steps (e.g. before deploy\windows\install-services.ps1)
    -Python      the interpreter that creates .venv (default: `py -3.11` if the launcher is
                 there, else `python`)
#>
[CmdletBinding()]
param(
    [switch]$SetupOnly,
    [string]$Python = ''
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$Root = (Resolve-Path (Join-Path $PSScriptRoot '..\..')).Path
$Venv = Join-Path $Root '.venv'
$VenvPython = Join-Path $Venv 'Scripts\python.exe'
$Stamp = Join-Path $Venv '.installed'
$Processes = @('web', 'ws', 'feed', 'worker', 'beat')   # the Procfile's, in start order

function Invoke-Native {
    # Run a native command and stop on a non-zero exit code ($ErrorActionPreference does not
    # cover native commands in Windows PowerShell 5.1).
    param([Parameter(Mandatory)][string]$What, [Parameter(Mandatory)][string]$FilePath,
          [string[]]$Arguments = @())
    & $FilePath @Arguments
    if ($LASTEXITCODE -ne 0) {
        throw "$What failed (exit code $LASTEXITCODE): $FilePath $($Arguments -join ' ')"
    }
}

function Get-BasePython {
    if ($Python) { return @($Python) }
    if (Get-Command py -ErrorAction SilentlyContinue) { return @('py', '-3.11') }
    if (Get-Command python -ErrorAction SilentlyContinue) { return @('python') }
    throw 'Python 3.11+ not found: install it (python.org or `winget install Python.Python.3.11`) or pass -Python'
}

Push-Location $Root
try {
    # --- .venv and the requirements (again whenever requirements.txt changes) ---------------
    if (-not (Test-Path $VenvPython)) {
        $base = @(Get-BasePython)
        $extra = @($base | Select-Object -Skip 1)   # always an array (py's -3.11, or nothing)
        Invoke-Native 'Creating .venv' $base[0] ($extra + @('-m', 'venv', $Venv))
    }
    Invoke-Native 'Python 3.11+ check' $VenvPython @('-c', 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)')
    $requirements = Join-Path $Root 'requirements.txt'
    if (-not (Test-Path $Stamp) -or (Get-Item $requirements).LastWriteTime -gt (Get-Item $Stamp).LastWriteTime) {
        Invoke-Native 'Upgrading pip' $VenvPython @('-m', 'pip', 'install', '--quiet', '--upgrade', 'pip')
        Invoke-Native 'Installing requirements.txt' $VenvPython @('-m', 'pip', 'install', '--quiet', '-r', $requirements)
        Set-Content -Path $Stamp -Value (Get-Date -Format o)
    }

    # --- what `make run` does before starting the processes ---------------------------------
    # One process: metrics folder emptied, migrations, static files and the sandbox's instruments,
    # each only when not done already (marketdata/management/commands/prepare.py).
    Invoke-Native 'prepare' $VenvPython @('manage.py', 'prepare')
    foreach ($name in $Processes) {   # each Procfile line resolves here before anything starts
        Invoke-Native "Procfile process $name" $VenvPython @('-m', 'openalgo.process', '--print', $name) | Out-Null
    }
    # --- process counts from the CPU count, unless set (the same rule as the Makefile's) -------
    $envFile = if ($env:OPENALGO_ENV_FILE) { $env:OPENALGO_ENV_FILE } else { Join-Path $Root '.env' }
    $cpus = [Environment]::ProcessorCount
    $webCount = if ($cpus -ge 4) { [Math]::Floor($cpus / 2) } else { 1 }
    $feedCount = if ($cpus -ge 8) { [Math]::Floor($cpus / 4) } else { 1 }
    $counts = @{ 'WEB_CONCURRENCY' = $webCount; 'FEED_PROCESSES' = $feedCount }
    foreach ($setting in $counts.Keys) {
        $inFile = (Test-Path $envFile) -and (Select-String -Path $envFile -Pattern "^\s*$setting=" -Quiet)
        if (-not [Environment]::GetEnvironmentVariable($setting) -and -not $inFile) {
            [Environment]::SetEnvironmentVariable($setting, [string]$counts[$setting])
        }
    }
    if ($SetupOnly) {
        Write-Host 'Setup done (.venv, database, sandbox, static files).'
        return
    }

    $hostName = if ($env:HOST) { $env:HOST } else { '127.0.0.1' }
    $port = if ($env:PORT) { $env:PORT } else { '5000' }
    $wsPort = if ($env:WS_PORT) { $env:WS_PORT } else { '8765' }
    Write-Host "OpenAlgo: http://${hostName}:${port}/  (feed ws://${hostName}:${wsPort}/, API docs /api/docs/)"
    Write-Host 'Ctrl+C stops every process.'

    # --- the five processes, until Ctrl+C or until one stops --------------------------------
    $running = @{}
    $failed = $null
    try {
        foreach ($name in $Processes) {
            $process = Start-Process -FilePath $VenvPython -ArgumentList @('-m', 'openalgo.process', $name) `
                -WorkingDirectory $Root -NoNewWindow -PassThru
            $null = $process.Handle   # keeps the handle, so ExitCode is readable after it exits
            $running[$name] = $process
            Write-Host "started $name (pid $($process.Id))"
        }
        while (-not $failed) {
            Start-Sleep -Milliseconds 500
            foreach ($name in $Processes) {
                if ($running[$name].HasExited) {
                    $failed = $name
                    break
                }
            }
        }
        $code = $running[$failed].ExitCode
        Write-Warning "$failed stopped (exit code $code): stopping the others"
        if ($code -eq 0) { $code = 1 }
        exit $code
    }
    finally {
        # Ctrl+C reaches every process of this console, which then shuts down by itself: give
        # them 20 s (the worker finishes its tasks). When one stopped on its own, the others have
        # no reason to: end them at once. taskkill /T takes their children along.
        $grace = if ($failed) { 0 } else { 20 }
        $deadline = (Get-Date).AddSeconds($grace)
        foreach ($name in $running.Keys) {
            $process = $running[$name]
            $left = [int][Math]::Max(0, ($deadline - (Get-Date)).TotalMilliseconds)
            if (-not $process.HasExited -and -not $process.WaitForExit($left)) {
                Write-Warning "ending $name (pid $($process.Id))"
                & taskkill.exe /PID $process.Id /T /F | Out-Null
            }
        }
    }
}
finally {
    Pop-Location
}
