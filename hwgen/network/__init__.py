"""Front end: network descriptions, their layers, and the whole-network golden model."""

from .loader import load_network
from .network import Network

__all__ = ["load_network", "Network"]
