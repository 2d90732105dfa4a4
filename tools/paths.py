"""Where the repository puts what it generates: one root, ``build/``, ignored by git, removed by ``make clean``.

The Python side's one definition (the Ansible side's is ``output_root`` in group_vars/all.yml; a unit test
holds the two together). Below it: ``site/`` (the site build), ``config.json`` (the site's runtime config),
``sam/`` (the function zips), ``images/`` (frontend image archives), ``local/`` (the emulator's state),
``bench/``, ``drift.json``, ``screenshots/``.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT_ROOT = ROOT / "build"
# The offline rehearsal's state (pid files, logs, data plane, the stand-ins' SSH key). The emulator's
# processes move with LOCAL_STATE_DIR (local/envctl.py); the stand-ins' key stays here, one per checkout.
LOCAL_STATE = OUTPUT_ROOT / "local"
