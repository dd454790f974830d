"""Label select: the indices of the ``k`` largest class scores of each frame (top-k argmax).

Matches :func:`hwgen.golden.label_select`: largest score first, ties toward the lower index.

Input: a frame is ``classes / pe`` words of ``pe`` scores of ``in_dtype`` (INT compares signed,
UINT and BINARY unsigned, BIPOLAR by its code, which orders -1 < +1 correctly).
Output: ``k`` words per frame, each one class index as an unsigned ``index_bits``-bit number.

Every register-to-register path is at most one comparator and a 2:1 multiplexer, whatever
``pe`` and ``k``. Scores are compared as unsigned *order codes* (an INT code with its sign bit
inverted; the other kinds' codes are in order already). The datapath runs free, without an
enable; only the output queue absorbs stalls, guarded by a credit. The stages:

1. Front end, at most one entry (score, class index) per cycle for the chain. ``k == 1``: a
   tournament tree over the ``pe`` lanes of a word, one registered level per pair stage
   (``ceil(log2 pe)`` levels); a pair keeps its left (lower-index) entry unless the right
   one's score is strictly larger, so a word's winner is its first largest score. ``k > 1``:
   the word's lanes shift out of a register one per cycle, so a word takes ``pe`` cycles.
2. A systolic chain of ``k`` cells, best first, each holding one entry or none. The entry
   arriving at a cell is compared with the one it holds; the one that goes first stays and
   the other moves on to the next cell one cycle later (the last cell drops it). Entries go
   by (valid, score, lower index): an empty cell loses to any entry, and ties go to the lower
   index even when a displaced entry reaches a cell after a later class did. With ``k == 1``
   the single cell sees the entries in index order, so the score alone decides.
3. A frame's last entry carries an end flag down the chain, one cell per cycle. A cell it
   passes empties itself for the next frame (which may follow directly behind) and is *done*
   the next cycle: its final entry is still in its register, and its index is saved. When
   the last cell is done, the ``k`` indices move into an output shift register, which writes
   them into the output queue (``amaranth.lib.fifo.SyncFIFOBuffered``: registered ``o.valid``
   and ``o.payload``) one per cycle.
4. Credit: ``free`` counts the queue's entries that no frame has claimed. A frame's last word
   is taken only when ``free >= k`` (registered as ``room``), claiming ``k``; each output
   transfer gives one back. So ``i.ready`` is registered state through a LUT or two, never
   depends on ``o.ready``, and the queue never overflows. The queue is just deep enough
   (:attr:`LabelSelectParams.queue_depth`) that, the consumer always ready, no frame waits.

Throughput: ``k == 1`` takes a word per cycle, ``k > 1`` a class per cycle; the indices leave
while the next frame streams in.
"""

from dataclasses import dataclass

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from ..datatypes import DataType
from .datapath import elements, range_bits, require_positive
from .resources import Resources
from .stream_fifo import StreamFIFOParams

__all__ = ["LabelSelectParams", "LabelSelect"]

# LUTs per bit of a comparator or adder (several bits per LUT6 beside the carry chain) and per
# bit of a 2:1 multiplexer (two per LUT6 where they share the select, some merged with a
# comparison): fitted to Yosys synth_xilinx -nodsp of 20 label selects alone (classes 4 to
# 1000, PE 1 to 10, k 1 to 10, scores of 1 to 20 bits): total within 3%, each within 20%.
COMPARE_LUTS = 0.6
MUX_LUTS = 0.75


