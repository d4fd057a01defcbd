"""The network security group settings and plan (pure): sources validated at load, staging on a port of its own,
the rules the pipeline wants, what a re-run changes (nothing), the user's rules kept, and the no-answer hint."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline import nsg
from pipeline import smoke as checks
from pipeline.config import load_settings
from pipeline.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
TOML = REPO / "pipeline.toml"


def settings(env: str = "local", **overrides: str):
    return load_settings(path=TOML, environment=env, environ={}, overrides=overrides)


@pytest.mark.parametrize("key, value, pattern", [
    ("network.allow_staging_from", "not-a-prefix", r"allow_staging_from has an invalid source: 'not-a-prefix'"),
    ("network.allow_staging_from", "10.0.0.1/8", r"allow_staging_from has an invalid source: '10\.0\.0\.1/8'"),
    ("network.allow_production_from", "internet", r"allow_production_from .*spelled differently"),
    ("load_balancer.staging_rule.backend_port", "8080",
     r"staging_rule\.backend_port is 8080, the production rule's backend port .*; use a port of its own"),
    ("load_balancer.nat_pools.green.backend_port", "8080", r"nat_pools\.green\.backend_port is 8080"),
    ("network.nsg", "bad name!", r"network\.nsg is not a valid name"),
])
def test_bad_settings_are_one_line_naming_the_key(key, value, pattern):
    with pytest.raises(ConfigError) as err:
        settings(**{key: value})
    message = str(err.value)
    assert "\n" not in message and err.value.exit_code == 2
    import re
    assert re.search(pattern, message), message


def test_an_azure_environment_must_name_its_staging_sources(tmp_path):
    path = tmp_path / "pipeline.toml"
    shutil.copy(TOML, path)
    text = path.read_text()
    marker = 'allow_staging_from = ["203.0.113.0/24"]\n'
    assert marker in text
    path.write_text(text.replace(marker, ""))
    with pytest.raises(ConfigError) as err:
        load_settings(path=path, environment="azure-example", environ={})
    assert "network.allow_staging_from is missing" in str(err.value) and "no default" in str(err.value)
    local_text = path.read_text().replace('allow_staging_from = ["127.0.0.0/8"]', "")
    path.write_text(local_text)
    local = load_settings(path=path, environment="local", environ={})
    assert local.network.allow_staging_from == () and local.staging_sources == ("127.0.0.0/8",)


def test_lists_come_from_the_environment_too():
    s = load_settings(path=TOML, environment="azure-example",
                      environ={"PIPELINE__NETWORK__ALLOW_STAGING_FROM": "10.1.0.0/16,VirtualNetwork"})
    assert s.network.allow_staging_from == ("10.1.0.0/16", "VirtualNetwork")


def test_the_rules_open_production_and_staging_ports_to_their_own_sources():
    s = settings(**{"network.allow_staging_from": "10.1.0.0/16,192.168.0.0/24,VirtualNetwork"})
    rules = {r["name"]: r["properties"] for r in nsg.desired_rules(s)}
    assert rules["bluegreen-production-1"]["sourceAddressPrefix"] == "Internet"
    assert rules["bluegreen-production-1"]["destinationPortRange"] == "8080"
    assert rules["bluegreen-staging-1"]["sourceAddressPrefix"] == "VirtualNetwork"  # a tag: a rule of its own
    assert rules["bluegreen-staging-2"]["sourceAddressPrefixes"] == ["10.1.0.0/16", "192.168.0.0/24"]
    assert all(r["destinationPortRange"] == "8081" for n, r in rules.items() if "staging" in n)
    assert len({(r["direction"], r["priority"]) for r in rules.values()}) == len(rules)
    assert nsg.describe(s) == ("production port 8080 from Internet; staging port(s) 8081 from 10.1.0.0/16, "
                               "192.168.0.0/24, VirtualNetwork")


def test_merge_keeps_the_users_rules_and_a_rerun_changes_nothing():
    s = settings()
    desired = nsg.desired_rules(s)
    users = {"name": "allow-ssh-from-office", "properties": {
        "protocol": "Tcp", "access": "Allow", "direction": "Inbound", "priority": 300, "provisioningState": "Succeeded",
        "sourceAddressPrefix": "198.51.100.0/24", "sourcePortRange": "*", "destinationAddressPrefix": "*",
        "destinationPortRange": "22"}}
    tampered = {"name": desired[0]["name"], "properties": {**desired[0]["properties"], "destinationPortRange": "9999"}}
    stale = {"name": "bluegreen-staging-9", "properties": {**desired[-1]["properties"], "priority": 1109}}
    rules, changes = nsg.merge([users, tampered, stale], desired)
    assert changes == [f"update {desired[0]['name']}", "remove bluegreen-staging-9",
                       *[f"add {r['name']}" for r in desired[1:]]]
    assert rules[0] == {"name": "allow-ssh-from-office", "properties": {
        k: v for k, v in users["properties"].items() if k != "provisioningState"}}
    as_read = [{**r, "properties": {**r["properties"], "provisioningState": "Succeeded"}} for r in rules]
    assert nsg.merge(as_read, desired) == (rules, [])


def test_a_user_rule_on_a_priority_the_pipeline_needs_is_reported():
    s = settings()
    desired = nsg.desired_rules(s)
    mine = {"name": "deny-all-early", "properties": {"direction": "Inbound", "priority": nsg.PRODUCTION_PRIORITY}}
    assert nsg.conflicts([mine], desired) == [f"deny-all-early (priority {nsg.PRODUCTION_PRIORITY})"]


def test_no_answer_names_the_port_and_the_group():
    s = settings()
    hint = nsg.no_answer_hint(s, staging=True)
    assert "network security group nsg-hello" in hint and "backend port 8081" in hint and "127.0.0.0/8" in hint
    assert "backend port 8080" in nsg.no_answer_hint(s, staging=False)
    failure = checks.evaluate(checks.Check("health", "/health"), status=None, body="", seconds=5.0,
                              error="TimeoutError: timed out")
    assert checks.with_hint(failure, "TimeoutError: timed out", hint).endswith(hint)
    assert checks.with_hint("status 500, expected 200", None, hint) == "status 500, expected 200"
    assert checks.no_answer("ConnectionResetError: [Errno 104] Connection reset by peer")


def test_an_existing_rule_on_the_old_shared_port_is_reported():
    from pipeline import infra
    from pipeline.ids import Ids

    s = settings()
    desired = infra.load_balancer(s, Ids.of(s, "00000000-0000-0000-0000-000000000000"))
    actual = {"properties": {kind: [dict(c, properties=dict(c["properties"])) for c in desired["properties"][kind]]
                             for kind in ("loadBalancingRules", "inboundNatPools")}}
    assert infra.backend_port_drift(actual, desired) == []
    actual["properties"]["loadBalancingRules"][1]["properties"]["backendPort"] = 8080
    assert infra.backend_port_drift(actual, desired) == [
        "rule-staging sends to backend port 8080, the settings say 8081"]
