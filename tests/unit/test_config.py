"""pipeline.toml -> Settings: environment choice, overrides, and one-line errors naming key and file."""

from __future__ import annotations

import re
import shutil
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from pipeline.config import Settings, load_settings, parse_duration
from pipeline.errors import ConfigError
from pipeline.local.cloudfile import LocalCloud, read_cloud_file, write_cloud_file

REPO = Path(__file__).resolve().parents[2]
TOML = REPO / "pipeline.toml"


@pytest.fixture
def toml(tmp_path: Path) -> Path:
    path = tmp_path / "pipeline.toml"
    shutil.copy(TOML, path)
    return path


def edit(path: Path, old: str, new: str, *, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, count))


def load(path: Path, **kw) -> Settings:
    kw.setdefault("environ", {})
    return load_settings(path=path, **kw)


def assert_one_line_error(err: ConfigError, *, file: Path, key: str) -> None:
    message = str(err)
    assert "\n" not in message
    assert str(file) in message
    assert key in message
    assert ";" in message  # "...; what to do"


def test_the_repository_file_loads_both_environments():
    local = load_settings(path=TOML, environ={})
    assert local.environment == "local" and local.is_local
    assert local.subscription_id is None  # read from the local cloud file
    assert local.local_cloud_file == (REPO / ".pipeline/local/cloud.json")
    assert local.load_balancer.production_rule.frontend_port >= 1024
    assert local.load_balancer.backend_pools.for_color("green") == "pool-green"
    assert local.keep_warm == timedelta(hours=2)
    assert [c.name for c in local.smoke] == ["health", "version"]
    assert local.smoke[1].expected_body("1.0.7") == "1.0.7"
    assert local.storage.is_local

    azure = load_settings(path=TOML, environment="azure-example", environ={})
    assert not azure.is_local and azure.local_cloud_file is None
    assert azure.subscription_id == "00000000-0000-0000-0000-000000000000"
    assert not azure.storage.is_local


def test_settings_are_frozen(toml):
    settings = load(toml)
    with pytest.raises(AttributeError):
        settings.app = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        settings.capacity.default = 9  # type: ignore[misc]


def test_environment_choice_argument_then_env_var_then_default(toml):
    assert load(toml).environment == "local"
    assert load(toml, environ={"PIPELINE_ENV": "azure-example"}).environment == "azure-example"
    assert load(toml, environment="local", environ={"PIPELINE_ENV": "azure-example"}).environment == "local"


def test_unknown_environment_lists_the_known_ones(toml):
    with pytest.raises(ConfigError, match=r"unknown environment 'prod' \(known: azure-example, local\)") as caught:
        load(toml, environment="prod")
    assert str(toml) in str(caught.value)


def test_env_var_and_flag_overrides_convert_to_the_key_type_and_flags_win(toml):
    settings = load(
        toml,
        environ={"PIPELINE__LOAD_BALANCER__PROBE__PORT": "9090", "PIPELINE__CAPACITY__DEFAULT": "4"},
        overrides={"capacity.default": "5", "keep_warm": "30m", "network.vnet_prefixes": "10.1.0.0/16, 10.2.0.0/16"},
    )
    assert settings.load_balancer.probe.port == 9090
    assert settings.capacity.default == 5
    assert settings.keep_warm == timedelta(minutes=30)
    assert settings.network.vnet_prefixes == ("10.1.0.0/16", "10.2.0.0/16")


def test_local_cloud_file_path_can_be_overridden(toml, tmp_path):
    settings = load(toml, environ={"PIPELINE_LOCAL_CLOUD": str(tmp_path / "c.json")})
    assert settings.local_cloud_file == tmp_path / "c.json"


def test_missing_key_names_key_and_file(toml):
    edit(toml, 'vm_size = "Standard_B1s"\n', "")
    with pytest.raises(ConfigError, match=r"environments\.local\.vm_size is missing") as caught:
        load(toml)
    assert_one_line_error(caught.value, file=toml, key="environments.local.vm_size")


def test_missing_nested_table_key(toml):
    edit(toml, 'path = "/health"\nport = 8080\n', 'path = "/health"\n')
    with pytest.raises(ConfigError) as caught:
        load(toml)
    assert_one_line_error(caught.value, file=toml, key="environments.local.load_balancer.probe.port")
    assert "[environments.local.load_balancer.probe]" in str(caught.value)


def test_wrong_type_names_key_file_and_value(toml):
    edit(toml, "threshold = 2", 'threshold = "2"')
    with pytest.raises(ConfigError, match="must be an integer, got str '2'") as caught:
        load(toml)
    assert_one_line_error(caught.value, file=toml, key="environments.local.load_balancer.probe.threshold")


def test_booleans_are_not_integers(toml):
    edit(toml, "keep_image_versions = 3", "keep_image_versions = true")
    with pytest.raises(ConfigError, match="keep_image_versions must be an integer"):
        load(toml)


