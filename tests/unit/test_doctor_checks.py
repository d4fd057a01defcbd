"""Every decision of `invoke doctor`, from facts alone (pipeline/doctor/checks.py, nsgflow.py, wanted.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.config import load_settings
from pipeline.doctor import checks as C
from pipeline.doctor import nsgflow
from pipeline.doctor.facts import (Facts, FleetUse, GalleryFacts, ImageDefinitionFacts, ImageVersionFacts,
                                   LoadBalancerFacts, NatFacts, NsgFacts, NsgRuleFacts, PackerFacts,
                                   PermissionFacts, ReadError, RuleFacts, SkuFacts, SubscriptionFacts, UsageFacts)
from pipeline.doctor.wanted import Flow, NatWanted, wanted

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def want():
    s = load_settings(path=REPO / "pipeline.toml", environment="azure-example", environ={})
    w = wanted(s, role_actions=("Microsoft.Compute/virtualMachineScaleSets/write",
                                "Microsoft.Network/loadBalancers/read",
                                "Microsoft.Storage/storageAccounts/blobServices/containers/write"),
               role_data_actions=("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",))
    return replace(w, security_type="TrustedLaunch",
                   flows=(Flow("production", 8080, ("Internet",), "network.allow_production_from"),
                          Flow("staging", 8080, ("52.168.10.0/24",), "network.allow_staging_from")))


def rule(name, priority, access, sources, ports=("8080",), protocol="Tcp", direction="Inbound"):
    return NsgRuleFacts(name, priority, direction, access, protocol, tuple(sources), tuple(ports))


def lb_facts(**changes) -> LoadBalancerFacts:
    base = LoadBalancerFacts(
        "lb-hello", "Standard", frozenset({"pool-blue", "pool-green"}),
        {"rule-production": RuleFacts(80, 8080, "pool-blue", "probe-health"),
         "rule-staging": RuleFacts(8081, 8081, "pool-green", "probe-health")},
        {"probe-health": ("Http", 8080, "/health")},
        nat_rules={"nat-blue": NatFacts(50200, 50299, 8081, "pool-blue"),
                   "nat-green": NatFacts(50300, 50399, 8081, "pool-green")})
    return replace(base, **changes)


def healthy() -> Facts:
    return Facts(
        subscription=SubscriptionFacts("00000000-0000-0000-0000-000000000000", "Example", "Enabled"),
        providers={"Microsoft.Compute": "Registered", "Microsoft.Network": "Registered",
                   "Microsoft.Storage": "Registered"},
        permissions=(PermissionFacts(actions=("*",), data_actions=("*",)),),
        skus=(SkuFacts("Standard_B2s", "standardBSFamily", 2, ("westeurope",), (), ("V1", "V2")),),
        usages=(UsageFacts("cores", "Total Regional vCPUs", 4, 20),
                UsageFacts("standardBSFamily", "Standard BS Family vCPUs", 4, 20)),
        fleets=(FleetUse("hello-1", "Standard_B2s", 2),),
        nsgs=(NsgFacts("nsg-hello", (rule("allow-prod", 100, "Allow", ["Internet"]),
                                     rule("allow-staging", 110, "Allow", ["52.168.10.0/24"]))),),
        image_definition=ImageDefinitionFacts("hello-app", "V2", "TrustedLaunchSupported"),
        gallery=GalleryFacts("gal_hello", "westeurope", (ImageVersionFacts("1.0.0", ("West Europe",)),)),
        containers={"releases": True, "packages": True},
        packer=PackerFacts("1.11.2", "2.1.7"),
        load_balancer=lb_facts())


def by_name(facts: Facts, want) -> dict[str, C.Check]:
    return {c.name: c for c in C.run_checks(facts, want)}


def test_a_ready_subscription_passes_every_check(want):
    results = by_name(healthy(), want)
    assert {n: c.status for n, c in results.items() if c.status != C.PASS} == {}
    assert list(results) == ["credential", "subscription", "providers", "permissions", "vm-size", "quota", "nsg",
                             "image-definition", "replication", "storage", "packer", "load-balancer"]


# --- credential and subscription ------------------------------------------------------------------------------
def test_no_token_fails_the_credential_and_checks_nothing_else(want):
    results = by_name(Facts(credential=ReadError("getting a token", None, "CredentialUnavailableError", "no")), want)
    assert results["credential"].status == C.FAIL and "az login" in results["credential"].fix
    assert results["quota"].status == C.WARN and "not checked" in results["quota"].summary


@pytest.mark.parametrize("state,status", [("Enabled", C.PASS), ("Warned", C.WARN), ("PastDue", C.WARN),
                                          ("Disabled", C.FAIL)])
def test_subscription_state(want, state, status):
    facts = replace(healthy(), subscription=SubscriptionFacts("s", "Example", state))
    assert C.subscription(facts, want).status == status


def test_an_unknown_subscription_fails_naming_the_setting(want):
    facts = replace(healthy(), subscription=ReadError("reading subscription", 404, "SubscriptionNotFound"))
    check = C.subscription(facts, want)
    assert check.status == C.FAIL and "PIPELINE__SUBSCRIPTION_ID" in check.fix


def test_a_subscription_read_the_role_does_not_reach_is_not_checked(want):
    facts = replace(healthy(), subscription=ReadError("reading subscription", 403, "AuthorizationFailed"))
    assert C.subscription(facts, want).status == C.WARN


# --- providers, permissions -------------------------------------------------------------------------------------
def test_an_unregistered_provider_fails_with_the_register_command(want):
    facts = replace(healthy(), providers={"Microsoft.Compute": "Registered", "Microsoft.Network": "NotRegistered",
                                          "Microsoft.Storage": "Registered"})
    check = C.providers(facts, want)
    assert check.status == C.FAIL and "Microsoft.Network (NotRegistered)" in check.summary
    assert "az provider register --namespace Microsoft.Network" in check.fix


def test_a_subscription_read_refused_is_a_warning_not_a_failure(want):
    facts = replace(healthy(), providers=ReadError("reading provider", 403, "AuthorizationFailed"))
    check = C.providers(facts, want)
    assert check.status == C.WARN and "Reader" in check.fix


def test_permissions_list_every_missing_action(want):
    facts = replace(healthy(), permissions=(PermissionFacts(actions=("Microsoft.Network/*",),
                                                            not_actions=("Microsoft.Network/*/write",)),))
    check = C.permissions(facts, want)
    assert check.status == C.FAIL
    assert "Microsoft.Compute/virtualMachineScaleSets/write" in check.summary
    assert "Microsoft.Network/loadBalancers/read" not in check.summary and "deploy/azure-role.json" in check.fix


def test_not_actions_subtract_and_wildcards_match_case_insensitively(want):
    entries = (PermissionFacts(actions=("microsoft.compute/*", "*/read"),
                               not_actions=("Microsoft.Compute/virtualMachineScaleSets/write",)),)
    assert not C._granted(entries, "Microsoft.Compute/virtualMachineScaleSets/write", data=False)
    assert C._granted(entries, "Microsoft.Compute/galleries/write", data=False)
    assert C._granted(entries, "Microsoft.Network/loadBalancers/read", data=False)
    assert not C._granted(entries, "Microsoft.Network/loadBalancers/write", data=False)


def test_missing_storage_actions_on_the_group_only_warn(want):
    facts = replace(healthy(), permissions=(PermissionFacts(actions=("Microsoft.Compute/*", "Microsoft.Network/*")),))
    check = C.permissions(facts, want)
    assert check.status == C.WARN and "containers/blobs/read" in check.summary


def test_a_missing_resource_group_fails_the_permissions_check(want):
    facts = replace(healthy(), permissions=ReadError("reading permissions", 404, "ResourceGroupNotFound"))
    check = C.permissions(facts, want)
    assert check.status == C.FAIL and "create the resource group" in check.fix


# --- VM size, quota ---------------------------------------------------------------------------------------------
def test_a_size_not_offered_in_the_region_fails(want):
    facts = replace(healthy(), skus=(SkuFacts("Standard_D2s_v5", "standardDSv5Family", 2, ("westeurope",)),))
    check = C.vm_size(facts, want)
    assert check.status == C.FAIL and "not offered in westeurope" in check.summary and "vm_size" in check.fix


def test_a_restricted_size_fails_with_the_reason(want):
    sku = SkuFacts("Standard_B2s", "standardBSFamily", 2, ("westeurope",),
                   (("NotAvailableForSubscription", "Location", ("westeurope",)),), ("V1", "V2"))
    check = C.vm_size(replace(healthy(), skus=(sku,)), want)
    assert check.status == C.FAIL and "NotAvailableForSubscription" in check.summary


def test_a_size_without_trusted_launch_fails_a_trusted_launch_fleet(want):
    sku = SkuFacts("Standard_B2s", "standardBSFamily", 2, ("westeurope",), (), ("V1",), trusted_launch_disabled=True)
    assert C.vm_size(replace(healthy(), skus=(sku,)), want).status == C.FAIL
    assert C.vm_size(replace(healthy(), skus=(sku,)), replace(want, security_type="Standard")).status == C.FAIL  # V1


def test_quota_counts_live_plus_staged_and_leaves_out_the_pipelines_own_fleets(want):
    # limit 10, 4 used by our own fleet: a release needs 2 x 3 x 2 = 12 > 10
    facts = replace(healthy(), usages=(UsageFacts("cores", "Total Regional vCPUs", 4, 10),))
    check = C.quota(facts, want)
    assert check.status == C.FAIL and "needs 12 vCPUs" in check.summary and "at least 12" in check.fix
    # others use 6 beyond our fleet: 6 + 12 = 18 <= 20
    facts = replace(healthy(), usages=(UsageFacts("cores", "Total Regional vCPUs", 10, 20),))
    assert C.quota(facts, want).status == C.PASS
    facts = replace(healthy(), usages=(UsageFacts("cores", "Total Regional vCPUs", 10, 17),))
    assert C.quota(facts, want).status == C.FAIL


def test_quota_sizes_a_release_by_the_live_fleet_when_it_is_larger(want):
    facts = replace(healthy(), fleets=(FleetUse("hello-1", "Standard_B2s", 5),),
                    usages=(UsageFacts("cores", "Total Regional vCPUs", 10, 20),))
    check = C.quota(facts, want)   # 2 x 5 x 2 = 20 needed, others use 0: fits exactly
    assert check.status == C.PASS and "the live fleet's 5" in check.summary
    facts = replace(facts, usages=(UsageFacts("cores", "Total Regional vCPUs", 11, 20),))
    assert C.quota(facts, want).status == C.FAIL


def test_quota_family_limit_counts_too(want):
    facts = replace(healthy(), usages=(UsageFacts("cores", "Total Regional vCPUs", 4, 100),
                                       UsageFacts("standardBSFamily", "Standard BS Family vCPUs", 4, 8)))
    check = C.quota(facts, want)
    assert check.status == C.FAIL and "Standard BS Family vCPUs" in check.fix


def test_quota_not_readable_warns(want):
    facts = replace(healthy(), usages=ReadError("reading usages", 403, "AuthorizationFailed"))
    assert C.quota(facts, want).status == C.WARN


# --- NSG --------------------------------------------------------------------------------------------------------
def test_no_nsg_on_the_subnet_fails(want):
    check = C.nsg(replace(healthy(), nsgs=()), want)
    assert check.status == C.FAIL and "invoke infra" in check.fix


def test_the_default_deny_refuses_a_source_no_rule_allows(want):
    facts = replace(healthy(), nsgs=(NsgFacts("nsg-hello", (rule("allow-prod", 100, "Allow", ["Internet"]),)),))
    # 52.168.10.0/24 is a public range: the Internet rule covers it
    assert C.nsg(facts, want).status == C.PASS
    private = replace(want, flows=(Flow("staging", 8080, ("10.1.2.0/24",), "network.allow_staging_from"),))
    check = C.nsg(facts, private)
    assert check.status == C.FAIL and "DenyAllInBound" in check.summary and "10.1.2.0/24" in check.summary


def test_a_higher_priority_deny_wins_and_a_partial_deny_blocks(want):
    deny = rule("deny-some", 90, "Deny", ["52.168.10.128/25"])
    facts = replace(healthy(), nsgs=(NsgFacts("nsg", (deny, rule("allow", 100, "Allow", ["*"]))),))
    check = C.nsg(facts, want)
    assert check.status == C.FAIL and "deny-some" in check.summary


def test_nsg_rules_match_protocol_and_port_ranges():
    nsg = NsgFacts("n", (rule("udp", 100, "Allow", ["*"], protocol="Udp"),
                         rule("range", 110, "Allow", ["*"], ports=("50000-50099",))))
    assert not nsgflow.evaluate(nsg, port=8080, source="Internet").allowed
    assert nsgflow.evaluate(nsg, port=50042, source="Internet").allowed
    assert nsgflow.evaluate(nsg, port=50042, source="Internet").rule == "range"


@pytest.mark.parametrize("rule_prefix,source,covered", [
    ("*", "Internet", "all"), ("Internet", "Internet", "all"), ("internet", "52.168.10.7", "all"),
    ("Internet", "10.0.0.0/8", "none"), ("10.0.0.0/8", "10.1.0.0/16", "all"), ("10.1.0.0/16", "10.0.0.0/8", "part"),
    ("10.0.0.0/8", "*", "part"), ("127.0.0.1/32", "127.0.0.1", "all"), ("VirtualNetwork", "10.1.0.0/16", "part"),
    ("AzureLoadBalancer", "Internet", "none")])
def test_source_coverage(rule_prefix, source, covered):
    assert nsgflow.coverage(rule_prefix, source) == covered


def test_both_nsgs_on_the_path_must_allow():
    allow = NsgFacts("subnet-nsg", (rule("a", 100, "Allow", ["*"]),))
    closed = NsgFacts("nic-nsg", ())
    assert nsgflow.evaluate_path((allow,), port=8080, source="Internet") == (True, "")
    assert nsgflow.evaluate_path((allow, closed), port=8080, source="Internet") == (False, "nic-nsg/DenyAllInBound")


def test_staging_and_per_instance_flows_on_one_port_are_checked_once():
    s = load_settings(path=REPO / "pipeline.toml", environment="local", environ={})
    flows = wanted(s).flows
    assert [f.purpose for f in flows] == ["production", "staging + per-instance"]
    nsg = NsgFacts("nsg", (rule("p", 100, "Allow", ["Internet"], ports=(str(flows[0].port),)),
                           rule("s", 110, "Allow", ["127.0.0.0/8"], ports=(str(flows[1].port),))))
    assert C.nsg(replace(healthy(), nsgs=(nsg,)), wanted(s)).status == C.PASS


def test_without_staging_sources_the_nsg_check_warns(want):
    facts = healthy()
    check = C.nsg(facts, replace(want, flows=want.flows[:1]))
    assert check.status == C.WARN and "allow_staging_from" in check.fix


# --- image definition, replication ------------------------------------------------------------------------------
@pytest.mark.parametrize("fleet,definition,generation,status", [
    ("TrustedLaunch", "TrustedLaunch", "V2", C.PASS), ("TrustedLaunch", "TrustedLaunchSupported", "V2", C.PASS),
    ("TrustedLaunch", None, "V2", C.FAIL), ("TrustedLaunch", "TrustedLaunch", "V1", C.FAIL),
    ("Standard", None, "V2", C.PASS), ("Standard", "TrustedLaunchSupported", "V2", C.PASS),
    ("Standard", "TrustedLaunch", "V2", C.FAIL), ("Confidential", None, "V2", C.FAIL), (None, None, "V2", C.WARN)])
def test_image_definition_features_against_the_security_type(want, fleet, definition, generation, status):
    facts = replace(healthy(), image_definition=ImageDefinitionFacts("hello-app", generation, definition))
    assert C.image_definition(facts, replace(want, security_type=fleet)).status == status


def test_a_missing_image_definition_fails_with_infra(want):
    facts = replace(healthy(), image_definition=ReadError("reading image definition", 404, "NotFound"))
    check = C.image_definition(facts, want)
    assert check.status == C.FAIL and "invoke infra --env azure-example" in check.fix


def test_target_regions_must_hold_the_fleets_region(want):
    check = C.replication(healthy(), replace(want, target_regions=("northeurope",)))
    assert check.status == C.FAIL and "image.target_regions" in check.fix


def test_the_newest_version_must_be_replicated_to_the_region(want):
    versions = (ImageVersionFacts("1.0.9", ("westeurope",)), ImageVersionFacts("1.0.10", ("northeurope",)))
    facts = replace(healthy(), gallery=GalleryFacts("gal_hello", "westeurope", versions))
    check = C.replication(facts, want)
    assert check.status == C.FAIL and "1.0.10" in check.summary


def test_an_empty_gallery_passes_and_a_missing_one_fails(want):
    assert C.replication(replace(healthy(), gallery=GalleryFacts("g", "westeurope", ())), want).status == C.PASS
    missing = replace(healthy(), gallery=ReadError("reading gallery", 404, "ResourceNotFound"))
    assert C.replication(missing, want).status == C.FAIL


# --- storage, packer --------------------------------------------------------------------------------------------
def test_storage_missing_container_and_refused_account(want):
    check = C.storage(replace(healthy(), containers={"releases": True, "packages": False}), want)
    assert check.status == C.FAIL and "packages" in check.summary and "invoke infra" in check.fix
    refused = {"releases": ReadError("reading container releases", 403, "AuthorizationPermissionMismatch"),
               "packages": True}
    check = C.storage(replace(healthy(), containers=refused), want)
    assert check.status == C.FAIL and "Storage Blob Data Contributor" in check.fix


@pytest.mark.parametrize("version,plugin,local,status", [
    (None, None, False, C.FAIL), ("1.11.2", "2.1.7", False, C.PASS), ("1.11.2", None, False, C.FAIL),
    ("1.6.6", None, False, C.PASS), ("1.6.6", None, True, C.PASS), ("1.11.2", None, True, C.PASS)])
def test_packer_and_its_azure_plugin(want, version, plugin, local, status):
    facts = replace(healthy(), packer=PackerFacts(version, plugin))
    check = C.packer(facts, replace(want, is_local=local))
    assert check.status == status
    if status == C.FAIL and version:
        assert check.fix == "packer plugins install github.com/hashicorp/azure"


# --- load balancer ----------------------------------------------------------------------------------------------
def test_a_missing_rule_pool_probe_or_nat_fails_with_infra(want):
    lb = lb_facts(rules={"rule-production": RuleFacts(80, 8080, "pool-blue", "probe-health")},
                  pools=frozenset({"pool-blue"}),
                  nat_rules={"nat-blue": NatFacts(50200, 50299, 8081, "pool-blue")})
    check = C.load_balancer(replace(healthy(), load_balancer=lb), want)
    assert check.status == C.FAIL and "invoke infra" in check.fix
    for part in ("rule rule-staging", "pool pool-green", "nat-green"):
        assert part in check.summary


def test_a_basic_load_balancer_or_a_rule_with_other_ports_fails(want):
    check = C.load_balancer(replace(healthy(), load_balancer=lb_facts(sku="Basic")), want)
    assert check.status == C.FAIL and "Standard" in check.fix
    rules = {"rule-production": RuleFacts(80, 9090, "pool-blue", "probe-health"),
             "rule-staging": RuleFacts(8081, 8081, "pool-green", "probe-health")}
    check = C.load_balancer(replace(healthy(), load_balancer=lb_facts(rules=rules)), want)
    assert check.status == C.FAIL and "80 -> 9090, not 80 -> 8080" in check.summary


def test_nat_rules_v2_satisfy_per_instance_access_and_other_ports_fail(want):
    assert C.load_balancer(replace(healthy(), load_balancer=lb_facts()), want).status == C.PASS
    lb = lb_facts(nat_rules={"nat-blue": NatFacts(50000, 50099, 8081, "pool-blue"),
                             "nat-green": NatFacts(50300, 50399, 8081, "pool-green")})
    check = C.load_balancer(replace(healthy(), load_balancer=lb), want)
    assert check.status == C.FAIL and "NAT nat-blue maps 50000-50099" in check.summary


# --- settings -> wanted -----------------------------------------------------------------------------------------
def test_wanted_reads_the_settings_defensively():
    s = load_settings(path=REPO / "pipeline.toml", environment="azure-example", environ={})
    w = wanted(s)
    assert w.target_regions == ("westeurope",) and w.location == "westeurope"
    assert w.flows[0] == Flow("production", 8080, tuple(getattr(s.network, "allow_production_from", None)
                                                        or ("Internet",)), "network.allow_production_from")
    assert set(w.nat) == {"blue", "green"} and isinstance(w.nat["blue"], NatWanted)
    assert set(w.rules) == {"rule-production", "rule-staging"}
