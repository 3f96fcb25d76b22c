"""A CheckpointHook that never leaves a work dir without a checkpoint."""
import os.path as osp
from contextlib import contextmanager

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from dunseg.registry import HOOKS
from dunseg.utils.interrupt import deferred_keyboard_interrupt

from ..checkpoint import atomic_write_text


@HOOKS.register_module()
class DunSegCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` with crash-safe rotation.

    MMEngine removes the oldest periodic checkpoint (``max_keep_ckpts``) and
    the previous best checkpoint (``save_best``) *before* it writes the new
    one, and rewrites ``last_checkpoint`` in place; a process killed in
    between leaves no checkpoint, or a pointer to a deleted or half-written
    file. Here the order is: write the new checkpoint (atomically, see
    :meth:`DunSegRunner.save_checkpoint`), replace ``last_checkpoint``
    atomically, and only then delete what rotation drops. A kill at any
    moment therefore leaves at least one complete checkpoint, and
    ``last_checkpoint`` names a complete one.

    :class:`~dunseg.engine.DunSegRunner` uses this hook wherever a config
    asks for ``type='CheckpointHook'``; the arguments are MMEngine's.
    """

    @contextmanager
    def _removals_after_success(self):
        """Collect the file removals of the block; do them if it succeeds."""
        backend = self.file_backend
        pending = []
        backend.remove = pending.append
        backend.rmtree = pending.append
        try:
            yield
        finally:
            del backend.remove, backend.rmtree
        for path in pending:
            if backend.isfile(path):
                backend.remove(path)
            elif backend.isdir(path):
                backend.rmtree(path)

    def _save_checkpoint_with_step(self, runner, step, meta):
        # Ctrl-C waits for the checkpoint, its pointer and the rotation
        with deferred_keyboard_interrupt():
            self._save_and_rotate(runner, step, meta)

    def _save_and_rotate(self, runner, step, meta):
        dropped = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                dropped = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if not is_main_process():
            return
        atomic_write_text(self.last_ckpt,
                          osp.join(runner.work_dir, 'last_checkpoint'))
        if dropped is not None and dropped != step:
            old = self.file_backend.join_path(self.out_dir,
                                              self.filename_tmpl.format(
                                                  dropped))
            if self.file_backend.isfile(old):
                self.file_backend.remove(old)
            elif self.file_backend.isdir(old):
                self.file_backend.rmtree(old)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        # MMEngine deletes the previous best before saving the new one;
        # the deletion is deferred until the new best (and the periodic
        # checkpoint that records it) are on disk.
        with deferred_keyboard_interrupt(), self._removals_after_success():
            super()._save_best_checkpoint(runner, metrics)
