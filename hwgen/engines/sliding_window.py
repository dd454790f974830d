"""Sliding window (convolution input generator): a line buffer that streams every window.

Input: frames of ``height x width x channels`` values in NHWC order, ``simd`` channels per word
(channels fastest). Output: for every output pixel ``(oy, ox)`` in row-major order, its
``kernel[0] x kernel[1]`` window in ``(kh, kw, c)`` order, ``simd`` channels per word -- exactly
:func:`hwgen.golden.sliding_window`; or, with ``depthwise``, in ``(channel fold, kh, kw)`` order
(:func:`hwgen.golden.depthwise_windows`), the order in which a depthwise unit
(:mod:`hwgen.engines.vvau`) consumes a window, ``positions`` kernel positions of a row per
output word (position ``q`` of the word in elements ``q * simd ...``), read from as many read
ports of the buffer at once (synthesis gives each its copy of the memory). Padding is not done
here (see :mod:`hwgen.engines.pad`).

The buffer is a circular :class:`~amaranth.lib.memory.Memory` indexed by the input word count,
``depth`` words deep: one window's span, ``(kh - 1)`` rows plus ``kw`` pixels, plus the
``stride[0] - 1`` rows a vertical stride skips, plus one word of slack (so that the writer can
refill a slot in the cycle after its last read), never more than a frame; and with
``lookahead``, one more span (plus slack) for the writer to run ahead into. The lookahead matters
when the producer is slower than one word per cycle: with one span only, the writer can take a
frame's last rows no faster than the reader frees them, and the next frame's first window then
waits for a whole span at the producer's pace; with the lookahead, the producer deposits it
while the last windows of the current frame are emitted (on CNV-w1a1 that was 11% of throughput
at conv3). This is the room a FIFO of a span in front of the engine used to give, in the line
buffer's own memory: one buffer, not two. Two rules gate the engine, both on word indices
counted from the first word the engine ever received:

- the writer may store word ``w`` once its slot's previous occupant ``w - depth`` is no longer
  needed, i.e. it is older than ``free``: the oldest word that any remaining read of the
  current window or any later window will need (``min(G, next window start)``, with ``G`` the
  next read in the (kh, kw, c) order, whose reads within a window ascend, and in the
  depthwise order's last channel fold; in its other folds, which later folds follow back to
  older words, the window's first word of the next read's fold: at most one word short of
  the exact oldest);
- the reader may read a word once that word has been written (one cycle earlier or more); with
  several positions per read, once the newest of them has.

So input flows whenever there is room, output flows whenever its data has arrived, frames follow
each other without a gap (the writer runs into the next frame while the last windows of the
current one are emitted), and the engine cannot deadlock: while the reader waits for a word, the
writer always has room for it.

The hardware evaluates both rules without any frame-wide index: with ``w`` the next word to
write, ``R`` the next word to read, ``G`` its guard (above; ``R`` itself in the (kh, kw, c)
order) and ``N`` the start of the window after the current one, it keeps the differences
``w - R``, ``w - G`` and ``N + depth - w`` in counters, which every write, read and window change
moves by a constant of the reader's position. The writer may write iff ``w - G < depth`` and
``N + depth - w > 0`` (that is, ``w < min(G, N) + depth``), the reader may read iff
``w - R > 0``: sign bits of registers offset by the constant. Buffer addresses are
registered pointers stepped modulo the depth. Reads are issued against a credit of the
:class:`OutputQueue` and their words registered once more on their way to it
(:data:`READ_DELAY`), so that the consumer's ``ready`` never reaches the buffer or the counters
and the block RAM's late read data meets no logic.
"""

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from amaranth.hdl import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from ..datatypes import DataType
from .credits import QUEUE_LATENCY, OutputQueue, credits_for, queue_resources
from .datapath import Counter, positive_pair, range_bits, register, require_positive
from .memories import memory_resources, ram
from .resources import Resources

__all__ = ["SlidingWindowParams", "SlidingWindow"]

SLACK = 1   # words of buffer beyond one window's span, see the module docstring
# Cycles from a read's issue to its word in a flip-flop: the memory's read register, then one of
# our own, as a block RAM's read data comes out late (5.8 ns after the clock on ECP5).
READ_DELAY = 2


