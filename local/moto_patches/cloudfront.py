"""Gaps 2-4, 14 and 19: CloudFront distributions with origin groups, Origin Access Control, a local
edge, response headers policies.

2. ``DistributionConfig`` checks the default behaviour's ``TargetOriginId`` against origin ids only;
   AWS also accepts an origin group id (that is what makes ALB-primary / S3-failover work).
3. ``Origin`` keeps neither ``S3OriginConfig`` nor ``OriginAccessControlId``, so GetDistributionConfig
   returns an S3 origin without them and every compare sees drift.
4. Invalidations report ``COMPLETED``; AWS reports ``Completed`` (botocore's waiter waits for that).
   A repeated ``CallerReference`` creates a new invalidation; AWS returns the one it already made when
   the paths are the same, and refuses with ``InvalidationBatchAlreadyExists`` when they differ.
14. Distributions serve nothing and invalidations purge nothing: with ``LOCAL_EDGE_PORT`` set,
    ``local.edge`` serves them and CreateInvalidation purges the edge's cache before it answers.
19. No response headers policy API at all (Create/Get/GetConfig/List/Update/Delete), and a
    distribution may name any ``ResponseHeadersPolicyId``; AWS refuses an unknown one.
"""

from __future__ import annotations

from typing import Any

from moto.cloudfront import models
from moto.cloudfront.exceptions import CloudFrontException, OriginDoesNotExist
from moto.core.responses import ActionResult, EmptyResult

from local import dataplane

_orig_config_init = models.DistributionConfig.__init__
_orig_origin_init = models.Origin.__init__
_orig_invalidation_init = models.Invalidation.__init__


def _group_ids(config: dict[str, Any]) -> list[str]:
    groups = config.get("OriginGroups") or {}
    return [g["Id"] for g in (groups.get("Items") or [])]


def config_init(self: Any, config: dict[str, Any]) -> None:
    _check_policy_reference(config)
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


_orig_create_invalidation = models.CloudFrontBackend.create_invalidation


class InvalidationBatchAlreadyExists(CloudFrontException):
    def __init__(self, reference: str) -> None:
        super().__init__(
            "InvalidationBatchAlreadyExists",
            f"An invalidation with CallerReference {reference} already exists with other paths.",
        )


def create_invalidation(self: Any, dist_id: str, paths: list[str], caller_ref: str) -> Any:
    """Gap 4: a repeated CallerReference answers the existing invalidation (same paths) or refuses."""
    for existing in self.invalidations.get(dist_id) or []:
        if existing.caller_ref == caller_ref:
            if sorted(existing.paths or []) != sorted(paths or []):
                raise InvalidationBatchAlreadyExists(caller_ref)
            return existing
    return _orig_create_invalidation(self, dist_id, paths, caller_ref)


def apply() -> None:
    models.CloudFrontBackend.create_invalidation = create_invalidation
    models.DistributionConfig.__init__ = config_init
    models.Origin.__init__ = origin_init
    models.Invalidation.__init__ = invalidation_init
    apply_response_headers_policies()


# Gap 19: response headers policies (moto 5.2.5 has none of the six operations). What AWS enforces and
# the deploy relies on: ETag + IfMatch on update and delete (PreconditionFailed), unique names
# (ResponseHeadersPolicyAlreadyExists), no delete while a distribution uses the policy
# (ResponseHeadersPolicyInUse), and a distribution may only name a policy that exists
# (NoSuchResponseHeadersPolicy).
RHP_PATHS = {
    "{0}/2020-05-31/response-headers-policy$": "dispatch",
    "{0}/2020-05-31/response-headers-policy/(?P<policy_id>[^/]+)$": "dispatch",
    "{0}/2020-05-31/response-headers-policy/(?P<policy_id>[^/]+)/config$": "dispatch",
}


class ResponseHeadersPolicy:
    def __init__(self, config: dict[str, Any]) -> None:
        self.id = models.random_id()
        self.update(config)

    def update(self, config: dict[str, Any]) -> None:
        self.config = config
        self.etag = models.random_id()
        self.last_modified = models.utcnow()

    def as_dict(self) -> dict[str, Any]:
        return {"Id": self.id, "LastModifiedTime": self.last_modified, "ResponseHeadersPolicyConfig": self.config}


def _policies(backend: Any) -> dict[str, ResponseHeadersPolicy]:
    if not hasattr(backend, "response_headers_policies"):
        backend.response_headers_policies = {}
    return backend.response_headers_policies


