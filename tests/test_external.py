"""What the drivers of external tools share (hwgen.external): tools hwgen starts do not outlive
the thread that started them."""

import signal
import sys
import threading

import pytest

from hwgen.external import start_tool


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_a_tool_ends_with_the_thread_that_started_it():
    """A tool started as hwgen starts Yosys (start_tool: in a session of its own) is stopped
    when the thread that started it ends, as a Dask worker's task thread ends when the cluster
    closes under it (an interrupted ``hwgen explore``): nothing is left running."""
    started = []
    thread = threading.Thread(target=lambda: started.append(start_tool(["sleep", "60"])))
    thread.start()
    thread.join()
    assert started[0].wait(timeout=10) == -signal.SIGTERM
