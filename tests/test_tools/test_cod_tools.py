"""COD tools on tiny trees: eval_cod.py, cod_curves.py, make_degraded_cod.py
and cod_baselines.py (sample grid, training-free baselines)."""
import importlib.util
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

from dunseg.datasets import CODDataset

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(*parts):
    path = osp.join(REPO_ROOT, 'tools', *parts)
    spec = importlib.util.spec_from_file_location(
        'cod_tool_' + parts[-1][:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_tree(root, sets=('CAMO', 'NC4K'), n=3, size=(20, 24)):
    """<root>/gt/<set>/GT/*.png, <root>/good/<set>/*.png (= GT, one saved at
    half size), <root>/bad/<set>/*.png (inverted)."""
    h, w = size
    for s in sets:
        for d in ('gt/%s/GT' % s, 'gt/%s/Imgs' % s, 'good/' + s, 'bad/' + s):
            os.makedirs(osp.join(root, d), exist_ok=True)
        for i in range(n):
            mask = np.zeros((h, w), np.uint8)
            mask[4:4 + 2 * (i + 2), 6:16] = 255
            cv2.imwrite(osp.join(root, 'gt', s, 'GT', f'im{i}.png'), mask)
            img = np.random.default_rng(i).integers(0, 256, (h, w, 3),
                                                    dtype=np.uint8)
            cv2.imwrite(osp.join(root, 'gt', s, 'Imgs', f'im{i}.jpg'), img)
            good = mask if i else cv2.resize(mask, (w // 2, h // 2),
                                             interpolation=cv2.INTER_NEAREST)
            cv2.imwrite(osp.join(root, 'good', s, f'im{i}.png'), good)
            cv2.imwrite(osp.join(root, 'bad', s, f'im{i}.png'), 255 - mask)


def test_eval_cod_roots_and_single_folder(tmp_path, capsys):
    make_tree(str(tmp_path))
    tool = load_tool('analysis_tools', 'eval_cod.py')
    out = tmp_path / 'res.json'
    results = tool.main([
        '--pred-root', str(tmp_path / 'good'), '--gt-root',
        str(tmp_path / 'gt'), '--out', str(out), '--curves'
    ])
    assert set(results) == {'CAMO', 'NC4K'}
    data = json.loads(out.read_text())
    assert data['CAMO']['num_images'] == 3
    assert data['CAMO']['Sm'] > 0.95 and data['CAMO']['MAE'] < 0.02
    assert len(data['NC4K']['precision']) == 256
    assert 'CAMO' in capsys.readouterr().out
    bad = tool.main(['--pred-dir', str(tmp_path / 'bad' / 'CAMO'),
                     '--gt-dir', str(tmp_path / 'gt' / 'CAMO' / 'GT')])
    assert bad['CAMO']['MAE'] > 0.95 and bad['CAMO']['Sm'] < 0.1
    os.remove(tmp_path / 'bad' / 'CAMO' / 'im1.png')
    with pytest.raises(FileNotFoundError, match='1 of 3 masks.*im1'):
        tool.main(['--pred-dir', str(tmp_path / 'bad' / 'CAMO'),
                   '--gt-dir', str(tmp_path / 'gt' / 'CAMO' / 'GT')])
    skipped = tool.main(['--pred-dir', str(tmp_path / 'bad' / 'CAMO'),
                         '--gt-dir', str(tmp_path / 'gt' / 'CAMO' / 'GT'),
                         '--allow-missing'])
    assert skipped['CAMO']['num_images'] == 2


def test_cod_curves_folders_and_json(tmp_path):
    make_tree(str(tmp_path))
    tool = load_tool('analysis_tools', 'cod_curves.py')
    eval_tool = load_tool('analysis_tools', 'eval_cod.py')
    good_json = tmp_path / 'good.json'
    eval_tool.main(['--pred-root', str(tmp_path / 'good'), '--gt-root',
                    str(tmp_path / 'gt'), '--out', str(good_json),
                    '--curves'])
    out = tmp_path / 'curves.png'
    curves = tool.main([
        '--methods', f'good={good_json}', f'bad={tmp_path / "bad"}',
        '--gt-root', str(tmp_path / 'gt'), '--out', str(out)
    ])
    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] > img.shape[1] / 2
    assert curves['good']['CAMO']['maxFm'] > 0.99
    assert curves['bad']['CAMO']['maxFm'] < 0.5
    # A JSON written without --curves cannot be drawn.
    no_curves = tmp_path / 'nocurves.json'
    no_curves.write_text(json.dumps({'CAMO': {'Sm': 0.5}}))
    with pytest.raises(KeyError, match='--curves'):
        tool.main(['--methods', f'x={no_curves}', '--sets', 'CAMO'])


def test_make_degraded_cod_writes_readable_deterministic_sets(tmp_path):
    make_tree(str(tmp_path), sets=('CAMO', ), n=2)
    tool = load_tool('dataset_converters', 'make_degraded_cod.py')
    args = [str(tmp_path / 'gt'), str(tmp_path / 'deg'), '--kinds', 'haze',
            'lowres', '--levels', 'heavy']
    tool.main(args)
    root = tmp_path / 'deg' / 'haze-heavy' / 'CAMO'
    ds = CODDataset(data_root=str(root))
    assert len(ds) == 2 and ds.get_data_info(0)['dataset_name'] == 'CAMO'
    first = cv2.imread(str(root / 'Imgs' / 'im0.png'))
    clean = cv2.imread(str(tmp_path / 'gt' / 'CAMO' / 'Imgs' / 'im0.jpg'))
    assert first.shape == clean.shape and np.abs(
        first.astype(int) - clean).mean() > 10
    assert (tmp_path / 'deg' / 'lowres-heavy' / 'CAMO' / 'GT' /
            'im1.png').exists()
    # Running again reproduces the same pixels.
    tool.main(args)
    assert np.array_equal(cv2.imread(str(root / 'Imgs' / 'im0.png')), first)
    with pytest.raises(FileNotFoundError, match='<set>/Imgs'):
        tool.main([str(tmp_path / 'deg' / 'haze-heavy' / 'CAMO' / 'GT'),
                   str(tmp_path / 'x')])


@pytest.mark.slow
def test_cod_baselines_find_salient_objects_but_not_synthetic_cod(tmp_path):
    """The training-free baselines work (a red square on a grey background
    is found), so their low scores on SyntheticCOD measure the data."""
    tool = load_tool('experiments', 'cod_baselines.py')
    from dunseg.evaluation.metrics.cod_metric import (
        evaluate_cod_image,
        gt_to_uint8,
        prediction_to_uint8,
    )
    img = np.full((64, 64, 3), 0.5, np.float32)
    mask = np.zeros((64, 64), np.uint8)
    mask[20:36, 30:46] = 1
    img[mask > 0] = (0.9, 0.1, 0.1)
    img = np.clip(img + np.random.default_rng(0).normal(0, 0.02, img.shape),
                  0, 1).astype(np.float32)
    sm = {}
    for name, fn in tool.PREDICTORS.items():
        pred = prediction_to_uint8(fn(img), mask.shape)
        sm[name] = evaluate_cod_image(pred, gt_to_uint8(mask))['Sm']
    assert sm['colour-distance'] > 0.9 and sm['colour-otsu'] > 0.95, sm
    # Spectral residual is blurry but finds the square (0.64 measured).
    assert sm['spectral-residual'] > sm['centre-prior'] + 0.1, sm
    grid = tmp_path / 'grid.png'
    results = tool.main(['--num', '3', '--img-size', '48', '--grid',
                         str(grid), '--out', str(tmp_path / 'b.json')])
    assert cv2.imread(str(grid)).shape[1] == 7 * 48 + 6 * 2
    assert set(results) == {
        'SyntheticCOD', 'SyntheticCOD-lowlight-medium',
        'SyntheticCOD-haze-medium', 'SyntheticCOD-lowres-medium',
        'SyntheticCOD-combined-medium'
    }
    assert set(results['SyntheticCOD']) == set(tool.PREDICTORS)
