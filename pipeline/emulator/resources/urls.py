from ..core.routing import SUB, route
from . import responses as r

GROUP = SUB + "/resourcegroups/{resource_group}"


def routes():
    return [
        route("PUT", GROUP, "ResourceGroups_CreateOrUpdate", "resources", r.create_or_update),
        route("GET", GROUP, "ResourceGroups_Get", "resources", r.get),
        route("HEAD", GROUP, "ResourceGroups_CheckExistence", "resources", r.check_existence),
        route("DELETE", GROUP, "ResourceGroups_Delete", "resources", r.delete),
        route("GET", SUB + "/resourcegroups", "ResourceGroups_List", "resources", r.list_groups),
    ]
