"""The output side of a free-running pipeline: a queue it writes without looking, and the credits
that guarantee the queue has room (finn-rtllib's MVU: the core runs with its enable tied high, a
small queue sized to the pipeline depth catches its results, a credit counter stops issue).

The issuing stage of an engine takes a credit for every output word it starts, and only while
one is :attr:`OutputQueue.available`; the word reaches the queue a fixed number of cycles later
(the pipeline's latency) and its credit comes back when it leaves on ``o``. So at most
``credits`` words are ever in flight or queued, the queue never has to refuse a write, and
``o.ready`` reaches nothing but the queue's read side and the credit counter: a stall downstream
stops issue, never the pipeline.
"""

from amaranth import Module, Signal, unsigned
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .resources import Resources
from .stream_fifo import StreamFIFOParams

__all__ = ["QUEUE_LATENCY", "credits_for", "queue_resources", "credit_gate", "issue_gate",
           "OutputQueue"]

# Cycles from a word's write into the queue to the first cycle it can leave on ``o``
# (SyncFIFOBuffered: one cycle into its memory, one into its output register).
QUEUE_LATENCY = 2


def credits_for(latency, interval):
    """Credits that let a pipeline of ``latency`` cycles (issue to queue write) issue one output
    word every ``interval`` cycles without waiting, when nothing stalls downstream (and the
    queue's depth: see :class:`OutputQueue`).

    A credit taken at cycle t comes back usable at t + latency + QUEUE_LATENCY + 1 (the word
    leaves the queue, the counter counts it, the flag shows it), and in the meantime
    ``interval`` apart the pipeline takes one credit after another."""
    return max(1, -(-(latency + QUEUE_LATENCY + 1) // interval))


def queue_resources(width, credits):
    """First-order cost of an :class:`OutputQueue`: its FIFO
    (:class:`~hwgen.engines.stream_fifo.StreamFIFOParams`) and the credit counter and flag."""
    counter = (credits + 1).bit_length()
    return (StreamFIFOParams(width, _fifo_depth(credits)).resources()
            + Resources(lut=2 * counter + 2, ff=counter + 1))


def credit_gate(m, step, queue, ready, completes):
    """The issuing stage of an engine behind an :class:`OutputQueue`: drive ``step`` (high on
    the cycles a step is issued) and ``queue.take``, and return ``allowed``.

    A step is issued when its input is ``ready`` and it is ``allowed``: it needs a credit of
    ``queue`` only when it ``completes`` an output word (a registered flag, so that ``allowed``
    comes from registers through one LUT)."""
    allowed = ~completes | queue.available
    m.d.comb += [step.eq(allowed & ready), queue.take.eq(step & completes)]
    return allowed


def issue_gate(m, step, queue, i, completes):
    """:func:`credit_gate` for steps that each take a word of stream ``i``: ``i.ready`` is
    ``allowed``, not waiting for ``i.valid``."""
    m.d.comb += i.ready.eq(credit_gate(m, step, queue, i.valid, completes))


def _fifo_depth(credits):
    """At least two words: a SyncFIFOBuffered of one is a bare register, one cycle faster than
    :data:`QUEUE_LATENCY`."""
    return max(2, credits)


class OutputQueue(wiring.Component):
    """A queue of ``credits`` words of ``width`` bits behind a free-running pipeline.

    Ports: ``take`` (in): the issuing stage starts an output word this cycle; it may only do so
    while ``available`` (out, a register) is high. ``w`` (in, no ready): the pipeline's results,
    each written on the cycle ``w.valid`` is high; there are never more of them in flight or
    queued than credits taken. ``o``: the words, in order, as a stream.

    The FIFO holds ``credits`` words (two if fewer). SyncFIFOBuffered refuses a write while its memory (all
    but one word) is full even when its output register is empty, which happens only in the
    cycle after a write into an empty FIFO; so it never refuses one here as long as two writes
    in consecutive cycles imply three or more credits, as :func:`credits_for` gives (fewer
    than three credits means an interval of two cycles or more between writes).
    """

    def __init__(self, width, credits):
        self.width, self.credits = width, credits
        super().__init__({
            "take": In(1),
            "available": Out(1, init=1),
            "w": In(stream.Signature(unsigned(width), always_ready=True)),
            "o": Out(stream.Signature(unsigned(width))),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.fifo = queue = fifo.SyncFIFOBuffered(width=self.width,
                                                          depth=_fifo_depth(self.credits))
        m.d.comb += [queue.w_data.eq(self.w.payload), queue.w_en.eq(self.w.valid)]
        wiring.connect(m, queue.r_stream, wiring.flipped(self.o))

        credits = Signal(range(self.credits + 1), init=self.credits)
        give = self.o.valid & self.o.ready
        with m.If(self.take & ~give):
            m.d.sync += credits.eq(credits - 1)
        with m.Elif(give & ~self.take):
            m.d.sync += credits.eq(credits + 1)
        # The flag from the counter's value, not from the sum: no carry chain behind `take`.
        empty_after = ((credits == 1) & self.take | (credits == 0)) & ~give
        m.d.sync += self.available.eq(~empty_after)
        return m
