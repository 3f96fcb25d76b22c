"""Tools that run over many files show an MMEngine progress bar on stderr;
their outputs (files and stdout) are those of a run without it."""
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import torch

from dunseg.datasets.synthetic_sirst import SyntheticSIRSTDataset
from dunseg.evaluation.metrics.cod_metric import evaluate_cod_folders

from ..conftest import REPO_ROOT

sys.path.insert(0, osp.join(REPO_ROOT, 'tools', 'model_converters'))
from rpcanet2dunseg import convert_rpcanet_state_dict  # noqa: E402


def run_tool(*args):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc


def test_dataset_converter_bar_goes_to_stderr_and_files_are_unchanged(
        tmp_path):
    out_dir = str(tmp_path / 'sirst')
    proc = run_tool('tools/dataset_converters/make_synthetic_sirst.py',
                    '--out-dir', out_dir, '--num-train', '3', '--num-test',
                    '2', '--size', '32', '--seed', '1')
    # one bar per split on stderr, nothing of it on stdout
    assert '3/3' in proc.stderr and '2/2' in proc.stderr
    assert '\r' not in proc.stdout and 'task/s' not in proc.stdout
    assert proc.stdout.splitlines()[0] == (
        f'{osp.join(out_dir, "trainval")}: 3 images + masks of H x W = '
        '32 x 32 (' + proc.stdout.split('(', 1)[1].split(')')[0] +
        '); files written 6, unchanged 0, stale removed 0')
    # the files are the generator's samples, quantised to 8 bit
    for split, folder, num in (('train', 'trainval', 3), ('test', 'test', 2)):
        reference = SyntheticSIRSTDataset(
            num_samples=num, img_size=(32, 32), seed=1, split=split)
        for index in range(num):
            sample = reference.generate(index)
            name = f'synth_{index:06d}.png'
            img = cv2.imread(osp.join(out_dir, folder, 'images', name),
                             cv2.IMREAD_UNCHANGED)
            mask = cv2.imread(osp.join(out_dir, folder, 'masks', name),
                              cv2.IMREAD_UNCHANGED)
            np.testing.assert_array_equal(
                img, np.round(sample['img'] * 255).astype(np.uint8))
            np.testing.assert_array_equal(
                mask, sample['mask'].astype(np.uint8) * 255)


def test_model_converter_bar_leaves_the_checkpoint_unchanged(tmp_path):
    generator = torch.Generator().manual_seed(0)
    official = {}
    for stage in range(2):
        for module in ('lowrank', 'sparse', 'merge'):
            for index in range(3):
                official[f'decos.{stage}.{module}.convs.{index}.weight'] = \
                    torch.randn(4, 4, 3, 3, generator=generator)
        official[f'decos.{stage}.lowrank.epsilon'] = torch.tensor([0.1])
    src, dst = tmp_path / 'official.pkl', tmp_path / 'converted.pth'
    torch.save(official, src)
    proc = run_tool('tools/model_converters/rpcanet2dunseg.py', str(src),
                    str(dst))
    assert f'{len(official)}/{len(official)}' in proc.stderr
    assert proc.stdout.startswith(f'wrote {dst}: {len(official)} tensors')
    written = torch.load(dst, weights_only=True)['state_dict']
    expected = convert_rpcanet_state_dict(official)
    assert list(written) == list(expected)
    for key, value in expected.items():
        assert torch.equal(written[key], value), key


def test_eval_cod_progress_changes_nothing(tmp_path, capsys):
    gt, pred = tmp_path / 'gt', tmp_path / 'pred'
    gt.mkdir()
    pred.mkdir()
    rng = np.random.default_rng(0)
    for index in range(3):
        mask = np.zeros((16, 20), np.uint8)
        mask[3:9 + index, 4:12] = 255
        cv2.imwrite(str(gt / f'im{index}.png'), mask)
        cv2.imwrite(str(pred / f'im{index}.png'),
                    rng.integers(0, 256, mask.shape, dtype=np.uint8))
    plain = evaluate_cod_folders(str(pred), str(gt), with_curves=True)
    shown = evaluate_cod_folders(
        str(pred), str(gt), with_curves=True, progress=True)
    captured = capsys.readouterr()
    assert '3/3' in captured.err and captured.out == ''
    assert set(plain) == set(shown)
    for key, value in plain.items():
        np.testing.assert_array_equal(np.asarray(shown[key]),
                                      np.asarray(value))
