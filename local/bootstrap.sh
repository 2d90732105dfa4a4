#!/usr/bin/env bash
# Set-up shared by `make demo` and `make test`: venv, Docker engine, base images, emulator, and (for the
# tests) the browser. Safe to re-run: every step checks first and reuses what exists.
#   bash local/bootstrap.sh [step ...]    steps: venv docker tools images emulator browser
# Environment: PYTHON (interpreter for the venv), VENV (its directory, default .venv), CHROMIUM.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
# The pinned ansible 12.x (ansible-core 2.19) runs on controller Pythons 3.11 to 3.13.
PY_MIN=11 PY_MAX=13
log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Install Debian packages where we can (root on Debian/Ubuntu); elsewhere stop with one sentence.
apt_install() {
  local why=$1; shift
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1 \
    && grep -qiE '^(ID|ID_LIKE)=.*(debian|ubuntu)' /etc/os-release 2>/dev/null; then
    log "installing $* ($why)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    return
  fi
  return 1
}

py_minor() { "$1" -c 'import sys; print(sys.version_info[1] if sys.version_info[0] == 3 else 0)' 2>/dev/null; }
supported() { local m; m=$(py_minor "$1") && ((m >= PY_MIN && m <= PY_MAX)); }

# The interpreter: $PYTHON if set; else python3 when it is supported (the machine's default); else the
# newest supported python3.X on PATH.
pick_python() {
  if [[ -n ${PYTHON:-} ]]; then
    command -v "$PYTHON" >/dev/null || die "PYTHON=$PYTHON is not on PATH"
    supported "$PYTHON" || die "Python 3.$PY_MIN to 3.$PY_MAX is required (the pinned ansible-core 2.19); PYTHON=$PYTHON is $("$PYTHON" --version 2>&1)"
    echo "$PYTHON"; return
  fi
  local c
  for c in python3 $(seq -f 'python3.%g' "$PY_MAX" -1 "$PY_MIN"); do
    if command -v "$c" >/dev/null 2>&1 && supported "$c"; then echo "$c"; return; fi
  done
  if command -v python3 >/dev/null 2>&1; then
    die "Python 3.$PY_MIN to 3.$PY_MAX is required (the pinned ansible-core 2.19); found $(python3 --version 2>&1): install python3.$PY_MIN or newer, or set PYTHON"
  fi
  die "python3 is missing: install Python 3.$PY_MIN to 3.$PY_MAX"
}

step_venv() {
  local stamp=$VENV/.installed py want have=""
  if [[ -x $VENV/bin/python ]]; then have=3.$(py_minor "$VENV/bin/python"); fi
  # An existing venv is kept unless PYTHON asks for another version.
  if [[ -n $have && -z ${PYTHON:-} ]] && supported "$VENV/bin/python"; then
    py=$VENV/bin/python
  else
    py=$(pick_python)
  fi
  want=3.$(py_minor "$py")
  if [[ -n $have && $have != "$want" ]]; then
    log "$VENV is Python $have, $py is $want: recreating it"
    rm -rf "$VENV"
  fi
  if [[ -f $stamp && $stamp -nt requirements.txt && $stamp -nt constraints.txt ]]; then
    log "venv up to date ($VENV, Python $want)"; return
  fi
  [[ -x $VENV/bin/python ]] || "$py" -m venv "$VENV"
  log "installing pinned Python packages into $VENV (Python $want)"
  # (pip warns about find-links folders of some machines that do not exist: noise, filtered out.)
  "$VENV/bin/pip" install -q --disable-pip-version-check -r requirements.txt -c constraints.txt \
    2> >(grep -v "^WARNING: Location .* is ignored" >&2)
  touch "$stamp"
}

docker_up() { docker info >/dev/null 2>&1; }

step_docker() {
  if docker_up; then log "docker engine answers"; return; fi
  if ! command -v dockerd >/dev/null 2>&1; then
    apt_install "the Docker engine" docker.io \
      || die "no Docker engine: install Docker Engine (https://docs.docker.com/engine/install/) and start it, then re-run"
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

# debootstrap builds the base images where no registry answers (local/images.py).
step_tools() {
  command -v debootstrap >/dev/null 2>&1 && return
  apt_install "base images without a registry" debootstrap \
    || log "debootstrap is missing and cannot be installed here; base images must then be pullable"
}

step_images() { "$VENV/bin/python" -m local.images ensure >/dev/null; log "base images present"; }
step_emulator() { "$VENV/bin/python" -m local.envctl up; }

# Headless Chromium for the browser tests (make test): Debian's package, or CHROMIUM pointing at one.
step_browser() {
  if [[ -n ${CHROMIUM:-} ]]; then
    [[ -x $CHROMIUM ]] || die "CHROMIUM=$CHROMIUM is not an executable Chromium"
    log "browser: $CHROMIUM"; return
  fi
  if command -v chromium >/dev/null 2>&1; then log "browser: $(command -v chromium)"; return; fi
  apt_install "the browser tests" chromium \
    || die "the browser tests need Chromium: install Debian's chromium package (or set CHROMIUM to a Chromium or Chrome binary), then re-run"
  command -v chromium >/dev/null 2>&1 || die "chromium did not install; set CHROMIUM to a Chromium or Chrome binary"
}

for step in "${@:-venv docker tools images emulator}"; do
  for s in $step; do "step_$s"; done
done
