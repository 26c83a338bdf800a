"""template.yaml as SAM CLI reads it, for the local stack: the functions (code, layers, handler,
timeout, environment), the HttpApi routes, the SQS event sources, the resources the functions touch,
and each function's IAM policy as SAM expands it.

Nothing here restates the template. SAM CLI's own code does the reading: its providers
(samcli.lib.providers) for functions and routes, its translator wrapper for Globals, its intrinsic
resolver for Ref, GetAtt, Sub, If and conditions, and aws-sam-translator for the IAM roles. The local
stack supplies what CloudFormation would: parameter values, and the names and ARNs of the resources
it created (`resolved`), which reach the functions through the same Ref/GetAtt resolution.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"  # SAM CLI's pseudo-parameter default, and moto's default account
STACK_NAME = "omni-cancel-relay-local"


class TemplateError(Exception):
    """The template, or a parameter given for it, is not what CloudFormation would accept."""


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    handler: str
    runtime: str
    timeout: int
    memory: int
    layers: tuple[str, ...]  # logical ids of the template's own layers
    external_layers: tuple[str, ...]  # layer ARNs (such as AWS's secrets extension) that are not built here
    variables: Mapping[str, str]  # Globals merged with the function's own, intrinsics resolved


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as declared, e.g. /webhooks/{source}
    function: str

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """The path parameters when this route serves (method, path), else None."""
        if self.method not in (method.upper(), "ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD"):
            return None
        pattern = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(self.path))
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
        found = re.fullmatch(pattern, path)
        return dict(found.groupdict()) if found else None


@dataclass(frozen=True)
class QueueTrigger:
    """An SQS event source as the template configures it."""

    function: str
    queue: str  # the queue's logical id
    batch_size: int
    report_item_failures: bool
    max_concurrency: int
    enabled: bool


class SamTemplate:
    def __init__(self, path: Path, overrides: Mapping[str, str] | None = None) -> None:
        from samcli.lib.samlib.wrapper import SamTranslatorWrapper
        from samcli.yamlhelper import yaml_parse

        self.path = path
        self.raw: dict[str, Any] = yaml_parse(path.read_text())
        self.parameters = check_parameters(self.raw.get("Parameters", {}), overrides or {})
        self._pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::StackName": STACK_NAME,
            "AWS::URLSuffix": "amazonaws.com",
        }
        # Globals merged into each function, as `sam local` and the deploy transform do.
        self.merged: dict[str, Any] = SamTranslatorWrapper(
            copy.deepcopy(self.raw), parameter_values={**self._pseudo, **self.parameters}
        ).run_plugins()
        self.resolved: dict[str, Any] = {}  # logical id -> {"Ref": ..., "Arn": ..., ...} of created resources

    # Intrinsics -----------------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic resolved against the parameters and the created resources."""
        from samcli.lib.intrinsic_resolver.intrinsic_property_resolver import IntrinsicResolver
        from samcli.lib.intrinsic_resolver.intrinsics_symbol_table import IntrinsicsSymbolTable

        symbols = IntrinsicsSymbolTable(
            logical_id_translator={**self._pseudo, **self.parameters, **self.resolved}, template=self.merged
        )
        resolver = IntrinsicResolver(template=self.merged, symbol_resolver=symbols)
        marked = _mark_no_value(copy.deepcopy(value))
        return _drop_no_value(resolver.intrinsic_property_resolver(marked, ignore_errors=False))

    def condition(self, name: str | None) -> bool:
        if not name:
            return True
        return bool(self.resolve(self.merged.get("Conditions", {})[name]))

    # Resources ------------------------------------------------------------------------------------

    def resources(self, *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
        """(logical id, raw resource) of each resource of `types` whose Condition holds."""
        for logical_id, resource in self.merged.get("Resources", {}).items():
            if resource.get("Type") in types and self.condition(resource.get("Condition")):
                yield logical_id, resource

    def references(self, value: Any) -> set[str]:
        """The logical ids of resources that `value` refers to (Ref, GetAtt, or ${...} in Sub)."""
        found: set[str] = set()
        names = set(self.merged.get("Resources", {}))
        if isinstance(value, dict):
            for key, inner in value.items():
                if key == "Ref" and isinstance(inner, str) and inner in names:
                    found.add(inner)
                elif key == "Fn::GetAtt":
                    target = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
                    found |= {target} & names
                elif key == "Fn::Sub":
                    text = inner[0] if isinstance(inner, list) else inner
                    found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", str(text))} & names
                found |= self.references(inner)
        elif isinstance(value, list):
            for inner in value:
                found |= self.references(inner)
        return found

    # Functions, routes, event sources -------------------------------------------------------------

    @functools.cached_property
    def _stacks(self) -> list[Any]:
        from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

        stacks, _ = SamLocalStackProvider.get_stacks(str(self.path), parameter_overrides=dict(self.parameters))
        return list(stacks)

    def functions(self) -> dict[str, FunctionSpec]:
        from samcli.lib.providers.sam_function_provider import SamFunctionProvider

        specs = {}
        for function in SamFunctionProvider(self._stacks, use_raw_codeuri=True).get_all():
            logical_id = function.name
            properties = self.merged["Resources"][logical_id]["Properties"]
            environment = properties.get("Environment", {})
            variables = self.resolve(environment).get("Variables", {}) if environment else {}
            specs[logical_id] = FunctionSpec(
                logical_id=logical_id,
                handler=function.handler,
                runtime=function.runtime,
                timeout=int(function.timeout or 3),
                memory=int(function.memory or 128),
                layers=tuple(layer.name for layer in function.layers if layer.is_defined_within_template),
                external_layers=self._external_layers(properties.get("Layers", [])),
                variables={k: _stringify(v) for k, v in variables.items()},
            )
        return specs

    def _external_layers(self, layers: list[Any]) -> tuple[str, ...]:
        """Layer ARNs from outside the template (SAM CLI's provider skips those chosen by Fn::If)."""
        own = set(self.merged.get("Resources", {}))
        outside = [layer for layer in layers if not (isinstance(layer, dict) and layer.get("Ref") in own)]
        return tuple(arn for arn in self.resolve(outside) if isinstance(arn, str) and arn.startswith("arn:"))

    def routes(self) -> list[Route]:
        from samcli.lib.providers.api_provider import ApiProvider

        api = ApiProvider(self._stacks)
        return [Route(method, route.path, route.function_name) for route in api.routes for method in route.methods]

    def queue_triggers(self) -> list[QueueTrigger]:
        triggers = []
        for logical_id, resource in self.resources("AWS::Serverless::Function"):
            for event in resource["Properties"].get("Events", {}).values():
                if event.get("Type") != "SQS":
                    continue
                props = self.resolve({k: v for k, v in event["Properties"].items() if k != "Queue"})
                [queue] = self.references(event["Properties"]["Queue"])
                triggers.append(
                    QueueTrigger(
                        function=logical_id,
                        queue=queue,
                        batch_size=int(props.get("BatchSize", 10)),
                        report_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
                        # Without ScalingConfig, Lambda scales SQS pollers up to 1,000; locally a few do.
                        max_concurrency=int(props.get("ScalingConfig", {}).get("MaximumConcurrency", 5)),
                        enabled=bool(props.get("Enabled", True)),
                    )
                )
        return triggers

    # IAM ------------------------------------------------------------------------------------------

    @functools.cached_property
    def transformed(self) -> dict[str, Any]:
        """The template as the deploy's transform (aws-sam-translator) expands it: the roles SAM makes, or
        the template's own, with every policy SAM attaches. Intrinsics are left as CloudFormation gets them."""
        import boto3
        from samtranslator.metrics.metrics import Metrics
        from samtranslator.parser.parser import Parser
        from samtranslator.translator.translator import Translator

        template = copy.deepcopy(self.raw)
        for resource in template.get("Resources", {}).values():  # the transform wants S3 locations, not folders
            props = resource.get("Properties", {})
            for key in ("CodeUri", "ContentUri"):
                if key in props:
                    props[key] = "s3://local-stack/artifact.zip"
        values = {**self._pseudo, **self.parameters}
        # The deploy transform itself; its region from our session, not from the process environment.
        metrics = Metrics("local-stack")  # the transform records usage metrics; published (to nowhere) below
        session = boto3.session.Session(region_name=REGION)
        translator = Translator(None, Parser(), boto_session=session, metrics=metrics)
        transformed: dict[str, Any] = translator.translate(
            template, parameter_values=values, get_managed_policy_map=dict
        )
        metrics.publish()
        return transformed

    def role_of(self, function: str) -> dict[str, Any]:
        """The properties of `function`'s execution role in the expanded template: the AWS::IAM::Role its
        Role property names, or the one SAM creates for it (<function>Role)."""
        resources = self.transformed["Resources"]
        named = resources[function]["Properties"].get("Role")
        target = named.get("Fn::GetAtt") if isinstance(named, dict) else None  # SAM's own role is named so too
        logical_id = (target[0] if isinstance(target, list) else str(target).split(".")[0]) if target else ""
        return dict(resources.get(logical_id, {}).get("Properties", {}))

    def policies(self) -> dict[str, list[dict[str, Any]]]:
        """Each function's policy documents as SAM expands them (inline statements, policy templates
        such as SQSPollerPolicy, and the AWS managed policies SAM attaches), intrinsics resolved."""
        from moto.iam.aws_managed_policies import aws_managed_policies_data

        managed = json.loads(aws_managed_policies_data)
        result: dict[str, list[dict[str, Any]]] = {}
        for logical_id, _ in self.resources("AWS::Serverless::Function"):
            role = self.role_of(logical_id)
            documents = [self.resolve(policy["PolicyDocument"]) for policy in role.get("Policies", [])]
            for arn in self.resolve(role.get("ManagedPolicyArns", [])):
                name = arn.rsplit("/", 1)[-1]
                if name in managed:
                    documents.append(managed[name]["Document"])
            result[logical_id] = documents
        return result


def check_parameters(declared: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, str]:
    """Defaults plus overrides, each checked as CloudFormation checks it at deploy time."""
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(f"template.yaml has no parameter {', '.join(unknown)}")
    values: dict[str, str] = {}
    for name, spec in declared.items():
        if name in overrides:
            value = str(overrides[name])
        elif "Default" in spec:
            value = str(spec["Default"])
        else:
            raise TemplateError(f"parameter {name} has no default: give it a value")
        if "AllowedValues" in spec and value not in [str(v) for v in spec["AllowedValues"]]:
            raise TemplateError(f"{name}={value!r} is not one of {spec['AllowedValues']}")
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], value):
            hint = spec.get("ConstraintDescription", f"it must match {spec['AllowedPattern']}")
            raise TemplateError(f"{name}={value!r} is not accepted: {hint}")
        if spec.get("Type") == "Number":
            try:
                number = float(value)
            except ValueError:
                raise TemplateError(f"{name}={value!r} is not a number") from None
            if number < float(spec.get("MinValue", number)) or number > float(spec.get("MaxValue", number)):
                raise TemplateError(f"{name}={value} is outside {spec.get('MinValue')}..{spec.get('MaxValue')}")
        values[name] = value
    return values


def _stringify(value: Any) -> str:
    """As Lambda (and SAM CLI's EnvironmentVariables) turn a resolved value into a variable's string."""
    if value is True or value is False:
        return str(value).lower()
    return "" if value is None else str(value)


_NO_VALUE = "\x00AWS::NoValue"


def _mark_no_value(value: Any) -> Any:
    if value == {"Ref": "AWS::NoValue"}:
        return _NO_VALUE
    if isinstance(value, dict):
        return {k: _mark_no_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mark_no_value(v) for v in value]
    return value


def _drop_no_value(value: Any) -> Any:
    """AWS::NoValue removes the property it is given to, as CloudFormation does."""
    if isinstance(value, dict):
        return {k: _drop_no_value(v) for k, v in value.items() if v != _NO_VALUE}
    if isinstance(value, list):
        return [_drop_no_value(v) for v in value if v != _NO_VALUE]
    return value
