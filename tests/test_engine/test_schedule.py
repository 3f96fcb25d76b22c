import pytest

from dunseg.engine.schedule import check_schedule_matches_loop


def _check(schedulers, max_iters=100, max_epochs=10, by_epoch_loop=False):
    check_schedule_matches_loop(schedulers, max_iters, max_epochs,
                                by_epoch_loop)


def test_last_phase_must_end_with_the_loop():
    poly = dict(type='PolyLR', power=0.9, begin=0, by_epoch=False)
    _check([poly])  # no end: MMEngine gives it the loop length
    _check([dict(poly, end=100)])
    with pytest.raises(ValueError, match='final value for the last 40'):
        _check([dict(poly, end=60)])  # lr 0 for the last 40 iterations
    with pytest.raises(ValueError, match='never completes'):
        _check([dict(poly, end=160)])
    with pytest.raises(ValueError, match='train_cfg.max_epochs'):
        _check([dict(type='CosineAnnealingLR', end=5, by_epoch=True)],
               by_epoch_loop=True)


def test_warmup_only_may_end_early_and_phases_are_judged_by_the_last():
    warmup = dict(type='LinearLR', start_factor=0.1, begin=0, end=10,
                  by_epoch=False)
    _check([warmup])  # back at the base lr after the warm-up
    with pytest.raises(ValueError):
        _check([dict(warmup, end_factor=0.5)])  # decays, then stalls
    _check([warmup, dict(type='CosineAnnealingLR', begin=10, by_epoch=False)])
    with pytest.raises(ValueError, match='CosineAnnealingLR ends at 50'):
        _check([warmup, dict(type='CosineAnnealingLR', begin=10, end=50,
                             by_epoch=False)])
