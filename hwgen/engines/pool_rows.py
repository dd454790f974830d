"""Pool whose windows tile the input (kernel == stride), max or sum: one row of partial results
instead of a line buffer.

Input: frames of ``height x width x channels`` values in NHWC order, ``pe`` channels per word
(channels fastest). Output: frames of ``out_height x out_width x channels`` (``out = in // k``
per axis), ``pe`` channels per word: per channel the maximum (``op="max"``,
:func:`hwgen.golden.maxpool`) or the sum (``op="sum"``, :func:`hwgen.golden.sum_pool`, in
:func:`~hwgen.engines.reduction.pooled_dtype`) of every ``kh x kw`` window, the stride equal to
the kernel. The rows and columns after the last whole window are taken and dropped, as the
golden model floors them. A kernel of the whole input is global pooling.

As the windows do not overlap, every input word belongs to one window (or to none) and is
needed once: the engine keeps, for each window of the current row of windows and each channel
fold, the result of the window's words seen so far, ``out_width * folds`` words (CNV's first
pool, 28 x 28 x 64 at 32 channels per word: 28 words, where a sliding window holds 117). Input
pixel ``(y, x)`` of fold ``f`` goes to partial ``(x // kw, f)``: a window's top-left pixel
starts it, every other pixel of the window, along its row and down its rows, adds to it, and
the bottom-right pixel completes it. The partials and the stage that combines them are a
:class:`~hwgen.engines.reduction.PartialReduction` (shared with the sliding pool's running
reduction); finished results go to an :class:`~hwgen.engines.credits.OutputQueue`.

The engine takes a word every cycle, frames back to back (a frame's first row starts every
partial anew), but a word that completes a result only while the queue has a credit for it
(:func:`~hwgen.engines.credits.issue_gate`): ``o.ready`` reaches the queue and its credit
counter, never the memory or the operators.
"""

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Const, Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..datatypes import DataType
from .credits import QUEUE_LATENCY, issue_gate
from .datapath import Counter, positive_pair
from .reduction import PartialReductionParams, PoolWords, reduction_into_queue
from .resources import Resources

__all__ = ["RowPoolParams", "RowPool"]


