"""What the drivers of external tools share (hwgen.external): tools hwgen starts do not outlive
the thread that started them."""

import signal
import subprocess
import sys
import threading

import pytest

from hwgen.external import DIE_WITH_STARTER


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_a_tool_ends_with_the_thread_that_started_it():
    """A tool started as hwgen starts Yosys (in a session of its own) is stopped when the thread
    that started it ends, as a Dask worker's task thread ends when the cluster closes under it
    (an interrupted ``hwgen explore``): nothing is left running."""
    started = []
    thread = threading.Thread(target=lambda: started.append(subprocess.Popen(
        ["sleep", "60"], start_new_session=True, preexec_fn=DIE_WITH_STARTER)))
    thread.start()
    thread.join()
    assert started[0].wait(timeout=10) == -signal.SIGTERM
