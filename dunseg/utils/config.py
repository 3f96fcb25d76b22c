import difflib

from mmengine.config import Config

# Top-level keys that MMEngine's Runner.from_cfg (and dunseg's tools) read.
RUNNER_KEYS = (
    'model', 'work_dir', 'train_dataloader', 'val_dataloader',
    'test_dataloader', 'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr',
    'optim_wrapper', 'param_scheduler', 'val_evaluator', 'test_evaluator',
    'default_hooks', 'custom_hooks', 'data_preprocessor', 'load_from',
    'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level',
    'visualizer', 'default_scope', 'randomness', 'experiment_name', 'cfg',
    'runner_type', 'model_wrapper_cfg', 'custom_imports', 'vis_backends',
    'tta_model', 'tta_pipeline', 'train_pipeline', 'test_pipeline',
    'val_pipeline', 'dataset_type', 'data_root', 'compile', 'strategy',
    # read by DunSegRunner
    'load_strict', 'keep_built_weights', 'resume_if_possible',
    'find_unused_parameters')


def check_config(cfg: Config, path: str = '<config>') -> None:
    """Catch misspelled top-level keys, which MMEngine silently ignores.

    Helper variables (``crop_size``, ``img_scale`` ...) are allowed; a key
    that is not a Runner key but nearly equal to one raises a KeyError that
    names the config file and the intended key.
    """
    for key in cfg.keys():
        if key in RUNNER_KEYS or key.startswith('_'):
            continue
        match = difflib.get_close_matches(key, RUNNER_KEYS, n=1, cutoff=0.85)
        if match:
            raise KeyError(
                f'{path}: unknown top-level key "{key}" (ignored by the '
                f'runner); did you mean "{match[0]}"?')
    if 'model' not in cfg:
        raise KeyError(f'{path}: no "model" defined; inherit one with '
                       "_base_ = ['../_base_/models/rpcanet.py', ...]")
