"""vks substrate without Pulumi: its config section and the pure builders of substrate/vks_manifests.py."""

from __future__ import annotations

import base64

import pytest
from pydantic import ValidationError

from components.config.vks import POOL_LABEL, VksSubstrate
from substrate.vks import manifests as m

BASE = {
    "kind": "vks",
    "vcenterServer": "vcenter.example.com",
    "supervisorId": "a1b2c3d4-supervisor",
    "contentLibrary": "lib-0001",
    "storagePolicy": "policy-0001",
    "vgpuDriver": {"repository": "registry.example.com/nvidia", "version": "580.105.08"},
}
L40S = {
    "name": "l40s",
    "accelerator": "nvidia-l40s",
    "count": 2,
    "vgpuProfile": "nvidia_l40s-48c",
    "cpus": 16,
    "memoryMib": 131072,
    "minNodes": 0,
    "maxNodes": 3,
    "labels": {"team": "ml"},
}
A100 = {"name": "a100", "accelerator": "nvidia-a100", "vgpuProfile": "grid_a100-40c", "containerdDiskGib": 0}


def spec(**changes) -> VksSubstrate:
    return VksSubstrate.model_validate({**BASE, **changes})


def deployments(manifest: dict) -> dict[str, dict]:
    return {d["name"]: d for d in manifest["spec"]["topology"]["workers"]["machineDeployments"]}


def overrides(deployment: dict) -> dict:
    return {v["name"]: v["value"] for v in deployment["variables"]["overrides"]}


# --- config -------------------------------------------------------------------------------


