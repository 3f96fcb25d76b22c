import os
import os.path as osp
from typing import Optional, Sequence

from mmengine.hooks import Hook
from mmengine.runner import Runner

from dunseg.registry import HOOKS
from dunseg.structures import DunSegDataSample


@HOOKS.register_module()
class DunSegVisualizationHook(Hook):
    """Write input / GT / prediction panels and every stage's state.

    Active in testing when ``draw=True`` (``tools/test.py --show-dir`` sets
    it). Turns on the model's ``return_stages`` so stage states are
    available; images are saved to ``<work_dir>/<timestamp>/<show_dir>``
    or the absolute ``show_dir``, as ``<dataset_name>_<image name>.png``
    (``<image name>.png`` for samples without a ``dataset_name``).

    Args:
        draw (bool): Whether to draw at all.
        interval (int): Draw every ``interval``-th test image.
        show_dir (str, optional): Output folder.
        draw_stages (bool): Include the stage grid.
    """

    priority = 'NORMAL'

    def __init__(self, draw: bool = False, interval: int = 1,
                 show_dir: Optional[str] = None,
                 draw_stages: bool = True) -> None:
        self.draw = draw
        self.interval = interval
        self.show_dir = show_dir
        self.draw_stages = draw_stages
        self._count = 0

    def before_test(self, runner: Runner) -> None:
        if not self.draw:
            return
        model = runner.model.module if hasattr(runner.model,
                                               'module') else runner.model
        if self.draw_stages and hasattr(model, 'return_stages'):
            model.return_stages = True
        if self.show_dir is None:
            self.show_dir = osp.join(runner.log_dir, 'vis')
        elif not osp.isabs(self.show_dir):
            self.show_dir = osp.join(runner.log_dir, self.show_dir)
        os.makedirs(self.show_dir, exist_ok=True)

    def after_test_iter(self, runner: Runner, batch_idx: int,
                        data_batch: dict,
                        outputs: Sequence[DunSegDataSample]) -> None:
        if not self.draw:
            return
        inputs = data_batch['inputs']
        for i, sample in enumerate(outputs):
            self._count += 1
            if (self._count - 1) % self.interval:
                continue
            path = sample.metainfo.get('img_path')
            stem = (osp.splitext(osp.basename(path))[0]
                    if path else f'{self._count - 1:06d}')
            # the test sets of a ConcatDataset (COD10K and its degraded
            # copy, SyntheticCOD and SyntheticCOD-haze-medium) share names
            dataset_name = sample.metainfo.get('dataset_name')
            if dataset_name:
                stem = f'{dataset_name}_{stem}'
            runner.visualizer.add_datasample(
                stem, inputs[i], sample, draw_stages=self.draw_stages,
                out_file=osp.join(self.show_dir, f'{stem}.png'))
