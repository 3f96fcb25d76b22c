"""MMEngine's LoggerHook with the test-metric file written by one process."""
from typing import Dict, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import LoggerHook

from dunseg.registry import HOOKS


@HOOKS.register_module()
class DunSegLoggerHook(LoggerHook):
    """``LoggerHook`` whose ``<timestamp>.json`` of test metrics is written
    by the main process only.

    MMEngine 0.10.7 writes it from every rank into the same file: two
    processes truncating and writing it at once left one rank's metrics
    followed by the tail of the other's (``json`` "Extra data"), seen in a
    2-process ``dist_test.sh`` on a loaded machine. Every rank holds the
    same metrics, so one writer loses nothing. ``DunSegRunner`` uses this
    hook wherever a config asks for ``LoggerHook``.
    """

    def after_test_epoch(self, runner,
                         metrics: Optional[Dict[str, float]] = None) -> None:
        if is_main_process():
            super().after_test_epoch(runner, metrics)
