"""Sliding window (convolution input generator): a line buffer that streams every window.

Input: frames of ``height x width x channels`` values in NHWC order, ``simd`` channels per word
(channels fastest). Output: for every output pixel ``(oy, ox)`` in row-major order, its
``kernel[0] x kernel[1]`` window in ``(kh, kw, c)`` order, ``simd`` channels per word -- exactly
:func:`hwgen.golden.sliding_window`. Padding is not done here (see :mod:`hwgen.engines.pad`).

The buffer is a circular :class:`~amaranth.lib.memory.Memory` indexed by the input word count,
``depth`` words deep: one window's span, ``(kh - 1)`` rows plus ``kw`` pixels, plus the
``stride[0] - 1`` rows a vertical stride skips, plus one word of slack (so that the writer can
refill a slot in the cycle after its last read), and never more than a frame. Two rules gate the engine, both on word indices counted from the start of a frame:

- the writer may store word ``w`` once its slot's previous occupant ``w - depth`` is no longer
  needed, i.e. it is older than ``free``: the oldest word that any remaining read of the
  current window or any later window will need (``min(next read, next window start)``);
- the reader may emit a word once that word has been written (one cycle earlier or more).

So input flows whenever there is room, output flows whenever its data has arrived, frames follow
each other without a gap (the writer runs into the next frame while the last windows of the
current one are emitted), and the engine cannot deadlock: while the reader waits for a word, the
writer always has room for it.
"""

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..datatypes import DataType
from .datapath import require_positive
from .memories import memory_resources, ram
from .resources import Resources

__all__ = ["SlidingWindowParams", "SlidingWindow"]

SLACK = 1   # words of buffer beyond one window's span, see the module docstring


