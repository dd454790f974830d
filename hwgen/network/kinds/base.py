"""What every layer kind shares: :class:`Layer`, and the folding of channel-wise kinds.

A layer kind is one module of this package: a :class:`Layer` subclass that holds everything
about the kind (its description fields and their validation in :meth:`Layer.read`, its golden
function, its lowering onto engines, its folding rule and what the built description and
``hwgen check`` say about it), registered in :data:`hwgen.network.kinds.KINDS`. Shapes exclude
the batch axis: (H, W, C) for feature maps, (N,) for vectors; ``in_shape``/``in_dtype`` are
those of the first input.
"""

from dataclasses import dataclass, field, replace
from math import gcd, prod

from ...compiler.lowering import Graph

__all__ = ["Layer", "ChannelLayer", "natural_pe", "pixels", "divisors"]


def natural_pe(channels, *elems):
    """The PE of a channel-wise layer that needs no width converter in front: the largest
    divisor of ``channels`` that every input stream's elements per word (``elems``) allows."""
    return gcd(channels, *elems)


def pixels(shape):
    """Values per channel of a (H, W, C) or (C,) shape."""
    return prod(shape[:-1])


def divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


@dataclass
class Layer:
    name: str
    in_shape: tuple
    in_dtype: object
    inputs: tuple = field(default=(), kw_only=True)     # names of the layers it reads
    # The activation this layer's engine applies to its output (its ``fused_into`` names this
    # layer): set by the loader when the activation is this layer's only reader.
    fused: object = field(default=None, kw_only=True, repr=False, compare=False)

    kind = "layer"
    FIELDS = frozenset()     # the description fields of the kind, besides kind, name, inputs
    JOIN = False             # whether it reads two or more layers (else exactly one)
    hints = frozenset()      # the folding fields ("pe", "simd") the description set explicitly
    fusable = False          # whether an activation reading this layer can be fused into it

    @classmethod
    def read(cls, reader, spec, name, *inputs):
        """The layer described by ``spec`` reading the layers ``inputs``; ``reader``
        (:class:`~hwgen.network.loader.Reader`) reads and checks fields, and raises the one-line
        error that names file, layer and field."""
        raise NotImplementedError

    @property
    def out_shape(self):
        return self.in_shape

    @property
    def out_dtype(self):
        return self.in_dtype

    @property
    def output_dtype(self):
        """The datatype of this layer's output stream: its fused activation's, if any."""
        return self.fused.out_dtype if self.fused else self.out_dtype

    def golden(self, x):
        """This layer's output for batches of its inputs, each of shape (N, *input's shape)."""
        return x

    def lower(self, graph):
        """Add this layer's engines to ``graph``, reading its inputs' streams from it
        (:meth:`Graph.read`) and registering its output's (:meth:`Graph.produce`)."""
        graph.alias(self.name, self.inputs[0])

    def engine_nodes(self):
        """The engines this layer lowers to on its own (no width converters, FIFOs or forks)."""
        graph = Graph.for_layer(self)
        self.lower(graph)
        return [node for node in graph.nodes if node.kind not in Graph.PLUMBING]

    def ideal_cycles(self):
        """Ideal cycles per frame of this layer's engines at its folding (0: no hardware): the
        most of any engine it lowers to, from that engine's own cycle model."""
        return max((node.cycles() for node in self.engine_nodes()), default=0)

    def folding(self):
        """{'pe': .., 'simd': ..} where the layer has them."""
        return {}

    @property
    def out_elems(self):
        """Elements per word of this layer's output stream at its folding."""
        return self.folding().get("pe", 1)

    def fold(self, inputs, target, hints):
        """A copy folded for ``target`` cycles per frame, given the folded ``inputs``; the
        folding fields in ``hints`` keep their values."""
        return replace(self)

    def folding_options(self, hints):
        """Copies of this layer at every folding :meth:`fold` may choose, the fields in
        ``hints`` kept (the layer itself where it has no folding): their :meth:`ideal_cycles`
        are the cycles per frame it can reach."""
        return [self]

    def spec(self, arrays):
        """The description fields of this layer as built (explicit folding), its arrays put
        into ``arrays`` (they go to params.npz) and referenced by key."""
        return {}

    def summary(self):
        """What ``hwgen check`` shows of this layer besides shapes, datatypes and folding."""
        return {}


@dataclass
class ChannelLayer(Layer):
    """A layer that works on ``pe`` channels at a time and reads its inputs' streams as they
    come: folded to the PE that needs no width converter when that meets the target, else to
    the smallest PE that does."""
    pe: int = 1

    FIELDS = frozenset({"pe"})

    @property
    def folding_channels(self):
        """What the PE must divide."""
        return self.out_shape[-1]

    def folding(self):
        return {"pe": self.pe}

    @classmethod
    def read_pe(cls, reader, spec, channels, inputs, what="channels"):
        return reader.folding(spec, "pe", channels, what,
                              default=natural_pe(channels, *(i.out_elems for i in inputs)))

    def fold(self, inputs, target, hints):
        if "pe" in hints:
            return replace(self)
        natural = natural_pe(self.folding_channels, *(i.out_elems for i in inputs))
        options = [replace(self, pe=natural)] + self.folding_options(hints)
        # The last option, PE = all channels, is the fastest: taken when none meets the target.
        return next((option for option in options if option.ideal_cycles() <= target),
                    options[-1])

    def folding_options(self, hints):
        if "pe" in hints:
            return [self]
        return [replace(self, pe=pe) for pe in divisors(self.folding_channels)]

    def spec(self, arrays):
        return {"pe": self.pe}
