"""Gap 11: Route 53 hosted zone ids.

AWS zone ids always start with ``Z`` (``Z1RWWTK7Y8UDDQ``); the guard role checks ``hosted_zone_id``
against that form. moto 5.2.5 draws 22 random characters, so most emulated ids would be refused.
"""

from __future__ import annotations

import random
import string
from typing import Any

from moto.route53 import models

_CHOICE = string.ascii_uppercase + string.digits


def generate(self: Any, existing_ids: Any = None, tags: Any = None) -> str:
    return "Z" + "".join(random.choice(_CHOICE) for _ in range(20))  # noqa: S311 - an id, not a secret


def apply() -> None:
    models.HostedZoneIdentifier.generate = generate
