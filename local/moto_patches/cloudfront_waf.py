"""Gap 22: a CloudFront update redeploys, and a web ACL stays associated until that deploy ends.

On AWS every UpdateDistribution puts the distribution back to ``InProgress`` until the change is
deployed, and WAF refuses to delete a web ACL (``WAFAssociatedItemException``) while a distribution still
uses it: one whose config names it, or one whose update that removed it is not deployed yet. moto 5.2.5
keeps an updated distribution ``Deployed`` and deletes any web ACL at once, so "detach, then delete
without waiting" passes here and fails on AWS.

With moto's default (immediate) state progression a distribution reads ``Deployed`` again at once, so
nothing gets slower; a test that sets the ``cloudfront::distribution`` transition to ``manual`` sees the
window (``POST /moto-api/state-manager/set-transition``).
"""

from __future__ import annotations

from typing import Any

from moto.cloudfront import models as cloudfront
from moto.wafv2 import models as wafv2
from moto.wafv2.exceptions import WAFv2ClientError

_update_distribution = cloudfront.CloudFrontBackend.update_distribution
_delete_web_acl = wafv2.WAFV2Backend.delete_web_acl


class WAFAssociatedItemException(WAFv2ClientError):
    def __init__(self) -> None:
        super().__init__(
            "WAFAssociatedItemException",
            "AWS WAF couldn't perform the operation because your resource is being used by another resource "
            "or it's associated with another resource.",
        )


def update_distribution(self: Any, dist_config: dict[str, Any], _id: str, if_match: bool) -> Any:
    before = self.distributions[_id].distribution_config.WebACLId if _id in self.distributions else ""
    result = _update_distribution(self, dist_config, _id, if_match)
    dist = result[0]
    dist.status = "InProgress"
    dist._tick = 0
    if before and before != dist.distribution_config.WebACLId:
        dist.released_web_acl = before
    return result


def _in_use(account_id: str, arn: str) -> bool:
    for backend in cloudfront.cloudfront_backends[account_id].values():
        for dist in backend.distributions.values():
            if dist.distribution_config.WebACLId == arn:
                return True
            if getattr(dist, "released_web_acl", None) == arn and dist.status != "Deployed":
                return True
    return False


def delete_web_acl(self: Any, name: str, scope: str, _id: str, lock_token: str) -> None:
    arn = wafv2.make_arn_for_wacl(
        name=name, account_id=self.account_id, region_name=self.region_name, _id=_id, scope=scope
    )
    if scope == "CLOUDFRONT" and arn in self.wacls and _in_use(self.account_id, arn):
        raise WAFAssociatedItemException()
    _delete_web_acl(self, name, scope, _id, lock_token)


def apply() -> None:
    cloudfront.CloudFrontBackend.update_distribution = update_distribution
    wafv2.WAFV2Backend.delete_web_acl = delete_web_acl
