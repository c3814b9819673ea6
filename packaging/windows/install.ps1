<#
.SYNOPSIS
    Installs keyholder as a Windows service on a domain member server.

.DESCRIPTION
    Run from an elevated PowerShell in the folder that holds keyholderd.exe,
    keyholder.exe and keyholder.ini (the output of `scripts/build windows` plus
    packaging/windows/keyholder.ini):

      1. copies keyholderd.exe and keyholder.exe to -InstallDir;
      2. creates -DataDir (default C:\ProgramData\keyholder) with a protected ACL:
         full control for SYSTEM, Administrators and the service account, nothing
         for anyone else (it holds the database, the DPAPI-sealed keys and the
         secrets' files), inherited by what it will hold;
      3. writes the sample keyholder.ini there unless one exists (an existing
         configuration is never overwritten);
      4. registers the service "keyholderd" (keyholderd.exe /registerService
         /displayName=... /startup=...), runs it as -ServiceAccount when given
         (a gMSA such as EXAMPLE\gmsa-keyholder$, or NT SERVICE\keyholderd), and
         sets it to restart after a failure;
      5. checks the configuration (keyholderd.exe /check-config=...) and starts the
         service only when it is complete, so that a sample still to be edited is
         reported here, not in a service that stops at once.

    -Uninstall stops and unregisters the service and removes the programs; the data
    folder is left as it is (it holds the audit trail).

.EXAMPLE
    .\install.ps1 -ServiceAccount 'EXAMPLE\gmsa-keyholder$'
#>
[CmdletBinding()]
param(
    [string] $InstallDir = (Join-Path $env:ProgramFiles 'keyholder'),
    [string] $DataDir = (Join-Path $env:ProgramData 'keyholder'),
    [string] $ServiceAccount = '',
    [string] $DisplayName = 'keyholder (privileged account check-outs)',
    [ValidateSet('automatic', 'manual')] [string] $Startup = 'automatic',
    [switch] $Uninstall
)
$ErrorActionPreference = 'Stop'
$serviceName = 'keyholderd'
$here = Split-Path -Parent $MyInvocation.MyCommand.Path

$principal = New-Object Security.Principal.WindowsPrincipal([Security.Principal.WindowsIdentity]::GetCurrent())
if (-not $principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {
    throw 'Run this script from an elevated PowerShell (as an administrator).'
}

function Invoke-Checked([string] $program, [string[]] $arguments) {
    & $program @arguments
    if ($LASTEXITCODE -ne 0) { throw "$program $($arguments -join ' ') failed with exit code $LASTEXITCODE" }
}

if ($Uninstall) {
    if (Get-Service -Name $serviceName -ErrorAction SilentlyContinue) {
        Stop-Service -Name $serviceName -ErrorAction SilentlyContinue
        Invoke-Checked (Join-Path $InstallDir 'keyholderd.exe') @('/unregisterService')
    }
    Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $InstallDir
    Write-Host "keyholder removed; $DataDir (database, keys, audit trail) is kept."
    return
}

# 1. The programs.
New-Item -ItemType Directory -Force -Path $InstallDir | Out-Null
foreach ($program in 'keyholderd.exe', 'keyholder.exe') {
    Copy-Item -Force (Join-Path $here $program) (Join-Path $InstallDir $program)
}
$daemon = Join-Path $InstallDir 'keyholderd.exe'

# 2. The data folder: protected, for SYSTEM, Administrators and the service account.
New-Item -ItemType Directory -Force -Path $DataDir | Out-Null
$grants = @('*S-1-5-18:(OI)(CI)F', '*S-1-5-32-544:(OI)(CI)F')
if ($ServiceAccount) { $grants += "${ServiceAccount}:(OI)(CI)M" }
Invoke-Checked 'icacls.exe' (@($DataDir, '/inheritance:r', '/grant:r') + $grants)

# 3. The configuration, never overwritten.
$config = Join-Path $DataDir 'keyholder.ini'
if (-not (Test-Path $config)) {
    Copy-Item (Join-Path $here 'keyholder.ini') $config
    Write-Host "Wrote the sample configuration $config: edit it for your domain."
}

# 4. The service. The service control manager starts it without arguments: it reads
#    %ProgramData%\keyholder\keyholder.ini.
if (-not (Get-Service -Name $serviceName -ErrorAction SilentlyContinue)) {
    Invoke-Checked $daemon @('/registerService', "/displayName=$DisplayName", "/startup=$Startup")
}
if ($ServiceAccount) {
    # A gMSA or a virtual account has no password to give.
    Invoke-Checked 'sc.exe' @('config', $serviceName, 'obj=', $ServiceAccount)
}
Invoke-Checked 'sc.exe' @('failure', $serviceName, 'reset=', '86400', 'actions=', 'restart/5000/restart/30000//')

# 5. Start only a complete configuration.
& $daemon "/check-config=$config"
if ($LASTEXITCODE -ne 0) {
    Write-Warning "The service is registered but not started: fix the problems above in $config, then: Start-Service $serviceName"
    return
}
Start-Service -Name $serviceName
Write-Host "keyholder is running (service $serviceName)."