def test_defaults_are_secure_and_complete():
    s = spec()
    assert s.allow_unverified_ssl is False
    assert (s.cluster_name, s.namespace, s.control_plane_replicas, s.node_os) == ("inference", "inference", 3, "ubuntu")
    assert s.gpu_pools == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"vcenterServer": "https://vc.example.com/sdk"}, "is not a host name"),
        ({"kubernetesVersion": "v1.33.3---vmware.1-fips-vkr.1"}, "write '+' where"),
        ({"kubernetesVersion": "latest"}, "is not a Kubernetes release version"),
        ({"podCidr": "10.96.0.0/16"}, "overlaps serviceCidr"),
        ({"podCidr": "192.168.0.0/22"}, "holds 4 node ranges"),
        ({"podCidr": "banana"}, "is not a CIDR range"),
        ({"namespace": "Inference"}, "is not a DNS label"),
        ({"clusterClassNamespace": "Bad_NS"}, "is not a DNS label"),
        ({"clusterClass": "Builtin Generic"}, "is not a ClusterClass name"),
        ({"gpuPools": [{**L40S, "labels": {POOL_LABEL: "x"}}]}, "is set from the pool name"),
        ({"gpuPools": [{**L40S, "minNodes": 4}]}, "minNodes (4) is greater than maxNodes (3)"),
        ({"gpuPools": [{**L40S, "vgpuProfile": "a b"}]}, "is not a vGPU profile name"),
        ({"gpuPools": [L40S, L40S]}, "repeated: l40s"),
        ({"gpuPools": [L40S], "nodeOs": "photon"}, "gpuPools need nodeOs 'ubuntu'"),
        ({"clusterName": "c" * 40, "gpuPools": [{**L40S, "name": "p" * 30}]}, "longer than 63 characters"),
        ({"supervisorCluster": "domain-c8"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_config_is_refused_with_a_reason(changes, message):
    with pytest.raises(ValidationError) as err:
        spec(**changes)
    assert message in str(err.value)


def test_pod_range_sized_for_every_node_and_surge():
    # 3 control plane + 2 workers + 3 GPU nodes, plus one surge node per deployment and the control plane.
    spec(podCidr="10.244.0.0/20", gpuPools=[L40S])
    with pytest.raises(ValidationError):
        spec(podCidr="10.244.0.0/21", gpuPools=[L40S], workerCount=6)


# --- names and labels ---------------------------------------------------------------------


def test_vm_classes_are_named_per_cluster_and_carry_one_vgpu_per_gpu():
    s = spec(gpuPools=[L40S, A100])
    l40s, a100 = s.gpu_pools
    assert m.vm_class_name(s, l40s) == "inference-l40s"
    assert m.vgpu_devices(l40s) == ["nvidia_l40s-48c", "nvidia_l40s-48c"]
    assert m.vgpu_devices(a100) == ["grid_a100-40c"]
    assert m.namespace_vm_classes(s) == ["guaranteed-large", "best-effort-large", "inference-l40s", "inference-a100"]


def test_namespace_binds_each_vm_class_once():
    s = spec(controlPlaneClass="best-effort-large")
    assert m.namespace_vm_classes(s) == ["best-effort-large"]


def test_pool_labels_start_with_the_pool_label():
    pool = spec(gpuPools=[L40S]).gpu_pools[0]
    assert m.pool_labels(pool) == {POOL_LABEL: "l40s", "team": "ml"}


def test_kubeconfig_secret_follows_cluster_api_convention():
    assert m.kubeconfig_secret_name("inference") == "inference-kubeconfig"


def test_decode_kubeconfig():
    text = "apiVersion: v1\nkind: Config\n"
    assert m.decode_kubeconfig({"value": base64.b64encode(text.encode()).decode()}, "ns/x") == text
    with pytest.raises(ValueError, match="ns/x has no key 'value'"):
        m.decode_kubeconfig({"other": "eA=="}, "ns/x")
    with pytest.raises(ValueError, match="ns/x has no key 'value'"):
        m.decode_kubeconfig(None, "ns/x")
    with pytest.raises(ValueError, match="not base64-encoded text"):
        m.decode_kubeconfig({"value": "not base64!"}, "ns/x")


# --- Cluster manifest ---------------------------------------------------------------------


def test_cluster_manifest_envelope_and_network():
    manifest = m.cluster_manifest(spec(podCidr="172.20.0.0/16", serviceCidr="10.96.0.0/16"))
    assert manifest["apiVersion"] == "cluster.x-k8s.io/v1beta1"
    assert manifest["kind"] == "Cluster"
    assert manifest["metadata"] == {
        "name": "inference",
        "namespace": "inference",
        "annotations": {"pulumi.com/waitFor": "condition=Ready"},
    }
    assert manifest["spec"]["clusterNetwork"] == {
        "pods": {"cidrBlocks": ["172.20.0.0/16"]},
        "services": {"cidrBlocks": ["10.96.0.0/16"]},
        "serviceDomain": "cluster.local",
    }


def test_topology_follows_config():
    s = spec(
        clusterClass="builtin-generic-v3.4.0",
        kubernetesVersion="v1.33.1+vmware.1-fips",
        controlPlaneReplicas=1,
        controlPlaneClass="guaranteed-xlarge",
        workerClass="best-effort-xlarge",
        workerCount=4,
        storageClass="fast",
    )
    topology = m.cluster_manifest(s)["spec"]["topology"]
    assert topology["class"] == "builtin-generic-v3.4.0"
    assert topology["version"] == "v1.33.1+vmware.1-fips"
    assert topology["controlPlane"] == {
        "replicas": 1,
        "metadata": {"annotations": {"run.tanzu.vmware.com/resolve-os-image": "os-name=ubuntu"}},
        "variables": {"overrides": [{"name": "vmClass", "value": "guaranteed-xlarge"}]},
    }
    assert topology["variables"] == [
        {"name": "vmClass", "value": "best-effort-xlarge"},
        {"name": "storageClass", "value": "fast"},
        {
            "name": "vsphereOptions",
            "value": {"persistentVolumes": {"availableStorageClasses": ["fast"], "defaultStorageClass": "fast"}},
        },
    ]
    assert deployments(m.cluster_manifest(s)) == {
        "cpu": {
            "class": "node-pool",
            "name": "cpu",
            "replicas": 4,
            "metadata": {"annotations": {"run.tanzu.vmware.com/resolve-os-image": "os-name=ubuntu"}},
        }
    }


def test_class_namespace_defaults_to_where_current_supervisors_publish_cluster_classes():
    """builtin-generic ClusterClasses live in vmware-system-vks-public on current Supervisors: a
    Cluster naming no classNamespace looks in its own namespace and cannot resolve the class."""
    assert m.cluster_manifest(spec())["spec"]["topology"]["classNamespace"] == "vmware-system-vks-public"
    topology = m.cluster_manifest(spec(clusterClassNamespace="shared-classes"))["spec"]["topology"]
    assert topology["classNamespace"] == "shared-classes"
    # null keeps older Supervisors, which hold the class in the vSphere Namespace itself, working.
    assert "classNamespace" not in m.cluster_manifest(spec(clusterClassNamespace=None))["spec"]["topology"]


def test_gpu_pools_need_the_vgpu_guest_driver():
    values = {k: v for k, v in BASE.items() if k != "vgpuDriver"}
    with pytest.raises(ValidationError, match="gpuPools need vgpuDriver"):
        VksSubstrate.model_validate({**values, "gpuPools": [L40S]})
    assert VksSubstrate.model_validate(values).vgpu_driver is None


@pytest.mark.parametrize(
    ("driver", "message"),
    [
        ({"version": "580.105.08"}, "Field required"),
        ({"repository": "Registry Example", "version": "1"}, "is not a registry path"),
        ({"repository": "r.example.com/nvidia", "version": "1", "image": "a/b"}, "is not an image name"),
        ({"repository": "r.example.com/nvidia", "version": "1", "licensingSecret": "Bad_Name"}, "is not a DNS label"),
        ({"repository": "r.example.com/nvidia", "version": "1", "token": "abc"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_vgpu_driver_is_refused(driver, message):
    with pytest.raises(ValidationError, match=message):
        spec(vgpuDriver=driver)


def test_vgpu_driver_reaches_the_facts_as_names_only():
    from substrate.vks.cluster import vgpu_driver

    driver = vgpu_driver(spec(gpuPools=[L40S]))
    assert (driver.repository, driver.image, driver.version) == (
        "registry.example.com/nvidia", "vgpu-guest-driver", "580.105.08"
    )
    assert (driver.pull_secret, driver.licensing_secret) == ("vgpu-registry", "vgpu-licensing")


@pytest.mark.parametrize(
    ("version", "gate", "expected"),
    [
        ("v1.33.3+vmware.1-fips-vkr.1", False, False),
        ("v1.34.1+vmware.1", False, False),
        ("v1.33.3+vmware.1-fips-vkr.1", True, True),
        ("v1.35.0+vmware.1", False, True),
        ("v1.36", False, True),
    ],
)
def test_image_volumes_need_kubernetes_1_35_or_the_declared_gate(version, gate, expected):
    assert spec(kubernetesVersion=version, imageVolumeFeatureGate=gate).image_volumes is expected


def test_gpu_pool_deployment_is_autoscaled_labelled_and_tainted():
    gpu = deployments(m.cluster_manifest(spec(gpuPools=[L40S])))["gpu-l40s"]
    assert gpu["class"] == "node-pool"
    # The autoscaler owns the count: a replicas field would fight it.
    assert "replicas" not in gpu
    annotations = gpu["metadata"]["annotations"]
    assert annotations["cluster.x-k8s.io/cluster-api-autoscaler-node-group-min-size"] == "0"
    assert annotations["cluster.x-k8s.io/cluster-api-autoscaler-node-group-max-size"] == "3"
    assert annotations["capacity.cluster-autoscaler.kubernetes.io/cpu"] == "16"
    assert annotations["capacity.cluster-autoscaler.kubernetes.io/memory"] == "131072Mi"
    assert annotations["capacity.cluster-autoscaler.kubernetes.io/gpu-count"] == "2"
    assert annotations["capacity.cluster-autoscaler.kubernetes.io/gpu-type"] == "nvidia.com/gpu"
    assert annotations["capacity.cluster-autoscaler.kubernetes.io/labels"] == "inference-platform/gpu-pool=l40s,team=ml"
    assert annotations["capacity.cluster-autoscaler.kubernetes.io/taints"] == "nvidia.com/gpu=present:NoSchedule"
    assert overrides(gpu) == {
        "vmClass": "inference-l40s",
        "node": {
            "labels": {POOL_LABEL: "l40s", "team": "ml"},
            "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}],
        },
        "volumes": [
            {
                "name": "containerd",
                "mountPath": "/var/lib/containerd",
                "capacity": "200Gi",
                "storageClass": "vsan-default-storage-policy",
            }
        ],
    }


def test_containerd_volume_is_left_out_when_zero():
    gpu = deployments(m.cluster_manifest(spec(gpuPools=[A100])))["gpu-a100"]
    assert set(overrides(gpu)) == {"vmClass", "node"}


def test_one_deployment_per_gpu_pool_after_the_cpu_one():
    names = list(deployments(m.cluster_manifest(spec(gpuPools=[L40S, A100]))))
    assert names == ["cpu", "gpu-l40s", "gpu-a100"]


def test_manifest_builder_does_not_share_state_between_calls():
    s = spec(gpuPools=[L40S])
    first = m.cluster_manifest(s)
    gpu = first["spec"]["topology"]["workers"]["machineDeployments"][1]
    gpu["variables"]["overrides"][1]["value"]["labels"]["x"] = "y"
    assert "x" not in m.pool_labels(s.gpu_pools[0])
    assert m.cluster_manifest(s) != first


# --- stack-level checks that depend on the vks release ---------------------------------------

OCI_MODEL = {
    "name": "llama",
    "source": "oci://registry.example.com/models/llama@sha256:" + "a" * 64,
    "engine": "vllm",
    "task": "text",
    "gpus": 1,
    "gpuType": "nvidia-l40s",
}


def stack(**substrate_changes):
    from components.config import parse_stack_config

    values = {
        "substrate": {**BASE, "gpuPools": [L40S], **substrate_changes},
        "models": [OCI_MODEL],
        "sopsAgeKey": "AGE-SECRET-KEY-1TEST",
        "supervisorKubeconfig": "apiVersion: v1\nkind: Config\n",
    }
    return parse_stack_config(values, ["sopsAgeKey", "supervisorKubeconfig"])


def test_oci_models_are_refused_below_kubernetes_1_35_without_the_gate():
    from components.config.loader import ConfigError

    with pytest.raises(ConfigError, match=r"models\[0\] \(llama\) is an oci:// modelcar.*ImageVolume"):
        stack(kubernetesVersion="v1.33.3+vmware.1-fips-vkr.1")
    assert stack(kubernetesVersion="v1.33.3+vmware.1-fips-vkr.1", imageVolumeFeatureGate=True).models
    assert stack(kubernetesVersion="v1.35.1+vmware.1").models


def test_docs_say_refresh_and_destroy_need_the_program_run_for_a_fresh_supervisor_token():
    """Without --run-program, refresh and destroy use the provider config stored at the last
    update, with its expired Supervisor token."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "substrates" / "vks.md").read_text()
    assert "pulumi refresh --run-program" in text and "pulumi destroy --run-program" in text