class FeatureMapWords:
    """Word counts and field checks of a ``height x width x channels`` frame of ``dtype``
    streamed some channels per word (the field :attr:`LANES` names): shared by the parameters
    of the engines that walk feature maps."""

    LANES = "simd"

    def check_feature_map(self, what):
        """ValueError (naming ``what``) unless the sizes are positive, ``dtype`` is a DataType and
        the channels fill whole words."""
        lanes = getattr(self, self.LANES)
        require_positive(what, height=self.height, width=self.width, channels=self.channels,
                         **{self.LANES: lanes})
        if not isinstance(self.dtype, DataType):
            raise ValueError(f"dtype must be a DataType, not {self.dtype!r}")
        if self.channels % lanes:
            raise ValueError(f"channels ({self.channels}) must be a multiple of {self.LANES} "
                             f"({lanes})")

    @property
    def folds(self):
        """Words per pixel."""
        return self.channels // getattr(self, self.LANES)

    @property
    def word_bits(self):
        return getattr(self, self.LANES) * self.dtype.bits

    @property
    def in_words(self):
        """Input words per frame."""
        return self.height * self.width * self.folds


@dataclass(frozen=True)
class SlidingWindowParams(FeatureMapWords):
    """Shape of a sliding window engine.

    ``kernel`` and ``stride`` are ``(rows, columns)`` pairs (an int means a square one);
    ``channels`` must be a multiple of ``simd`` and the kernel must fit in the input.
    ``lookahead``: a span more of buffer for the writer to run ahead into (see the module
    docstring); a convolution's window, fed at its producer's pace, wants it. ``depthwise``:
    emit each window in (channel fold, kh, kw) order rather than (kh, kw, channel fold); it
    needs the lookahead: without it, the words that later folds go back to hold the writer
    back, and on 10 of 1500 random shapes the engine was slower than :meth:`cycles` by up to
    3.75 windows per frame (with it, on none). ``positions``: in the depthwise order, kernel
    positions per output word (dividing ``kernel[1]``: one row of the kernel per read).
    """

    height: int
    width: int
    channels: int
    kernel: tuple
    stride: tuple
    simd: int
    dtype: DataType
    lookahead: bool = True
    depthwise: bool = False
    positions: int = 1

    def __post_init__(self):
        self.check_feature_map("sliding window")
        object.__setattr__(self, "kernel", positive_pair(self.kernel, "kernel"))
        object.__setattr__(self, "stride", positive_pair(self.stride, "stride"))
        require_positive("sliding window", positions=self.positions)
        if self.depthwise and not self.lookahead:
            raise ValueError("the depthwise order needs the lookahead")
        if self.positions > 1 and not (self.depthwise and self.kernel[1] % self.positions == 0):
            raise ValueError(f"{self.positions} positions per word need the depthwise order and "
                             f"a kernel width they divide, not {self.kernel[1]}")
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
    def out_bits(self):
        """Bits per output word: ``positions`` input words."""
        return self.positions * self.word_bits

    @property
    def window_words(self):
        """Output words per window (per output pixel), and reads."""
        return self.kernel[0] * self.kernel[1] * self.folds // self.positions

    @property
    def lane_offset(self):
        """Words from a read's first position to its last (newest)."""
        return (self.positions - 1) * self.folds

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
        emitted, instead of stalling the reader at the next row's start), and slack, at most a
        frame; then with ``lookahead`` a span and slack more."""
        skipped = (self.stride[0] - 1) * self.width * self.folds
        window = min(self.span + skipped + SLACK, self.in_words)
        return window + (self.span + SLACK if self.lookahead else 0)

    def window_distances(self):
        """Words from a window's first word to the next window's: within an output row, from
        the last window of a row to the next row's first, from a frame's last window to the
        next frame's first."""
        row = self.width * self.folds
        last_row = (self.out_height - 1) * self.stride[0] * row
        last_col = (self.out_width - 1) * self.stride[1] * self.folds
        return (self.stride[1] * self.folds, self.stride[0] * row - last_col,
                self.in_words - last_row - last_col)

    def first_window_distance(self):
        """:meth:`window_distances` entry of a frame's first window."""
        same_row, next_row, next_frame = self.window_distances()
        if self.out_width > 1:
            return same_row
        return next_row if self.out_height > 1 else next_frame

    def position_levels(self):
        """The reader's position within a window, innermost first: per level, (count, step
        from a read to the next when this level advances and the inner ones wrap, the same for
        the guard ``G``; see the module docstring)."""
        kh, kw = self.kernel
        folds, width = self.folds, self.width
        if not self.depthwise:   # words ascend: the guard is the read
            to_next_row = (width - kw) * folds + 1
            return ((kw * folds, 1, 1), (kh, to_next_row, to_next_row))
        q = self.positions
        to_next_fold = 1 - ((kh - 1) * width + kw - q) * folds
        return ((kw // q, q * folds, 0), (kh, (width - kw + q) * folds, 0),
                (folds, to_next_fold, 1))

    def read_steps(self):
        """Words from one read to the next (negative: back to an older word), a read's word
        being its first position: at each level of :meth:`position_levels`, and from a window's
        last read to the next window's first in the three cases of :meth:`window_distances`."""
        return (*(step for _, step, _ in self.position_levels()),
                *(d - (self.span - 1 - self.lane_offset) for d in self.window_distances()))

    def guard_steps(self):
        """:meth:`read_steps` for the guard ``G`` before the last fold of the depthwise order
        (where ``G`` is ``R``, as it always is in the (kh, kw, c) order): 0 within a fold, 1 to
        the next fold."""
        steps = self.read_steps()
        if not self.depthwise:
            return steps
        return (0, 0, 1, *steps[3:])

    def counter_bounds(self):
        """Bounds of the engine's two counters (see the module docstring): ``w - R`` lies in
        ``[lo, hi]`` (at least 1 - the largest step, as a read needs ``w - R >= 1``; at most
        ``depth``, as a write needs ``w - R < depth``) and ``N + depth - w`` in ``[0, room)``."""
        longest = max(self.read_steps())
        return 1 - longest, self.depth, self.depth + max(self.window_distances()) + longest + 1

    # Cycle model.

    def window_offsets(self):
        """Word offsets, from the window's first word, of the word each read of a window needs
        (its newest position), in emission order."""
        kh, kw = self.kernel
        rows = np.arange(kh)[:, None] * self.width + np.arange(kw)[None, :]
        words = rows[:, :, None] * self.folds + np.arange(self.folds)      # (kh, kw, fold)
        if not self.depthwise:
            return words.ravel()
        return words.transpose(2, 0, 1)[:, :, self.positions - 1::self.positions].ravel()

    def _window_guards(self):
        """The guard ``G`` of each read of a window, as an offset like :meth:`window_offsets`:
        the read's oldest position, or in the depthwise order before the last fold the first
        word of the read's fold."""
        offsets = self.window_offsets() - self.lane_offset
        if not self.depthwise:
            return offsets
        reads = self.kernel[0] * self.kernel[1] // self.positions
        early = np.repeat(np.arange(self.folds - 1), reads)    # before the last fold
        return np.concatenate([early, offsets[len(early):]])

    def _row_reads(self, oy):
        """Frame word index of every word read for output row ``oy``, and of its guard, in
        emission order: two arrays."""
        starts = (oy * self.stride[0] * self.width
                  + np.arange(self.out_width) * self.stride[1]) * self.folds
        return tuple((starts[:, None] + offsets[None, :]).ravel()
                     for offsets in (self.window_offsets(), self._window_guards()))

    def _start_stall(self, prev, window):
        """Cycles the reader waits in ``window`` after the reads ``prev`` (each a pair of
        arrays from :meth:`_row_reads`: word indices and guards).

        The writer may store word ``w`` one cycle after the reader issued its last read ``q``
        with ``free(q) <= w - depth``, and a word can be read one cycle after it was written.
        Following that chain -- read ``q`` of ``prev``, writes ``free(q) + depth`` .. ``x``
        back to back, then the reads of ``window`` up to read ``i``, of word ``x`` -- read
        ``i`` is issued ``1 + (x - free(q) - depth) - i - (reads after q)`` cycles later than
        if the reader had never waited; the stall is the largest such lag. (In the (kh, kw, c)
        order the window's words ascend and its last read is the one.)
        """
        words = window[0]
        guards = np.concatenate([prev[1], window[1]])
        free = np.minimum.accumulate(guards[::-1])[::-1]    # oldest word still needed
        n = len(prev[0])
        q = np.flatnonzero(free[1:n + 1] > free[:n])        # reads that free slots
        first = free[q] + self.depth                        # first word each of them releases
        lag = (1 + words[None, :] - first[:, None] - np.arange(len(words))[None, :]
               - (n - 1 - q)[:, None])
        useful = first[:, None] <= words[None, :]
        return max(0, int(lag[useful].max())) if useful.any() else 0

    # Cached: the replay of a row's reads is the costliest model in folding, which asks for the
    # same windows again and again (every PE/SIMD option of a layer, every target a device fit
    # tries). The parameters are frozen, so the answer cannot go stale.
    @lru_cache(maxsize=4096)
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
        oh, n = self.out_height, self.window_words
        first = self._row_reads(0)
        row_stall = (self._start_stall(first, tuple(a[:n] for a in self._row_reads(1)))
                     if oh > 1 else 0)
        frame_stall = self._start_stall(self._row_reads(oh - 1),
                                        tuple(a[:n] + self.in_words for a in first))
        return max(self.in_words, self.out_words + (oh - 1) * row_stall + frame_stall)

    def latency(self):
        """Cycles from a frame's first input word to its first output word (fresh engine):
        the word is read the cycle after it is written and leaves the output queue
        ``READ_DELAY + QUEUE_LATENCY`` cycles after it was read (:mod:`~hwgen.engines.credits`)."""
        return self.issue_cycle(0) + READ_DELAY + QUEUE_LATENCY

    def issue_cycle(self, n):
        """Cycle, counted from the first input word, at which a fresh engine (empty buffer,
        input every cycle) reads word ``n`` of the first window.

        Input word ``w`` is written on cycle ``w``; the reader takes one word per cycle, each
        at least one cycle after it was written.
        """
        written = self.window_offsets()[:n + 1]
        return int(np.max(written - np.arange(n + 1))) + 1 + n

    # Resource model.

    def buffer_bits(self):
        """{kind: bits} of the memories holding stream data: the line buffer, a copy per
        position read at once."""
        return {"line_buffer": self.positions * self.depth * self.word_bits}

    def resources(self):
        """First-order estimate.

        The buffer: ``depth`` words of ``simd * bits``
        (:func:`~hwgen.engines.memories.memory_resources`), a copy per position read at once,
        a register for its read data and the :class:`OutputQueue`. Flip-flops: the window
        position counters with their "last" flags, the write address (and flag), the read
        addresses, the three difference counters and the read's valid pipeline. LUTs: about one
        per bit of each counter and of each difference counter (an adder whose operand is a mux
        of constants), two per position flag, three per read address bit (two candidate sums
        and the choice), one per write address bit (fitted to synth_xilinx on the sliding
        windows of the networks in networks/).
        """
        addr_bits = max(1, (self.depth - 1).bit_length())
        levels = [count for count, _, _ in self.position_levels()]
        counter_bits = sum(max(1, (n - 1).bit_length())
                           for n in (*levels, self.out_width, self.out_height))
        lo, hi, room = self.counter_bounds()
        difference_bits = (2 * range_bits(lo - self.depth - 1, hi) + range_bits(-1, room))
        flags = 3 + len(levels)
        lanes = self.positions
        return (Resources(lut=counter_bits + 2 * flags + (1 + 3 * lanes) * addr_bits
                          + difference_bits + 10,
                          ff=counter_bits + flags + (1 + lanes) * addr_bits + difference_bits
                          + READ_DELAY + self.out_bits)
                + memory_resources(self.depth, self.word_bits, writable=True) * lanes
                + queue_resources(self.out_bits, credits_for(READ_DELAY, 1)))


class SlidingWindow(wiring.Component):
    """Streams every window of every frame; see the module docstring for the contract.

    ``i``: input words of ``simd`` elements (NHWC, channels fastest); ``o``: window words of
    ``simd`` elements in ``(oy, ox, kh, kw, c)`` order, or in the depthwise order of
    ``positions * simd`` elements.
    """

    def __init__(self, params):
        self.params = params
        super().__init__({"i": In(stream.Signature(unsigned(params.word_bits))),
                          "o": Out(stream.Signature(unsigned(params.out_bits)))})

    def elaborate(self, platform):
        p = self.params
        depth = p.depth
        m = Module()

        # A slot is never written while its word is still to be read, nor read before it is
        # written, so a read whose word is used never meets a write at its address.
        m.submodules.buffer = buffer = ram(p.word_bits, depth, collision_free=True)
        wr = buffer.write_port()
        # Read every cycle at the registered read pointers (no enable to fan out), one port per
        # position; the words read at an issue go to the queue READ_DELAY cycles later.
        reads = [buffer.read_port() for _ in range(p.positions)]
        m.submodules.queue = queue = OutputQueue(p.out_bits, credits_for(READ_DELAY, 1))
        wiring.connect(m, queue.o, wiring.flipped(self.o))

        # Reader position: the levels of position_levels() (innermost first), then the output
        # column and row.
        levels = [Counter(count, f"pos{k}") for k, (count, _, _) in
                  enumerate(p.position_levels())]
        ox, oy = Counter(p.out_width, "ox"), Counter(p.out_height, "oy")
        counters = [*levels, ox, oy]
        window_end = Cat(level.last for level in levels).all()

        def by_position(f, steps):
            """``f(step)`` for the step (of ``steps``: :meth:`read_steps` or
            :meth:`guard_steps`) from the current read to the next one, as a mux of constants
            on the position flags."""
            choice = f(steps[-1])
            for count, step in reversed(list(zip(counters, steps[:-1]))):
                choice = Mux(~count.last, f(step), choice)
            return choice

        def by_next_window(f):
            """``f(distance)`` for the distance from the next window's start to the one after."""
            to_next = p.window_distances()
            next_last_oy = Mux(ox.last, oy.next_last, oy.last)
            return Mux(~ox.next_last, f(to_next[0]),
                       Mux(~next_last_oy, f(to_next[1]), f(to_next[2])))

        # ahead = w - R (written words beyond the next read), offset so that its test is a sign
        # bit: ahead - 1 - lane_offset >= 0 (the next read's newest position is written); guarded = w - G (the same counter in
        # the (kh, kw, c) order), offset: guarded - depth < 0. room = N + depth - w, offset by
        # one: room - 1 >= 0.
        ahead_lo, ahead_hi, room_hi = p.counter_bounds()
        ahead_1 = Signal(range(ahead_lo - 1 - p.lane_offset, ahead_hi), init=-1 - p.lane_offset)
        ahead_depth = Signal(range(ahead_lo - depth, 1), init=-depth)
        room_1 = Signal(range(-1, room_hi), init=p.first_window_distance() + depth - 1)
        readable = ahead_1 >= 0
        writable = (ahead_depth < 0) & (room_1 >= 0)

        issue, write = Signal(), Signal()
        m.d.comb += [
            issue.eq(readable & queue.available),
            write.eq(self.i.valid & writable),
            self.i.ready.eq(writable),
            queue.take.eq(issue),
        ]
        # The counters move by a constant chosen by (issue, write, position): one adder each.
        def difference_step(steps):
            return Mux(issue, Mux(write, by_position(lambda s: 1 - s, steps),
                                  by_position(lambda s: -s, steps)), write)
        room_step = Mux(issue & window_end,
                        Mux(write, by_next_window(lambda d: d - 1), by_next_window(lambda d: d)),
                        Mux(write, -1, 0))
        ahead_step = difference_step(p.read_steps())
        guard_step = (Mux(levels[-1].last, ahead_step, difference_step(p.guard_steps()))
                      if p.depthwise else ahead_step)
        m.d.sync += [
            ahead_1.eq(ahead_1 + ahead_step),
            ahead_depth.eq(ahead_depth + guard_step),
            room_1.eq(room_1 + room_step),
        ]

        # Writer: buffer address of the next input word.
        w_addr = Counter(depth, "w_addr")
        m.d.comb += [wr.en.eq(write), wr.addr.eq(w_addr.value), wr.data.eq(self.i.payload)]
        with m.If(write):
            m.d.sync += w_addr.step()

        # Reader: buffer address of each position of the next read, stepped modulo the depth
        # (every position moves by the same step): both candidate sums in parallel, the wrapped
        # one taken when it is not negative.
        steps = (by_position(lambda s: s % depth, p.read_steps()),
                 by_position(lambda s: s % depth - depth, p.read_steps()))
        for q, rd in enumerate(reads):
            r_addr = Signal(range(depth), init=q * p.folds % depth, name=f"r_addr{q}")
            plain, wrapped = (r_addr + step for step in steps)
            m.d.comb += rd.addr.eq(r_addr)
            with m.If(issue):
                m.d.sync += r_addr.eq(Mux(wrapped >= 0, wrapped, plain))
        data = Signal(p.out_bits, reset_less=True)
        m.d.sync += data.eq(Cat(rd.data for rd in reads))
        m.d.comb += [queue.w.payload.eq(data),
                     queue.w.valid.eq(register(m, issue, READ_DELAY, reset=True))]
        carry = issue    # each counter steps when all the inner ones wrap
        for count in counters:
            with m.If(carry):
                m.d.sync += count.step()
            carry = carry & count.last
        return m
