"""The rehearsal's EC2 instance boot: a launched instance runs its user data, as cloud-init would.

moto keeps an instance's user data but never boots anything (gap 31 in ``local.moto_patches``): no
user data runs, no instance metadata service answers, no instance reaches the AWS endpoints. So an Auto
Scaling group's replacement of a lost web instance (``web_host_mode: asg``) exists only on paper, and
whether it heals the site without a controller cannot be rehearsed. This thread, started next to the
local ALB in the emulator process (``local.moto_server``, only with the data plane on), closes that gap:

- every ~1 s it reads the EC2 models (like ``local.dataplane`` reads ELBv2's) for running instances
  with user data not booted yet;
- it ensures the instance's stand-in (``local.standins``, the inventory plugin's code and lock);
- it makes the instance environment inside the stand-in (``local.instance_env``): an IMDSv2 service on
  169.254.169.254 (the instance id, region, identity document and the instance profile role's test
  credentials), the local CA in the trust store, /etc/hosts sending the AWS endpoint names the user
  data's boto3 uses (S3 virtual-hosted, ELBv2, STS, EC2) to a TLS terminator on 127.0.0.1:443, which
  relays to a TCP relay here on the docker bridge gateway, which relays to the emulator on loopback;
- a terminated instance's stand-in is removed at once (no longer served by the local ALB);
- it runs the user data as root in the background (/var/lib/cloud/instance/user-data.txt, output in
  /var/log/cloud-init-output.log) and writes /var/lib/cloud/instance/boot-finished when it ends,
  whatever its exit code, as cloud-init does. The host play waits for that file before using apt.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from local import standins

INSTANCE_DIR = "/var/lib/cloud/instance"
ENV_DIR = "/usr/local/lib/cloudsite-instance"
CA_NAME = "cloudsite-rehearsal-ca.crt"
IMDS_ADDRESS = "169.254.169.254"


# -- pure parts (unit tested)


def endpoint_names(region: str) -> list[str]:
    """The AWS endpoint names an instance's SDK calls in ``region`` (boto3 1.26 defaults: https, S3
    virtual-hosted, STS global in us-east-1 and regional elsewhere)."""
    return [
        "s3.amazonaws.com",
        f"s3.{region}.amazonaws.com",
        "sts.amazonaws.com",
        f"sts.{region}.amazonaws.com",
        f"elasticloadbalancing.{region}.amazonaws.com",
        f"ec2.{region}.amazonaws.com",
        f"autoscaling.{region}.amazonaws.com",
    ]


def certificate_names(region: str) -> list[str]:
    """The leaf certificate's DNS SANs: the endpoints, and any bucket's virtual-hosted name (wildcards)."""
    return [*endpoint_names(region), "*.s3.amazonaws.com", f"*.s3.{region}.amazonaws.com"]


def hosts_lines(region: str, buckets: list[str]) -> list[str]:
    """/etc/hosts lines sending the endpoints and each bucket's virtual-hosted names to the TLS terminator."""
    names = endpoint_names(region)
    for bucket in sorted(buckets):
        names += [f"{bucket}.s3.amazonaws.com", f"{bucket}.s3.{region}.amazonaws.com"]
    return [f"127.0.0.1 {name} # cloudsite-rehearsal" for name in names]


def decode_user_data(raw: Any) -> str:
    """moto keeps user data as a Base64EncodedString (RunInstances) or a base64 str (a launch template's)."""
    if raw is None:
        return ""
    encoded = getattr(raw, "_encoded_string", None)
    if encoded is None:
        encoded = raw.decode() if isinstance(raw, bytes) else str(raw)
    try:
        return base64.b64decode(encoded, validate=True).decode("utf-8", "replace")
    except ValueError:
        return encoded


# -- certificates


