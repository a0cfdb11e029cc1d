"""The llm-gateway layer: Gateway API and the Inference Extension (routing), LiteLLM (tenant
economics) and Tyk (tenant edge), rendered as plain data from StackConfig and ClusterFacts."""
