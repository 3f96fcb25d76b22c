import glob
import math
import os
import os.path as osp
from typing import Optional, Sequence

import torch
import torch.distributed as torch_dist
from mmengine.dist import is_distributed, is_main_process, master_only
from mmengine.hooks import CheckpointHook, Hook, LoggerHook
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint

from dunseg.registry import RUNNERS
from dunseg.utils.finite import non_finite_predictions
from dunseg.utils.interrupt import deferred_keyboard_interrupt
from dunseg.utils.random_init import random_init_parts

from .checkpoint import (
    ENCODED_KEYS,
    NonFiniteWeightsError,
    decode_checkpoint,
    encode_checkpoint,
    find_resumable_checkpoint,
    load_model_weights,
    non_finite_tensors,
    read_last_checkpoint_pointer,
    remove_stale_temp_files,
)
from .schedule import check_schedule_matches_loop


class _EncodeCheckpointHook(Hook):
    """Make the checkpoint dict loadable with ``weights_only=True``.

    Registered by :class:`DunSegRunner` with the lowest priority so it sees
    what every other ``before_save_checkpoint`` hook added.
    """

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        for key in ENCODED_KEYS:
            if key in checkpoint:
                checkpoint[key] = encode_checkpoint(checkpoint[key])


class _FinitePredictionsHook(Hook):
    """Stop validation / testing at the first non-finite prediction.

    The loaders reject non-finite pixels, so NaN or infinite predictions
    come from the model itself (diverged or damaged weights); metrics
    computed from them would look like results (NaN scores, "0 targets").
    """

    def _check(self, outputs, batch_idx: int = 0) -> None:
        for index, sample in enumerate(outputs or []):
            if not hasattr(sample, 'keys'):
                continue
            bad = non_finite_predictions(sample)
            if bad:
                # generated datasets have no file: name the sample instead
                where = sample.get('img_path') or (
                    f'sample {index} of batch {batch_idx}' + (
                        f' (sample_idx {sample.get("sample_idx")})'
                        if sample.get('sample_idx') is not None else ''))
                raise FloatingPointError(
                    f'the model produced NaN or infinite values in '
                    f'{", ".join(bad)} for {where}, whose '
                    'input is finite: its weights are broken (a diverged run '
                    'or a damaged checkpoint); no metric is computed from '
                    'them')

    def after_val_iter(self, runner, batch_idx, data_batch=None,
                       outputs=None) -> None:
        self._check(outputs, batch_idx)

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        self._check(outputs, batch_idx)


class NonFiniteLossError(FloatingPointError):
    """A training iteration produced a NaN or infinite loss."""


class _FiniteLossHook(Hook):
    """Stop training at the first iteration whose loss is not finite.

    It runs before every other ``after_train_iter`` hook, so the iteration
    that diverged is neither validated nor saved: the work dir keeps the
    last good checkpoint. (The logger reads every loss term as a Python
    number each iteration already, so the check adds no synchronisation.)
    """

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if not outputs:
            return
        values = {key: float(value.detach() if torch.is_tensor(value)
                             else value)
                  for key, value in outputs.items()
                  if key.startswith('loss') and _is_number(value)}
        if all(math.isfinite(v) for v in values.values()):
            return
        terms = ', '.join(f'{key}={value:.4g}'
                          for key, value in values.items())
        saved = read_last_checkpoint_pointer(runner.work_dir)
        raise NonFiniteLossError(
            f'iteration {runner.iter + 1}: the loss is not finite ({terms}); '
            'training stopped before anything of this iteration was saved. '
            + (f'The last checkpoint is {saved}. ' if saved else '') +
            'A lower learning rate (optim_wrapper.optimizer.lr), gradient '
            'clipping (optim_wrapper.clip_grad) or checking the data for '
            'extreme values usually helps; then continue with --resume or '
            'start again.')


def _is_number(value) -> bool:
    if torch.is_tensor(value):
        return value.numel() == 1
    return isinstance(value, (int, float))


class _RandomWeightsNoteHook(Hook):
    """Mark a test run's metrics as computed from untrained weights."""

    # before RuntimeInfoHook (VERY_HIGH) copies the metrics to the message
    # hub, from which the metrics JSON is written
    priority = 'HIGHEST'

    def after_test_epoch(self, runner, metrics=None) -> None:
        if metrics is not None:
            metrics['weights'] = ('random initialisation: no checkpoint was '
                                  'loaded (--random-weights)')