def test_unknown_key_is_refused(toml):
    edit(toml, 'app = "hello"', 'app = "hello"\nap = "typo"')
    with pytest.raises(ConfigError, match=r"environments\.local\.ap is not a known key"):
        load(toml)


@pytest.mark.parametrize("bad", ["2 hours", "0s", "h", "-5m", ""])
def test_bad_duration_names_key_and_file(toml, bad):
    edit(toml, 'keep_warm = "2h"', f'keep_warm = "{bad}"')
    with pytest.raises(ConfigError) as caught:
        load(toml)
    assert_one_line_error(caught.value, file=toml, key="environments.local.keep_warm")


def test_parse_duration():
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("500ms") == timedelta(milliseconds=500)
    assert parse_duration("1.5s") == timedelta(seconds=1.5)
    with pytest.raises(ValueError):
        parse_duration("90")


@pytest.mark.parametrize(
    "key, value, fragment",
    [
        ("image.gallery", "gal-hello", "image.gallery is not valid"),
        ("storage.ledger_container", "Releases", "storage.ledger_container is not a valid name"),
        ("load_balancer.name", "lb hello", "load_balancer.name is not a valid name"),
        ("resource_group", "rg.", "resource_group is not valid"),
        ("app", "Hello_App", "app is not a valid name"),
    ],
)
def test_bad_names_name_key_file_and_override_source(toml, key, value, fragment):
    with pytest.raises(ConfigError, match=re.escape(fragment)) as caught:
        load(toml, overrides={key: value})
    assert_one_line_error(caught.value, file=toml, key=f"environments.local.{key}")
    assert f"(set by --set {key})" in str(caught.value)


def test_env_var_override_errors_name_the_variable(toml):
    with pytest.raises(ConfigError, match=r"got 'abc' \(set by PIPELINE__LOAD_BALANCER__PROBE__PORT\)"):
        load(toml, environ={"PIPELINE__LOAD_BALANCER__PROBE__PORT": "abc"})


def test_unknown_override_key_is_refused(toml):
    with pytest.raises(ConfigError, match=r"environments\.local\.load_balancer\.prob\.port is not a known key"):
        load(toml, overrides={"load_balancer.prob.port": "1"})
    with pytest.raises(ConfigError, match="PIPELINE__NOPE"):
        load(toml, environ={"PIPELINE__NOPE": "1"})


def test_tables_and_smoke_cannot_be_overridden_whole(toml):
    with pytest.raises(ConfigError, match="cannot be overridden as a whole"):
        load(toml, overrides={"smoke": "x"})


def test_local_frontend_ports_must_not_need_root(toml):
    with pytest.raises(ConfigError, match=r"production_rule\.frontend_port is 80, outside 1024-65535"):
        load(toml, overrides={"load_balancer.production_rule.frontend_port": "80"})
    azure = load(toml, environment="azure-example")
    assert azure.load_balancer.production_rule.frontend_port == 80


def test_cross_field_checks(toml):
    with pytest.raises(ConfigError, match="capacity.default"):
        load(toml, overrides={"capacity.default": "1", "capacity.minimum": "2"})
    with pytest.raises(ConfigError, match="overlaps the blue NAT rule"):
        load(toml, overrides={"load_balancer.nat_rules.green.frontend_port_start": "50250"})
    with pytest.raises(ConfigError, match="names the same pool twice"):
        load(toml, overrides={"load_balancer.backend_pools.green": "pool-blue"})
    with pytest.raises(ConfigError, match="invalid CIDR"):
        load(toml, overrides={"network.subnet_prefixes": "10.0.0.0/33"})


def test_azure_environment_needs_a_subscription_guid(toml):
    with pytest.raises(ConfigError, match="subscription_id must be a subscription GUID") as caught:
        load(toml, environment="azure-example", environ={"PIPELINE__SUBSCRIPTION_ID": "my-sub"})
    assert "PIPELINE__SUBSCRIPTION_ID" in str(caught.value)


