<#
.SYNOPSIS
    Installs (or with -Uninstall removes) the five OpenAlgo Windows services, one per Procfile
    process: openalgo-feed, openalgo-web, openalgo-ws, openalgo-worker, openalgo-beat, with WinSW.

.DESCRIPTION
    Run in an elevated PowerShell, after `deploy\windows\run.ps1 -SetupOnly`:

        powershell -ExecutionPolicy Bypass -File deploy\windows\install-services.ps1 -WinSW C:\path\WinSW-x64.exe

    -WinSW is the WinSW 2.x executable (WinSW-x64.exe from https://github.com/winsw/winsw/releases,
    2.12.0 or later 2.x). It is copied next to each XML in deploy\windows\services\ under the
    service's name, which is how WinSW finds its configuration.

    The services run as NT AUTHORITY\LocalService (see the XML files): this script lets that
    account read the project (code, .venv, .env) and write var\ (database, logs, static files),
    restart on failure, and log to var\logs with rotation. Settings live in .env as on Linux.
#>
[CmdletBinding()]
param(
    [string]$WinSW = '',
    [switch]$Uninstall
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest

$Root = (Resolve-Path (Join-Path $PSScriptRoot '..\..')).Path
$Services = Join-Path $PSScriptRoot 'services'
$VenvPython = Join-Path $Root '.venv\Scripts\python.exe'
$Names = @('feed', 'web', 'ws', 'worker', 'beat')   # start order: web, ws and worker depend on feed
$LocalServiceSid = '*S-1-5-19'                  # NT AUTHORITY\LocalService, in any language

function Invoke-Native {
    param([Parameter(Mandatory)][string]$What, [Parameter(Mandatory)][string]$FilePath,
          [string[]]$Arguments = @())
    & $FilePath @Arguments
    if ($LASTEXITCODE -ne 0) {
        throw "$What failed (exit code $LASTEXITCODE): $FilePath $($Arguments -join ' ')"
    }
}

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    throw 'Run this script in an elevated PowerShell (Run as administrator).'
}

if ($Uninstall) {
    [array]::Reverse($Names)
    foreach ($name in $Names) {
        $id = "openalgo-$name"
        $exe = Join-Path $Services "$id.exe"
        if (-not (Get-Service -Name $id -ErrorAction SilentlyContinue)) {
            Write-Host "$id is not installed"
            continue
        }
        if ((Get-Service -Name $id).Status -ne 'Stopped') {
            Invoke-Native "Stopping $id" $exe @('stop')
        }
        Invoke-Native "Uninstalling $id" $exe @('uninstall')
        Write-Host "$id removed"
    }
    return
}

if (-not $WinSW -or -not (Test-Path $WinSW -PathType Leaf)) {
    throw 'Pass -WinSW with the path of WinSW-x64.exe (2.x, from https://github.com/winsw/winsw/releases).'
}
if (-not (Test-Path $VenvPython)) {
    throw "No ${VenvPython}: run deploy\windows\run.ps1 -SetupOnly first."
}
# .venv runs the Python it was made from: a per-user install (under C:\Users\...) is out of
# LocalService's reach, and every service would fail to start.
$pythonHome = (Get-Content (Join-Path $Root '.venv\pyvenv.cfg') | Where-Object { $_ -match '^\s*home\s*=' } |
    ForEach-Object { ($_ -split '=', 2)[1].Trim() } | Select-Object -First 1)
if ($pythonHome -and $pythonHome.StartsWith((Join-Path $env:SystemDrive 'Users'), [StringComparison]::OrdinalIgnoreCase)) {
    throw "The .venv was made from a per-user Python ($pythonHome), which the services' account cannot run. " +
          'Install Python 3.11+ for all users (python.org installer: "Install for all users"), delete .venv, ' +
          'and run deploy\windows\run.ps1 -SetupOnly again.'
}

Push-Location $Root
try {
    # Settings load (and .env gets its generated secrets if it has none yet) before any
    # service starts, so the five never race to create them.
    Invoke-Native 'manage.py check' $VenvPython @('manage.py', 'check')
    $logs = Join-Path $Root 'var\logs'
    New-Item -ItemType Directory -Force -Path $logs | Out-Null

    # LocalService: read and run the project, modify var\ only.
    Invoke-Native 'Granting read access to the project' 'icacls.exe' @($Root, '/grant', "${LocalServiceSid}:(OI)(CI)RX", '/Q')
    Invoke-Native 'Granting write access to var' 'icacls.exe' @((Join-Path $Root 'var'), '/grant', "${LocalServiceSid}:(OI)(CI)M", '/Q')

    foreach ($name in $Names) {
        $id = "openalgo-$name"
        $xml = Join-Path $Services "$id.xml"
        $exe = Join-Path $Services "$id.exe"
        if (-not (Test-Path $xml)) { throw "missing $xml" }
        if (Get-Service -Name $id -ErrorAction SilentlyContinue) {
            Write-Host "$id is already installed (to change its XML: -Uninstall, then install again)"
        }
        else {
            Copy-Item -Path $WinSW -Destination $exe -Force
            Invoke-Native "Installing $id" $exe @('install')
        }
        if ((Get-Service -Name $id).Status -ne 'Running') {
            Invoke-Native "Starting $id" $exe @('start')
        }
    }
    Get-Service -Name 'openalgo-*' | Format-Table -AutoSize Name, Status, StartType
    Write-Host "Logs: $logs (openalgo-<name>.out.log / .err.log, rolled at 10 MB, 8 kept)"
}
finally {
    Pop-Location
}
