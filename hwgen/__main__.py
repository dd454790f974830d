"""``python -m hwgen`` and the ``hwgen`` command: :func:`hwgen.cli.main`, imported so that a
Ctrl-C during its imports (numpy, Amaranth: about a second) also ends in one line, not a
traceback."""

import sys


def run():
    try:
        from .cli import main
    except KeyboardInterrupt:
        print("hwgen: interrupted", file=sys.stderr)
        return 130
    return main()


if __name__ == "__main__":
    raise SystemExit(run())
