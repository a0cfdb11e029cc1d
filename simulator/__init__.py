"""Autoscaling simulator: one model's replicas under the scaling policy a stack renders.

A discrete-event simulation of requests arriving at a model, queueing for a free slot on a
ready replica (continuous batching up to a concurrency limit), and of the autoscaler that
adds and removes replicas, each new one paying its cold start. Plain data in, plain data out:
nothing here talks to a cluster.
"""
