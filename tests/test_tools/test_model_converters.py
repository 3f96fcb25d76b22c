import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

from dunseg.registry import MODELS
from dunseg.utils import register_all_modules

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
OFFICIAL = osp.join(ROOT, '..', 'shared', 'checkpoints', 'official')
sys.path.insert(0, osp.join(ROOT, 'tools', 'model_converters'))
from rpcanet2dunseg import convert_rpcanet_state_dict  # noqa: E402

register_all_modules()

# official checkpoint -> (config that loads it, parameter count)
CASES = [
    ('rpcanet/NUDT_SIRST_mIoU_89.31.pkl',
     'rpcanet/rpcanet_k6_400e_nudt-sirst-256x256.py', 679_896),
    ('rpcanet/IRSTD_1K_mIoU_63.21.pkl',
     'rpcanet/rpcanet_k6_400e_irstd1k-256x256.py', 679_896),
    ('rpcanet/SIRST_Aug_mIoU_72.54.pkl',
     'rpcanet/rpcanet_k6_400e_sirst-aug-256x256.py', 679_896),
    ('rpcanet-plus/SIRST_Aug_mIoU_74.56.pkl',
     'rpcanet/rpcanet-plus_k6b4_400e_sirst-aug-256x256.py', 215_916),
    ('rpcanet-plus/NUDT_SIRST_mIoU_92.37.pkl',
     'rpcanet/rpcanet-plus_k6b16_400e_nudt-sirst-256x256.py', 475_188),
    ('rpcanet-plus/IRSTD_1K_mIoU_64.68.pkl',
     'rpcanet/rpcanet-plus_k6b16n3_400e_irstd1k-256x256.py', 433_428),
]

needs_shared = pytest.mark.skipif(
    not osp.isdir(OFFICIAL),
    reason='../shared/checkpoints/official (official RPCANet weights) is '
    'only present beside the development clone')


def _point_target_image(size=128):
    yy, xx = np.mgrid[:size, :size]
    img = 0.3 + 0.1 * np.sin(xx / 20.0) + 0.05 * np.cos(yy / 15.0)
    target = 0.5 * np.exp(-((xx - 40)**2 + (yy - 70)**2) / (2 * 1.5**2))
    far = ((xx - 40)**2 + (yy - 70)**2) > 25
    return torch.tensor(img + target, dtype=torch.float32)[None, None], far


@needs_shared
@pytest.mark.parametrize('ckpt,config,params', CASES)
def test_official_checkpoints_load_strictly_and_detect(ckpt, config, params):
    official = torch.load(
        osp.join(OFFICIAL, ckpt), map_location='cpu', weights_only=True)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', config))
    model = MODELS.build(cfg.model).eval()
    assert sum(p.numel() for p in model.parameters()) == params
    model.load_state_dict(convert_rpcanet_state_dict(official), strict=True)

    # A trained detector must find an obvious point target on a smooth
    # background and nothing far from it; a wrong key mapping cannot.
    image, far = _point_target_image()
    with torch.no_grad():
        score = model(image, mode='tensor').sigmoid()[0, 0]
    assert score[70, 40] > 0.9
    assert score[torch.from_numpy(far)].max() < 0.5


@needs_shared
def test_converter_cli_writes_a_loadable_checkpoint(tmp_path):
    src = osp.join(OFFICIAL, CASES[3][0])
    dst = tmp_path / 'converted.pth'
    subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools/model_converters/rpcanet2dunseg.py'), src,
        str(dst)
    ], check=True, capture_output=True)
    ckpt = torch.load(dst, weights_only=True)
    assert ckpt['meta']['converted_from'] == 'SIRST_Aug_mIoU_74.56.pkl'
    cfg = Config.fromfile(osp.join(ROOT, 'configs', CASES[3][1]))
    MODELS.build(cfg.model).load_state_dict(ckpt['state_dict'], strict=True)


def test_unknown_keys_are_rejected():
    with pytest.raises(KeyError, match='not an official'):
        convert_rpcanet_state_dict({'encoder.conv.weight': torch.zeros(1)})
