"""The vks substrate component under the recording mock, in preview and update mode."""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pytest
from pulumi.runtime.sync_await import _sync_await

import tooling.program
from components.config import parse_stack_config
from components.config.vks import POOL_LABEL, VksSubstrate
from contract.facts import GPU_TAINT, ClusterFacts
from substrate.vks import manifests as m
from tooling.fakes_vks import WORKLOAD_KUBECONFIG
from tooling.mocks import UNKNOWN, Recorded, RecordingMonitor
from tooling.program import Run

COMPONENT = "inference-platform:substrate:VksCluster"
SUPERVISOR_KUBECONFIG = "apiVersion: v1\nkind: Config\n# supervisor\n"
SPEC = {
    "kind": "vks",
    "vcenterServer": "vcenter.example.com",
    "supervisorId": "a1b2c3d4-supervisor",
    "supervisorContext": "10.0.0.5",
    "contentLibrary": "lib-0001",
    "storagePolicy": "policy-0001",
    "vgpuDriver": {"repository": "registry.example.com/nvidia", "version": "580.105.08"},
    "gpuPools": [
        {"name": "l40s", "accelerator": "nvidia-l40s", "count": 2, "vgpuProfile": "nvidia_l40s-48c",
         "cpus": 16, "memoryMib": 131072, "labels": {"team": "ml"}},
        {"name": "a100", "accelerator": "nvidia-a100", "vgpuProfile": "grid_a100-40c"},
    ],
}
MODES = [False, True]


@dataclass
class VksRun:
    run: Run
    facts: ClusterFacts
    # (type, name, id, parent, provider, dependencies) of every ReadResource call.
    reads: list[tuple] = field(default_factory=list)

    def one(self, type_: str) -> Recorded:
        found = self.run.of_type(type_)
        assert len(found) == 1, [r.name for r in found]
        return found[0]


def run_vks(monkeypatch, preview: bool, protect: bool = True, spec: dict = SPEC) -> VksRun:
    reads: list[tuple] = []

    class ReadRecordingMonitor(RecordingMonitor):
        def ReadResource(self, request):  # noqa: N802 - gRPC method name
            reads.append((request.type, request.name, request.id, request.parent, request.provider,
                          list(request.dependencies)))
            return super().ReadResource(request)

    monkeypatch.setattr(tooling.program, "RecordingMonitor", ReadRecordingMonitor)
    holder: dict[str, ClusterFacts] = {}

    def program() -> None:
        from substrate.vks import VksCluster, VksClusterArgs

        args = VksClusterArgs(
            spec=VksSubstrate.model_validate(spec), supervisor_kubeconfig=SUPERVISOR_KUBECONFIG, protect=protect
        )
        holder["facts"] = VksCluster("vks", args).facts
        pulumi.export("kubeconfig", holder["facts"].kubeconfig)

    run = tooling.program.run_function(program, preview=preview)
    return VksRun(run, holder["facts"], reads)


@pytest.fixture(params=MODES, ids=["update", "preview"])
def vks(request, monkeypatch) -> VksRun:
    return run_vks(monkeypatch, request.param)


def component_urn(run: Run) -> str:
    (component,) = run.of_type(COMPONENT)
    return component.urn


def test_every_resource_is_a_child_of_the_component(vks):
    urn = component_urn(vks.run)
    children = [r for r in vks.run.resources if r.urn != urn]
    assert len(children) == 2 + 2 + 1 + 1 + 1  # providers, VM classes, namespace, Cluster, kubeconfig read
    assert all(r.parent == urn for r in children), [(r.type, r.parent) for r in children if r.parent != urn]


def test_every_custom_resource_uses_the_components_own_provider(vks):
    by_urn = vks.run.by_urn()
    vsphere = vks.one("pulumi:providers:vsphere")
    supervisor = vks.one("pulumi:providers:kubernetes")
    for r in vks.run.resources:
        if not r.custom or r.type.startswith("pulumi:providers:"):
            continue
        expected = vsphere if r.type.startswith("vsphere:") else supervisor
        assert r.provider_urn == expected.urn, f"{r.type} {r.name} uses {r.provider_urn}"
        assert by_urn[r.provider_urn].parent == component_urn(vks.run)


