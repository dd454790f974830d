"""The layer kinds of network descriptions, one module each (see :mod:`.base`), and their
registry :data:`KINDS`: a new kind is one module here plus its engine."""

from .activation import Activation
from .add import Add
from .avgpool import AvgPool
from .base import ChannelLayer, Layer, natural_pe
from .concat import Concat
from .conv2d import Conv2d
from .dense import Dense
from .flatten import Flatten
from .global_avgpool import GlobalAvgPool
from .input import InputLayer
from .label_select import LabelSelect
from .matrix import MatrixLayer
from .maxpool import MaxPool

__all__ = ["KINDS", "Layer", "ChannelLayer", "MatrixLayer", "InputLayer", "Conv2d", "Dense",
           "MaxPool", "AvgPool", "Activation", "Flatten", "LabelSelect", "Add", "Concat",
           "GlobalAvgPool", "natural_pe"]

KINDS = {cls.kind: cls for cls in (InputLayer, Conv2d, Dense, MaxPool, AvgPool, Activation,
                                   Flatten, LabelSelect, Add, Concat, GlobalAvgPool)}
