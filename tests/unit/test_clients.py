"""How SDK clients are built for the local cloud and for Azure. No requests are sent here (the emulator
contract tests send them); blob clients are exercised against Azurite in tests/integration."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.azure.clients import ARM_SCOPE, LOCAL_POLLING_INTERVAL_S, Clients
from pipeline.azure.credentials import LocalCloudCredential
from pipeline.config import load_settings
from pipeline.local.cloudfile import LocalCloud, write_cloud_file

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cloud(tmp_path) -> LocalCloud:
    return LocalCloud(
        arm_endpoint="https://127.0.0.1:8443",
        ca_file=str(tmp_path / "ca.pem"),
        subscription_id="11111111-1111-1111-1111-111111111111",
        tenant_id="22222222-2222-2222-2222-222222222222",
        token="local-token",
        blob_endpoint="http://127.0.0.1:10000/devstoreaccount1",
        storage_account="devstoreaccount1",
        blob_connection_string=(
            "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
            "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
        ),
        control_endpoint="https://127.0.0.1:8443/_emulator",
        state_dir=str(tmp_path),
    )


def test_local_credential_returns_the_token_for_any_scope():
    credential = LocalCloudCredential("local-token")
    assert credential.get_token(ARM_SCOPE).token == "local-token"
    assert credential.get_token_info("https://storage.azure.com/.default").token == "local-token"
    assert "local-token" not in repr(credential)


@pytest.mark.parametrize("name", ["compute", "network", "resources"])
def test_local_management_clients_point_at_the_emulator(cloud, name):
    settings = load_settings(path=REPO / "pipeline.toml", environment="local", environ={})
    client = getattr(Clients(settings, cloud=cloud), name)
    config = client._config
    assert config.base_url == "https://127.0.0.1:8443"
    assert config.subscription_id == cloud.subscription_id
    assert config.credential_scopes == [ARM_SCOPE]
    assert config.polling_interval == LOCAL_POLLING_INTERVAL_S
    assert isinstance(config.credential, LocalCloudCredential)
    assert client._client._pipeline._transport.connection_config.verify == cloud.ca_file


def test_local_clients_from_settings_read_the_cloud_file(cloud, tmp_path):
    write_cloud_file(tmp_path / "cloud.json", cloud)
    settings = load_settings(
        path=REPO / "pipeline.toml", environ={"PIPELINE_LOCAL_CLOUD": str(tmp_path / "cloud.json")}
    )
    with Clients.for_settings(settings) as clients:
        assert clients.subscription_id == cloud.subscription_id
        assert clients.blob.url.startswith("http://127.0.0.1:10000/devstoreaccount1")
        assert clients.blob.credential.account_key == "a2V5"
        assert clients.compute is clients.compute  # built once


def test_local_without_a_cloud_file_says_run_local_up(tmp_path):
    from pipeline.errors import ResourceMissing

    settings = load_settings(path=REPO / "pipeline.toml", environ={"PIPELINE_LOCAL_CLOUD": str(tmp_path / "none.json")})
    with pytest.raises(ResourceMissing, match="invoke local.up"):
        Clients.for_settings(settings)


def test_azure_clients_use_default_endpoints_and_default_credential():
    from azure.identity import DefaultAzureCredential

    settings = load_settings(path=REPO / "pipeline.toml", environment="azure-example", environ={})
    clients = Clients.for_settings(settings)
    assert isinstance(clients.credential, DefaultAzureCredential)
    assert clients.compute._config.base_url.rstrip("/") == "https://management.azure.com"
    assert clients.compute._config.polling_interval == 30
    assert clients.network._client._pipeline._transport.connection_config.verify is True
    assert clients.blob.url == f"https://{settings.storage.account}.blob.core.windows.net/"
    assert clients.blob.credential is clients.credential
