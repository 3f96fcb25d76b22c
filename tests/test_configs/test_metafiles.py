"""The model zoo's index: model-index.yml and every configs/*/metafile.yml
(OpenMMLab's schema) agree with the configs and READMEs on disk."""
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _load(path: Path) -> dict:
    with open(path, encoding='utf-8') as f:
        return yaml.safe_load(f)


def _metafiles():
    index = _load(ROOT / 'model-index.yml')
    assert set(index) == {'Import'}, 'model-index.yml holds only Import'
    return [ROOT / path for path in index['Import']]


def _all_models():
    models = []
    for metafile in _metafiles():
        models.extend(_load(metafile).get('Models') or [])
    return models


def test_model_index_imports_every_metafile():
    imported = _metafiles()
    for path in imported:
        assert path.is_file(), f'model-index.yml imports a missing {path}'
    on_disk = sorted(ROOT.glob('configs/*/metafile.yml'))
    assert sorted(imported) == on_disk
    assert len(set(imported)) == len(imported)


@pytest.mark.parametrize('metafile', _metafiles(), ids=lambda p: p.parent.name)
def test_metafile_schema(metafile):
    meta = _load(metafile)
    assert set(meta) <= {'Collections', 'Models'}
    collections = meta['Collections']
    names = [c['Name'] for c in collections]
    assert len(set(names)) == len(names)
    for collection in collections:
        assert {'Name', 'Metadata', 'README', 'Code'} <= set(collection)
        assert (ROOT / collection['README']).is_file(), collection['README']
        assert (ROOT / collection['Code']['URL']).is_file(), \
            collection['Code']['URL']
        assert collection['Code']['Version']
        if 'Paper' in collection:
            assert collection['Paper']['Title']
            assert collection['Paper']['URL'].startswith('https://')
    for model in meta['Models']:
        assert {'Name', 'In Collection', 'Config', 'Metadata'} <= set(model)
        assert model['In Collection'] in names, model['Name']
        assert 'Training Data' in model['Metadata']
        assert (ROOT / model['Config']).is_file(), model['Config']
        assert Path(model['Config']).stem == model['Name']
        for result in model.get('Results') or []:
            assert {'Task', 'Dataset', 'Metrics'} <= set(result)
            assert result['Metrics'], model['Name']
        if 'Weights' in model:
            assert (ROOT / model['Weights']).is_file() or \
                model['Weights'].startswith('https://')


def test_every_config_listed_exactly_once():
    listed = Counter(model['Config'] for model in _all_models())
    twice = sorted(path for path, n in listed.items() if n > 1)
    assert not twice, f'listed more than once: {twice}'
    configs = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / 'configs').rglob('*.py')
        if '_base_' not in path.relative_to(ROOT / 'configs').parts
    }
    missing = sorted(configs - set(listed))
    assert not missing, f'configs missing from every metafile: {missing}'
    assert not sorted(set(listed) - configs)


def test_model_names_unique():
    names = Counter(model['Name'] for model in _all_models())
    assert not [name for name, n in names.items() if n > 1]


#: {algorithm}[-variant]_{backbone}_{schedule}_{dataset}-{crop}.py
CONFIG_NAME = re.compile(
    r'^[a-z0-9-]+_[a-z0-9.-]+_[a-z0-9.]+_[a-z0-9-]+-[0-9]+x[0-9]+\.py$')


def test_every_config_follows_the_naming_pattern():
    wrong = [str(path.relative_to(ROOT))
             for path in (ROOT / 'configs').rglob('*.py')
             if '_base_' not in path.parts
             and not CONFIG_NAME.match(path.name)]
    assert not wrong, (
        'config names read {algorithm}[-variant]_{backbone}_{schedule}_'
        f'{{dataset}}-{{crop}}.py (docs/config.md): {wrong}')
