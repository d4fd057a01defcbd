"""Microsoft.Network routes, each named by Azure's operationId (api-versions: the "network" family)."""

from ..core.routing import NETWORK, SUB, route
from . import responses as r

LB = NETWORK + "/loadBalancers/{load_balancer}"
PIP = NETWORK + "/publicIPAddresses/{public_ip}"
VNET = NETWORK + "/virtualNetworks/{virtual_network}"
ALL = SUB + "/providers/Microsoft.Network"
NSG = NETWORK + "/networkSecurityGroups/{network_security_group}"


def routes():
    n = "network"
    return [
        route("PUT", LB, "LoadBalancers_CreateOrUpdate", n, r.lb_put),
        route("GET", LB, "LoadBalancers_Get", n, r.lb_get),
        route("PATCH", LB, "LoadBalancers_UpdateTags", n, r.lb_update_tags),
        route("DELETE", LB, "LoadBalancers_Delete", n, r.lb_delete),
        route("GET", NETWORK + "/loadBalancers", "LoadBalancers_List", n, r.lb_list),
        route("GET", ALL + "/loadBalancers", "LoadBalancers_ListAll", n, r.lb_list_all),
        route("PUT", LB + "/backendAddressPools/{pool}", "LoadBalancerBackendAddressPools_CreateOrUpdate", n,
              r.pool_put),
        route("GET", LB + "/backendAddressPools/{pool}", "LoadBalancerBackendAddressPools_Get", n, r.pool_get),
        route("DELETE", LB + "/backendAddressPools/{pool}", "LoadBalancerBackendAddressPools_Delete", n,
              r.pool_delete),
        route("GET", LB + "/backendAddressPools", "LoadBalancerBackendAddressPools_List", n, r.pool_list),
        route("GET", LB + "/loadBalancingRules/{rule}", "LoadBalancerLoadBalancingRules_Get", n, r.rule_get),
        route("GET", LB + "/loadBalancingRules", "LoadBalancerLoadBalancingRules_List", n, r.rule_list),
        route("POST", LB + "/loadBalancingRules/{rule}/health", "LoadBalancerLoadBalancingRules_Health", n,
              r.rule_health),
        route("GET", LB + "/probes/{probe}", "LoadBalancerProbes_Get", n, r.probe_get),
        route("GET", LB + "/probes", "LoadBalancerProbes_List", n, r.probe_list),
        route("GET", LB + "/frontendIPConfigurations/{frontend}", "LoadBalancerFrontendIPConfigurations_Get", n,
              r.frontend_get),
        route("GET", LB + "/frontendIPConfigurations", "LoadBalancerFrontendIPConfigurations_List", n,
              r.frontend_list),
        route("GET", LB + "/inboundNatRules", "InboundNatRules_List", n, r.nat_rule_list),
        route("PUT", LB + "/inboundNatRules/{nat_rule}", "InboundNatRules_CreateOrUpdate", n, r.nat_rule_put),
        route("GET", LB + "/inboundNatRules/{nat_rule}", "InboundNatRules_Get", n, r.nat_rule_get),
        route("DELETE", LB + "/inboundNatRules/{nat_rule}", "InboundNatRules_Delete", n, r.nat_rule_delete),
        route("POST", LB + "/backendAddressPools/{pool}/queryInboundNatRulePortMapping",
              "LoadBalancers_ListInboundNatRulePortMappings", n, r.nat_port_mappings),
        route("PUT", PIP, "PublicIPAddresses_CreateOrUpdate", n, r.pip_put),
        route("GET", PIP, "PublicIPAddresses_Get", n, r.pip_get),
        route("DELETE", PIP, "PublicIPAddresses_Delete", n, r.pip_delete),
        route("GET", NETWORK + "/publicIPAddresses", "PublicIPAddresses_List", n, r.pip_list),
        route("GET", ALL + "/publicIPAddresses", "PublicIPAddresses_ListAll", n, r.pip_list_all),
        route("PUT", VNET, "VirtualNetworks_CreateOrUpdate", n, r.vnet_put),
        route("GET", VNET, "VirtualNetworks_Get", n, r.vnet_get),
        route("DELETE", VNET, "VirtualNetworks_Delete", n, r.vnet_delete),
        route("GET", NETWORK + "/virtualNetworks", "VirtualNetworks_List", n, r.vnet_list),
        route("GET", ALL + "/virtualNetworks", "VirtualNetworks_ListAll", n, r.vnet_list_all),
        route("PUT", VNET + "/subnets/{subnet}", "Subnets_CreateOrUpdate", n, r.subnet_put),
        route("GET", VNET + "/subnets/{subnet}", "Subnets_Get", n, r.subnet_get),
        route("DELETE", VNET + "/subnets/{subnet}", "Subnets_Delete", n, r.subnet_delete),
        route("GET", VNET + "/subnets", "Subnets_List", n, r.subnet_list),
        route("PUT", NSG, "NetworkSecurityGroups_CreateOrUpdate", n, r.nsg_put),
        route("GET", NSG, "NetworkSecurityGroups_Get", n, r.nsg_get),
        route("DELETE", NSG, "NetworkSecurityGroups_Delete", n, r.nsg_delete),
        route("GET", NETWORK + "/networkSecurityGroups", "NetworkSecurityGroups_List", n, r.nsg_list),
        route("GET", ALL + "/networkSecurityGroups", "NetworkSecurityGroups_ListAll", n, r.nsg_list_all),
        route("PUT", NSG + "/securityRules/{security_rule}", "SecurityRules_CreateOrUpdate", n,
              r.security_rule_put),
        route("GET", NSG + "/securityRules/{security_rule}", "SecurityRules_Get", n, r.security_rule_get),
        route("DELETE", NSG + "/securityRules/{security_rule}", "SecurityRules_Delete", n, r.security_rule_delete),
        route("GET", NSG + "/securityRules", "SecurityRules_List", n, r.security_rule_list),
        route("GET", NSG + "/defaultSecurityRules/{default_security_rule}", "DefaultSecurityRules_Get", n,
              r.default_security_rule_get),
        route("GET", NSG + "/defaultSecurityRules", "DefaultSecurityRules_List", n, r.default_security_rule_list),
    ]
