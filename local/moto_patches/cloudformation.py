"""Gap 6: moto's CloudFormation cannot deploy the API Gateway part of a transformed SAM template.

What ``samtranslator`` emits for an ``AWS::Serverless::Api`` and moto 5.2.5 does with it:

- ``AWS::ApiGateway::RestApi`` carries the API as a swagger ``Body`` and no ``Name``: moto reads
  ``Properties["Name"]`` (KeyError, the stack fails) and ignores ``Body`` (no resources, no methods).
- ``AWS::ApiGateway::Stage`` is not a type moto knows: the stage the outputs name never exists.

``rewrite_template`` turns such a template into one moto deploys with the same observable result:
a ``Name`` (the swagger title, else the logical id), one ``AWS::ApiGateway::Resource`` per path
segment and one ``AWS::ApiGateway::Method`` per operation (integration type, method and URI from
``x-amazon-apigateway-integration``) that the API's Deployments depend on (moto refuses to deploy
an API without methods), and each Stage folded into its Deployment's ``StageName``
(references to the Stage become its stage name). It is pure and idempotent.

A second gap sits next to it: CreateChangeSet without ``ChangeSetType`` means ``UPDATE`` on AWS,
but ``CREATE`` in moto, which then files a second, empty stack of the same name in
``REVIEW_IN_PROGRESS`` (amazon.aws.cloudformation omits the type for updates and in check mode).
``_create_change_set`` supplies the AWS default.

The rewrite applies where moto *parses* a template (``Stack.parse_template`` and
``ChangeSet._parse_template``), not where the request arrives: the stack keeps the template text it
was sent, so ``GetTemplate`` answers what the client sent and an unchanged re-deploy is still
recognised as "No updates are to be performed".

Gap 12: deleting a stack leaves its ``AWS::ApiGateway::RestApi`` behind (moto's ``RestAPI`` has no
CloudFormation delete, so the stack's delete skips it; AWS deletes every resource the stack created,
unless its ``DeletionPolicy`` is ``Retain``). ``_delete_rest_api`` deletes it as DeleteRestApi does.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from moto.apigateway import models as apigateway_models
from moto.cloudformation import models, responses

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "any")
_NON_ALNUM = re.compile(r"[^A-Za-z0-9]")


def _logical(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in _NON_ALNUM.split(text) if part) or "Root"


def _api_name(logical_id: str, props: dict[str, Any]) -> Any:
    title = (props.get("Body") or {}).get("info", {}).get("title") if isinstance(props.get("Body"), dict) else None
    return title or logical_id


def _expand_body(api_id: str, body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Explicit Resource/Method resources for the swagger paths of RestApi ``api_id``."""
    added: dict[str, dict[str, Any]] = {}
    segment_ids: dict[str, str] = {}
    for path in sorted((body.get("paths") or {}).keys()):
        parent: Any = {"Fn::GetAtt": [api_id, "RootResourceId"]}
        walked = ""
        for segment in [s for s in path.split("/") if s]:
            walked += "/" + segment
            if walked not in segment_ids:
                res_id = f"{api_id}Resource{_logical(walked)}"
                segment_ids[walked] = res_id
                added[res_id] = {
                    "Type": "AWS::ApiGateway::Resource",
                    "Properties": {"RestApiId": {"Ref": api_id}, "ParentId": parent, "PathPart": segment},
                }
            parent = {"Ref": segment_ids[walked]}
        for verb, operation in sorted((body["paths"][path] or {}).items()):
            if verb.lower() not in HTTP_METHODS or not isinstance(operation, dict):
                continue
            integration = operation.get("x-amazon-apigateway-integration") or {}
            method_id = f"{api_id}Method{_logical(path)}{verb.capitalize()}"
            added[method_id] = {
                "Type": "AWS::ApiGateway::Method",
                "Properties": {
                    "RestApiId": {"Ref": api_id},
                    "ResourceId": parent,
                    "HttpMethod": "ANY" if verb.lower() == "any" else verb.upper(),
                    "AuthorizationType": "NONE",
                    "Integration": {
                        "Type": str(integration.get("type", "mock")).upper(),
                        "IntegrationHttpMethod": integration.get("httpMethod", "POST"),
                        "Uri": integration.get("uri", ""),
                    },
                },
            }
    return added


def _deployments_depend_on(resources: dict[str, Any], api_id: str, methods: list[str]) -> None:
    """A Deployment of an API with no methods is refused: make each one wait for the API's methods."""
    if not methods:
        return
    for resource in resources.values():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::ApiGateway::Deployment":
            continue
        if (resource.get("Properties") or {}).get("RestApiId") != {"Ref": api_id}:
            continue
        depends = resource.get("DependsOn", [])
        depends = [depends] if isinstance(depends, str) else list(depends)
        resource["DependsOn"] = depends + [m for m in methods if m not in depends]


