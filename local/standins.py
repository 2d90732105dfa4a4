"""Stand-in containers for emulated EC2 instances: one way to create them, for every creator.

Two things make a stand-in: the inventory plugin (``local/inventory_plugins/cloudsite_standins.py``)
when a playbook lists the web hosts, and the instance boot (``local.ec2_boot``) when the emulator's Auto
Scaling group launches a replacement that no playbook looks at. Both must start the same container
(systemd Debian named after the instance id, SSH with the generated key pair, a volume for
``/var/lib/docker``) and must never race: a per-instance ``fcntl`` lock in the state directory makes the
second creator wait for the first and then find the container running.
"""

from __future__ import annotations

import fcntl
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tools.paths import LOCAL_STATE

LABEL = "cloudsite.standin=1"
ROOT = Path(__file__).resolve().parent.parent
BOOT_FINISHED = "/var/lib/cloud/instance/boot-finished"


class StandinError(RuntimeError):
    """A stand-in could not be created or reached (one line, for the inventory or the boot log)."""


def docker(*args: str, check: bool = True) -> str:
    run = subprocess.run(["docker", *args], capture_output=True, text=True)
    if check and run.returncode != 0:
        raise StandinError(f"docker {' '.join(args[:2])} failed: {run.stderr.strip()}")
    return run.stdout.strip()


def state_dir(path: str | Path = LOCAL_STATE) -> Path:
    path = Path(path)
    return path if path.is_absolute() else ROOT / path


def ssh_key(state: str | Path = LOCAL_STATE) -> Path:
    """The stand-ins' key pair (generated once): what EC2's key pair is to an instance."""
    key = state_dir(state) / "ssh" / "id_ed25519"
    with locked(state_dir(state) / "ssh" / ".keygen.lock"):
        if not key.exists():
            subprocess.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "cloudsite-standin", "-f", str(key)],
                check=True,
            )
    return key


@contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def address(name: str) -> str:
    info = json.loads(docker("inspect", name))[0]
    return next(iter(info["NetworkSettings"]["Networks"].values()))["IPAddress"]


def ensure(
    name: str,
    key: Path,
    endpoint: str,
    image: str,
    user: str,
    state: str | Path = LOCAL_STATE,
    booted: bool = False,
    any_image: bool = False,
) -> tuple[str, bool]:
    """Make sure stand-in ``name`` runs ``image`` and answers SSH; returns (address, created).

    ``booted``: the instance has no user data, so its "cloud-init" has nothing to run: boot-finished is
    written at creation, as on an EC2 instance whose boot is over (the host play waits for that file).
    ``any_image``: a running stand-in is kept whatever image it runs (the boot takes the one an inventory
    with its own ``image`` option made).
    """
    with locked(state_dir(state) / "standins" / f"{name}.lock"):
        created = False
        running = docker("inspect", "-f", "{{.State.Running}} {{.Config.Image}}", name, check=False)
        if not (running == f"true {image}" or (any_image and running.startswith("true "))):
            created = True
            docker("rm", "-f", name, check=False)
            docker("volume", "create", "--label", LABEL, "--label", f"cloudsite.endpoint={endpoint}", f"{name}-docker")
            docker(
                "run",
                "-d",
                "--name",
                name,
                "--hostname",
                name,
                "--label",
                LABEL,
                "--label",
                f"cloudsite.endpoint={endpoint}",
                "--cap-add",
                "SYS_ADMIN",
                "--cap-add",
                "NET_ADMIN",
                "--security-opt",
                "seccomp=unconfined",
                "--cgroupns=host",
                "-v",
                "/sys/fs/cgroup:/sys/fs/cgroup:rw",
                "--tmpfs",
                "/run",
                "--tmpfs",
                "/run/lock",
                "--stop-signal",
                "SIGRTMIN+3",
                "-v",
                f"{name}-docker:/var/lib/docker",
                image,
                "/lib/systemd/systemd",
            )
            # Like cloud-init on EC2: the key pair's public key written once into the user's own, writable
            # authorized_keys (not a read-only bind mount), so a key rotation on the host can replace it.
            authorized = f"/home/{user}/.ssh/authorized_keys"
            install = subprocess.run(
                [
                    "docker",
                    "exec",
                    "-i",
                    name,
                    "sh",
                    "-c",
                    f"install -d -m 700 -o {user} -g {user} /home/{user}/.ssh && cat > {authorized}"
                    f" && chown {user}:{user} {authorized} && chmod 600 {authorized}",
                ],
                input=Path(f"{key}.pub").read_text(),
                capture_output=True,
                text=True,
            )
            if install.returncode != 0:
                raise StandinError(f"cannot install the SSH key in stand-in {name}: {install.stderr.strip()}")
        if booted:
            mark_booted(name)
        where = address(name)
        wait_ssh(where)
        return where, created


def mark_booted(name: str) -> None:
    """Write cloud-init's boot-finished marker in stand-in ``name`` (once: an existing one stays)."""
    docker(
        "exec",
        name,
        "sh",
        "-c",
        f"test -f {BOOT_FINISHED} || {{ install -d /var/lib/cloud/instance && date -u +%FT%TZ > {BOOT_FINISHED}; }}",
    )


def remove_stale(keep: set[str], endpoint: str) -> None:
    """Remove this emulator's stand-ins whose instance is gone (and their docker volumes)."""
    listed = docker(
        "ps",
        "-a",
        "--filter",
        f"label={LABEL}",
        "--filter",
        f"label=cloudsite.endpoint={endpoint}",
        "--format",
        "{{.Names}}",
    )
    for name in listed.split():
        if name not in keep:
            docker("rm", "-f", "-v", name, check=False)
            docker("volume", "rm", "-f", f"{name}-docker", check=False)


def wait_ssh(where: str, timeout: float = 60.0) -> None:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex((where, 22)) == 0:
                return
        time.sleep(0.3)
    raise StandinError(f"stand-in at {where} did not open SSH within {timeout:.0f} s")
