"""All-in-one image restoration datasets read from disk.

Default layout: the PromptIR / AdaIR / HAIR convention, which the official
VLU-Net code uses (its README points to HAIR's INSTALL.md), relative to
``data_root`` (``data/`` by default)::

    Train/
      Denoise/           BSD400 + WED clean images (noise added on the fly)
      Derain/rainy/      rain-<k>.png      Derain/gt/  norain-<k>.png
      Dehaze/synthetic/  part*/<id>_<A>_<beta>.jpg   (RESIDE-OTS)
      Dehaze/original/   <id>.<ext>
      Deblur/blur/, Deblur/sharp/        same file names (GoPro)
      Enhance/low/, Enhance/gt/          same file names (LOL)
    test/
      denoise/bsd68/, denoise/urban100/  clean images (CBSD68, Urban100)
      derain/Rain100L/input/, target/    same file names
      dehaze/input/  <id>_<A>_<beta>.jpg   dehaze/target/  <id>.png (SOTS)
      deblur/gopro/input/, target/       same file names
      enhance/lol/input/, target/        same file names

Every sub-directory can be changed per task (``task_dirs``), and the
official VLU-Net path lists (text files with one ``degraded_path,
clean_path`` pair per line; noise lists may hold pre-generated noisy images)
can replace the directory listing (``list_files``).

Samples are dicts with ``img_path`` (None for clean-only noise samples),
``gt_path``, ``degradation``, ``degradation_label`` and ``dataset_name``;
the pipeline loads the images (``LoadPairedImageFromFile``) and, for noise,
synthesises the degraded image (``Degrade``).
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.dataset import BaseDataset

from dunseg.registry import DATASETS

from .degradation_types import (
    DEGRADATIONS_3TASK,
    DEGRADATIONS_5TASK,
    degradation_label,
)
from .istd import build_pipeline_with_dunseg_registry

IMG_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff')
LAYOUT_DOC = ("docs/get_started.md, section 'Restoration data layouts'")
NOISE_SIGMAS = {'denoise_15': 15, 'denoise_25': 25, 'denoise_50': 50}
PAIRINGS = ('same', 'rain', 'prefix')

# Sub-directories per task family ('denoise' serves the three noise levels).
DEFAULT_TRAIN_DIRS: Dict[str, dict] = dict(
    denoise=dict(clean_dir='Train/Denoise', name='BSD400+WED'),
    derain=dict(degraded_dir='Train/Derain/rainy',
                clean_dir='Train/Derain/gt',
                pairing='rain',
                name='Rain100L'),
    dehaze=dict(degraded_dir='Train/Dehaze/synthetic',
                clean_dir='Train/Dehaze/original',
                pairing='prefix',
                name='RESIDE-OTS'),
    deblur=dict(degraded_dir='Train/Deblur/blur',
                clean_dir='Train/Deblur/sharp',
                pairing='same',
                name='GoPro'),
    delowlight=dict(degraded_dir='Train/Enhance/low',
                    clean_dir='Train/Enhance/gt',
                    pairing='same',
                    name='LOL'),
)
DEFAULT_TEST_DIRS: Dict[str, dict] = dict(
    denoise=dict(clean_dir='test/denoise/bsd68', name='CBSD68'),
    derain=dict(degraded_dir='test/derain/Rain100L/input',
                clean_dir='test/derain/Rain100L/target',
                pairing='same',
                name='Rain100L'),
    dehaze=dict(degraded_dir='test/dehaze/input',
                clean_dir='test/dehaze/target',
                pairing='prefix',
                name='SOTS-outdoor'),
    deblur=dict(degraded_dir='test/deblur/gopro/input',
                clean_dir='test/deblur/gopro/target',
                pairing='same',
                name='GoPro'),
    delowlight=dict(degraded_dir='test/enhance/lol/input',
                    clean_dir='test/enhance/lol/target',
                    pairing='same',
                    name='LOL'),
)
# Official VLU-Net train.py: each noise list x3, Rain100L x120, others x1.
DEFAULT_REPEATS = dict(denoise_15=3,
                       denoise_25=3,
                       denoise_50=3,
                       dehaze=1,
                       derain=120,
                       deblur=1,
                       delowlight=1)


def task_family(task: str) -> str:
    """``'denoise_25'`` -> ``'denoise'``; other names unchanged."""
    return 'denoise' if task in NOISE_SIGMAS else task


def list_images(directory: str) -> List[str]:
    """Image files under ``directory`` (recursive), sorted by path."""
    found = []
    for root, _, files in os.walk(directory):
        for f in files:
            if f.lower().endswith(IMG_EXTENSIONS):
                found.append(osp.join(root, f))
    return sorted(found)


def _missing(owner: str, what: str, path: str, extra: str = '') -> str:
    return (f'{owner}: {what} not found: {path!r}.{extra} Put the data in '
            f'the published layout (see {LAYOUT_DOC}) or point data_root / '
            'task_dirs / list_files at it.')


def _require_dir(owner: str, what: str, path: str) -> List[str]:
    if not osp.isdir(path):
        raise FileNotFoundError(_missing(owner, f'{what} directory', path))
    files = list_images(path)
    if not files:
        raise FileNotFoundError(
            _missing(
                owner, f'images in {what} directory', path,
                f' It exists but holds no {"/".join(IMG_EXTENSIONS)} '
                'files.'))
    return files


def _clean_name(degraded: str, pairing: str) -> Tuple[str, bool]:
    """(expected clean file name or stem, whether only the stem is fixed)."""
    base = osp.basename(degraded)
    if pairing == 'same':
        return base, False
    if pairing == 'rain':
        # Rain100L train: rain-12.png -> norain-12.png
        if base.startswith('rain-'):
            return 'norain-' + base[len('rain-'):], False
        return base, False
    if pairing == 'prefix':
        # RESIDE: 0025_0.8_0.1.jpg -> 0025.<any image extension>
        return osp.splitext(base)[0].split('_')[0], True
    raise ValueError(f'pairing must be one of {PAIRINGS}, got {pairing!r}')


def pair_directories(owner: str, degraded_dir: str, clean_dir: str,
                     pairing: str) -> List[Tuple[str, str]]:
    """(degraded, clean) path pairs of two directories.

    ``pairing``: ``'same'`` (same file name; if absent, same stem with any
    image extension), ``'rain'`` (``rain-<k>`` -> ``norain-<k>``) or
    ``'prefix'`` (``<id>_<...>`` -> ``<id>.<ext>``, RESIDE haze naming).
    Raises FileNotFoundError naming the missing clean files.
    """
    if pairing not in PAIRINGS:
        raise ValueError(f'{owner}: pairing must be one of {PAIRINGS}, got '
                         f'{pairing!r}')
    degraded = _require_dir(owner, 'degraded-image', degraded_dir)
    clean = _require_dir(owner, 'clean-image', clean_dir)
    by_name = {osp.relpath(p, clean_dir): p for p in clean}
    by_stem: Dict[str, str] = {}
    for rel, p in by_name.items():
        by_stem.setdefault(osp.splitext(rel)[0], p)
    pairs, unmatched = [], []
    for d in degraded:
        name, stem_only = _clean_name(d, pairing)
        sub = osp.dirname(osp.relpath(d, degraded_dir)) if pairing != \
            'prefix' else ''
        key = osp.join(sub, name) if sub else name
        match = None if stem_only else by_name.get(key)
        if match is None:
            match = by_stem.get(osp.splitext(key)[0] if not stem_only else key)
        if match is None:
            unmatched.append(osp.join(clean_dir, key))
        else:
            pairs.append((d, match))
    if unmatched:
        shown = ', '.join(repr(u) for u in unmatched[:3])
        raise FileNotFoundError(
            f'{owner}: {len(unmatched)} of {len(degraded)} degraded images '
            f'in {degraded_dir!r} have no clean counterpart (pairing='
            f'{pairing!r}), e.g. expected {shown}. See {LAYOUT_DOC}.')
    return pairs


def read_path_list(owner: str, list_file: str,
                   data_root: str) -> List[Tuple[Optional[str], str]]:
    """Read an official VLU-Net path list.

    Each non-empty line is ``degraded_path, clean_path`` (or a single
    ``clean_path`` for clean-only noise lists). Relative paths (a leading
    ``./`` is dropped) are relative to ``data_root``. Returns
    ``(degraded or None, clean)`` tuples.
    """
    if not osp.isfile(list_file):
        raise FileNotFoundError(_missing(owner, 'path-list file', list_file))

    def resolve(p: str) -> str:
        p = p.strip()
        if p.startswith('./'):
            p = p[2:]
        return p if osp.isabs(p) else osp.join(data_root, p)

    entries = []
    with open(list_file) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            parts = [p for p in line.split(',')]
            if len(parts) == 1:
                entries.append((None, resolve(parts[0])))
            elif len(parts) == 2:
                entries.append((resolve(parts[0]), resolve(parts[1])))
            else:
                raise ValueError(
                    f'{owner}: line {lineno} of {list_file!r} has '
                    f'{len(parts)} comma-separated fields, expected '
                    '"degraded_path, clean_path" or "clean_path"')
    if not entries:
        raise ValueError(f'{owner}: path list {list_file!r} is empty')
    return entries


def default_degradation_classes(tasks: Sequence[str]) -> Tuple[str, ...]:
    """DEGRADATIONS_3TASK when every task belongs to it, else 5-task."""
    if set(tasks) <= set(DEGRADATIONS_3TASK):
        return DEGRADATIONS_3TASK
    return DEGRADATIONS_5TASK


class _RestorationBase(BaseDataset):
    METAINFO = dict(degradation_classes=DEGRADATIONS_5TASK)

    def __init__(self,
                 data_root: str = 'data',
                 degradation_classes: Optional[Sequence[str]] = None,
                 pipeline: Sequence = (),
                 metainfo: Optional[dict] = None,
                 **kwargs) -> None:
        metainfo = dict(metainfo or {})
        if degradation_classes is not None:
            metainfo['degradation_classes'] = tuple(degradation_classes)
        self._classes = tuple(
            metainfo.get('degradation_classes',
                         self.METAINFO['degradation_classes']))
        if kwargs.get('ann_file'):
            raise ValueError(f'{type(self).__name__} does not use ann_file; '
                             'use list_files (official path lists) instead')
        super().__init__(
            data_root=os.fspath(data_root),
            metainfo=metainfo,
            pipeline=build_pipeline_with_dunseg_registry(pipeline),
            **kwargs)

    def _abs(self, path: str) -> str:
        return path if osp.isabs(path) else osp.join(self.data_root, path)

    def _sample(self,
                task: str,
                img_path: Optional[str],
                gt_path: str,
                name: str,
                seed: Optional[int] = None) -> dict:
        info = dict(img_path=img_path,
                    gt_path=gt_path,
                    degradation=task,
                    degradation_label=degradation_label(task, self._classes),
                    dataset_name=name)
        if seed is not None:
            info['seed'] = seed
        return info


@DATASETS.register_module()
class AllInOneRestorationDataset(_RestorationBase):
    """Multi-degradation training / test set in the PromptIR layout.

    Args:
        data_root (str): Root holding ``Train/`` and ``test/`` (see the
            module docstring). Defaults to ``'data'``.
        tasks (Sequence[str]): Subset of ``DEGRADATIONS_5TASK``. Defaults to
            the 5-task (7-class) setting; ``DEGRADATIONS_3TASK`` gives the
            3-task setting.
        split (str): ``'train'`` or ``'test'``.
        task_dirs (dict, optional): Per task family (``'denoise'``,
            ``'derain'``, ``'dehaze'``, ``'deblur'``, ``'delowlight'``)
            overrides of ``degraded_dir``, ``clean_dir`` (relative to
            ``data_root`` or absolute), ``pairing`` (``'same'``, ``'rain'``,
            ``'prefix'``) and ``name`` (reported as ``dataset_name``).
        list_files (dict, optional): Per task (``'denoise_15'``, ...,
            ``'delowlight'``) an official path-list file replacing the
            directory listing.
        repeats (dict, optional): Per-task repeat factors. Train defaults:
            noise x3 each, Rain100L x120, others x1 (official); test: x1.
        degradation_classes (Sequence[str], optional): Label vocabulary
            (``metainfo['degradation_classes']``). Defaults to
            ``DEGRADATIONS_3TASK`` when all tasks belong to it, else
            ``DEGRADATIONS_5TASK``.
        noise_seed (int): Test split: clean-only noise samples get
            ``seed = noise_seed + index`` so their noise is fixed.
        pipeline (Sequence): Transforms, built with dunseg's registry.
        **kwargs: Other :class:`~mmengine.dataset.BaseDataset` arguments.
    """

    def __init__(self,
                 data_root: str = 'data',
                 tasks: Sequence[str] = DEGRADATIONS_5TASK,
                 split: str = 'train',
                 task_dirs: Optional[Dict[str, dict]] = None,
                 list_files: Optional[Dict[str, str]] = None,
                 repeats: Optional[Dict[str, int]] = None,
                 degradation_classes: Optional[Sequence[str]] = None,
                 noise_seed: int = 0,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        name = type(self).__name__
        if split not in ('train', 'test'):
            raise ValueError(f"{name}: split must be 'train' or 'test', got "
                             f'{split!r}')
        tasks = tuple(tasks)
        unknown = [t for t in tasks if t not in DEGRADATIONS_5TASK]
        if unknown or not tasks:
            raise ValueError(f'{name}: tasks must be a non-empty subset of '
                             f'{DEGRADATIONS_5TASK}, got unknown {unknown}')
        defaults = DEFAULT_TRAIN_DIRS if split == 'train' else \
            DEFAULT_TEST_DIRS
        task_dirs = dict(task_dirs or {})
        bad = set(task_dirs) - set(defaults)
        if bad:
            raise KeyError(f'{name}: task_dirs keys must be among '
                           f'{tuple(defaults)}, got {sorted(bad)}')
        self.task_dirs = {
            fam: {
                **cfg,
                **task_dirs.get(fam, {})
            }
            for fam, cfg in defaults.items()
        }
        self.list_files = dict(list_files or {})
        bad = set(self.list_files) - set(DEGRADATIONS_5TASK)
        if bad:
            raise KeyError(f'{name}: list_files keys must be task names '
                           f'{DEGRADATIONS_5TASK}, got {sorted(bad)}')
        base_repeats = DEFAULT_REPEATS if split == 'train' else {}
        self.repeats = {t: 1 for t in DEGRADATIONS_5TASK}
        self.repeats.update(base_repeats)
        self.repeats.update(repeats or {})
        self.tasks = tasks
        self.split = split
        self.noise_seed = int(noise_seed)
        if degradation_classes is None and 'metainfo' not in kwargs:
            degradation_classes = default_degradation_classes(tasks)
        super().__init__(data_root=data_root,
                         degradation_classes=degradation_classes,
                         pipeline=pipeline,
                         **kwargs)

    def _task_entries(self, task: str) -> List[dict]:
        owner = f'{type(self).__name__}[{task}, {self.split}]'
        cfg = self.task_dirs[task_family(task)]
        set_name = cfg.get('name', task)
        if task in self.list_files:
            pairs = read_path_list(owner, self._abs(self.list_files[task]),
                                   self.data_root)
        elif task in NOISE_SIGMAS:
            clean = _require_dir(owner, 'clean-image',
                                 self._abs(cfg['clean_dir']))
            pairs = [(None, p) for p in clean]
        else:
            pairs = pair_directories(owner, self._abs(cfg['degraded_dir']),
                                     self._abs(cfg['clean_dir']),
                                     cfg.get('pairing', 'same'))
        entries = []
        for i, (deg, gt) in enumerate(pairs):
            seed = None
            if deg is None and self.split == 'test':
                seed = self.noise_seed + i
            entries.append(self._sample(task, deg, gt, set_name, seed))
        return entries

    def load_data_list(self) -> List[dict]:
        data_list = []
        for task in self.tasks:
            entries = self._task_entries(task)
            repeat = int(self.repeats.get(task, 1))
            if repeat < 1:
                raise ValueError(f'{type(self).__name__}: repeat factor of '
                                 f'{task!r} must be >= 1, got {repeat}')
            data_list.extend(entries * repeat)
        return data_list


@DATASETS.register_module()
class PairedImageDataset(_RestorationBase):
    """A folder pair of degraded / clean images (one test set, e.g.
    Rain100L, SOTS-outdoor, GoPro, LOL).

    Args:
        data_root (str): Root the directories are relative to.
        degraded_dir (str): Degraded images (searched recursively).
        clean_dir (str): Clean images.
        degradation (str): Degradation name of every sample (in
            ``degradation_classes``).
        pairing (str): ``'same'``, ``'rain'`` or ``'prefix'`` (see
            :func:`pair_directories`).
        dataset_name (str, optional): Reported as ``dataset_name``.
        list_file (str, optional): Official path list replacing the
            directory listing (then the directories are not used).
        repeat (int): Repeat factor.
        degradation_classes (Sequence[str], optional): Label vocabulary.
            Defaults to ``DEGRADATIONS_5TASK``.
    """

    def __init__(self,
                 data_root: str = 'data',
                 degraded_dir: str = 'test/derain/Rain100L/input',
                 clean_dir: str = 'test/derain/Rain100L/target',
                 degradation: str = 'derain',
                 pairing: str = 'same',
                 dataset_name: Optional[str] = None,
                 list_file: Optional[str] = None,
                 repeat: int = 1,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        self.degraded_dir = degraded_dir
        self.clean_dir = clean_dir
        self.degradation = degradation
        self.pairing = pairing
        self.dataset_name = dataset_name or degradation
        self.list_file = list_file
        self.repeat = int(repeat)
        super().__init__(data_root=data_root, pipeline=pipeline, **kwargs)

    def load_data_list(self) -> List[dict]:
        owner = f'{type(self).__name__}[{self.dataset_name}]'
        if self.list_file:
            pairs = read_path_list(owner, self._abs(self.list_file),
                                   self.data_root)
        else:
            pairs = pair_directories(owner, self._abs(self.degraded_dir),
                                     self._abs(self.clean_dir), self.pairing)
        return [
            self._sample(self.degradation, d, g, self.dataset_name)
            for d, g in pairs
        ] * self.repeat


@DATASETS.register_module()
class DenoiseTestDataset(_RestorationBase):
    """Clean test images + Gaussian noise of level ``sigma`` (CBSD68,
    Urban100, Kodak24).

    Samples carry ``degradation='denoise_<sigma>'`` and ``seed = seed +
    index``; the pipeline's ``Degrade`` transform adds the (fixed) noise
    after the official centre crop.

    Args:
        data_root (str): Root ``clean_dir`` is relative to.
        clean_dir (str): Clean images. Defaults to
            ``'test/denoise/bsd68'``.
        sigma (int): 15, 25 or 50.
        dataset_name (str, optional): Defaults to the directory name.
        seed (int): Base noise seed.
    """

    def __init__(self,
                 data_root: str = 'data',
                 clean_dir: str = 'test/denoise/bsd68',
                 sigma: int = 15,
                 dataset_name: Optional[str] = None,
                 seed: int = 0,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        task = f'denoise_{int(sigma)}'
        if task not in NOISE_SIGMAS:
            raise ValueError(f'DenoiseTestDataset: sigma must be one of '
                             f'{tuple(NOISE_SIGMAS.values())}, got {sigma!r}')
        self.task = task
        self.clean_dir = clean_dir
        self.seed = int(seed)
        self.dataset_name = dataset_name or osp.basename(
            osp.normpath(clean_dir))
        super().__init__(data_root=data_root, pipeline=pipeline, **kwargs)

    def load_data_list(self) -> List[dict]:
        owner = f'{type(self).__name__}[{self.dataset_name}]'
        clean = _require_dir(owner, 'clean-image', self._abs(self.clean_dir))
        return [
            self._sample(self.task, None, p, f'{self.dataset_name}',
                         self.seed + i) for i, p in enumerate(clean)
        ]


__all__ = [
    'AllInOneRestorationDataset', 'PairedImageDataset', 'DenoiseTestDataset',
    'DEFAULT_TRAIN_DIRS', 'DEFAULT_TEST_DIRS', 'DEFAULT_REPEATS',
    'pair_directories', 'read_path_list', 'list_images'
]
