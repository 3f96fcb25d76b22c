"""tools/analysis_tools/compare_official.py: interleaving, ratios, table,
the import of an "official" model file, and (when the official checkouts
are present) the real side-by-side cases."""
import importlib.util
import os
import os.path as osp
import textwrap

import pytest
import torch
from torch import nn

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
_spec = importlib.util.spec_from_file_location(
    'compare_official',
    osp.join(ROOT, 'tools', 'analysis_tools', 'compare_official.py'))
compare_official = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare_official)


class FakeClock:
    """A timer the timed calls advance by a known amount."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def spend(self, seconds):
        self.now += seconds


def test_rounds_alternate_the_order_and_skip_warmup():
    log = []
    clock = FakeClock()
    costs = dict(ours=iter([9, 9, 1, 2, 3]), official=iter([9, 9, 2, 4, 5]))
    calls = {name: (lambda n=name: clock.spend(next(costs[n])))
             for name in costs}
    times = compare_official.interleaved_rounds(
        calls, rounds=3, warmup=2, timer=clock, order_log=log)
    assert log == [(0, 'ours'), (0, 'official'), (1, 'official'),
                   (1, 'ours'), (2, 'ours'), (2, 'official'),
                   (3, 'official'), (3, 'ours'), (4, 'ours'),
                   (4, 'official')]
    assert times == dict(ours=[1, 2, 3], official=[2, 4, 5])


def test_ratio_is_the_median_of_per_round_ratios():
    # per-round ratios 0.5, 0.5, 0.9: the median is 0.5, and a round where
    # the machine was busy for both sides (the third) does not move it
    result = compare_official.paired_ratio([1.0, 2.0, 9.0], [2.0, 4.0, 10.0])
    assert result['ratio'] == pytest.approx(0.5)
    assert result['ratio_min'] == pytest.approx(0.5)
    assert result['ratio_max'] == pytest.approx(0.9)
    assert result['ours_ms'] == pytest.approx(2000.0)
    assert result['official_ms'] == pytest.approx(4000.0)
    assert result['rounds'] == 3


def test_ratio_needs_paired_rounds():
    with pytest.raises(ValueError, match='one time per round'):
        compare_official.paired_ratio([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match='rounds must be >= 1'):
        compare_official.interleaved_rounds(dict(a=lambda: None), rounds=0)


def test_compare_sides_times_both_modes_with_a_fake_clock():
    clock = FakeClock()
    ours = compare_official.Side(lambda: clock.spend(0.3),
                                 lambda: clock.spend(1.2))
    official = compare_official.Side(lambda: clock.spend(1.0),
                                     lambda: clock.spend(2.0))
    results = compare_official.compare_sides(
        ours, official, rounds=4, warmup=1, timer=clock)
    assert results['infer']['ratio'] == pytest.approx(0.3)
    assert results['train_step']['ratio'] == pytest.approx(0.6)
    assert results['train_step']['rounds'] == 4


def test_markdown_table_marks_the_target():
    rows = [
        dict(case='a', mode='infer', shape='8²', batch=1, check='equal',
             ours_ms=1500.0, official_ms=3000.0, ratio=0.5, ratio_min=0.4,
             ratio_max=0.7, rounds=3),
        dict(case='b', mode='train_step', shape='8²', batch=2, check='-',
             ours_ms=900.0, official_ms=1000.0, ratio=0.9, ratio_min=0.8,
             ratio_max=1.1, rounds=3),
    ]
    table = compare_official.markdown_table(rows, target=0.6).splitlines()
    assert len(table) == 4
    assert table[0].count('|') == table[2].count('|') == 9
    assert '| a | inference | 1x8² | 1,500 | 3,000 | **0.50** (0.40-0.70)' \
        ' | met | equal |' == table[2]
    assert '| train step | 2x8² |' in table[3]
    assert '| not met |' in table[3]


OFFICIAL_LIKE = textwrap.dedent('''
    import torch
    from torch import nn

    class TinyNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.convs = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1),
                                       nn.ReLU(True),
                                       nn.Conv2d(4, 1, 3, padding=1))

        def forward(self, x):
            return x + self.convs(x)
''')


def test_fake_official_module_side_by_side(tmp_path):
    """The harness end to end on a fake "official" file: import it as the
    tool imports official code, load its weights into "ours", check the
    outputs, time both modes."""
    path = tmp_path / 'official_tiny.py'
    path.write_text(OFFICIAL_LIKE)
    module = compare_official.load_module_from_file(str(path), 'fake_off')
    official = module.TinyNet()
    ours = module.TinyNet()
    ours.load_state_dict(official.state_dict())
    x = torch.rand(2, 1, 16, 16)
    with torch.no_grad():
        check = compare_official.assert_outputs_match(
            [ours(x)], [official(x)], 'tiny')
    assert check.startswith('equal')

    sides = {
        name: compare_official.make_side(
            net, lambda n=net: n(x), lambda n=net: n(x).square().mean())
        for name, net in (('ours', ours), ('official', official))
    }
    before = official.convs[0].weight.detach().clone()
    results = compare_official.compare_sides(
        sides['ours'], sides['official'], rounds=2, warmup=1)
    # the train step ran Adam on the official side's own parameters
    assert not torch.equal(before, official.convs[0].weight)
    for mode in ('infer', 'train_step'):
        assert results[mode]['rounds'] == 2
        assert results[mode]['ratio'] > 0

    with torch.no_grad():
        official.convs[2].bias.add_(1.0)
        with pytest.raises(AssertionError, match='differ by'):
            compare_official.assert_outputs_match(
                [ours(x)], [official(x)], 'tiny')


def test_missing_checkout_and_missing_dependency_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='--official-root'):
        compare_official.load_module_from_file(
            str(tmp_path / 'models' / 'RPCANet.py'), 'absent')
    path = tmp_path / 'needs_dep.py'
    path.write_text('import a_module_that_is_not_installed\n')
    with pytest.raises(ModuleNotFoundError,
                       match='pip install a_module_that_is_not_installed'):
        compare_official.load_module_from_file(str(path), 'needs_dep')
    with pytest.raises(SystemExit, match='--lrpcanet-root'):
        compare_official.resolve_roots(
            compare_official.parse_args(['--models', 'rpcanet_plus']))


def test_mamba_shim_runs_dunseg_scan():
    compare_official._install_mamba_ssm_shim()
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn

    from dunseg.models.layers.selective_scan import selective_scan
    assert selective_scan_fn is selective_scan


def test_cpu_only_makes_cuda_a_no_op():
    conv = compare_official._cpu_only(nn.Conv2d(1, 1, 1))
    assert conv.cuda() is conv
    assert conv.weight.device.type == 'cpu'


OFFICIAL_ROOT = os.environ.get('DUNSEG_OFFICIAL_ROOT', '')


@pytest.mark.skipif(
    not osp.isdir(osp.join(OFFICIAL_ROOT, 'RPCANet', 'models')),
    reason='set DUNSEG_OFFICIAL_ROOT to a directory holding the official '
    'checkouts (RPCANet/ at commit 1220642, L-RPCANet/, VLU-Net/, RUN/); '
    'CI has no official code')
def test_real_cases_match_the_official_outputs():
    pytest.importorskip('einops', reason='the official files import einops')
    roots = {key: osp.join(OFFICIAL_ROOT, folder)
             for key, folder in compare_official.CHECKOUTS.items()}
    for name in ('rpcanet', 'rpcanet_plus', 'vlunet'):
        case = compare_official.build_case(name, roots, train_batch=1)
        assert case['check'].startswith('equal'), name


def test_profile_lists_the_operators_of_one_call():
    conv = nn.Conv2d(1, 2, 3)
    table = compare_official.profile_top_ops(
        lambda: conv(torch.rand(1, 1, 8, 8)), top=5)
    assert 'aten::conv2d' in table or 'aten::convolution' in table
