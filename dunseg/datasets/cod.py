"""Concealed (camouflaged) object detection (COD) datasets read from disk.

Three layouts:

- :class:`CODDataset`, the layout of RUN / SINet-V2 / FEDER (the
  ``TrainDataset`` / ``TestDataset`` archives of SINet-V2)::

      data/
      |-- TrainDataset/          COD10K-train 3,040 + CAMO-train 1,000
      |   |-- Imgs/   <name>.jpg
      |   |-- GT/     <name>.png
      |   `-- Edge/   <name>.png
      `-- TestDataset/
          |-- CHAMELEON/{Imgs,GT}/    76
          |-- CAMO/{Imgs,GT}/        250
          |-- COD10K/{Imgs,GT}/    2,026
          `-- NC4K/{Imgs,GT}/      4,121

  One dataset is one folder (``data_root``) with an image and a mask
  sub-folder (and optionally an edge sub-folder).

- :class:`COD10KDataset`, COD10K-v3 as released (``Train/Image``,
  ``Train/GT_Object``, ``Train/GT_Edge``, ``Test/...``), camouflaged images
  only by default (the ``-CAM-`` names; the other images have no object).

- :class:`ImageMaskFolderDataset`, any image folder plus mask folder (the
  real low-quality subsets, user data).

Images and masks are matched by file stem (``a.jpg`` <-> ``a.png``); an
image without a mask or a mask without an image is an error that names
the files (``allow_unmatched=True`` skips them with a warning instead).
Every sample carries ``dataset_name`` (e.g. ``'COD10K'``), which
``CODMetric`` reports per test set.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

from mmengine.dataset import BaseDataset, ConcatDataset
from mmengine.logging import print_log

from dunseg.registry import DATASETS

from .istd import build_pipeline_with_dunseg_registry

COD_METAINFO = dict(
    classes=('background', 'object'), palette=[[0, 0, 0], [255, 255, 255]])
IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff')
MASK_EXTENSIONS = ('.png', '.bmp', '.jpg', '.jpeg', '.tif', '.tiff')
_MAX_LISTED = 5

# Where the public COD data is published, for the error messages.
DATA_SOURCES = {
    'TrainDataset': 'the SINet-V2 release (github.com/GewelsJI/SINet-V2, '
                    '"TrainDataset" archive)',
    'TestDataset': 'the SINet-V2 release (github.com/GewelsJI/SINet-V2, '
                   '"TestDataset" archive)',
    'COD10K': 'COD10K: github.com/DengPingFan/SINet (COD10K-v3) or the '
              'SINet-V2 TestDataset archive',
    'CAMO': 'CAMO: sites.google.com/view/ltnghia/research/camo or the '
            'SINet-V2 TestDataset archive',
    'CHAMELEON': 'CHAMELEON: the SINet-V2 TestDataset archive',
    'NC4K': 'NC4K: github.com/JingZhang617/COD-Rank-Localize-and-Segment '
            'or the SINet-V2 TestDataset archive',
}
NO_DATA_HINT = (
    'No data needed to try dunseg: '
    'configs/nun/nun_tiny_1k_synthetic-cod-degraded-64x64.py, '
    'configs/run/run_tiny_1.4k_synthetic-cod-64x64.py and '
    'configs/_base_/datasets/synthetic_cod.py use the embedded, '
    'procedurally generated SyntheticCODDataset.')


def _stem_map(folder: str, extensions: Sequence[str]) -> Dict[str, str]:
    """``{stem: file name}`` of the files in ``folder`` with one of the
    extensions (case-insensitive), hidden files skipped. Two files with the
    same stem are an error (which one is the mask?)."""
    out: Dict[str, str] = {}
    for fname in sorted(os.listdir(folder)):
        stem, ext = osp.splitext(fname)
        if fname.startswith('.') or ext.lower() not in extensions:
            continue
        if stem in out:
            raise ValueError(
                f'{folder!r} holds two files with the stem {stem!r} '
                f'({out[stem]!r} and {fname!r}); images and masks are matched '
                'by stem, so keep one of them')
        out[stem] = fname
    return out


def _source_hint(path: str) -> str:
    parts = path.replace('\\', '/').rstrip('/').split('/')
    for part in reversed(parts):
        for name, where in DATA_SOURCES.items():
            if part.upper().startswith(name.upper()):
                return f'\n{name} is published at {where}.'
    return ''


def insert_degradation(pipeline: Sequence, degradation: dict,
                       who: str) -> list:
    """``pipeline`` with ``CODDegrade(**degradation)`` before its packing
    step (``PackCODInputs``), so the clean image is kept as ``gt_image``."""
    pipeline = list(pipeline)
    packs = [
        i for i, t in enumerate(pipeline)
        if (t.get('type') if isinstance(t, dict) else type(t).__name__) ==
        'PackCODInputs'
    ]
    if not packs:
        raise ValueError(f'{who}(degradation=...) inserts CODDegrade before '
                         'PackCODInputs, but the pipeline has no '
                         'PackCODInputs; add it as the last transform')
    pipeline.insert(packs[-1], dict(degradation, type='CODDegrade'))
    return pipeline


def degradation_suffix(degradation: dict) -> str:
    """``-<kind>-<level>`` (several joined by ``+``) for a set's name."""

    def names(value, default):
        value = degradation.get(value, default)
        return '+'.join((value, ) if isinstance(value, str) else value)

    return f"-{names('kind', 'combined')}-{names('level', 'medium')}"


