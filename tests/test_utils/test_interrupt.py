import os
import signal

import pytest

from dunseg.utils.interrupt import deferred_keyboard_interrupt


def _interrupt_self():
    os.kill(os.getpid(), signal.SIGINT)


def test_sigint_waits_for_the_block_then_interrupts():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with deferred_keyboard_interrupt():
            _interrupt_self()
            done.append('first half')
            with deferred_keyboard_interrupt():  # nested: still deferred
                done.append('nested')
            done.append('second half')
    assert done == ['first half', 'nested', 'second half']
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_no_sigint_no_interrupt_and_errors_pass_through():
    with deferred_keyboard_interrupt():
        pass
    with pytest.raises(ValueError):
        with deferred_keyboard_interrupt():
            raise ValueError('inside')
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    # outside a block Ctrl-C is immediate again
    with pytest.raises(KeyboardInterrupt):
        _interrupt_self()
        for _ in range(1000):
            pass


def test_a_custom_handler_is_left_alone():
    seen = []
    previous = signal.signal(signal.SIGINT, lambda *a: seen.append(1))
    try:
        with deferred_keyboard_interrupt():
            _interrupt_self()
        assert seen == [1]
    finally:
        signal.signal(signal.SIGINT, previous)
