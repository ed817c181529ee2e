"""The boto3 deploy script against moto's server on loopback."""

from __future__ import annotations

import importlib.util
import json
import sys
import urllib.request
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _deploy_module():
    spec = importlib.util.spec_from_file_location("htr_deploy", ROOT / "lambda/deploy.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


dep = _deploy_module()


@pytest.fixture(scope="module")
def moto_url():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # No Docker here: moto then answers invocations without running the image.
    req = urllib.request.Request(
        f"{url}/moto-api/config",
        method="POST",
        data=json.dumps({"lambda": {"use_docker": False}}).encode(),
    )
    urllib.request.urlopen(req, timeout=10).read()
    yield url
    server.stop()


@pytest.fixture
def aws(moto_url, monkeypatch):
    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(k, v)
    iam = boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    try:
        role = iam.get_role(RoleName="htr-lambda")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="htr-lambda", AssumeRolePolicyDocument=json.dumps(trust))[
            "Role"
        ]["Arn"]
    return moto_url, role


def _config(moto_url: str, role: str, **kw) -> object:
    uri = "000000000000.dkr.ecr.us-east-1.amazonaws.com/htr-line-recognizer:v1"
    return dep.DeployConfig(image_uri=uri, role_arn=role, endpoint_url=moto_url, **kw)


def test_first_deploy_creates_everything(aws):
    moto_url, role = aws
    out = dep.deploy(
        _config(moto_url, role, function_name="htr-a", url_auth="NONE"), {"smoke": True}
    )
    assert out["repository"].endswith("/htr-line-recognizer")
    assert out["function_arn"].endswith(":function:htr-a") and out["function_url"]
    lam = boto3.client("lambda", endpoint_url=moto_url, region_name="us-east-1")
    conf = lam.get_function(FunctionName="htr-a")["Configuration"]
    assert conf["PackageType"] == "Image" and conf["Timeout"] == 60 and conf["MemorySize"] == 3008
    assert lam.get_function_url_config(FunctionName="htr-a")["AuthType"] == "NONE"
    policy = json.loads(lam.get_policy(FunctionName="htr-a")["Policy"])
    assert any(s["Sid"] == "FunctionURLAllowPublicAccess" for s in policy["Statement"])


def test_second_deploy_updates_in_place(aws):
    moto_url, role = aws
    first = dep.deploy(_config(moto_url, role, function_name="htr-b"), {"smoke": True})
    second = dep.deploy(
        _config(moto_url, role, function_name="htr-b", memory_mb=2048, timeout_s=30),
        {"smoke": True},
    )
    assert first == second
    lam = boto3.client("lambda", endpoint_url=moto_url, region_name="us-east-1")
    conf = lam.get_function(FunctionName="htr-b")["Configuration"]
    assert conf["MemorySize"] == 2048 and conf["Timeout"] == 30
    assert lam.get_function_url_config(FunctionName="htr-b")["AuthType"] == "AWS_IAM"


def test_help_documents_the_page_sized_defaults(capsys):
    with pytest.raises(SystemExit):
        dep.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "default 3008" in text and "default 60" in text and '{"page": ...}' in text
