"""Simulation drivers: Amaranth testbenches for streaming engines and pipelines."""
