"""Base images for the offline rehearsal, built without a registry.

Every image is tagged so that a later run finds it and skips the build. Order of preference for the
plain Debian base of a release:

1. the image is already present locally (``docker image inspect``): nothing to do;
2. ``docker pull debian:<release>`` works (a registry answers): build on top of it;
3. otherwise ``debootstrap`` a minimal root file system from the Debian mirror named in the apt
   sources and ``docker import`` it.

The systemd-capable and nginx images are then ``docker build``-ed FROM the plain base (apt works
inside a build on our machines). Usage::

    python -m local.images ensure [--release bookworm --release trixie] [--only plain|systemd|nginx]

The ``systemd`` step also makes the stand-in image (``standin_tag``): the systemd image plus the AMI's
login user with passwordless sudo and ``PermitRootLogin no``, as Debian's cloud images are.
    python -m local.images list
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = "cloudsite"
RELEASES = ("bookworm", "trixie")
DEFAULT_MIRROR = "http://deb.debian.org/debian"

# Tags. Kept as functions so tests and Molecule files name them in one way only.


def plain_tag(release: str) -> str:
    return f"{REPO}/debian:{release}"


def systemd_tag(release: str) -> str:
    return f"{REPO}/debian-systemd:{release}"


# The user a stand-in is reached as, like the AMI's default user (Debian's cloud images: admin).
DEFAULT_ADMIN_USER = "admin"


def standin_tag(release: str, user: str = DEFAULT_ADMIN_USER) -> str:
    """The EC2 stand-in and Molecule image: the systemd image plus a sudo user, root login refused."""
    return f"{REPO}/debian-systemd:{release}-{user}"


def nginx_tag(release: str = "bookworm") -> str:
    return f"{REPO}/nginx-base:{release}"


SYSTEMD_DOCKERFILE = """\
FROM {base}
ENV DEBIAN_FRONTEND=noninteractive container=docker
RUN apt-get update \\
 && apt-get install -y --no-install-recommends systemd systemd-sysv dbus sudo iproute2 \\
      ca-certificates openssh-server python3-apt curl gnupg \\
 && apt-get clean && rm -rf /var/lib/apt/lists/* \\
 && systemctl mask systemd-modules-load.service getty.target console-getty.service \\
      systemd-logind.service systemd-firstboot.service \\
 && mkdir -p /root/.ssh && chmod 700 /root/.ssh \\
 && sed -i 's/^#\\?PermitRootLogin.*/PermitRootLogin prohibit-password/' /etc/ssh/sshd_config \\
 && sed -i 's/^#\\?UseDNS.*/UseDNS no/' /etc/ssh/sshd_config \\
 && rm -f /etc/ssh/ssh_host_*_key* && systemctl enable ssh \\
 && printf '[Unit]\\nDescription=Generate SSH host keys\\nBefore=ssh.service\\nConditionPathExists=!/etc/ssh/ssh_host_ed25519_key\\n[Service]\\nType=oneshot\\nExecStart=/usr/bin/ssh-keygen -A\\n[Install]\\nWantedBy=multi-user.target\\n' > /etc/systemd/system/ssh-keygen.service \\
 && systemctl enable ssh-keygen.service
STOPSIGNAL SIGRTMIN+3
CMD ["/lib/systemd/systemd"]
"""

# What Debian's cloud images do (cloud-init's default user): a login user with passwordless sudo
# (/etc/sudoers.d/90-cloud-init-users), root SSH login refused, root has no authorized keys. The
# password field is '*' (no password, but not a locked account, so key login works without PAM too).
STANDIN_DOCKERFILE = """\
FROM {base}
RUN useradd --create-home --shell /bin/bash --groups sudo --password '*' {user} \\
 && install -d -m 0700 -o {user} -g {user} /home/{user}/.ssh \\
 && printf '{user} ALL=(ALL) NOPASSWD:ALL\\n' > /etc/sudoers.d/90-cloud-init-users \\
 && chmod 0440 /etc/sudoers.d/90-cloud-init-users \\
 && rm -rf /root/.ssh \\
 && sed -i 's/^#\\?PermitRootLogin.*/PermitRootLogin no/' /etc/ssh/sshd_config \\
 && grep -qx 'PermitRootLogin no' /etc/ssh/sshd_config