def _has_learned_parameters(model: torch.nn.Module) -> bool:
    return any(p.numel() for p in model.parameters())


class MissingCheckpointError(RuntimeError):
    """A learned model was to be tested without a checkpoint."""


# default hooks given as MMEngine's (in a config or by default: MMEngine's
# default settings) that run as dunseg's subclass: atomic checkpoints; test
# metrics written by rank 0 only
_DEFAULT_HOOK_SWAPS = {
    'checkpoint': (CheckpointHook, 'DunSegCheckpointHook', dict(interval=1)),
    'logger': (LoggerHook, 'DunSegLoggerHook', dict()),
}


@RUNNERS.register_module()
class DunSegRunner(Runner):
    """MMEngine Runner with the fixes dunseg needs on torch >= 2.6 and CPU.

    - Checkpoints are written atomically (temporary file + rename) and in a
      form that loads with ``weights_only=True``; resume decodes them (see
      :mod:`dunseg.engine.checkpoint`).
    - ``env_cfg.malloc_keep_heap`` (default True) keeps freed memory in the
      glibc heap (:func:`dunseg.utils.malloc.keep_freed_memory_in_heap`):
      large-batch CPU train steps run about 2x faster.
    - Integer metrics (``num_images``) reach the JSON results as integers
      (:class:`~dunseg.engine.log_processor.DunSegLogProcessor`), not
      ``null``.
    - Distributed runs without CUDA use the gloo backend and a CPU
      ``MMDistributedDataParallel`` (``device_ids=None``), which plain
      MMEngine cannot set up (it calls ``torch.cuda.set_device``).
    - Whole-model loads (``load_from``, resume) are strict: a checkpoint
      whose keys or shapes differ from the model is an error naming a few
      of them (``load_strict=False`` in the config allows a deliberate
      partial load; ``keep_built_weights=('selector', )`` keeps the
      weights those submodules were built with, e.g. another selector's
      weight file for a trained NUN).
    - Nothing is lost by a kill: ``CheckpointHook`` becomes
      :class:`~dunseg.engine.hooks.DunSegCheckpointHook` (rotation deletes
      only after the new checkpoint is complete, ``last_checkpoint`` is
      replaced atomically); temporary files of killed saves are removed
      when the next run starts; ``resume`` falls back to the newest
      checkpoint that loads when ``last_checkpoint`` is broken, and is an
      error when there is nothing to resume (``resume_if_possible=True``
      starts from scratch instead).
    - A decaying learning-rate schedule must end with the training loop
      (:func:`~dunseg.engine.schedule.check_schedule_matches_loop`).

    Select it with ``runner_type = 'DunSegRunner'`` (the dunseg default
    runtime config does).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Subnormal floats (below 1.2e-38) take a microcode path on x86
        # CPUs that is 10-100x slower: Adam's second moments of parameters
        # whose gradients are tiny (a gate that has settled) reach them, and
        # a NUN-tiny step went from 2 s to over 15 s. Flushing them to zero
        # changes no value above that range; on GPUs it does nothing.
        torch.set_flush_denormal(True)
        self.register_hook(_EncodeCheckpointHook(), priority='LOWEST')
        # before the checkpoint and validation hooks see the iteration
        self.register_hook(_FiniteLossHook(), priority='HIGHEST')
        # before the visualization and metric hooks see the outputs
        self.register_hook(_FinitePredictionsHook(), priority='HIGHEST')

    def register_default_hooks(self, hooks: Optional[dict] = None) -> None:
        hooks = dict(hooks or {})
        for key, (mmengine_hook, dunseg_hook,
                  defaults) in _DEFAULT_HOOK_SWAPS.items():
            hook = hooks.get(key, dict(type=mmengine_hook.__name__,
                                       **defaults))
            if isinstance(hook, dict) and hook.get('type') in (
                    mmengine_hook.__name__, mmengine_hook):
                hook = dict(hook, type=dunseg_hook)
            hooks[key] = hook
        super().register_default_hooks(hooks)

    def build_param_scheduler(self, scheduler):
        if isinstance(self._train_loop, dict) or self._train_loop is None:
            return super().build_param_scheduler(scheduler)
        if isinstance(scheduler, dict) and 'type' not in scheduler:
            configs = list(scheduler.values())  # one list per optimizer
        else:
            configs = [scheduler]
        for config in configs:
            check_schedule_matches_loop(
                config if isinstance(config, Sequence) else [config],
                max_iters=self.max_iters, max_epochs=self.max_epochs,
                by_epoch_loop=hasattr(self.train_loop, 'max_epochs'))
        return super().build_param_scheduler(scheduler)

    def _check_work_dir_is_free(self) -> None:
        """Refuse to train over a finished or interrupted run's
        checkpoints unless resuming or told to overwrite."""
        if self._resume or self.cfg.get('overwrite_work_dir', False):
            return
        found = sorted(
            osp.basename(path) for pattern in ('*.pth', 'last_checkpoint')
            for path in glob.glob(osp.join(self.work_dir, pattern)))
        if not found:
            return
        shown = ', '.join(found[:4]) + (
            f', ... ({len(found) - 4} more)' if len(found) > 4 else '')
        raise FileExistsError(
            f'the work dir {self.work_dir} already holds a run\'s '
            f'checkpoints ({shown}); training again there would overwrite '
            'them. Continue that run with --resume, train into another '
            '--work-dir, or pass --overwrite (overwrite_work_dir=True) to '
            'replace them.')

    def random_init_parts(self):
        """``(config key, weights)`` of the parts built for pretrained
        weights that start from random ones in this run (none when a
        checkpoint is loaded or resumed)."""
        if self._load_from is not None or self._resume:
            return []
        model = self.model.module if is_model_wrapper(
            self.model) else self.model
        return random_init_parts(model)

    def train(self) -> torch.nn.Module:
        self._check_work_dir_is_free()
        self._trained = True
        for key, weights in self.random_init_parts():
            self.logger.warning(
                f'{key} is None: this part starts from random weights '
                f'although it was built for pretrained ones ({weights}); '
                f'set {key} to a local weights file to follow the paper\'s '
                'recipe')
        if is_main_process():
            for path in remove_stale_temp_files(self.work_dir):
                self.logger.info(
                    f'removed {path}, left behind by a killed save')
        return super().train()

    def test(self) -> dict:
        # a runner that trained in this process tests the weights it trained
        if self._load_from is None and not getattr(self, '_trained', False):
            model = self.model.module if is_model_wrapper(
                self.model) else self.model
            if not self.cfg.get('random_weights', False):
                if _has_learned_parameters(model):
                    raise MissingCheckpointError(
                        f'no checkpoint given for {type(model).__name__}, '
                        'which has learned parameters: its metrics would '
                        'score a random initialisation. Pass the checkpoint '
                        '(tools/test.py CONFIG CHECKPOINT), or --random-'
                        'weights (random_weights=True) to test the '
                        'untrained model on purpose.')
            else:
                self.logger.warning(
                    'testing with random weights on purpose: no checkpoint '
                    'is loaded and the metrics file says so')
                self.register_hook(_RandomWeightsNoteHook())
        return super().test()

    def load_or_resume(self) -> None:
        if self._has_loaded or not (self._resume and self._load_from is None):
            return super().load_or_resume()
        resume_from = find_resumable_checkpoint(self.work_dir, self.logger)
        if resume_from is None:
            pointer = read_last_checkpoint_pointer(self.work_dir)
            found = (f'last_checkpoint names {pointer}, which does not load,'
                     if pointer else 'no last_checkpoint')
            message = (
                f'resume: nothing to resume in the work dir {self.work_dir} '
                f'({found} and no iter_*.pth / epoch_*.pth that loads).')
            if not self.cfg.get('resume_if_possible', False):
                raise FileNotFoundError(
                    message + ' Check --work-dir (or work_dir in the '
                    'config); to start from scratch when there is nothing '
                    'to resume, use --resume-if-possible '
                    '(resume_if_possible=True).')
            self.logger.warning(message + ' Starting from scratch '
                                '(resume_if_possible=True).')
            return
        self.resume(resume_from)
        self._has_loaded = True

    def build_log_processor(self, log_processor):
        # integer metrics stay integers in the JSON results
        if isinstance(log_processor, dict) and 'type' not in log_processor:
            log_processor = dict(log_processor, type='DunSegLogProcessor')
        return super().build_log_processor(log_processor)

    def setup_env(self, env_cfg: dict) -> None:
        if env_cfg.get('malloc_keep_heap', True):
            from dunseg.utils.malloc import keep_freed_memory_in_heap
            keep_freed_memory_in_heap()
        if (self.distributed and not is_distributed()
                and not torch.cuda.is_available()):
            if self.launcher != 'pytorch':
                raise RuntimeError(
                    f'launcher "{self.launcher}" without CUDA is not '
                    'supported; use tools/dist_train.sh (torchrun, '
                    'launcher=pytorch) for CPU runs')
            timeout = env_cfg.get('dist_cfg', {}).get('timeout')
            kwargs = {}
            if timeout is not None:
                import datetime
                kwargs['timeout'] = datetime.timedelta(seconds=timeout)
            torch_dist.init_process_group(
                backend='gloo',
                rank=int(os.environ['RANK']),
                world_size=int(os.environ['WORLD_SIZE']),
                **kwargs)
        super().setup_env(env_cfg)

    def wrap_model(self, model_wrapper_cfg: Optional[dict], model):
        if self.distributed and not torch.cuda.is_available():
            model_wrapper_cfg = dict(model_wrapper_cfg or {})
            model_wrapper_cfg.setdefault('type', 'MMDistributedDataParallel')
            model_wrapper_cfg['device_ids'] = None
            model_wrapper_cfg.setdefault('broadcast_buffers', False)
            # MMEngine reads the top-level key only when it builds the
            # wrapper config itself, which the CPU path above replaces.
            model_wrapper_cfg.setdefault(
                'find_unused_parameters',
                self.cfg.get('find_unused_parameters', False))
        return super().wrap_model(model_wrapper_cfg, model)

    def load_checkpoint(self,
                        filename: str,
                        map_location='cpu',
                        strict: Optional[bool] = None,
                        revise_keys=((r'^module\.', ''), )) -> dict:
        """Load ``filename`` into the model; strict unless told otherwise.

        ``strict=None`` (what MMEngine's ``load_or_resume`` and ``resume``
        pass) means the config's ``load_strict`` (default True).
        """
        if strict is None:
            strict = bool(self.cfg.get('load_strict', True))
        # local files go through load_weights_only (registered scheme)
        checkpoint = _load_checkpoint(filename, map_location=map_location)
        for key in ENCODED_KEYS:
            if key in checkpoint:
                checkpoint[key] = decode_checkpoint(checkpoint[key])
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(
            self.model) else self.model
        load_model_weights(model, checkpoint, filename, strict=strict,
                           revise_keys=revise_keys, logger=self.logger,
                           keep_built=self.cfg.get('keep_built_weights',
                                                   ()))
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    @master_only
    def save_checkpoint(self, out_dir: str, filename: str, *args,
                        **kwargs) -> None:
        remote = '://' in str(out_dir) or kwargs.get('backend_args')
        if remote:
            return super().save_checkpoint(out_dir, filename, *args, **kwargs)
        model = self.model.module if is_model_wrapper(
            self.model) else self.model
        bad, checked = non_finite_tensors(model.state_dict())
        if bad:
            # not written, and so no finite checkpoint is rotated out
            raise NonFiniteWeightsError(
                f'{len(bad)} of {checked} model tensors are NaN or '
                f'infinite (the first is {bad[0]!r}); {filename} is not '
                'written and no earlier checkpoint is '
                'removed. The run diverged: lower the learning rate or clip '
                'gradients, then resume from the last checkpoint.')
        tmp_name = f'.{filename}.tmp-{os.getpid()}'
        tmp_path = osp.join(out_dir, tmp_name)
        with deferred_keyboard_interrupt():
            try:
                super().save_checkpoint(out_dir, tmp_name, *args, **kwargs)
                os.replace(tmp_path, osp.join(out_dir, filename))
            finally:
                if osp.exists(tmp_path):
                    os.remove(tmp_path)
