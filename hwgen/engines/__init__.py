"""Streaming layer engines: one Amaranth component per module."""
