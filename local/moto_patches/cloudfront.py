"""Gaps 2-4: CloudFront distributions with origin groups and Origin Access Control.

2. ``DistributionConfig`` checks the default behaviour's ``TargetOriginId`` against origin ids only;
   AWS also accepts an origin group id (that is what makes ALB-primary / S3-failover work).
3. ``Origin`` keeps neither ``S3OriginConfig`` nor ``OriginAccessControlId``, so GetDistributionConfig
   returns an S3 origin without them and every compare sees drift.
4. Invalidations report ``COMPLETED``; AWS reports ``Completed`` (botocore's waiter waits for that).
14. Distributions serve nothing and invalidations purge nothing: with ``LOCAL_EDGE_PORT`` set,
    ``local.edge`` serves them and CreateInvalidation purges the edge's cache before it answers.
"""

from __future__ import annotations

from typing import Any

from moto.cloudfront import models
from moto.cloudfront.exceptions import OriginDoesNotExist

from local import dataplane

_orig_config_init = models.DistributionConfig.__init__
_orig_origin_init = models.Origin.__init__
_orig_invalidation_init = models.Invalidation.__init__


def _group_ids(config: dict[str, Any]) -> list[str]:
    groups = config.get("OriginGroups") or {}
    return [g["Id"] for g in (groups.get("Items") or [])]


def config_init(self: Any, config: dict[str, Any]) -> None:
    behaviour = config.get("DefaultCacheBehavior") or {}
    target = behaviour.get("TargetOriginId")
    origins = (config.get("Origins") or {}).get("Items") or []
    origin_ids = [o["Id"] if isinstance(o, dict) else o.id for o in origins]
    if target is not None and target not in origin_ids and target in _group_ids(config):
        for group in config["OriginGroups"]["Items"]:
            members = [m["OriginId"] for m in group["Members"]["Items"]]
            if group["Id"] == target and not set(members) <= set(origin_ids):
                raise OriginDoesNotExist
        # Let moto's own validation see a real origin, then put the group id back.
        behaviour["TargetOriginId"] = origin_ids[0]
        _orig_config_init(self, config)
        self.DefaultCacheBehavior.target_origin_id = target
        return
    _orig_config_init(self, config)


def origin_init(self: Any, origin: dict[str, Any]) -> None:
    _orig_origin_init(self, origin)
    if "S3OriginConfig" in origin:
        self.s3_origin_config = {"OriginAccessIdentity": origin["S3OriginConfig"].get("OriginAccessIdentity") or ""}
    self.origin_access_control_id = origin.get("OriginAccessControlId") or ""


def invalidation_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _orig_invalidation_init(self, *args, **kwargs)
    # With the local edge running (gap 14), its cache is purged first: Completed means purged.
    if (edge := dataplane.current_edge()) is not None:
        edge.invalidate(self.distribution.id, list(self.paths or []))
    self.status = "Completed"


def apply() -> None:
    models.DistributionConfig.__init__ = config_init
    models.Origin.__init__ = origin_init
    models.Invalidation.__init__ = invalidation_init
