"""In-cluster benchmark: a pinned LLM load generator run as a Kubernetes Job against one hop
of a stack's request path, its results collected into JSON, Markdown and plots.

Importing this package pulls in no Pulumi and no plotting library: plots run in the
benchmark's own virtualenv (`.venv-bench`, see requirements-bench.txt).
"""
