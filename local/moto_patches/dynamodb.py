"""Gap 10: DynamoDB item writes are not atomic in moto server.

DynamoDB applies every write to one item atomically: N concurrent ``UpdateItem ADD #c :one`` on one
item end at N, each caller seeing a distinct new value (the visitor counter relies on it). moto 5.2.5
serves requests on a threaded server with no lock: the backend reads the item, deep-copies it,
evaluates the expression and stores the result, and the response handler reads the old item before
and serialises the (shared, mutable) item after the backend call. Two concurrent increments can so
start from, or report, the same value (20 threads on a loaded 2-core machine: 5 runs in 20 had a
duplicated or lost increment; with only the backend serialised still 1 in 20). We serialise the
item actions, response handler and backend, with one process-wide re-entrant lock: the emulator
serves one developer's rehearsal, its throughput does not matter, faithful atomicity does. Tests: the 20-thread
test and test_emulator_patch_serialises_item_writes in tests/unit/test_backend_counter.py.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.responses import DynamoHandler

LOCK = threading.RLock()
BACKEND_METHODS = ("get_item", "put_item", "update_item", "delete_item", "transact_write_items")
HANDLER_METHODS = (*BACKEND_METHODS, "batch_write_item")


def _serialised(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with LOCK:
            return method(*args, **kwargs)

    wrapper.__cloudsite_serialised__ = True  # type: ignore[attr-defined]
    return wrapper


def apply() -> None:
    for cls, names in ((DynamoDBBackend, BACKEND_METHODS), (DynamoHandler, HANDLER_METHODS)):
        for name in names:
            method = getattr(cls, name)
            if not getattr(method, "__cloudsite_serialised__", False):
                setattr(cls, name, _serialised(method))
