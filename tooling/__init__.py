"""Offline tooling: run the program under a recording mock, render, validate."""
