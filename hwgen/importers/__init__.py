"""Importers of trained models: QONNX and QCDQ ONNX (:mod:`.onnx_model`)."""

from .onnx_model import Imported, import_model

__all__ = ["import_model", "Imported"]
