"""Ctrl-C that waits for a checkpoint save to finish.

A ``KeyboardInterrupt`` raised in the middle of a save does not always reach
``tools/train.py`` as one: MMEngine formats the config into every checkpoint
(``Config.pretty_text``), and that catches the interrupt and raises a
``SyntaxError`` instead, so the run ended with a traceback and exit code 1
(1 in 4 interrupts in a test that saves every iteration). Inside
:func:`deferred_keyboard_interrupt` a SIGINT is remembered and raised as a
``KeyboardInterrupt`` once the block is done; the work dir then holds the
complete new checkpoint and its ``last_checkpoint`` pointer.
"""
import signal
import threading
from contextlib import contextmanager

_depth = 0
_pending = False


def _remember(signum, frame):
    global _pending
    _pending = True


@contextmanager
def deferred_keyboard_interrupt():
    """Run the block to its end even if SIGINT arrives; re-raise it after.

    Nested uses defer to the outermost block. Outside the main thread, or
    when the program has replaced Python's default SIGINT handler, the block
    runs unchanged (a signal handler can only be set from the main thread,
    and a custom handler is the program's to keep).
    """
    global _depth, _pending
    if _depth > 0:
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
        return
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not
            signal.default_int_handler):
        yield
        return
    _depth, _pending = 1, False
    signal.signal(signal.SIGINT, _remember)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _depth = 0
    if _pending:
        _pending = False
        raise KeyboardInterrupt
