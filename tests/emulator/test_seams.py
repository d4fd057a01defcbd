"""The emulator's services hold each other through the Protocols of core/seams.py: every method of a seam exists
on the backend that provides it, with the same parameters, and a running cloud is wired both ways. A renamed
or re-signed method fails here instead of being skipped at run time."""

from __future__ import annotations

import inspect

import pytest

from pipeline.emulator.compute.models import ComputeBackend
from pipeline.emulator.core.seams import ComputeForNetwork, NetworkForCompute
from pipeline.emulator.network.models import NetworkBackend


def seam_methods(protocol: type) -> list[str]:
    return [name for name, member in vars(protocol).items() if inspect.isfunction(member) and not name.startswith("_")]


@pytest.mark.parametrize(("protocol", "backend"), [(ComputeForNetwork, ComputeBackend),
                                                   (NetworkForCompute, NetworkBackend)])
def test_each_backend_provides_its_seam_with_the_same_parameters(protocol, backend):
    names = seam_methods(protocol)
    assert names
    for name in names:
        provided = getattr(backend, name, None)
        assert callable(provided), f"{backend.__name__} lacks {name} ({protocol.__name__})"
        wanted = list(inspect.signature(getattr(protocol, name)).parameters.values())
        actual = list(inspect.signature(provided).parameters.values())
        assert [(p.name, p.kind) for p in actual] == [(p.name, p.kind) for p in wanted], f"{backend.__name__}.{name}"


def test_a_running_cloud_holds_its_backends_through_the_seams(cloud):
    backends = cloud.cloud
    assert isinstance(backends.compute.network, NetworkForCompute) and backends.compute.network is backends.network
    assert isinstance(backends.network.compute, ComputeForNetwork) and backends.network.compute is backends.compute
