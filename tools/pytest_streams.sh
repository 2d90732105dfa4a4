#!/usr/bin/env bash
# `make pytest`: the whole suite in two streams at once. The files listed in tests/stream-b.txt run in a
# copy of the working tree outside the checkout ($TMPDIR: its own build output, image archives, stand-in
# key and emulators), the rest here. Each integration test is mostly waiting on SSH, Docker and a private
# emulator, so two streams on a 2-core machine take far less than one after the other.
#   tools/pytest_streams.sh [pytest args]   with a test path among the args: one stream, as plain pytest.
#   PYTEST_STREAMS=1: one stream (for a debugger, or a machine with one core).
#   STREAM_B_MOLECULE="default docker": stream B then runs `molecule test` on those scenarios (`make test`:
#   Molecule is mostly waits on containers, so it overlaps stream A instead of following both).
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
pytest=$PWD/$VENV/bin/pytest
scenarios=${STREAM_B_MOLECULE:-}

# `molecule test` on each scenario in the current directory, stopping at the first failure.
molecule_scenarios() {
  local s
  for s in $scenarios; do
    echo "== molecule test -s $s"
    "$PWD/$VENV/bin/molecule" test -s "$s" || return
  done
}

one_stream() {
  "$pytest" "$@"
  local rc=$?
  [[ $rc -eq 0 ]] || exit "$rc"
  molecule_scenarios || exit
  exit 0
}

for arg in "$@"; do
  if [[ $arg == tests* ]]; then exec "$pytest" "$@"; fi
done
mapfile -t stream_b < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' tests/stream-b.txt | grep -v '^$')
if [[ ${PYTEST_STREAMS:-2} == 1 || ${#stream_b[@]} -eq 0 ]]; then one_stream "$@"; fi

# The copy: what git tracks plus new files it does not ignore, as they are in the working tree now.
copy=$(mktemp -d "${TMPDIR:-/tmp}/cloudsite-stream-b.XXXXXX")
log=$copy.log
git ls-files -z -co --exclude-standard | tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -xf - -C "$copy"
ln -sfn "$PWD/$VENV" "$copy/$VENV"
[[ $VENV == .venv ]] || ln -sfn "$PWD/$VENV" "$copy/.venv"
# The checkout's repository, for what reads it (the deploy audit records the commit).
ln -sfn "$PWD/.git" "$copy/.git"

ignore=()
for f in "${stream_b[@]}"; do ignore+=("--ignore=$f"); done
echo "[pytest] stream B (${stream_b[*]}) in $copy, log $log; stream A here"
(
  cd "$copy" || exit
  export ANSIBLE_CONFIG=$copy/ansible.cfg
  "$pytest" "$@" "${stream_b[@]}"
  rc=$?
  # pytest's 5 (no tests collected) is no failure of Molecule's.
  [[ $rc -eq 0 || $rc -eq 5 ]] || exit "$rc"
  molecule_scenarios || exit
  exit "$rc"
) >"$log" 2>&1 &
pid_b=$!
"$pytest" "$@" "${ignore[@]}"
rc_a=$?
wait "$pid_b"
rc_b=$?
echo "[pytest] ===== stream B ($log) ====="
cat "$log"
# Kept when it failed, to read its build output and emulator logs.
[[ $rc_b -ne 0 ]] || rm -rf "$copy" "$log"
echo "[pytest] stream A exit $rc_a, stream B exit $rc_b"
# pytest's 5 (no tests collected) in one stream is not a failure of the other's.
for rc in $rc_a $rc_b; do [[ $rc -eq 0 || $rc -eq 5 ]] || exit "$rc"; done
[[ $rc_a -eq 0 || $rc_b -eq 0 ]] || exit 5
exit 0