def ensure_certificates(directory: Path, region: str) -> tuple[Path, Path, Path]:
    """A local CA (once) and a leaf for ``region``'s endpoint names (once per region): (ca, cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    ca_cert, ca_key = directory / "ca.pem", directory / "ca.key"
    leaf_cert, leaf_key = directory / f"leaf-{region}.pem", directory / f"leaf-{region}.key"
    now = datetime.datetime.now(datetime.UTC)
    pem = serialization.Encoding.PEM
    plain = serialization.NoEncryption()
    with standins.locked(directory / ".certs.lock"):
        if not (ca_cert.exists() and ca_key.exists()):
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cloudsite rehearsal CA")])
            cert = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=3650))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(
                    x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
                )
                .sign(key, hashes.SHA256())
            )
            ca_key.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, plain))
            ca_key.chmod(0o600)
            ca_cert.write_bytes(cert.public_bytes(pem))
        if not (leaf_cert.exists() and leaf_key.exists()):
            issuer = x509.load_pem_x509_certificate(ca_cert.read_bytes())
            signer = serialization.load_pem_private_key(ca_key.read_bytes(), None)
            key = ec.generate_private_key(ec.SECP256R1())
            names = certificate_names(region)
            cert = (
                x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
                .issuer_name(issuer.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=825))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .sign(signer, hashes.SHA256())
            )
            leaf_key.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, plain))
            leaf_key.chmod(0o600)
            leaf_cert.write_bytes(cert.public_bytes(pem))
    return ca_cert, leaf_cert, leaf_key


# -- host side relay


def bridge_gateway() -> str:
    """The docker bridge's gateway address: where a stand-in reaches this machine."""
    info = json.loads(standins.docker("network", "inspect", "bridge"))
    for config in info[0]["IPAM"]["Config"]:
        if config.get("Gateway"):
            return config["Gateway"]
        if config.get("Subnet") and ":" not in config["Subnet"]:
            # Some engines leave Gateway out: the default bridge's gateway is the subnet's first address.
            return str(next(ipaddress.ip_network(config["Subnet"]).hosts()))
    raise standins.StandinError("the docker bridge network has no gateway address")


