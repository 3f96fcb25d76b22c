"""Keep learning-rate schedules and the training loop the same length."""
from typing import Sequence

# Schedulers whose value after ``end`` is the base value again: a warm-up
# phase may end before the loop does.
_ENDS_AT_BASE_VALUE = {
    'LinearLR': lambda cfg: cfg.get('end_factor', 1.0) == 1.0,
    'LinearMomentum': lambda cfg: cfg.get('end_factor', 1.0) == 1.0,
    'ConstantLR': lambda cfg: True,
    'ConstantMomentum': lambda cfg: True,
}


def _family(cfg: dict) -> str:
    return 'momentum' if 'Momentum' in str(cfg.get('type')) else 'lr'


def check_schedule_matches_loop(schedulers: Sequence[dict], max_iters: int,
                                max_epochs: int, by_epoch_loop: bool) -> None:
    """Raise if a schedule's last phase does not end with the loop.

    The phase that ends last (largest ``end``; per learning rate and
    momentum) must end where the loop does; otherwise shortening a run with
    ``--cfg-options train_cfg.max_iters=N`` leaves the learning rate at
    zero for the last iterations, and lengthening it never decays it. A
    warm-up-only schedule (``LinearLR`` to ``end_factor=1``,
    ``ConstantLR``) may end earlier. A scheduler without ``end`` gets the
    loop's length from MMEngine, which is how dunseg's configs write the
    last phase, so it always fits.

    Raises:
        ValueError: naming the scheduler, both lengths and the fix.
    """
    last = {}
    for cfg in schedulers:
        if not isinstance(cfg, dict) or cfg.get('end') is None:
            continue
        by_epoch = cfg.get('by_epoch', True)
        if by_epoch and not by_epoch_loop:
            continue  # epoch units in an iteration loop: no common length
        family = _family(cfg)
        if family not in last or cfg['end'] > last[family]['end']:
            last[family] = cfg
    for cfg in last.values():
        by_epoch = cfg.get('by_epoch', True)
        length, unit, key = ((max_epochs, 'epochs', 'train_cfg.max_epochs')
                             if by_epoch else
                             (max_iters, 'iterations', 'train_cfg.max_iters'))
        end = cfg['end']
        ends_at_base = _ENDS_AT_BASE_VALUE.get(cfg.get('type'),
                                               lambda _: False)(cfg)
        if end > length or (end < length and not ends_at_base):
            what = ('never completes' if end > length else
                    f'holds its final value for the last {length - end} '
                    f'{unit}')
            raise ValueError(
                f'param_scheduler: {cfg.get("type")} ends at {end} {unit} '
                f'but the training loop runs {length} ({key}), so the '
                f'schedule {what}. Drop its "end" (and "T_max") so that it '
                'follows the loop, or set it to the loop length.')
