"""inference-platform: stack config -> substrate -> in-cluster bootstrap -> exports."""

import pulumi

from components.bootstrap import PlatformBootstrap, PlatformBootstrapArgs
from components.config import load_stack_config
from components.preflight import check_object_sizes
from substrate import build_substrate

config = load_stack_config()
# Before the substrate registers anything: a stack whose objects would not fit etcd stops here.
check_object_sizes(config)
facts = build_substrate(config)
platform = PlatformBootstrap("platform", PlatformBootstrapArgs(config=config, facts=facts))

pulumi.export("clusterName", facts.cluster_name)
pulumi.export("substrate", facts.substrate)
pulumi.export("gpuStack", facts.gpu_stack)
pulumi.export("kubeconfig", facts.kubeconfig)
pulumi.export("argocdNamespace", platform.argocd_namespace)
pulumi.export("roots", platform.roots)
pulumi.export("models", [m.name for m in config.models])
# Names only: tenant keys are generated in the cluster and never pass through Pulumi.
pulumi.export("tenants", [t.name for t in config.tenants])
for name, value in facts.outputs.items():
    pulumi.export(name, value)
if platform.grafana_admin_password is not None:
    pulumi.export("grafanaAdminPassword", platform.grafana_admin_password)
