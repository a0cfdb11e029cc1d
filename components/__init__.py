"""In-cluster side of inference-platform: the config schema, pure renderers and the
Pulumi components that bootstrap Argo CD and hand it the root Applications of each layer."""