"""

NGINX_DOCKERFILE = """\
FROM {base}
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \\
 && apt-get install -y --no-install-recommends nginx-light ca-certificates \\
 && apt-get clean && rm -rf /var/lib/apt/lists/* \\
 && ln -sf /dev/stdout /var/log/nginx/access.log && ln -sf /dev/stderr /var/log/nginx/error.log
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
"""

PULLED_PLAIN_DOCKERFILE = """\
FROM debian:{release}
RUN apt-get update && apt-get install -y --no-install-recommends python3 ca-certificates \\
 && apt-get clean && rm -rf /var/lib/apt/lists/*
"""


class ImageError(RuntimeError):
    """A base image could not be made; the message says what to do."""


def log(msg: str) -> None:
    print(f"[images] {msg}", file=sys.stderr, flush=True)


def image_exists(tag: str) -> bool:
    return (
        subprocess.run(
            ["docker", "image", "inspect", tag], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        ).returncode
        == 0
    )


def mirror_url(sources_dir: str = "/etc/apt") -> str:
    """The Debian mirror this machine's apt uses (deb822 ``URIs:`` or one-line ``deb`` form)."""
    candidates = sorted(Path(sources_dir).glob("sources.list.d/*.sources"))
    candidates += [Path(sources_dir) / "sources.list"]
    candidates += sorted(Path(sources_dir).glob("sources.list.d/*.list"))
    for path in candidates:
        try:
            text = path.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            m = re.match(r"\s*URIs:\s*(\S+)", line) or re.match(r"\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)", line)
            if m and "security" not in m.group(1) and "debian" in m.group(1):
                return m.group(1).rstrip("/")
    return DEFAULT_MIRROR


def _docker_build(tag: str, dockerfile: str) -> None:
    with tempfile.TemporaryDirectory() as ctx:
        Path(ctx, "Dockerfile").write_text(dockerfile)
        run = subprocess.run(["docker", "build", "-q", "-t", tag, ctx], capture_output=True, text=True)
    if run.returncode != 0:
        raise ImageError(f"docker build of {tag} failed: {run.stderr.strip()[-2000:]}")


def _try_pull(release: str) -> bool:
    log(f"trying docker pull debian:{release}")
    run = subprocess.run(["docker", "pull", f"debian:{release}"], capture_output=True, text=True)
    return run.returncode == 0


def _debootstrap(release: str, tag: str) -> None:
    if shutil.which("debootstrap") is None:
        raise ImageError("debootstrap is missing: install it (apt-get install debootstrap) to build images offline")
    mirror = mirror_url()
    with tempfile.TemporaryDirectory(prefix=f"rootfs-{release}-") as root:
        cmd = [
            "debootstrap",
            "--variant=minbase",
            "--include=python3,ca-certificates",
            release,
            root,
            mirror,
        ]
        log(f"debootstrap {release} from {mirror} (about 90 s)")
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            raise ImageError(f"debootstrap {release} failed: {run.stdout[-1500:]}{run.stderr[-1500:]}")
        for sub in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in Path(root, sub).glob("*"):
                if entry.is_file():
                    entry.unlink()
        # debootstrap leaves the host's resolv.conf/hostname: containers get their own.
        for leftover in ("etc/hostname", "etc/resolv.conf"):
            Path(root, leftover).unlink(missing_ok=True)
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        imp = subprocess.run(
            ["docker", "import", "--change", 'CMD ["/bin/bash"]', "-", tag],
            stdin=tar.stdout,
            capture_output=True,
            text=True,
        )
        tar.wait()
        if imp.returncode != 0 or tar.returncode != 0:
            raise ImageError(f"docker import of {tag} failed: {imp.stderr.strip()}")


def ensure_plain(release: str) -> str:
    tag = plain_tag(release)
    if image_exists(tag):
        log(f"{tag} present, skipping build")
        return "present"
    started = time.monotonic()
    if _try_pull(release):
        _docker_build(tag, PULLED_PLAIN_DOCKERFILE.format(release=release))
        how = "pulled"
    else:
        _debootstrap(release, tag)
        how = "debootstrap"
    log(f"{tag} built ({how}) in {time.monotonic() - started:.0f} s")
    return how


def _ensure_derived(tag: str, base: str, dockerfile: str) -> str:
    if image_exists(tag):
        log(f"{tag} present, skipping build")
        return "present"
    started = time.monotonic()
    _docker_build(tag, dockerfile.format(base=base))
    log(f"{tag} built in {time.monotonic() - started:.0f} s")
    return "built"


def ensure_systemd(release: str) -> str:
    ensure_plain(release)
    return _ensure_derived(systemd_tag(release), plain_tag(release), SYSTEMD_DOCKERFILE)


def ensure_standin(release: str, user: str = DEFAULT_ADMIN_USER) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", user):
        raise ImageError(f"the stand-in user must be a Linux user name; got {user!r}")
    ensure_systemd(release)
    return _ensure_derived(standin_tag(release, user), systemd_tag(release), STANDIN_DOCKERFILE.replace("{user}", user))


def ensure_nginx(release: str = "bookworm") -> str:
    ensure_plain(release)
    return _ensure_derived(nginx_tag(release), plain_tag(release), NGINX_DOCKERFILE)


def ensure_all(releases=RELEASES, only: str | None = None) -> dict[str, str]:
    results: dict[str, str] = {}
    for release in releases:
        if only in (None, "plain"):
            results[plain_tag(release)] = ensure_plain(release)
        if only in (None, "systemd"):
            results[systemd_tag(release)] = ensure_systemd(release)
            results[standin_tag(release)] = ensure_standin(release)
    if only in (None, "nginx"):
        results[nginx_tag()] = ensure_nginx()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    ens = sub.add_parser("ensure")
    ens.add_argument("--release", action="append", choices=RELEASES)
    ens.add_argument("--only", choices=("plain", "systemd", "nginx"))
    sub.add_parser("list")
    args = parser.parse_args(argv)
    if args.cmd == "list":
        for release in RELEASES:
            for tag in (plain_tag(release), systemd_tag(release), standin_tag(release)):
                print(f"{tag}\t{'present' if image_exists(tag) else 'missing'}")
        print(f"{nginx_tag()}\t{'present' if image_exists(nginx_tag()) else 'missing'}")
        return 0
    try:
        for tag, how in ensure_all(tuple(args.release or RELEASES), args.only).items():
            print(f"{tag}\t{how}")
    except ImageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("DOCKER_BUILDKIT", "0")
    sys.exit(main())
