"""hwgen: streaming FPGA dataflow accelerators for quantized neural networks."""

from .errors import HwgenError

__version__ = "0.1.0"

__all__ = ["HwgenError", "__version__"]
