"""The contract between the substrate and the in-cluster side: ClusterFacts.

Below both: substrates produce it, components consume it, and it imports neither.
"""