@dataclass(frozen=True)
class LabelSelectParams:
    """Top-``k`` of ``classes`` scores of ``in_dtype``, arriving ``pe`` per word."""

    classes: int
    pe: int
    in_dtype: DataType
    k: int = 1

    def __post_init__(self):
        require_positive("label select", classes=self.classes, pe=self.pe, k=self.k)
        if not isinstance(self.in_dtype, DataType):
            raise ValueError(f"label select: in_dtype must be a DataType, not {self.in_dtype!r}")
        if self.classes % self.pe:
            raise ValueError(f"label select: pe ({self.pe}) does not divide classes "
                             f"({self.classes})")
        if self.k > self.classes:
            raise ValueError(f"label select: k ({self.k}) exceeds classes ({self.classes})")

    @property
    def index_bits(self):
        """Width of an output word: enough for the largest class index."""
        return max(1, (self.classes - 1).bit_length())

    @property
    def in_width(self):
        return self.pe * self.in_dtype.bits

    @property
    def out_width(self):
        return self.index_bits

    @property
    def words(self):
        """Input words per frame."""
        return self.classes // self.pe

    @property
    def serial(self):
        """Whether the lanes of a word go to the chain one per cycle (``k > 1`` and ``pe > 1``)."""
        return self.k > 1 and self.pe > 1

    @property
    def tree_levels(self):
        """Registered levels of the tournament tree (``k == 1``): ``ceil(log2 pe)``."""
        return (self.pe - 1).bit_length() if self.k == 1 else 0

    @property
    def front_delay(self):
        """Cycles from taking a frame's last word (and its credit) to the first cell's
        processing its last entry: the tree's levels, or ``pe`` through the lane shifter."""
        return self.pe if self.serial else self.tree_levels

    @property
    def word_period(self):
        """Cycles between input words when fed every cycle: ``pe`` through the lane shifter."""
        return self.pe if self.serial else 1

    @property
    def queue_depth(self):
        """Depth of the output queue: the fewest entries for which no frame waits for credit
        when the consumer is always ready, and at least 3 (below that SyncFIFOBuffered refuses
        writes before it is full).

        A frame takes its credit with its last word; its end flag reaches the last cell
        ``d + k - 1`` cycles later (``d``: :attr:`front_delay`), which is done a cycle later,
        the index of rank ``m`` enters the queue ``1 + m`` cycles after that, leaves two cycles
        later and its credit is usable the cycle after: ``d + k + 4 + m`` cycles after the take.
        Frames take credit every ``cycles()`` cycles, so the frame ``n`` frames back still holds
        ``clamp(d + 2k + 3 - n * cycles(), 0, k)`` of its credits when a frame needs ``k``.
        """
        d, k, period = self.front_delay, self.k, self.cycles()
        held = sum(min(k, d + 2 * k + 3 - n * period)
                   for n in range(1, (d + 2 * k + 3) // period + 1))
        return max(3, k + held)

    def cycles(self):
        """Cycles per frame in steady state: one word per cycle for ``k == 1``, one class per
        cycle for ``k > 1`` (the ``k <= classes`` indices leave meanwhile)."""
        return self.words if self.k == 1 else self.classes

    def latency(self):
        """Cycles from a frame's first input transfer to its first output transfer, fed every
        cycle and never stalled: ``cycles() - word_period`` until its last word is taken,
        :attr:`front_delay` until the first cell processes its last entry, ``k - 1`` down the
        chain, one until the last cell is done, one into the output shift register and two
        through the queue."""
        return self.cycles() - self.word_period + self.front_delay + self.k + 3

    def resources(self):
        """First-order estimate.

        Flip-flops (``b`` score bits, ``ib`` index bits): per tree level its nodes' ``b + ib``
        plus valid and end; the lane shifter's word and pending flags; ``k`` cells of
        ``b + ib + 1`` and ``k - 1`` links between them of ``b + ib + 2``; ``k - 1`` saved
        indices and the ``k`` slots of the output shift register (``ib + 1``); the frame
        counters, the credit and its flag; the queue
        (:class:`~hwgen.engines.stream_fifo.StreamFIFOParams`). (Yosys for Xilinx moves the
        tree's pass-through delays into shift-register LUTs: fewer flip-flops for odd PEs.)

        LUTs: per bit of comparator (tree pairs: ``b``; cells: ``b + 1``, plus ``ib`` for
        ``k > 1``), of 2:1 multiplexer (tree pairs, kept and passed entries, the output
        shift register, the lane shifter) and of leaf index adder, the weights below; plus the
        queue.
        """
        b, ib, k = self.in_dtype.bits, self.index_bits, self.k
        entry = b + ib
        pairs = self.pe - 1 if self.tree_levels else 0
        compare = pairs * b + k * (b + 1 + (ib if k > 1 else 0))
        mux = (pairs * entry + k * (entry + 1) + (k - 1) * (entry + 1) + k * ib
               + (self.in_width if self.serial else 0))
        adder = self.pe * ib if self.tree_levels else 0

        ff, nodes = 0, self.pe
        for _ in range(self.tree_levels):
            nodes = (nodes + 1) // 2
            ff += nodes * entry + 2
        if self.serial:
            ff += self.in_width + self.pe
        ff += k * (entry + 1) + (k - 1) * (entry + 2) + (k - 1) * ib + k * (ib + 1)
        words = range_bits(0, self.words - 1)
        ff += words + 1 + (range_bits(0, self.classes - 1) + 1 if self.serial else 0)
        ff += range_bits(0, self.queue_depth) + 1
        lut = round(COMPARE_LUTS * (compare + adder) + MUX_LUTS * mux)
        return Resources(lut=lut, ff=ff) + StreamFIFOParams(ib, self.queue_depth).resources()


class LabelSelect(wiring.Component):
    """Label select for :class:`LabelSelectParams` (see the module docstring)."""

    def __init__(self, params):
        self.params = params
        super().__init__({"i": In(stream.Signature(unsigned(params.in_width))),
                          "o": Out(stream.Signature(unsigned(params.out_width)))})

    def elaborate(self, platform):
        p = self.params
        m = Module()
        bits, ib, k = p.in_dtype.bits, p.index_bits, p.k
        node = data.StructLayout({"index": ib, "score": bits})
        entry = data.StructLayout({"index": ib, "score": bits, "valid": 1})  # valid on top

        def goes_before(x, y):
            """Whether entry ``x`` goes before entry ``y``: valid before empty, then the larger
            score, then (k > 1) the lower index. One unsigned comparison, the indices trading
            places: ``Cat(y.index, x.score, x.valid) - Cat(x.index, y.score, y.valid)`` equals
            the difference of (valid, score, -index) weighed as digits, and needs no inverters
            in front of the carry chain. With ``k == 1`` entries arrive in index order, so an
            equal score never goes before."""
            if k == 1:
                return Cat(x.score, x.valid) > Cat(y.score, y.valid)
            return Cat(y.index, x.score, x.valid) > Cat(x.index, y.score, y.valid)

        # Credit: a frame's last word is taken only if the queue has room for its k indices.
        depth = p.queue_depth
        free = Signal(range(depth + 1), init=depth)     # queue entries no frame has claimed
        room = Signal(init=1)                           # free >= k, registered
        open_ = Signal()                                # the next input word may be taken

        # Front end: `lanes` scores per cycle, the first of class index `base`.
        if p.serial:
            # The lanes of the last word taken shift out of `word`, one per cycle. The chain
            # never stalls, so a word can be taken as its last lane leaves: `pending` marks the
            # lanes not yet handed over, and `i.ready` comes from registers alone. `word`
            # loads whatever is offered whenever it is free (a register bit selects, not the
            # handshake: the select fans out to every bit); `pending` says whether it counts.
            word = Signal(p.in_width, reset_less=True)
            pending = Signal(p.pe)
            free_word = ~pending[1]
            m.d.comb += self.i.ready.eq(free_word & open_)
            taken = self.i.valid & self.i.ready
            m.d.sync += [word.eq(Mux(free_word, self.i.payload, word >> bits)),
                         pending.eq(Mux(taken, (1 << p.pe) - 1, pending >> 1))]
            _, last_word = _frame_position(m, taken, p.words, p.pe, "word")
            lanes, scores, valid = 1, word[:bits], pending[0]
            base, last = _frame_position(m, valid, p.classes, 1, "class")
        else:
            m.d.comb += self.i.ready.eq(open_)
            taken = self.i.valid & self.i.ready
            lanes, scores, valid = p.pe, self.i.payload, taken
            base, last = _frame_position(m, taken, p.words, p.pe, "word")
            last_word = last
        m.d.comb += open_.eq(~last_word | room)
        end = valid & last

        # Tournament tree over the lanes (k == 1), one registered level per pair stage.
        flip = 1 << (bits - 1) if p.in_dtype.kind == "INT" else 0    # INT: order code
        nodes = [Cat((base + lane)[:ib], score ^ flip)
                 for lane, score in enumerate(elements(scores, p.in_dtype, lanes))]
        for level in range(p.tree_levels):
            winners = []
            for pair in range(0, len(nodes), 2):
                winner = a = node(nodes[pair])
                if pair + 1 < len(nodes):
                    b = node(nodes[pair + 1])
                    winner = Mux(b.score > a.score, b, a)
                winners.append(_registered(m, winner, node, f"tree{level}_{pair // 2}"))
            nodes = winners
            valid = _registered(m, valid, 1, f"tree{level}_valid", reset_less=False)
            end = _registered(m, end, 1, f"tree{level}_end", reset_less=False)
        arriving = entry(Cat(nodes[0], valid))

        # The systolic chain. A cell's entry is final in the cycle after the end flag passed
        # it (`done`), the next frame's first entry arriving at the earliest then; `saved`
        # keeps the final indices of the cells before the last.
        saved = []
        for j in range(k):
            held = Signal(node, reset_less=True, name=f"cell{j}")
            held_valid = Signal(name=f"cell{j}_valid")
            current = entry(Cat(held, held_valid))
            beats = _wire(m, goes_before(arriving, current), 1, f"cell{j}_beats")
            kept = entry(Mux(beats, arriving, current))
            passed = entry(Mux(beats, current, arriving))
            m.d.sync += [held.eq(kept.as_value()[:node.size]), held_valid.eq(kept.valid & ~end)]
            done = _registered(m, end, 1, f"cell{j}_done", reset_less=False)
            if j == k - 1:
                break
            index = Signal(ib, reset_less=True, name=f"saved{j}")
            with m.If(done):
                m.d.sync += index.eq(held.index)
            saved.append(index)
            link = _registered(m, passed.as_value()[:node.size], node, f"link{j + 1}")
            link_valid = _registered(m, passed.valid, 1, f"link{j + 1}_valid", reset_less=False)
            arriving = entry(Cat(link, link_valid))
            end = done

        # Output shift register, loaded when the last cell is done, and the queue.
        slots = [Signal(ib, reset_less=True, name=f"out{j}") for j in range(k)]
        filled = [Signal(name=f"out{j}_valid") for j in range(k)]
        with m.If(done):
            m.d.sync += [slot.eq(index) for slot, index in zip(slots, saved + [held.index])]
            m.d.sync += [flag.eq(1) for flag in filled]
        with m.Else():
            m.d.sync += [slot.eq(after) for slot, after in zip(slots, slots[1:])]
            m.d.sync += [flag.eq(after) for flag, after in zip(filled, filled[1:] + [0])]

        m.submodules.queue = queue = fifo.SyncFIFOBuffered(width=ib, depth=depth)
        # The credit guarantees room: the queue's w_rdy is never needed.
        m.d.comb += [queue.w_data.eq(slots[0]), queue.w_en.eq(filled[0])]
        wiring.connect(m, queue.r_stream, wiring.flipped(self.o))

        # The claim only selects between precomputed comparisons, so that the input handshake
        # does not run through the adder.
        returned = _wire(m, free + (self.o.valid & self.o.ready), range(depth + 1), "returned")
        claimed = taken & last_word
        m.d.sync += [free.eq(returned - Mux(claimed, k, 0)),
                     room.eq(Mux(claimed, returned >= 2 * k, returned >= k))]
        return m


def _frame_position(m, advance, steps, stride, name):
    """Where a stream is in its frame of ``steps`` steps, advancing when ``advance``: the index
    of the next step's first element (counting by ``stride``) and whether that step is the
    frame's last, both registered."""
    base = Signal(range(steps * stride), name=f"{name}_base")
    last = Signal(init=steps == 1, name=f"{name}_last")
    with m.If(advance):
        m.d.sync += base.eq(Mux(last, 0, base + stride))
        if steps > 1:
            m.d.sync += last.eq(base == (steps - 2) * stride)
    return base, last


def _wire(m, value, shape, name):
    """``value`` as a named combinational signal (so that it is emitted once)."""
    wire = Signal(shape, name=name)
    m.d.comb += wire.eq(value)
    return wire


def _registered(m, value, shape, name, reset_less=True):
    """``value`` registered every cycle (no enable); ``reset_less=False`` for valid and control
    bits."""
    reg = Signal(shape, reset_less=reset_less, name=name)
    m.d.sync += reg.eq(value)
    return reg