class Relay:
    """TCP relay from the bridge gateway (ephemeral port) to the emulator on loopback."""

    def __init__(self, listen_host: str, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server((listen_host, 0))
        self.address = f"{listen_host}:{self.listener.getsockname()[1]}"
        self._stop = threading.Event()
        threading.Thread(target=self._accept, name="ec2-boot-relay", daemon=True).start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        from local.instance_env import splice

        splice(client, self.target)

    def stop(self) -> None:
        self._stop.set()
        self.listener.close()


# -- the boot loop


class Boot:
    def __init__(self, endpoint: str, workdir: Path, interval: float = 1.0) -> None:
        self.endpoint = endpoint
        self.workdir = Path(workdir) / "ec2-boot"
        self.interval = interval
        host, port = endpoint.rsplit("//", 1)[-1].rsplit(":", 1)
        self.relay = Relay(bridge_gateway(), (host, int(port)))
        self.relay_address = self.relay.address
        self.booted: set[str] = set()
        self.regions: dict[str, str] = {}  # booted instance -> region (for its hosts lines)
        self._buckets: list[str] = []
        self.failed: dict[str, str] = {}
        self.gone: set[str] = set()  # terminated instances seen (their stand-ins removed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="ec2-boot", daemon=True)

    def log(self, message: str) -> None:
        print(f"local EC2 boot: {message}", file=sys.stderr, flush=True)

    def pending(self) -> list[dict[str, Any]]:
        """Running instances with user data this boot has not booted (nor failed to boot)."""
        from moto.ec2.models import ec2_backends

        found: list[dict[str, Any]] = []
        terminated: list[str] = []
        for account in list(ec2_backends.keys()):
            for region in list(ec2_backends[account].keys()):
                backend = ec2_backends[account][region]
                for reservation in list(backend.reservations.values()):
                    for instance in list(reservation.instances):
                        if instance.state == "terminated" and instance.id not in self.gone:
                            self.gone.add(instance.id)
                            terminated.append(instance.id)
                        if instance.state != "running" or instance.id in self.booted or instance.id in self.failed:
                            continue
                        script = decode_user_data(instance.user_data)
                        if not script:
                            continue
                        role = ""
                        association = backend.iam_instance_profile_associations.get(instance.id)
                        profile = getattr(association, "iam_instance_profile", None)
                        if profile is not None and profile.roles:
                            role = profile.roles[0].name
                        found.append(
                            {
                                "instance_id": instance.id,
                                "region": region,
                                "account_id": account,
                                "availability_zone": instance._placement.zone or "",
                                "private_ip": instance.private_ip or "",
                                "image_id": instance.image_id,
                                "instance_type": instance.instance_type,
                                "architecture": instance.architecture,
                                "role": role,
                                "user_data": script,
                            }
                        )
        self.terminate(terminated)
        return found

    def terminate(self, instance_ids: list[str]) -> None:
        """A terminated instance stops at once (its stand-in goes, as the plugin would remove it on the next
        inventory parse): otherwise the local ALB would keep reaching a lost instance's containers."""
        if not instance_ids:
            return
        ours = standins.docker(
            "ps",
            "-a",
            "--filter",
            f"label={standins.LABEL}",
            "--filter",
            f"label=cloudsite.endpoint={self.endpoint}",
            "--format",
            "{{.Names}}",
        ).split()
        for name in set(instance_ids) & set(ours):
            standins.docker("rm", "-f", "-v", name, check=False)
            standins.docker("volume", "rm", "-f", f"{name}-docker", check=False)
            self.regions.pop(name, None)
            self.log(f"{name} terminated: stand-in removed")

    def buckets(self) -> list[str]:
        from moto.s3.models import s3_backends

        names = []
        for account in list(s3_backends.keys()):
            for backend in list(s3_backends[account].values()):
                names += list(backend.buckets.keys())
        return sorted(set(names))

    def boot(self, meta: dict[str, Any]) -> None:
        name, region = meta["instance_id"], meta["region"]
        key = standins.ssh_key()
        image = standins_image()
        standins.ensure(name, key, self.endpoint, image, standins_user(), any_image=True)
        started = standins.docker("exec", name, "sh", "-c", f"test -e {INSTANCE_DIR}/user-data.txt && echo yes || true")
        if started == "yes":  # booted before this emulator process (or by an earlier pass)
            self.booted.add(name)
            return
        ca, cert, cert_key = ensure_certificates(self.workdir, region)
        public = {k: v for k, v in meta.items() if k != "user_data"}
        public["credentials"] = {"AccessKeyId": "testing", "SecretAccessKey": "testing", "Token": "testing"}
        stage = self.workdir / name
        stage.mkdir(parents=True, exist_ok=True)
        (stage / "metadata.json").write_text(json.dumps(public))
        (stage / "hosts").write_text("\n".join(hosts_lines(region, self._buckets)) + "\n")
        (stage / "user-data.txt").write_text(meta["user_data"])
        standins.docker("exec", name, "install", "-d", "-m", "0755", ENV_DIR, INSTANCE_DIR)
        files = {
            Path(__file__).with_name("instance_env.py"): f"{ENV_DIR}/instance_env.py",
            stage / "metadata.json": f"{ENV_DIR}/metadata.json",
            cert: f"{ENV_DIR}/endpoint.pem",
            cert_key: f"{ENV_DIR}/endpoint.key",
            ca: f"/usr/local/share/ca-certificates/{CA_NAME}",
        }
        for source, target in files.items():
            standins.docker("cp", str(source), f"{name}:{target}")
        standins.docker(
            "exec",
            name,
            "sh",
            "-c",
            f"chmod 0600 {ENV_DIR}/endpoint.key {ENV_DIR}/metadata.json"
            f" && (ip addr show dev lo | grep -q ' {IMDS_ADDRESS}/' || ip addr add {IMDS_ADDRESS}/32 dev lo)"
            " && update-ca-certificates >/dev/null",
        )
        self._write_hosts(name, stage / "hosts")
        standins.docker("exec", "-d", name, "python3", f"{ENV_DIR}/instance_env.py", "imds", f"{ENV_DIR}/metadata.json")
        standins.docker(
            "exec",
            "-d",
            name,
            "python3",
            f"{ENV_DIR}/instance_env.py",
            "tls",
            f"{ENV_DIR}/endpoint.pem",
            f"{ENV_DIR}/endpoint.key",
            self.relay_address,
        )
        self._wait_services(name)
        standins.docker("cp", str(stage / "user-data.txt"), f"{name}:{INSTANCE_DIR}/user-data.txt")
        standins.docker(
            "exec",
            "-d",
            name,
            "sh",
            "-c",
            f"chmod 0700 {INSTANCE_DIR}/user-data.txt; {INSTANCE_DIR}/user-data.txt"
            f' >>/var/log/cloud-init-output.log 2>&1; echo "exit $?" >>/var/log/cloud-init-output.log;'
            f" date -u +%FT%TZ > {standins.BOOT_FINISHED}",
        )
        self.booted.add(name)
        self.regions[name] = region
        self.log(f"{name} booted: user data running (log /var/log/cloud-init-output.log in the stand-in)")

    @staticmethod
    def _write_hosts(name: str, lines: Path) -> None:
        """Replace the rehearsal's lines in the stand-in's /etc/hosts (a bind mount: rewritten in place)."""
        standins.docker("cp", str(lines), f"{name}:{ENV_DIR}/hosts")
        standins.docker(
            "exec",
            name,
            "sh",
            "-c",
            f"grep -v ' # cloudsite-rehearsal$' /etc/hosts > {ENV_DIR}/hosts.base; "
            f"cat {ENV_DIR}/hosts.base {ENV_DIR}/hosts > /etc/hosts",
        )

    def _refresh_buckets(self) -> None:
        """Each bucket's virtual-hosted name must resolve in every booted stand-in, also a bucket made later
        (a deploy creates the artifacts bucket after the group's first instance booted)."""
        buckets = self.buckets()
        if buckets == self._buckets:
            return
        self._buckets = buckets
        for name, region in list(self.regions.items()):
            stage = self.workdir / name
            (stage / "hosts").write_text("\n".join(hosts_lines(region, buckets)) + "\n")
            try:
                self._write_hosts(name, stage / "hosts")
            except standins.StandinError:  # the instance (and its stand-in) went away
                self.regions.pop(name, None)

    @staticmethod
    def _wait_services(name: str, timeout: float = 20.0) -> None:
        probe = (
            "import socket,sys\n"
            f"for a in (('{IMDS_ADDRESS}', 80), ('127.0.0.1', 443)):\n"
            "    socket.create_connection(a, timeout=1).close()\n"
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = subprocess.run(["docker", "exec", name, "python3", "-c", probe], capture_output=True)
            if run.returncode == 0:
                return
            time.sleep(0.3)
        raise standins.StandinError(f"the instance services in stand-in {name} did not start within {timeout:.0f} s")

    def run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self._refresh_buckets()
                pending = self.pending()
            except Exception as error:  # a model changing under us: next pass
                self.log(f"cannot read the EC2 state: {error}")
                continue
            for meta in pending:
                try:
                    self.boot(meta)
                except Exception as error:
                    # One line, once per instance: a stand-in that cannot boot stays as it is.
                    self.failed[meta["instance_id"]] = str(error)
                    self.log(f"{meta['instance_id']} did not boot: {error}")

    def start(self) -> Boot:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.relay.stop()


def standins_user() -> str:
    return os.environ.get("CLOUDSITE_STANDIN_USER", "admin")


def standins_image() -> str:
    from local.images import standin_tag

    return standin_tag("bookworm", standins_user())


_BOOT: Boot | None = None


def current() -> Boot | None:
    return _BOOT


def start(endpoint: str, workdir: Path) -> Boot:
    """Start the boot thread (``local.moto_server`` calls it when the data plane is on)."""
    global _BOOT
    _BOOT = Boot(endpoint, workdir).start()
    return _BOOT