@DATASETS.register_module()
class CODDataset(BaseDataset):
    """A COD set stored as ``<data_root>/<img_dir>`` + ``<mask_dir>``.

    Each sample is ``dict(img_path, seg_map_path, edge_path, dataset_name)``
    (``edge_path`` None without ``edge_dir``); the pipeline reads the files
    (``LoadCODImageFromFile``, ``LoadCODAnnotations``).

    Args:
        data_root (str): The set's folder, e.g. ``'data/TestDataset/CAMO'``
            or ``'data/TrainDataset'``.
        img_dir (str): Image sub-folder (absolute paths are used as they
            are). Defaults to ``'Imgs'``.
        mask_dir (str): Mask sub-folder. Defaults to ``'GT'``.
        edge_dir (str, optional): Edge-map sub-folder (``'Edge'`` for RUN's
            TrainDataset); None = no edge files (use
            ``GenerateEdgeFromMask``).
        dataset_name (str, optional): Name reported by the metric; defaults
            to the last component of ``data_root`` (``'CAMO'``).
        img_extensions, mask_extensions (Sequence[str]): File extensions
            considered.
        allow_unmatched (bool): Skip images without mask (and masks without
            image) with a warning instead of raising. Defaults to False.
        pipeline (Sequence): Transforms, built with dunseg's registry.
        degradation (dict, optional): ``CODDegrade`` arguments (``kind``,
            ``level``, ``seed``): the degradation is inserted right before
            the pipeline's ``PackCODInputs`` and the default
            ``dataset_name`` gets ``-<kind>-<level>`` appended, as
            ``SyntheticCODDataset`` names its degraded sets. One config
            line then turns a clean set into a degraded one.
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    METAINFO = COD_METAINFO
    default_img_dir = 'Imgs'
    default_mask_dir = 'GT'
    default_edge_dir: Optional[str] = None

    def __init__(self,
                 data_root: str = '',
                 img_dir: Optional[str] = None,
                 mask_dir: Optional[str] = None,
                 edge_dir: Optional[str] = None,
                 dataset_name: Optional[str] = None,
                 img_extensions: Sequence[str] = IMG_EXTENSIONS,
                 mask_extensions: Sequence[str] = MASK_EXTENSIONS,
                 allow_unmatched: bool = False,
                 pipeline: Sequence = (),
                 degradation: Optional[dict] = None,
                 **kwargs) -> None:
        if kwargs.get('ann_file'):
            raise ValueError(f'{type(self).__name__} does not use ann_file; '
                             'images and masks are listed from img_dir and '
                             'mask_dir and matched by file stem')
        self.img_dir = self.default_img_dir if img_dir is None else img_dir
        self.mask_dir = (self.default_mask_dir
                         if mask_dir is None else mask_dir)
        self.edge_dir = self.default_edge_dir if edge_dir is None else \
            edge_dir
        data_root = os.fspath(data_root) if data_root else ''
        self.dataset_name = dataset_name or self._default_name(data_root)
        if degradation is not None:
            pipeline = insert_degradation(pipeline, degradation,
                                          type(self).__name__)
            self.dataset_name += degradation_suffix(degradation)
        self.img_extensions = tuple(e.lower() for e in img_extensions)
        self.mask_extensions = tuple(e.lower() for e in mask_extensions)
        self.allow_unmatched = allow_unmatched
        super().__init__(
            data_root=data_root,
            pipeline=build_pipeline_with_dunseg_registry(pipeline),
            **kwargs)

    def _default_name(self, data_root: str) -> str:
        base = osp.basename(osp.normpath(data_root)) if data_root else ''
        if base and base not in ('.', '/'):
            return base
        return osp.basename(osp.normpath(self.img_dir)) or 'COD'

    def _abs(self, path: str) -> str:
        if osp.isabs(path) or not self.data_root:
            return path
        return osp.join(self.data_root, path)

    def layout_help(self) -> str:
        root = (self.data_root or '.').rstrip('/\\')
        lines = [f'{type(self).__name__} expects:', f'{root}/',
                 f'|-- {self.img_dir}/   <name>.jpg (or .png ...)']
        if self.edge_dir:
            lines += [f'|-- {self.mask_dir}/   <name>.png',
                      f'`-- {self.edge_dir}/   <name>.png']
        else:
            lines += [f'`-- {self.mask_dir}/   <name>.png']
        return '\n'.join(lines)

    def _missing(self, path: str, what: str) -> FileNotFoundError:
        return FileNotFoundError(
            f'{type(self).__name__} ({self.dataset_name}): {what} not found: '
            f'{path!r} (cwd {os.getcwd()!r}).\n{self.layout_help()}\nSet '
            'data_root / img_dir / mask_dir / edge_dir to match your copy.'
            f'{_source_hint(path)}\n{NO_DATA_HINT}')

    def _require_dir(self, path: str, what: str) -> None:
        if not osp.isdir(path):
            raise self._missing(path, what)

    def _select(self, stems: List[str]) -> List[str]:
        """Hook for subclasses that keep only some images."""
        return stems

    def _unmatched(self, what: str, names: List[str], folder: str) -> None:
        msg = (f'{type(self).__name__} ({self.dataset_name}): {len(names)} '
               f'{what}, e.g. {names[:_MAX_LISTED]}, in {folder!r}. Images '
               'and masks are matched by file stem (a.jpg <-> a.png)')
        if self.allow_unmatched:
            print_log(msg + '; skipped (allow_unmatched=True).',
                      logger='current', level=30)
            return
        raise FileNotFoundError(
            msg + '; fix the names or pass allow_unmatched=True to skip '
            f'them.\n{self.layout_help()}')

    def load_data_list(self) -> List[dict]:
        if self.data_root and not osp.isdir(self.data_root):
            raise self._missing(self.data_root, 'data_root')
        img_dir = self._abs(self.img_dir)
        mask_dir = self._abs(self.mask_dir)
        self._require_dir(img_dir, 'image folder')
        self._require_dir(mask_dir, 'mask folder')
        images = _stem_map(img_dir, self.img_extensions)
        masks = _stem_map(mask_dir, self.mask_extensions)
        edges = None
        if self.edge_dir:
            edge_dir = self._abs(self.edge_dir)
            self._require_dir(edge_dir, 'edge folder')
            edges = _stem_map(edge_dir, self.mask_extensions)
        stems = self._select(sorted(images))
        if not stems:
            raise FileNotFoundError(
                f'{type(self).__name__} ({self.dataset_name}): no image with '
                f'an extension in {self.img_extensions} in {img_dir!r}.\n'
                f'{self.layout_help()}{_source_hint(img_dir)}')
        no_mask = [s for s in stems if s not in masks]
        if no_mask:
            self._unmatched('image(s) have no mask',
                            [images[s] for s in no_mask], mask_dir)
        # Masks of images this dataset leaves out (_select) are not orphans.
        no_image = [masks[s] for s in self._select(sorted(masks))
                    if s not in images]
        if no_image:
            self._unmatched('mask(s) have no image', no_image, img_dir)
        if edges is not None:
            no_edge = [s for s in stems if s in masks and s not in edges]
            if no_edge:
                self._unmatched('image(s) have no edge map',
                                [images[s] for s in no_edge], edge_dir)
        data_list = []
        for stem in stems:
            if stem not in masks:
                continue
            if edges is not None and stem not in edges:
                continue
            data_list.append(
                dict(
                    img_path=osp.join(img_dir, images[stem]),
                    seg_map_path=osp.join(mask_dir, masks[stem]),
                    edge_path=(osp.join(self._abs(self.edge_dir),
                                        edges[stem])
                               if edges is not None else None),
                    dataset_name=self.dataset_name))
        if not data_list:
            raise FileNotFoundError(
                f'{type(self).__name__} ({self.dataset_name}): no image in '
                f'{img_dir!r} has a mask in {mask_dir!r}.\n'
                f'{self.layout_help()}')
        return data_list


@DATASETS.register_module()
class COD10KDataset(CODDataset):
    """COD10K-v3 in its own layout::

        data/COD10K-v3/
        |-- Train/
        |   |-- Image/       COD10K-CAM-1-Aquatic-1-BatFish-1.jpg ... (6,000)
        |   |-- GT_Object/   COD10K-CAM-....png (3,040 camouflaged)
        |   `-- GT_Edge/
        `-- Test/            (4,000 images, 2,026 camouflaged)
            |-- Image/
            |-- GT_Object/
            `-- GT_Edge/

    Args:
        data_root (str): The ``COD10K-v3`` folder.
        split (str): ``'train'`` or ``'test'``.
        camouflaged_only (bool): Keep only the ``-CAM-`` images (the
            3,040 / 2,026 the COD papers train and test on); the background
            and non-camouflaged images have no object mask.
        with_edge (bool): List ``GT_Edge`` (train-time edge supervision).
        **kwargs: :class:`CODDataset` arguments (``img_dir`` ... override
            the defaults; ``dataset_name`` defaults to ``'COD10K'``).
    """

    SPLIT_DIRS = dict(train='Train', test='Test')

    def __init__(self,
                 data_root: str = 'data/COD10K-v3',
                 split: str = 'train',
                 camouflaged_only: bool = True,
                 with_edge: bool = False,
                 img_dir: Optional[str] = None,
                 mask_dir: Optional[str] = None,
                 edge_dir: Optional[str] = None,
                 dataset_name: Optional[str] = 'COD10K',
                 **kwargs) -> None:
        if split not in self.SPLIT_DIRS:
            raise ValueError(f"COD10KDataset: split must be 'train' or "
                             f"'test', got {split!r}")
        self.split = split
        self.camouflaged_only = camouflaged_only
        sub = self.SPLIT_DIRS[split]
        super().__init__(
            data_root=data_root,
            img_dir=img_dir or osp.join(sub, 'Image'),
            mask_dir=mask_dir or osp.join(sub, 'GT_Object'),
            edge_dir=edge_dir or (osp.join(sub, 'GT_Edge')
                                  if with_edge else None),
            dataset_name=dataset_name,
            **kwargs)

    def _select(self, stems: List[str]) -> List[str]:
        if not self.camouflaged_only:
            return stems
        return [s for s in stems if '-CAM-' in s]


@DATASETS.register_module()
class ImageMaskFolderDataset(CODDataset):
    """Any folder of images plus a folder of masks (matched by stem).

    For the real low-quality subsets and user data. ``img_dir`` and
    ``mask_dir`` are absolute or relative to ``data_root`` (default: the
    working directory); ``dataset_name`` defaults to the image folder's
    parent folder name (or its own name).

    Args:
        img_dir (str): Image folder.
        mask_dir (str): Mask folder.
        edge_dir (str, optional): Edge-map folder.
        data_root (str): Prefix of relative folders. Defaults to ''.
        **kwargs: :class:`CODDataset` arguments.
    """

    def __init__(self,
                 img_dir: str,
                 mask_dir: str,
                 edge_dir: Optional[str] = None,
                 data_root: str = '',
                 dataset_name: Optional[str] = None,
                 **kwargs) -> None:
        if not img_dir or not mask_dir:
            raise ValueError('ImageMaskFolderDataset: img_dir and mask_dir '
                             'are required')
        if dataset_name is None:
            parent = osp.basename(osp.dirname(osp.normpath(img_dir)))
            dataset_name = parent or osp.basename(osp.normpath(img_dir))
        super().__init__(
            data_root=data_root,
            img_dir=img_dir,
            mask_dir=mask_dir,
            edge_dir=edge_dir,
            dataset_name=dataset_name,
            **kwargs)


@DATASETS.register_module()
class DegradedCODTestSets(ConcatDataset):
    """The COD test sets, each degraded once per image at every level.

    NUN's degraded settings (low light, haze, low resolution, combined)
    test every clean set at several levels with fixed per-image seeds, so
    every method sees the same pixels. This builds one :class:`CODDataset`
    per (set, level), named ``<set>-<kind>-<level>`` for the metrics, so a
    config switches the setting with one field (``kind``).

    Args:
        kind (str): A ``CODDegrade`` kind (``'lowlight'``, ``'haze'``,
            ``'lowres'``, ``'combined'``).
        levels (Sequence[str]): Levels, each a degraded copy of every set.
            Defaults to ``('light', 'medium', 'heavy')``.
        sets (Sequence[str]): Folder names under ``data_root``. Defaults to
            the four sets NUN and RUN report.
        data_root (str): Folder of the sets. Defaults to
            ``'data/TestDataset'``.
        seed (int): Base seed of the per-image degradations. Defaults to 0.
        pipeline (Sequence): Transforms of every set; the degradation is
            inserted before ``PackCODInputs``.
        **kwargs: Other :class:`CODDataset` arguments of every set.
    """

    def __init__(self,
                 kind: str,
                 levels: Sequence[str] = ('light', 'medium', 'heavy'),
                 sets: Sequence[str] = ('CHAMELEON', 'CAMO', 'COD10K',
                                        'NC4K'),
                 data_root: str = 'data/TestDataset',
                 seed: int = 0,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        if not kind or not isinstance(kind, str):
            raise ValueError('DegradedCODTestSets: kind must name one '
                             f'degradation (e.g. "haze"), got {kind!r}')
        if isinstance(levels, str) or isinstance(sets, str):
            raise TypeError('DegradedCODTestSets: levels and sets are '
                            f'sequences of names, got {levels!r}, {sets!r}')
        datasets = [
            CODDataset(
                data_root=osp.join(data_root, name),
                degradation=dict(kind=kind, level=level, seed=seed),
                pipeline=pipeline,
                **kwargs) for name in sets for level in levels
        ]
        super().__init__(datasets)
