"""Offline SAM transform: samtranslator (the library ``sam`` itself uses) with a static managed-policy map.

samtranslator needs the ARNs of the AWS managed policies a template names (``Policies:
[AWSLambdaBasicExecutionRole]``). ``sam`` asks IAM for them; we answer from a fixed map so the
transform makes no AWS call and gives the same output every time.
"""

from __future__ import annotations

import copy
from typing import Any

PARTITION_PREFIX = "arn:aws:iam::aws:policy/"

# Managed policies a Lambda backend commonly names; extend when a template names another one.
MANAGED_POLICIES: dict[str, str] = {
    name: PARTITION_PREFIX + path
    for name, path in {
        "AWSLambdaBasicExecutionRole": "service-role/AWSLambdaBasicExecutionRole",
        "AWSLambdaVPCAccessExecutionRole": "service-role/AWSLambdaVPCAccessExecutionRole",
        "AWSLambdaRole": "service-role/AWSLambdaRole",
        "AWSXrayWriteOnlyAccess": "AWSXrayWriteOnlyAccess",
        "AWSXRayDaemonWriteAccess": "AWSXRayDaemonWriteAccess",
        "AmazonDynamoDBFullAccess": "AmazonDynamoDBFullAccess",
        "AmazonDynamoDBReadOnlyAccess": "AmazonDynamoDBReadOnlyAccess",
        "AmazonSESFullAccess": "AmazonSESFullAccess",
        "AmazonS3ReadOnlyAccess": "AmazonS3ReadOnlyAccess",
        "CloudWatchLambdaInsightsExecutionRolePolicy": "CloudWatchLambdaInsightsExecutionRolePolicy",
    }.items()
}


class StaticManagedPolicyLoader:
    """Quacks like samtranslator's ManagedPolicyLoader without calling IAM."""

    def __init__(self, policies: dict[str, str] | None = None) -> None:
        self._policies = dict(MANAGED_POLICIES if policies is None else policies)

    def load(self) -> dict[str, str]:
        return dict(self._policies)


class SamTransformError(ValueError):
    pass


def transform(
    template: dict[str, Any],
    parameter_values: dict[str, Any] | None = None,
    region: str = "us-east-1",
    policies: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Translate a SAM template into plain CloudFormation; raise SamTransformError on invalid input.

    Same steps as ``samtranslator.translator.transform.transform``, but with an explicit region (the
    library would otherwise read it from the environment) and the static managed-policy map.
    """
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator
    from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template

    fragment = copy.deepcopy(template)
    values = dict(parameter_values or {})
    loader = StaticManagedPolicyLoader(policies)
    # A session built from a region alone: samtranslator only reads region_name from it.
    session = boto3.session.Session(region_name=region)
    try:
        to_py27_compatible_template(fragment, values)
        translator = Translator(None, Parser(), boto_session=session)
        result = translator.translate(fragment, parameter_values=values, get_managed_policy_map=loader.load)
    except InvalidDocumentException as exc:
        causes = "; ".join(str(c) for c in getattr(exc, "causes", [])) or str(exc)
        raise SamTransformError(f"invalid SAM template: {causes}") from exc
    return undo_mark_unicode_str_in_template(result)
