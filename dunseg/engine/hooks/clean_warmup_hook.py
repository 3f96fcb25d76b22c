"""Clean warm-up for training on degraded images."""
from mmengine.dataset import ConcatDataset, RepeatDataset
from mmengine.hooks import Hook

from dunseg.registry import HOOKS


def _degrading_datasets(dataset):
    """The datasets under ``dataset`` (through Concat/Repeat wrappers) that
    degrade on the fly with a clean share (``clean_fraction``)."""
    if isinstance(dataset, ConcatDataset):
        return [d for child in dataset.datasets
                for d in _degrading_datasets(child)]
    if isinstance(dataset, RepeatDataset):
        return _degrading_datasets(dataset.dataset)
    if getattr(dataset, 'clean_fraction', None) is None:
        return []
    return [dataset]


@HOOKS.register_module()
class CleanWarmupHook(Hook):
    """Train on the clean images for the first ``clean_iters`` iterations,
    then on the training set as configured (degraded, with its
    ``clean_fraction``).

    Why: trained from random weights on the degraded SyntheticCOD mix, the
    tiny RUN, FPN and NUN all collapse to one image-independent mask within
    1,400 iterations (its spread over test images is 0.002 against 0.17
    for the same RUN trained on clean images); heavy degradations hide the
    object in many samples, and the location prior wins before any image
    feature is learned. A clean start learns the features first.

    The switch is made in the main process, so the training dataloader must
    load in it (``num_workers=0``): worker processes hold their own copy of
    the dataset and would not see it. Resuming sets the phase from the
    iteration alone.

    Args:
        clean_iters (int): Iterations on clean images at the start.
    """

    priority = 'NORMAL'

    def __init__(self, clean_iters: int) -> None:
        if not isinstance(clean_iters, int) or clean_iters < 0:
            raise ValueError('CleanWarmupHook: clean_iters must be an int '
                             f'>= 0, got {clean_iters!r}')
        self.clean_iters = clean_iters
        self._datasets: list = []
        self._configured: list = []

    def before_train(self, runner) -> None:
        loader = runner.train_dataloader
        if getattr(loader, 'num_workers', 0):
            raise ValueError(
                'CleanWarmupHook switches the training set in the main '
                'process; set train_dataloader.num_workers=0 (it is '
                f'{loader.num_workers}): worker processes keep their own '
                'copy of the dataset')
        datasets = _degrading_datasets(loader.dataset)
        if not datasets:
            raise ValueError(
                'CleanWarmupHook: the training set '
                f'({type(loader.dataset).__name__}) has no dataset that '
                'degrades on the fly with a clean_fraction (e.g. '
                'SyntheticCODDataset with degradation=dict(...))')
        self._datasets = datasets
        self._configured = [d.clean_fraction for d in datasets]
        self._set_phase(runner.iter)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        # the loop fetches the next batch before its before_train_iter
        self._set_phase(runner.iter + 1)

    def after_train(self, runner) -> None:
        self._set_phase(self.clean_iters)

    def _set_phase(self, next_iter: int) -> None:
        warming = next_iter < self.clean_iters
        for dataset, configured in zip(self._datasets, self._configured):
            # a clean fraction of 1 keeps every sample clean
            dataset.clean_fraction = 1.0 if warming else configured
