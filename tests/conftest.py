"""Settings every suite shares.

A shell starts a background job (`cmd &`, as a CI runner or a detached terminal may) with SIGINT
ignored, and an ignored signal stays ignored across exec: Python then installs no KeyboardInterrupt
handler, and the tests that press Ctrl-C (on this process or on a CLI child they start) would test
nothing. Restore Python's own handler here; children get the default disposition, as from a
terminal, since a handled signal is reset on exec.
"""

from __future__ import annotations

import signal

signal.signal(signal.SIGINT, signal.default_int_handler)
