import os
import os.path as osp

import pytest

# Tests never reach a model hub.
os.environ.setdefault('HF_HUB_OFFLINE', '1')

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

#: A CLIP small enough for 32x32 end-to-end runs (one block per tower); the
#: tiny configs of the tool tests splice it in as ``{tiny_clip}``.
TINY_CLIP_32 = """tiny_clip = dict(
    embed_dim=16,
    vision_cfg=dict(image_size=32, layers=1, width=32, patch_size=8,
                    head_width=16),
    text_cfg=dict(context_length=8, width=32, heads=2, layers=1))"""


#: 32x32 SyntheticCOD data for the COD tool tests (``{tiny_cod_data}``):
#: 8 training scenes, a clean validation set of 2 and a test set of 2 clean
#: and 2 hazy scenes, 2 iterations.
TINY_COD_DATA_32 = """img_size = (32, 32)
train_dataloader = dict(
    batch_size=2,
    dataset=dict(num_samples=8, img_size=img_size,
                 pipeline=[dict(type='PackCODInputs')]))


def _small(degradation=None):
    return dict(type='SyntheticCODDataset', num_samples=2, img_size=img_size,
                seed=0, split='test', degradation=degradation,
                pipeline=[dict(type='PackCODInputs')])


val_dataloader = dict(dataset=_small())
test_dataloader = dict(dataset=dict(
    _delete_=True, type='ConcatDataset',
    datasets=[_small(), _small(dict(kind='haze', level='medium'))]))
train_cfg = dict(max_iters=2, val_interval=2)"""


def format_tiny_config(template: str) -> str:
    """Fill a tool test's config template (``{root}``, ``{tiny_clip}``,
    ``{tiny_cod_data}``)."""
    return template.format(root=REPO_ROOT, tiny_clip=TINY_CLIP_32,
                           tiny_cod_data=TINY_COD_DATA_32)


TINY_CONFIG = """
_base_ = ['{root}/configs/rpcanet/'
          'rpcanet-plus_k6b4_0.5k_synthetic-sirst-128x128.py']
model = dict(backbone=dict(num_stages=2))
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True, seed=0),
    dataset=dict(num_samples=16, img_size=(32, 32),
                 target_size_range=(1, 5),
                 pipeline=[dict(type='PackISTDInputs')]))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(num_samples=6, img_size=(32, 32), target_size_range=(1, 5)))
test_dataloader = val_dataloader
max_iters = {max_iters}
param_scheduler = [dict(type='PolyLR', eta_min=0, power=0.9, begin=0,
                        by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval={val_interval})
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval={ckpt_interval}, max_keep_ckpts=10))
randomness = dict(seed=0, deterministic=True)
"""


def write_tiny_config(directory, max_iters=4, val_interval=4,
                      ckpt_interval=2, extra='') -> str:
    """A 2-stage RPCANet+ on 32x32 synthetic images: seconds per run."""
    path = osp.join(str(directory), 'tiny_rpcanet_plus.py')
    with open(path, 'w') as f:
        f.write(
            TINY_CONFIG.format(
                root=REPO_ROOT, max_iters=max_iters,
                val_interval=val_interval, ckpt_interval=ckpt_interval) +
            extra)
    return path


@pytest.fixture
def tiny_config(tmp_path):
    return write_tiny_config(tmp_path)
