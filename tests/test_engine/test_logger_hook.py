from mmengine.hooks import LoggerHook

import dunseg.engine.hooks.logger_hook as logger_hook
from dunseg.registry import HOOKS
from dunseg.utils import register_all_modules

register_all_modules()


def test_only_the_main_process_writes_the_test_metrics(monkeypatch):
    calls = []
    monkeypatch.setattr(LoggerHook, 'after_test_epoch',
                        lambda self, runner, metrics=None: calls.append(
                            metrics))
    hook = HOOKS.build(dict(type='DunSegLoggerHook'))
    monkeypatch.setattr(logger_hook, 'is_main_process', lambda: False)
    hook.after_test_epoch(None, dict(Sm=0.5))
    assert calls == []
    monkeypatch.setattr(logger_hook, 'is_main_process', lambda: True)
    hook.after_test_epoch(None, dict(Sm=0.5))
    assert calls == [dict(Sm=0.5)]
