"""User-facing errors, and the wording of counts in messages (:func:`plural`,
:func:`frames_per_second`).

A user mistake (a malformed description, a missing file, a bad command-line value) is reported as
one :class:`HwgenError`; the command-line front end prints its message on one line and exits with
status 2. Anything else escaping hwgen is a bug in hwgen.
"""


class HwgenError(Exception):
    """A mistake in what the user gave hwgen, located as precisely as possible.

    ``file``, ``layer`` and ``field`` name where the mistake is; any of them may be ``None`` when it
    does not apply (a command-line option has no layer, a missing file has no field).
    """

    def __init__(self, message, *, file=None, layer=None, field=None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.layer = layer
        self.field = field

    def __str__(self):
        where = []
        if self.file is not None:
            where.append(str(self.file))
        if self.layer is not None:
            where.append(f"layer '{self.layer}'")
        if self.field is not None:
            where.append(f"field '{self.field}'")
        return ": ".join(where + [self.message]) if where else self.message


def plural(count, noun, nouns=None):
    """``count`` and the noun in agreement: "1 frame", "2 frames", "1 entry", "3 entries"."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def frames_per_second(fps):
    """Frames/s as people write them: "12,500,000 frames/s", "812 frames/s", "3.5 frames/s"."""
    return f"{fps:,.0f} frames/s" if fps >= 100 else f"{fps:.3g} frames/s"
