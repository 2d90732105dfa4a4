#!/usr/bin/env bash
# Set-up shared by `make demo` and `make test`: venv, Docker engine, base images, emulator.
# Safe to re-run: every step checks first and reuses what exists.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

step_venv() {
  local stamp=$VENV/.installed
  if [[ -f $stamp && $stamp -nt requirements.txt && $stamp -nt constraints.txt ]]; then
    log "venv up to date ($VENV)"; return
  fi
  command -v "$PY" >/dev/null || die "python3 is missing: install Python 3.11"
  "$PY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || die "Python 3.11 is required (the pinned ansible 12.x); found $("$PY" --version 2>&1)"
  [[ -x $VENV/bin/python ]] || "$PY" -m venv "$VENV"
  log "installing pinned Python packages into $VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.txt -c constraints.txt
  touch "$stamp"
}

docker_up() { docker info >/dev/null 2>&1; }

step_docker() {
  if docker_up; then log "docker engine answers"; return; fi
  if ! command -v dockerd >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null && grep -qiE '^(ID|ID_LIKE)=.*(debian|ubuntu)' /etc/os-release; then
      log "installing the distribution's docker.io"
      apt-get update -qq >/dev/null
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
    else
      die "no Docker engine: install Docker Engine (https://docs.docker.com/engine/install/) and start it, then re-run"
    fi
  fi
  command -v docker >/dev/null || die "the docker client is missing: install docker.io (Debian/Ubuntu) or docker-ce-cli"
  if [[ -d /run/systemd/system ]] && systemctl start docker 2>/dev/null && docker_up; then
    log "docker started by systemd"; return
  fi
  [[ $(id -u) -eq 0 ]] || die "the Docker engine is not running and we are not root: start it (sudo systemctl start docker)"
  log "starting dockerd in the background (log: /var/log/dockerd.log)"
  nohup dockerd >/var/log/dockerd.log 2>&1 &
  for _ in $(seq 1 60); do docker_up && return; sleep 0.5; done
  die "dockerd did not come up within 30 s; see /var/log/dockerd.log"
}

step_tools() {
  if ! command -v debootstrap >/dev/null 2>&1 && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    log "installing debootstrap"
    apt-get update -qq >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
}

step_images() { "$VENV/bin/python" -m local.images ensure >/dev/null; log "base images present"; }
step_emulator() { "$VENV/bin/python" -m local.envctl up; }

for step in "${@:-venv docker tools images emulator}"; do
  for s in $step; do "step_$s"; done
done