def _get_policy(backend: Any, policy_id: str) -> ResponseHeadersPolicy:
    policy = _policies(backend).get(policy_id)
    if policy is None:
        raise CloudFrontException("NoSuchResponseHeadersPolicy", "The response headers policy does not exist.")
    return policy


def _check_if_match(policy: ResponseHeadersPolicy, if_match: str | None) -> None:
    if not if_match:
        raise CloudFrontException("InvalidIfMatchVersion", "The If-Match version is missing or not valid.")
    if if_match != policy.etag:
        raise CloudFrontException("PreconditionFailed", "The precondition in one or more of the request fields failed.")


def _policy_ids_in_use(backend: Any) -> set[str]:
    used = set()
    for dist in backend.distributions.values():
        config = dist.distribution_config
        behaviours = [config.DefaultCacheBehavior, *((config.CacheBehaviors or {}).get("Items") or [])]
        used |= {getattr(b, "response_headers_policy_id", None) for b in behaviours}
    return {u for u in used if u}


def create_response_headers_policy(self: Any) -> ActionResult:
    config = self._get_param("ResponseHeadersPolicyConfig", {})
    policies = _policies(self.backend)
    if any(p.config.get("Name") == config.get("Name") for p in policies.values()):
        raise CloudFrontException(
            "ResponseHeadersPolicyAlreadyExists", "A response headers policy with this name already exists."
        )
    policy = ResponseHeadersPolicy(config)
    policies[policy.id] = policy
    location = f"https://cloudfront.amazonaws.com/2020-05-31/response-headers-policy/{policy.id}"
    return ActionResult({"ResponseHeadersPolicy": policy.as_dict(), "ETag": policy.etag, "Location": location})


def get_response_headers_policy(self: Any) -> ActionResult:
    policy = _get_policy(self.backend, self._get_param("Id"))
    return ActionResult({"ResponseHeadersPolicy": policy.as_dict(), "ETag": policy.etag})


def get_response_headers_policy_config(self: Any) -> ActionResult:
    policy = _get_policy(self.backend, self._get_param("Id"))
    return ActionResult({"ResponseHeadersPolicyConfig": policy.config, "ETag": policy.etag})


def list_response_headers_policies(self: Any) -> ActionResult:
    kind = self._get_param("Type")
    items = (
        []
        if kind == "managed"
        else [{"Type": "custom", "ResponseHeadersPolicy": p.as_dict()} for p in _policies(self.backend).values()]
    )
    return ActionResult({"ResponseHeadersPolicyList": {"MaxItems": 100, "Quantity": len(items), "Items": items}})


def update_response_headers_policy(self: Any) -> ActionResult:
    policy = _get_policy(self.backend, self._get_param("Id"))
    _check_if_match(policy, self.headers.get("If-Match"))
    policy.update(self._get_param("ResponseHeadersPolicyConfig", {}))
    return ActionResult({"ResponseHeadersPolicy": policy.as_dict(), "ETag": policy.etag})


def delete_response_headers_policy(self: Any) -> Any:
    policy = _get_policy(self.backend, self._get_param("Id"))
    _check_if_match(policy, self.headers.get("If-Match"))
    if policy.id in _policy_ids_in_use(self.backend):
        raise CloudFrontException(
            "ResponseHeadersPolicyInUse",
            "Cannot delete the response headers policy because it is attached to a cache behavior.",
        )
    del _policies(self.backend)[policy.id]
    return EmptyResult()


def _check_policy_reference(config: dict[str, Any]) -> None:
    policy_id = (config.get("DefaultCacheBehavior") or {}).get("ResponseHeadersPolicyId")
    if not policy_id:
        return
    known: set[str] = set()
    for account in models.cloudfront_backends.values():
        for backend in account.values():
            known |= set(_policies(backend))
    if policy_id not in known:
        raise CloudFrontException("NoSuchResponseHeadersPolicy", "The response headers policy does not exist.")


def apply_response_headers_policies() -> None:
    from moto.cloudfront import responses, urls

    for pattern in RHP_PATHS:
        urls.url_paths[pattern] = responses.CloudFrontResponse.dispatch
    for func in (
        create_response_headers_policy,
        get_response_headers_policy,
        get_response_headers_policy_config,
        list_response_headers_policies,
        update_response_headers_policy,
        delete_response_headers_policy,
    ):
        setattr(responses.CloudFrontResponse, func.__name__, func)