def test_vsphere_provider_takes_no_credentials_from_the_program(vks):
    provider = vks.one("pulumi:providers:vsphere")
    assert provider.inputs["vsphereServer"] == "vcenter.example.com"
    assert provider.inputs["allowUnverifiedSsl"] in (False, "false")
    assert not {"user", "password"} & set(provider.inputs)


def test_supervisor_provider_gets_a_secret_kubeconfig_and_a_stable_identity(vks):
    provider = vks.one("pulumi:providers:kubernetes")
    assert provider.name == "supervisor"
    assert provider.inputs["kubeconfig"] == SUPERVISOR_KUBECONFIG
    assert "kubeconfig" in provider.secret_inputs
    assert provider.inputs["context"] == "10.0.0.5"
    assert provider.inputs["clusterIdentifier"] == "vsphere-supervisor-a1b2c3d4-supervisor"


def test_one_vgpu_vm_class_per_pool(vks):
    recorded = vks.run.of_type("vsphere:index/virtualMachineClass:VirtualMachineClass")
    classes = {r.inputs["name"]: r.inputs for r in recorded}
    assert classes == {
        "inference-l40s": {
            "name": "inference-l40s",
            "cpus": 16,
            "memory": 131072,
            "memoryReservation": 100,
            "vgpuDevices": ["nvidia_l40s-48c", "nvidia_l40s-48c"],
        },
        "inference-a100": {
            "name": "inference-a100",
            "cpus": 8,
            "memory": 65536,
            "memoryReservation": 100,
            "vgpuDevices": ["grid_a100-40c"],
        },
    }


def test_namespace_binds_classes_library_and_storage_and_is_protected(vks):
    namespace = vks.one("vsphere:index/namespace:Namespace")
    assert namespace.protect
    assert namespace.inputs == {
        "name": "inference",
        "supervisor": "a1b2c3d4-supervisor",
        "storagePolicies": ["policy-0001"],
        "vmServices": [
            {
                "contentLibraries": ["lib-0001"],
                "vmClasses": ["guaranteed-large", "best-effort-large", "inference-l40s", "inference-a100"],
            }
        ],
    }
    vm_classes = {r.urn for r in vks.run.of_type("vsphere:index/virtualMachineClass:VirtualMachineClass")}
    assert vm_classes <= set(namespace.dependencies)


def test_cluster_is_the_pure_manifest_protected_after_the_namespace(vks):
    cluster = vks.one("kubernetes:cluster.x-k8s.io/v1beta1:Cluster")
    manifest = m.cluster_manifest(VksSubstrate.model_validate(SPEC))
    assert cluster.protect
    assert cluster.inputs["apiVersion"] == manifest["apiVersion"]
    assert cluster.inputs["kind"] == manifest["kind"]
    assert cluster.inputs["metadata"] == manifest["metadata"]
    assert cluster.inputs["spec"] == manifest["spec"]
    assert vks.one("vsphere:index/namespace:Namespace").urn in cluster.dependencies


def test_kubeconfig_is_read_from_the_cluster_api_secret_after_the_cluster(vks):
    cluster = vks.one("kubernetes:cluster.x-k8s.io/v1beta1:Cluster")
    supervisor = vks.one("pulumi:providers:kubernetes")
    assert len(vks.reads) == 1
    type_, name, id_, parent, provider, dependencies = vks.reads[0]
    # In preview the id waits on the Cluster's id, so it is unknown and the engine skips the read.
    expected_id = UNKNOWN if vks.run.preview else "inference/inference-kubeconfig"
    assert (type_, name, id_) == ("kubernetes:core/v1:Secret", "workload-kubeconfig", expected_id)
    assert parent == component_urn(vks.run)
    assert provider.rsplit("::", 1)[0] == supervisor.urn
    assert cluster.urn in dependencies