def test_smoke_checks_are_validated(toml):
    edit(toml, "expect_status = 200", "expect_status = 42")
    with pytest.raises(ConfigError, match=r"smoke\[0\]\.expect_status is 42"):
        load(toml)


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[environments.local\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: not valid TOML"):
        load(bad)


# ---------------------------------------------------------------------------------------------- cloud file


def sample_cloud(tmp_path: Path) -> LocalCloud:
    return LocalCloud(
        arm_endpoint="https://127.0.0.1:8443",
        ca_file=str(tmp_path / "ca.pem"),
        subscription_id="11111111-1111-1111-1111-111111111111",
        tenant_id="22222222-2222-2222-2222-222222222222",
        token="secret-token",
        blob_endpoint="http://127.0.0.1:10000/devstoreaccount1",
        storage_account="devstoreaccount1",
        blob_connection_string="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;",
        control_endpoint="https://127.0.0.1:8443/_emulator",
        state_dir=str(tmp_path),
        frontends={"lb-hello/rule-production": "127.0.1.1:8080"},
        processes={"emulator": 123, "azurite": 124},
    )


def test_cloud_file_round_trip_is_private(tmp_path):
    cloud = sample_cloud(tmp_path)
    path = tmp_path / "local" / "cloud.json"
    write_cloud_file(path, cloud)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_cloud_file(path) == cloud
    assert cloud.blob_account_key == "a2V5"
    assert cloud.frontend("lb-hello", "rule-production") == "127.0.1.1:8080"
    assert "secret-token" not in repr(cloud)
    assert [p.name for p in path.parent.iterdir()] == ["cloud.json"]  # no temp file left


def test_missing_cloud_file_says_run_local_up(tmp_path):
    from pipeline.errors import ResourceMissing

    with pytest.raises(ResourceMissing, match=r"run `invoke local.up` first"):
        read_cloud_file(tmp_path / "cloud.json")


def test_malformed_cloud_file(tmp_path):
    path = tmp_path / "cloud.json"
    path.write_text('{"version": 1, "arm_endpoint": "https://x"}')
    with pytest.raises(ConfigError, match=r"cloud\.json: ca_file is missing"):
        read_cloud_file(path)
    path.write_text('{"version": 2}')
    with pytest.raises(ConfigError, match="version is 2"):
        read_cloud_file(path)


# ---------------------------------------------------------------------------------------------- image.target_regions


def _regions(toml: Path, *entries: str) -> None:
    text = toml.read_text()
    text += "".join(f"\n[[environments.azure-example.image.target_regions]]\n{entry}\n" for entry in entries)
    toml.write_text(text)


def test_target_regions_default_to_the_environments_region(toml):
    s = load(toml, environment="azure-example")
    assert s.image.target_regions == ()
    (only,) = s.image.replication(s.location)
    assert (only.name, only.replicas, only.storage_account_type) == (s.location, 1, "Standard_LRS")


def test_target_regions_are_read_with_replicas_and_storage_type(toml):
    _regions(toml, 'name = "westeurope"\nreplicas = 2\nstorage_account_type = "Standard_ZRS"',
             'name = "northeurope"\nstorage_account_type = "Standard_ZRS"')
    s = load(toml, environment="azure-example")
    assert [(t.name, t.replicas, t.storage_account_type) for t in s.image.replication(s.location)] == [
        ("westeurope", 2, "Standard_ZRS"), ("northeurope", 1, "Standard_ZRS")]


@pytest.mark.parametrize("entries, key, fragment", [
    (('name = "westeurope"', 'name = "atlantis"'), "image.target_regions[1].name", "not an Azure region"),
    (('name = "northeurope"',), "image.target_regions", "does not hold the environment's location"),
    (('name = "westeurope"', 'name = "westeurope"'), "image.target_regions[1].name", "repeats"),
    (('name = "westeurope"\nreplicas = 0',), "image.target_regions[0].replicas", "is 0"),
    (('name = "westeurope"', 'name = "northeurope"\nstorage_account_type = "Standard_ZRS"'), "image.target_regions",
     "mixes storage types"),
    (('name = "westeurope"\nstorage_account_type = "StandardSSD_LRS"',),
     "image.target_regions[0].storage_account_type", "is 'StandardSSD_LRS'"),
])
def test_bad_target_regions_are_one_line_naming_the_setting(toml, entries, key, fragment):
    _regions(toml, *entries)
    with pytest.raises(ConfigError) as err:
        load(toml, environment="azure-example")
    assert_one_line_error(err.value, file=toml, key=key)
    assert fragment in str(err.value)


def test_an_unknown_region_makes_the_cli_exit_2_before_anything_runs(toml, tmp_path):
    import subprocess
    import sys

    _regions(toml, 'name = "westeurope"', 'name = "atlantis"')
    done = subprocess.run([sys.executable, "-m", "invoke", "--search-root", str(REPO), "bake", "--env",
                           "azure-example", "--app-version", "1.0.0", "--dry-run"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})   # cwd holds the edited toml
    assert done.returncode == 2, done.stderr + done.stdout
    message = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(message) == 1 and "image.target_regions[1].name" in message[0], done.stderr


def test_cutover_sampling_is_short_by_default_and_can_be_set(toml):
    assert load(toml).cutover.lead == load(toml).cutover.tail == timedelta(milliseconds=250)
    settings = load(toml, overrides={"cutover.lead": "1s", "cutover.tail": "500ms"})
    assert (settings.cutover.lead, settings.cutover.tail) == (timedelta(seconds=1), timedelta(milliseconds=500))
    with pytest.raises(ConfigError) as caught:
        load(toml, overrides={"cutover.tail": "soon"})
    assert_one_line_error(caught.value, file=toml, key="cutover.tail")
