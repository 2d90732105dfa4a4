# Copyright: cloudsite maintainers
# MIT License
"""``aws_known_regions``: every region the installed SDK knows for a service, offline.

The guard uses it to stop a well-formed but non-existent ``aws_region`` (``us-east-9``) before any AWS
call; without it the first module fails with "Unable to parse response ... invalid XML received".
botocore ships the endpoint data, so this needs no network and no credentials.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: aws_known_regions
short_description: Regions the installed botocore knows for a service, across every partition
description:
  - Reads botocore's bundled endpoint data; no network call. A region newer than the installed
    botocore is missing, so update boto3/botocore then.
positional: _input
options:
  _input:
    description: Service name, for example C(ec2).
    type: str
    required: true
"""

from ansible.errors import AnsibleFilterError


def aws_known_regions(service: str) -> list[str]:
    """Sorted regions of ``service`` in every partition botocore knows."""
    try:
        import boto3
    except ImportError as e:
        raise AnsibleFilterError("aws_known_regions needs boto3 on the controller") from e
    session = boto3.session.Session()
    regions: set[str] = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions(service, partition_name=partition))
    return sorted(regions)


class FilterModule:
    def filters(self):
        return {"aws_known_regions": aws_known_regions}