@dataclass(frozen=True)
class RowPoolParams(PoolWords):
    """Shape of a row pool: ``kernel`` is ``(rows, columns)`` (an int means a square one) and
    is also the stride; ``channels`` must be a multiple of ``pe`` and the kernel must fit in
    the input; ``op`` is ``"max"`` or ``"sum"``."""

    height: int
    width: int
    channels: int
    kernel: tuple
    pe: int
    dtype: DataType
    op: str = "max"

    def __post_init__(self):
        self.check_feature_map("row pool")
        object.__setattr__(self, "kernel", positive_pair(self.kernel, "kernel"))
        if self.kernel[0] > self.height or self.kernel[1] > self.width:
            raise ValueError(f"kernel {self.kernel} does not fit in a "
                             f"{self.height}x{self.width} input")
        self.reduction      # checks op, and that a sum fits

    @property
    def stride(self):
        return self.kernel

    @property
    def out_height(self):
        return self.height // self.kernel[0]

    @property
    def out_width(self):
        return self.width // self.kernel[1]

    @property
    def slots(self):
        """Partial results kept: one per window of a row of windows and channel fold."""
        return self.out_width * self.folds

    def window_ends(self):
        """For each output word, in order, the index in the frame of the input word that
        completes it (its window's bottom-right pixel, same fold)."""
        kh, kw = self.kernel
        rows = (np.arange(self.out_height) * kh + kh - 1) * self.width
        pixels = rows[:, None] + np.arange(self.out_width)[None, :] * kw + kw - 1
        return (pixels[:, :, None] * self.folds + np.arange(self.folds)).ravel()

    def cycles(self):
        """Cycles per frame with no stalls, exact: a word per cycle (every word that completes
        a result finds a credit, as the queue's credits cover its latency)."""
        return self.in_words

    def latency(self):
        """Cycles from a frame's first input word to its first output word (fresh engine, no
        stalls), exact: the input word that completes the first window's fold 0 is taken that
        many cycles after the first, and its result reaches the output queue
        :attr:`~hwgen.engines.reduction.PartialReductionParams.latency` cycles later."""
        return int(self.window_ends()[0]) + self.reduction.latency + QUEUE_LATENCY

    @property
    def reduction(self):
        """Parameters of the engine's :class:`~hwgen.engines.reduction.PartialReduction`: a
        slot per window of a row of windows and fold; two words of a slot are a pixel's folds
        apart."""
        kh, kw = self.kernel
        return PartialReductionParams(self.dtype, self.pe, self.slots, kh * kw, self.folds,
                                      self.op)

    def buffer_bits(self):
        """{kind: bits} of the memories holding stream data: the row of partial results (none
        for a 1x1 kernel, whose every word is its own result)."""
        kh, kw = self.kernel
        return {"partial_results": self.slots * self.out_bits if kh * kw > 1 else 0}

    def resources(self):
        """First-order estimate: the :class:`~hwgen.engines.reduction.PartialReduction`
        (:meth:`~hwgen.engines.reduction.PartialReductionParams.resources`); the
        position counters (the fold; per axis the position in the window, the window and the
        trailing pixels) at a LUT and a flip-flop per bit; the registered flags the engine uses
        (each counter's ``last``, the positions' ``first``, the axes' ``inside``) at a LUT each,
        and a flip-flop each but for counters of one or two values (constants, or their bit); the
        slot register at two LUTs per bit (the choice of its three next values); and the
        :class:`OutputQueue`. Fitted to synth_xilinx on eleven pools
        (docs/resource-models.md: LUTs 1-14% over, most of it the queue's model; flip-flops
        within 5%; block RAMs exact)."""
        kh, kw = self.kernel
        # (values, flags used) of each counter; and the axes' inside flags.
        counters, insides = [(self.folds, 1)], 0
        for size, k in ((self.width, kw), (self.height, kh)):
            counters += [(k, 2), (size // k, 1)]
            if size % k:
                counters.append((size % k, 1))
                insides += 1
        counter_bits = sum((n - 1).bit_length() for n, _ in counters)
        flag_luts = sum(used for _, used in counters) + insides
        flag_ffs = sum(used for n, used in counters if n > 2) + insides
        slot_bits = (self.slots - 1).bit_length()
        return (Resources(lut=counter_bits + flag_luts + 2 * slot_bits,
                          ff=counter_bits + flag_ffs + slot_bits)
                + self.reduction.queued_resources())


class _Axis:
    """Where the pixel on the input lies along one axis (the columns of a row, or the rows of a
    frame) of ``size`` pixels, cut into windows of ``k`` from the start: its position in its
    window (``pos``), its window (``window``), and, when ``size`` is not a multiple of ``k``,
    whether it is ``inside`` a window or one of the ``size % k`` trailing pixels after the last
    (counted by ``trail``). All registers; ``end`` (the axis' last pixel) is an AND of two.

    In the trailing pixels ``pos`` stays at 0, so that neither its ``last`` flag (``k > 1``
    there) nor the window counter moves."""

    def __init__(self, size, k, name):
        self.pos = Counter(k, f"{name}_pos")
        self.window = Counter(size // k, f"{name}_window")
        trailing = size % k
        self.trail = Counter(trailing, f"{name}_trail") if trailing else None
        self.inside = Signal(init=1, name=f"{name}_inside") if trailing else Const(1)

    @property
    def end(self):
        if self.trail is None:
            return self.window.last & self.pos.last
        return ~self.inside & self.trail.last

    def advance(self, m, step):
        """Move to the next pixel (after the end: the first) on the cycles ``step`` is high."""
        with m.If(step & self.inside):
            m.d.sync += self.pos.step()
            with m.If(self.pos.last):
                m.d.sync += self.window.step()
                if self.trail is not None:
                    with m.If(self.window.last):
                        m.d.sync += self.inside.eq(0)
        if self.trail is not None:
            with m.If(step & ~self.inside):
                m.d.sync += self.trail.step()
                with m.If(self.trail.last):
                    m.d.sync += self.inside.eq(1)


class RowPool(wiring.Component):
    """Streaming pool with kernel == stride; see the module docstring for the contract.

    ``i``: input words of ``pe * dtype.bits`` bits, ``o``: output words of ``out_bits``.
    """

    def __init__(self, params):
        self.params = params
        super().__init__({"i": In(stream.Signature(unsigned(params.word_bits))),
                          "o": Out(stream.Signature(unsigned(params.out_bits)))})

    def elaborate(self, platform):
        p = self.params
        kh, kw = p.kernel
        m = Module()
        stage, queue = reduction_into_queue(m, p.reduction, self.o)

        # Position of the word on the input: its fold, column and row.
        fold = Counter(p.folds, "fold")
        x, y = _Axis(p.width, kw, "x"), _Axis(p.height, kh, "y")
        completes = x.pos.last & y.pos.last      # the window's bottom-right pixel
        accept = Signal()
        issue_gate(m, accept, queue, self.i, completes)
        with m.If(accept):
            m.d.sync += fold.step()
        x.advance(m, accept & fold.last)
        y.advance(m, accept & fold.last & x.end)

        # The partial of the word on the input: (window, fold) of the row of windows, kept in a
        # register stepped with the position rather than computed from it, so that the
        # memory's address comes from flip-flops.
        slot = Signal(range(p.slots))
        with m.If(accept):
            with m.If(fold.last & ~x.pos.last):
                # Back to fold 0 of the same window for its next pixel; and in the trailing
                # columns, which follow a return to slot 0, over slots 0 .. folds - 1.
                m.d.sync += slot.eq(slot - (p.folds - 1))
            with m.Elif(fold.last & x.window.last):
                m.d.sync += slot.eq(0)
            with m.Else():
                m.d.sync += slot.eq(slot + 1)

        # The words of the trailing rows and columns are taken and dropped.
        m.d.comb += [stage.take.eq(accept & x.inside & y.inside), stage.word.eq(self.i.payload),
                     stage.slot.eq(slot), stage.first.eq(x.pos.first & y.pos.first),
                     stage.last.eq(completes)]
        return m