def test_kubeconfig_is_the_decoded_secret_and_stays_secret(vks):
    kubeconfig = vks.facts.kubeconfig
    assert _sync_await(kubeconfig.is_secret())
    assert _sync_await(kubeconfig.is_known()) is not vks.run.preview
    if not vks.run.preview:
        assert _sync_await(kubeconfig.future()) == WORKLOAD_KUBECONFIG
    assert _sync_await(vks.run.outputs["kubeconfig"].is_secret())


def test_facts_describe_the_cluster(vks):
    facts = vks.facts
    assert (facts.substrate, facts.gpu_stack, facts.cluster_name) == ("vks", "operator", "inference")
    assert (facts.storage_class, facts.storage_shared) == ("vsan-default-storage-policy", False)
    assert [(p.name, p.accelerator, p.count) for p in facts.gpu_pools] == [
        ("l40s", "nvidia-l40s", 2),
        ("a100", "nvidia-a100", 1),
    ]
    assert facts.gpu_pools[0].labels == {POOL_LABEL: "l40s", "team": "ml"}
    assert facts.gpu_pools[1].labels == {POOL_LABEL: "a100"}
    assert all(p.taints == (GPU_TAINT,) for p in facts.gpu_pools)
    ready = [type(r).__name__ for r in facts.ready]
    assert ready == ["CustomResource", "Secret"]
    # v1.33 below the ImageVolume default: oci:// models are refused for this cluster.
    assert facts.image_volumes is False


def test_gpu_operator_installs_the_vgpu_guest_driver_with_nls_licensing(vks):
    """vGPU VMs need NVIDIA's licensed vGPU guest driver from a private registry, not the public
    data-center driver the GPU Operator installs by default."""
    from components.computed_values import computed_values

    plain = vks.facts.plain()
    assert plain["vgpuDriver"] == {
        "repository": "registry.example.com/nvidia",
        "image": "vgpu-guest-driver",
        "version": "580.105.08",
        "pullSecret": "vgpu-registry",
        "licensingSecret": "vgpu-licensing",
    }
    driver = computed_values("gpu-operator", plain)["driver"]
    assert driver == {
        "repository": "registry.example.com/nvidia",
        "image": "vgpu-guest-driver",
        "version": "580.105.08",
        "imagePullSecrets": ["vgpu-registry"],
        "licensingConfig": {"secretName": "vgpu-licensing", "nlsEnabled": True},
    }


def test_cluster_names_the_public_class_namespace(vks):
    cluster = vks.one("kubernetes:cluster.x-k8s.io/v1beta1:Cluster")
    assert cluster.inputs["spec"]["topology"]["classNamespace"] == "vmware-system-vks-public"


def test_protect_follows_the_stack(monkeypatch):
    run = run_vks(monkeypatch, preview=True, protect=False).run
    assert not any(r.protect for r in run.resources)


def test_cpu_only_cluster_has_no_vm_classes(monkeypatch):
    vks = run_vks(monkeypatch, preview=False, spec={**SPEC, "gpuPools": []})
    assert vks.run.of_type("vsphere:index/virtualMachineClass:VirtualMachineClass") == []
    assert vks.one("vsphere:index/namespace:Namespace").inputs["vmServices"][0]["vmClasses"] == [
        "guaranteed-large",
        "best-effort-large",
    ]
    assert vks.facts.gpu_pools == ()


def test_build_reads_the_stack_config(monkeypatch):
    from substrate.vks import build

    values = {
        "substrate": SPEC,
        "protect": False,
        "sopsAgeKey": "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ",
        "supervisorKubeconfig": SUPERVISOR_KUBECONFIG,
    }
    cfg = parse_stack_config(values, secret_keys=["sopsAgeKey", "supervisorKubeconfig"])
    holder = {}
    run = tooling.program.run_function(lambda: holder.setdefault("facts", build(cfg)), preview=True)
    assert holder["facts"].substrate == "vks"
    assert not any(r.protect for r in run.resources)
    (provider,) = run.of_type("pulumi:providers:kubernetes")
    # The config schema strips surrounding whitespace from every string.
    assert provider.inputs["kubeconfig"] == SUPERVISOR_KUBECONFIG.strip()
    assert "kubeconfig" in provider.secret_inputs