def _replace_refs(node: Any, stages: dict[str, Any]) -> Any:
    """Replace ``{"Ref": <stage>}`` by the stage's name and ``${<stage>}`` inside Fn::Sub strings."""
    if isinstance(node, list):
        return [_replace_refs(item, stages) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and node["Ref"] in stages:
        return copy.deepcopy(stages[node["Ref"]])
    if set(node) == {"Fn::Sub"}:
        sub = node["Fn::Sub"]
        text, variables = (sub, None) if isinstance(sub, str) else (sub[0], sub[1] if len(sub) > 1 else None)
        for stage_id, stage_name in stages.items():
            if isinstance(stage_name, str):
                replacement = stage_name
            elif isinstance(stage_name, dict) and set(stage_name) == {"Ref"}:
                replacement = "${" + stage_name["Ref"] + "}"
            else:
                continue
            text = text.replace("${" + stage_id + "}", replacement)
        return {"Fn::Sub": text if variables is None else [text, _replace_refs(variables, stages)]}
    return {key: _replace_refs(value, stages) for key, value in node.items()}


def rewrite_template(template: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of ``template`` that moto 5.2.5 deploys like AWS would (see module docstring)."""
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        return template
    result = copy.deepcopy(template)
    resources: dict[str, Any] = result["Resources"]
    added: dict[str, dict[str, Any]] = {}
    for logical_id, resource in list(resources.items()):
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::ApiGateway::RestApi":
            continue
        props = resource.setdefault("Properties", {})
        if "Name" not in props:
            props["Name"] = _api_name(logical_id, props)
        body = props.pop("Body", None)
        if isinstance(body, dict):
            expanded = _expand_body(logical_id, body)
            added.update(expanded)
            methods = sorted(k for k, v in expanded.items() if v["Type"] == "AWS::ApiGateway::Method")
            _deployments_depend_on(resources, logical_id, methods)
    resources.update({k: v for k, v in added.items() if k not in resources})

    stages: dict[str, Any] = {}
    for logical_id, resource in list(resources.items()):
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::ApiGateway::Stage":
            continue
        props = resource.get("Properties") or {}
        deployment = props.get("DeploymentId")
        if isinstance(deployment, dict) and deployment.get("Ref") in resources:
            resources[deployment["Ref"]].setdefault("Properties", {})["StageName"] = props.get("StageName")
        stages[logical_id] = props.get("StageName")
        del resources[logical_id]
    if stages:
        for logical_id, resource in list(resources.items()):
            depends = resource.get("DependsOn")
            if isinstance(depends, str) and depends in stages:
                del resource["DependsOn"]
            elif isinstance(depends, list):
                resource["DependsOn"] = [d for d in depends if d not in stages]
                if not resource["DependsOn"]:
                    del resource["DependsOn"]
            resources[logical_id] = _replace_refs(resource, stages)
        if "Outputs" in result:
            result["Outputs"] = _replace_refs(result["Outputs"], stages)
    return result


_original_stack_parse = models.Stack.parse_template
_original_changeset_parse = models.ChangeSet._parse_template


def _stack_parse_template(template: str) -> dict[str, Any]:
    return rewrite_template(_original_stack_parse(template))


def _changeset_parse_template(self: models.ChangeSet) -> None:
    _original_changeset_parse(self)
    self.template_dict = rewrite_template(self.template_dict)


_original_create_change_set = responses.CloudFormationResponse.create_change_set


def _create_change_set(self: responses.CloudFormationResponse) -> Any:
    if self._get_param("ChangeSetType") is None:
        if self.automated_parameter_parsing:
            self.params["ChangeSetType"] = "UPDATE"
        else:
            self.querystring["ChangeSetType"] = ["UPDATE"]
    return _original_create_change_set(self)


def _delete_rest_api(
    cls: type, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
) -> None:
    """Gap 12: the stack's delete removes its RestApi (resource_name is the physical id, the API id)."""
    backend = apigateway_models.apigateway_backends[account_id][region_name]
    if resource_name in backend.apis:
        backend.delete_rest_api(resource_name)


def apply() -> None:
    apigateway_models.RestAPI.delete_from_cloudformation_json = classmethod(_delete_rest_api)  # type: ignore[method-assign,assignment]
    responses.CloudFormationResponse.create_change_set = _create_change_set  # type: ignore[method-assign]
    models.Stack.parse_template = staticmethod(_stack_parse_template)  # type: ignore[method-assign]
    models.ChangeSet._parse_template = _changeset_parse_template  # type: ignore[method-assign]
