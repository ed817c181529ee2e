"""Deploy the Lambda from a container image: `python lambda/deploy.py --image-uri URI --role ARN`.

Ensures the ECR repository, creates or updates the function (memory, timeout, architecture),
waits until it is active, creates the function URL (auth type as an option) and smoke-invokes
it. `--endpoint-url` points every client at another endpoint (moto's server in the tests).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

log = logging.getLogger("deploy")


@dataclass
class DeployConfig:
    """What to deploy and how."""

    function_name: str = "htr-line-recognizer"
    image_uri: str = ""  # ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG (built from Dockerfile)
    role_arn: str = ""  # execution role with AWSLambdaBasicExecutionRole
    repository: str = "htr-line-recognizer"  # ECR repository to ensure
    # Lambda's CPU share grows with memory; a page request finds and reads every line of the
    # page in one invocation, so it gets the share that reads a 20-line page in time.
    memory_mb: int = 3008
    timeout_s: int = 60  # a cold start (model load, warm-up) and then a whole page
    architecture: str = "x86_64"  # x86_64 | arm64 (the image must be built for it)
    url_auth: str = "AWS_IAM"  # AWS_IAM | NONE (public)
    region: str = "us-east-1"
    endpoint_url: str | None = None


def clients(cfg: DeployConfig) -> tuple[Any, Any]:
    """ECR and Lambda clients for the config's region and endpoint."""
    kw = {"region_name": cfg.region, "endpoint_url": cfg.endpoint_url}
    return boto3.client("ecr", **kw), boto3.client("lambda", **kw)


def ensure_repository(ecr: Any, name: str) -> str:
    """The ECR repository's URI, creating it if needed."""
    try:
        repo = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    except ClientError as e:
        if e.response["Error"]["Code"] != "RepositoryNotFoundException":
            raise
        repo = ecr.create_repository(
            repositoryName=name, imageScanningConfiguration={"scanOnPush": True}
        )["repository"]
        log.info("created ECR repository %s", name)
    return repo["repositoryUri"]


def deploy_function(lam: Any, cfg: DeployConfig) -> str:
    """Create or update the function from the image; returns its ARN once it is active."""
    settings = {"Role": cfg.role_arn, "MemorySize": cfg.memory_mb, "Timeout": cfg.timeout_s}
    try:
        lam.get_function(FunctionName=cfg.function_name)
        lam.update_function_code(
            FunctionName=cfg.function_name, ImageUri=cfg.image_uri, Architectures=[cfg.architecture]
        )
        lam.get_waiter("function_updated_v2").wait(FunctionName=cfg.function_name)
        lam.update_function_configuration(FunctionName=cfg.function_name, **settings)
        lam.get_waiter("function_updated_v2").wait(FunctionName=cfg.function_name)
        log.info("updated %s", cfg.function_name)
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        lam.create_function(
            FunctionName=cfg.function_name,
            PackageType="Image",
            Code={"ImageUri": cfg.image_uri},
            Architectures=[cfg.architecture],
            **settings,
        )
        log.info("created %s", cfg.function_name)
    lam.get_waiter("function_active_v2").wait(FunctionName=cfg.function_name)
    return lam.get_function(FunctionName=cfg.function_name)["Configuration"]["FunctionArn"]


def ensure_url(lam: Any, name: str, auth: str) -> str:
    """The function URL, created with `auth`; NONE also grants public invoke permission."""
    try:
        url = lam.get_function_url_config(FunctionName=name)["FunctionUrl"]
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        url = lam.create_function_url_config(FunctionName=name, AuthType=auth)["FunctionUrl"]
        if auth == "NONE":
            lam.add_permission(
                FunctionName=name,
                StatementId="FunctionURLAllowPublicAccess",
                Action="lambda:InvokeFunctionUrl",
                Principal="*",
                FunctionUrlAuthType="NONE",
            )
    return url


def smoke_invoke(lam: Any, name: str, event: dict[str, Any]) -> dict[str, Any]:
    """Invoke once synchronously; raise if Lambda reports a function error."""
    out = lam.invoke(
        FunctionName=name, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
    )
    if out.get("FunctionError") or out["StatusCode"] != 200:
        raise RuntimeError(
            f"smoke invocation failed: {out.get('FunctionError')} status {out['StatusCode']}"
        )
    return json.loads(out["Payload"].read() or b"{}")


def deploy(cfg: DeployConfig, smoke_event: dict[str, Any]) -> dict[str, str]:
    """The whole deployment; returns the repository URI, function ARN and URL."""
    if not cfg.image_uri or not cfg.role_arn:
        raise SystemExit("deploy needs --image-uri and --role (an execution role ARN)")
    ecr, lam = clients(cfg)
    repo = ensure_repository(ecr, cfg.repository)
    arn = deploy_function(lam, cfg)
    url = ensure_url(lam, cfg.function_name, cfg.url_auth)
    smoke_invoke(lam, cfg.function_name, smoke_event)
    log.info("deployed %s at %s", arn, url)
    return {"repository": repo, "function_arn": arn, "function_url": url}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: prints the deployment as JSON."""
    d = DeployConfig()
    p = argparse.ArgumentParser(prog="python lambda/deploy.py", description=__doc__)
    p.add_argument("--image-uri", required=True)
    p.add_argument("--role", required=True, dest="role_arn")
    p.add_argument("--function-name", default=d.function_name)
    p.add_argument("--repository", default=d.repository)
    p.add_argument(
        "--memory",
        type=int,
        default=d.memory_mb,
        dest="memory_mb",
        help=f"function memory in MB (default {d.memory_mb}): Lambda gives CPU in proportion, "
        'and {"page": ...} requests read every line of a page in one call; 2048 suffices '
        "for line requests only",
    )
    p.add_argument(
        "--timeout",
        type=int,
        default=d.timeout_s,
        dest="timeout_s",
        help=f"seconds per invocation (default {d.timeout_s}): a cold start plus a whole "
        "page's finding and reading; line requests alone fit in 30",
    )
    p.add_argument("--architecture", choices=("x86_64", "arm64"), default=d.architecture)
    p.add_argument("--url-auth", choices=("AWS_IAM", "NONE"), default=d.url_auth)
    p.add_argument("--region", default=d.region)
    p.add_argument("--endpoint-url", default=None)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # A 1x1-pixel-free smoke request: the handler answers 400, which proves it runs.
    result = deploy(DeployConfig(**vars(args)), {"smoke": True})
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