def _pair(value, name):
    """``k`` or ``(k0, k1)`` -> a tuple of two positive ints; ValueError naming the field."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1
                                 for v in pair):
        raise ValueError(f"{name} must be a positive int or a pair of them, not {value!r}")
    return pair


class FeatureMapWords:
    """Word counts of a ``height x width x channels`` frame streamed ``simd`` channels per word:
    shared by the parameters of the engines that walk feature maps."""

    @property
    def folds(self):
        """Words per pixel."""
        return self.channels // self.simd

    @property
    def word_bits(self):
        return self.simd * self.dtype.bits

    @property
    def in_words(self):
        """Input words per frame."""
        return self.height * self.width * self.folds


@dataclass(frozen=True)
class SlidingWindowParams(FeatureMapWords):
    """Shape of a sliding window engine.

    ``kernel`` and ``stride`` are ``(rows, columns)`` pairs (an int means a square one);
    ``channels`` must be a multiple of ``simd`` and the kernel must fit in the input.
    """

    height: int
    width: int
    channels: int
    kernel: tuple
    stride: tuple
    simd: int
    dtype: DataType

    def __post_init__(self):
        require_positive("sliding window", height=self.height, width=self.width, channels=self.channels,
                        simd=self.simd)
        object.__setattr__(self, "kernel", _pair(self.kernel, "kernel"))
        object.__setattr__(self, "stride", _pair(self.stride, "stride"))
        if not isinstance(self.dtype, DataType):
            raise ValueError(f"dtype must be a DataType, not {self.dtype!r}")
        if self.channels % self.simd:
            raise ValueError(f"channels ({self.channels}) must be a multiple of simd ({self.simd})")
        if self.kernel[0] > self.height or self.kernel[1] > self.width:
            raise ValueError(f"kernel {self.kernel} does not fit in a "
                             f"{self.height}x{self.width} input")

    # Geometry, in pixels and in stream words.

    @property
    def out_height(self):
        return (self.height - self.kernel[0]) // self.stride[0] + 1

    @property
    def out_width(self):
        return (self.width - self.kernel[1]) // self.stride[1] + 1

    @property
    def window_words(self):
        """Output words per window (per output pixel)."""
        return self.kernel[0] * self.kernel[1] * self.folds

    @property
    def out_words(self):
        """Output words per frame."""
        return self.out_height * self.out_width * self.window_words

    @property
    def span(self):
        """Input words from the first to the last word of a window, both included."""
        return ((self.kernel[0] - 1) * self.width + self.kernel[1]) * self.folds

    @property
    def depth(self):
        """Line buffer depth in words: a window's span, the ``stride[0] - 1`` rows that a
        vertical stride skips (so that the writer can fetch them while the current output row is
        emitted, instead of stalling the reader at the next row's start), and slack; at most a
        frame."""
        skipped = (self.stride[0] - 1) * self.width * self.folds
        return min(self.span + skipped + SLACK, self.in_words)

    # Cycle model.

    def _window_offsets(self):
        """Word offsets, from the window's first word, of a window's words in emission order."""
        kh, kw = self.kernel
        rows = np.arange(kh)[:, None, None] * self.width + np.arange(kw)[None, :, None]
        return (rows * self.folds + np.arange(self.folds)).ravel()

    def _row_reads(self, oy):
        """Frame word index of every word read for output row ``oy``, in emission order."""
        starts = (oy * self.stride[0] * self.width
                  + np.arange(self.out_width) * self.stride[1]) * self.folds
        return (starts[:, None] + self._window_offsets()[None, :]).ravel()

    def _start_stall(self, prev, window):
        """Cycles the reader waits in ``window`` (its word indices) after the reads ``prev``.

        The writer may store word ``w`` one cycle after the reader issued its last read ``q``
        with ``free(q) <= w - depth``, and a word can be read one cycle after it was written.
        Following that chain -- read ``q`` of ``prev``, writes ``free(q) + depth`` .. ``last``
        back to back, then the reads of ``window`` -- the window's last word is read
        ``1 + (last - free(q) - depth) - (len(window) - 1) - (reads after q)`` cycles later
        than if the reader had never waited.
        """
        reads = np.concatenate([prev, window])
        free = np.minimum.accumulate(reads[::-1])[::-1]      # oldest word still needed
        q = np.flatnonzero(free[1:len(prev) + 1] > free[:len(prev)])   # reads that free slots
        first = free[q] + self.depth                         # first word each of them releases
        last = window[-1]
        useful = first <= last
        if not useful.any():
            return 0
        lag = 1 + last - first - (len(window) - 1) - (len(prev) - 1 - q)
        return max(0, int(lag[useful].max()))

    def cycles(self):
        """Cycles per frame in steady state, input always valid and output always ready.

        If the input side is the bottleneck, the writer never waits: ``in_words`` cycles.
        Otherwise the reader emits a word every cycle within an output row (the writer fetches
        the next window's new words while the current window is read) and stalls only at the
        start of a row, where the buffer, one window deep, did not let the writer run far
        enough ahead, and at the start of a frame, for the part of the new frame's first rows
        that could not be written while the last windows of the previous one were emitted::

            cycles = max(in_words, out_words + (out_height - 1) * row_stall + frame_stall)

        with the two stalls from :meth:`_start_stall`. Accuracy, checked against a cycle-by-cycle
        replay of the two gating rules on thousands of random shapes (and the replay against
        the simulated hardware, exactly, in the tests): exact when either the output side or
        the input side is the bottleneck. When the input side nearly is, the writer can also
        idle around a frame boundary, which this model ignores: the engine is then slower by
        less than one window's words (``window_words``) per frame (observed at most 0.42
        of that). It is never faster than the model.
        """
        oh = self.out_height
        first = self._row_reads(0)
        row_stall = (self._start_stall(first, self._row_reads(1)[:self.window_words])
                     if oh > 1 else 0)
        frame_stall = self._start_stall(self._row_reads(oh - 1),
                                        first[:self.window_words] + self.in_words)
        return max(self.in_words, self.out_words + (oh - 1) * row_stall + frame_stall)

    def latency(self):
        """Cycles from a frame's first input word to its first output word (fresh engine):
        the word is read the cycle after it is written and shows on the output register one
        cycle later."""
        return self.issue_cycle(0) + 1

    def issue_cycle(self, n):
        """Cycle, counted from the first input word, at which a fresh engine (empty buffer,
        input every cycle) reads word ``n`` of the first window.

        Input word ``w`` is written on cycle ``w``; the reader takes one word per cycle, each
        at least one cycle after it was written.
        """
        written = self._window_offsets()[:n + 1]
        return int(np.max(written - np.arange(n + 1))) + 1 + n

    # Resource model.

    def resources(self):
        """First-order estimate.

        The buffer: ``depth`` words of ``simd * bits``
        (:func:`~hwgen.engines.memories.memory_resources`).
        Flip-flops: four frame-sized word indices (write count, read word, window start, row
        start), their four buffer addresses, the window position counters, the frame-lead
        flag and the output valid. LUTs: about one per index bit for each of the adders and
        comparators on the frame indices (next read/window/row indices, next window start,
        oldest needed word, write limit and read check: ~9; carry chains) and ~2 per address
        bit for each modular address update (4), plus a LUT per counter bit (fitted to
        synth_xilinx on CNV's sliding windows).
        """
        index_bits = max(1, (self.in_words - 1).bit_length())
        addr_bits = max(1, (self.depth - 1).bit_length())
        counter_bits = sum(max(1, (n - 1).bit_length()) for n in (
            self.kernel[1] * self.folds, self.kernel[0], self.out_width, self.out_height))
        return Resources(
            lut=9 * (index_bits + 1) + 4 * 2 * addr_bits + counter_bits,
            ff=4 * index_bits + 4 * addr_bits + counter_bits + 3,
        ) + memory_resources(self.depth, self.word_bits, writable=True)


def _add_mod(value, step, modulus):
    """``(value + step) % modulus`` for ``0 <= value < modulus`` and a constant ``step``."""
    total = value + step % modulus
    return Mux(total >= modulus, total - modulus, total)


class SlidingWindow(wiring.Component):
    """Streams every window of every frame; see the module docstring for the contract.

    ``i``: input words of ``simd`` elements (NHWC, channels fastest); ``o``: window words of
    ``simd`` elements in ``(oy, ox, kh, kw, c)`` order. Both ``simd * dtype.bits`` bits wide.
    """

    def __init__(self, params):
        self.params = params
        word = unsigned(params.word_bits)
        super().__init__({"i": In(stream.Signature(word)), "o": Out(stream.Signature(word))})

    def elaborate(self, platform):
        p = self.params
        kh, kw = p.kernel
        sh, sw = p.stride
        frame, depth, folds = p.in_words, p.depth, p.folds
        row_step = sh * p.width * folds            # from one output row's first window to the next
        m = Module()

        m.submodules.buffer = buffer = ram(p.word_bits, depth)
        wr = buffer.write_port()
        # No transparency needed: a slot is never written while its old word is still to be read.
        rd = buffer.read_port()

        # Writer: frame index and buffer address of the next input word.
        w_index = Signal(range(frame))
        w_addr = Signal(range(depth))
        # Reader: (frame index, buffer address) pointers to the next word to read, to the
        # current window's first word and to the current output row's first word.
        read_ptr, win_ptr, row_ptr = ((Signal(range(frame), name=f"{n}_index"),
                                       Signal(range(depth), name=f"{n}_addr"))
                                      for n in ("read", "win", "row"))
        (r_index, r_addr), (win_index, _), (row_index, row_addr) = read_ptr, win_ptr, row_ptr
        # Reader position: word within the kernel row, kernel row, output column and row.
        col = Signal(range(kw * folds))
        ky = Signal(range(kh))
        ox = Signal(range(p.out_width))
        oy = Signal(range(p.out_height))
        # Writer's frame minus reader's frame: -1 (the writer still stores the unused tail of
        # the frame the reader has finished), 0, or +1 (the writer is already in the next one).
        lead = Signal(signed(2))

        last_col = col == kw * folds - 1
        last_ky = ky == kh - 1
        last_ox = ox == p.out_width - 1
        last_oy = oy == p.out_height - 1

        # Oldest word any remaining read needs: the next read, or the next window's start.
        next_win = Mux(last_ox, Mux(last_oy, frame, row_index + row_step),
                       win_index + sw * folds)
        free = Mux(r_index < next_win, r_index, next_win)

        w_ready = (lead < 0) | (w_index + Mux(lead > 0, frame, 0) < free + depth)
        r_avail = (lead > 0) | ((lead == 0) & (r_index < w_index))

        write = Signal()
        m.d.comb += [
            self.i.ready.eq(w_ready),
            write.eq(self.i.valid & w_ready),
            wr.en.eq(write),
            wr.addr.eq(w_addr),
            wr.data.eq(self.i.payload),
        ]
        w_wrap = write & (w_index == frame - 1)
        with m.If(write):
            m.d.sync += [
                w_index.eq(Mux(w_wrap, 0, w_index + 1)),
                w_addr.eq(_add_mod(w_addr, 1, depth)),
            ]

        # Output register: the read port's data, held (en low) while downstream stalls.
        advance = ~self.o.valid | self.o.ready
        read = advance & r_avail
        m.d.comb += [
            rd.en.eq(advance),
            rd.addr.eq(r_addr),
            self.o.payload.eq(rd.data),
        ]
        with m.If(advance):
            m.d.sync += self.o.valid.eq(r_avail)

        r_wrap = read & last_col & last_ky & last_ox & last_oy
        m.d.sync += lead.eq(lead + w_wrap - r_wrap)

        def goto(base, step, *pointers):
            """Set ``pointers`` to the word ``step`` words after pointer ``base``."""
            index, addr = base[0] + step, _add_mod(base[1], step, depth)
            return [stmt for i, a in pointers for stmt in (i.eq(index), a.eq(addr))]

        with m.If(read):
            with m.If(~last_col):
                m.d.sync += [col.eq(col + 1), *goto(read_ptr, 1, read_ptr)]
            with m.Elif(~last_ky):
                m.d.sync += [col.eq(0), ky.eq(ky + 1),
                             *goto(read_ptr, (p.width - kw) * folds + 1, read_ptr)]
            with m.Elif(~last_ox):
                m.d.sync += [col.eq(0), ky.eq(0), ox.eq(ox + 1),
                             *goto(win_ptr, sw * folds, read_ptr, win_ptr)]
            with m.Elif(~last_oy):
                m.d.sync += [col.eq(0), ky.eq(0), ox.eq(0), oy.eq(oy + 1),
                             *goto(row_ptr, row_step, read_ptr, win_ptr, row_ptr)]
            with m.Else():
                # Next frame: index 0, stored right after this frame's last word.
                next_frame = _add_mod(row_addr, frame - (p.out_height - 1) * row_step, depth)
                m.d.sync += [col.eq(0), ky.eq(0), ox.eq(0), oy.eq(0)]
                m.d.sync += [stmt for i, a in (read_ptr, win_ptr, row_ptr)
                             for stmt in (i.eq(0), a.eq(next_frame))]
        return m
