"""Infrared small-target detection (ISTD) datasets read from disk.

Two on-disk layouts are supported because the public code bases ship the same
datasets differently:

``split_dirs`` (official RPCANet / L-RPCANet code)::

    <data_root>/
    |-- trainval/
    |   |-- images/   <name>.png
    |   `-- masks/    <name>.png
    `-- test/
        |-- images/
        `-- masks/

``split_files`` (DNANet / ISNet / ACM code)::

    <data_root>/
    |-- <img_dir>/    <name>.png
    |-- <mask_dir>/   <name><mask_suffix>.png
    |-- <train split file>   one image name per line, no extension
    `-- <test split file>

Every sample is a dict with ``img_path`` and ``seg_map_path``; images and
masks are read by the pipeline (``LoadISTDImageFromFile`` and
``LoadISTDAnnotations``). Listing only touches the local file system.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

from mmengine.dataset import BaseDataset

from dunseg.registry import DATASETS, TRANSFORMS

ISTD_METAINFO = dict(
    classes=('background', 'target'), palette=[[0, 0, 0], [255, 255, 255]])

LAYOUTS = ('auto', 'split_dirs', 'split_files')
SPLITS = ('train', 'test')
# How many offending names an error message lists before summarising.
_MAX_LISTED = 5


def build_pipeline_with_dunseg_registry(pipeline: Sequence) -> List:
    """Build transform configs with dunseg's ``TRANSFORMS``.

    MMEngine's ``Compose`` builds configs with the root registry, which only
    finds dunseg transforms when the default scope is ``dunseg``. Building
    them here makes a dataset usable on its own (tests, notebooks, tools);
    names dunseg does not define (mmcv's ``RandomFlip`` ...) are still found
    in the parent registry.
    """
    if pipeline is None:
        return []
    return [
        TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline
    ]


@DATASETS.register_module()
class ISTDDataset(BaseDataset):
    """Base dataset of binary infrared small-target segmentation.

    Subclasses only change the class-level defaults (``default_*``); every
    default can be overridden with the matching argument.

    Args:
        data_root (str): Dataset root directory.
        split (str): ``'train'`` (the ``trainval`` split of the papers) or
            ``'test'`` (also used for validation by the official recipes).
        layout (str, optional): ``'split_dirs'``, ``'split_files'`` or
            ``'auto'``, which picks ``split_dirs`` when
            ``<data_root>/trainval`` or ``<data_root>/test`` exists and
            ``split_files`` otherwise. Defaults to the class's
            ``default_layout`` (``'auto'``).
        img_dir (str, optional): Image directory. For ``split_files`` it is
            relative to ``data_root`` (default: ``default_img_dir``); for
            ``split_dirs`` relative to the split directory (default
            ``'images'``).
        mask_dir (str, optional): Mask directory, like ``img_dir`` (default:
            ``default_mask_dir`` / ``'masks'``).
        split_file (str | dict, optional): ``split_files`` layout only: the
            split list of this split, relative to ``data_root`` (or
            absolute), or a dict ``{'train': ..., 'test': ...}``. Defaults to
            ``default_split_files[split]``.
        img_suffix (str): Image file extension. Defaults to ``'.png'``.
        mask_suffix (str, optional): Text between the image name and
            ``mask_ext`` in mask file names, e.g. ``'_pixels0'`` for
            NUAA-SIRST. Defaults to ``default_mask_suffix`` for
            ``split_files`` and ``''`` for ``split_dirs``.
        mask_ext (str): Mask file extension. Defaults to ``'.png'``.
        pipeline (Sequence[dict | callable]): Transforms, built with dunseg's
            registry.
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`
            (``metainfo``, ``indices``, ``serialize_data``, ``test_mode``,
            ``lazy_init``, ``max_refetch``).
    """

    METAINFO = ISTD_METAINFO

    default_layout = 'auto'
    default_img_dir = 'images'
    default_mask_dir = 'masks'
    default_mask_suffix = ''
    default_split_files: Dict[str, str] = dict(
        train='trainval.txt', test='test.txt')
    # Names of the split directories of the split_dirs layout.
    split_dir_names: Dict[str, str] = dict(train='trainval', test='test')
    # Dataset-specific advice appended to layout errors.
    layout_hint = ''

    def __init__(self,
                 data_root: str,
                 split: str = 'train',
                 layout: Optional[str] = None,
                 img_dir: Optional[str] = None,
                 mask_dir: Optional[str] = None,
                 split_file: Optional[Union[str, Dict[str, str]]] = None,
                 img_suffix: str = '.png',
                 mask_suffix: Optional[str] = None,
                 mask_ext: str = '.png',
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        name = type(self).__name__
        data_root = os.fspath(data_root) if data_root else data_root
        if not data_root:
            raise ValueError(f'{name}: data_root is required (the directory '
                             'holding the dataset)')
        if split not in SPLITS:
            raise ValueError(
                f"{name}: split must be 'train' or 'test', got {split!r} (the "
                "official recipes validate on the 'test' split)")
        layout = self.default_layout if layout is None else layout
        if layout not in LAYOUTS:
            raise ValueError(
                f'{name}: layout must be one of {LAYOUTS}, got {layout!r}')
        if kwargs.get('ann_file'):
            raise ValueError(
                f'{name} does not use ann_file; the split is given by split '
                '(and split_file for the split_files layout)')
        self.split = split
        self.layout = layout
        self._img_dir_arg = img_dir
        self._mask_dir_arg = mask_dir
        self._split_file_arg = split_file
        self.img_suffix = img_suffix
        self._mask_suffix_arg = mask_suffix
        self.mask_ext = mask_ext
        # Filled by load_data_list once the layout is known.
        self.resolved_layout: Optional[str] = None
        super().__init__(
            data_root=data_root,
            pipeline=build_pipeline_with_dunseg_registry(pipeline),
            **kwargs)

    # ------------------------------------------------------------------
    # Resolved settings
    # ------------------------------------------------------------------
    def _img_dir_for(self, layout: str) -> str:
        if self._img_dir_arg is not None:
            return self._img_dir_arg
        return self.default_img_dir if layout == 'split_files' else 'images'

    def _mask_dir_for(self, layout: str) -> str:
        if self._mask_dir_arg is not None:
            return self._mask_dir_arg
        return self.default_mask_dir if layout == 'split_files' else 'masks'

    def _mask_suffix_for(self, layout: str) -> str:
        if self._mask_suffix_arg is not None:
            return self._mask_suffix_arg
        return self.default_mask_suffix if layout == 'split_files' else ''

    def _split_file_for(self, split: str) -> str:
        arg = self._split_file_arg
        if isinstance(arg, dict):
            if split in arg:
                return arg[split]
            if split == self.split:
                raise ValueError(
                    f'{type(self).__name__}: split_file dict has no entry '
                    f'for split {split!r}; got keys {sorted(arg)}')
        elif isinstance(arg, str) and split == self.split:
            return arg
        # The other split (only shown in error messages) keeps its default.
        return self.default_split_files[split]

    def _abs(self, path: str) -> str:
        return path if osp.isabs(path) else osp.join(self.data_root, path)

    # ------------------------------------------------------------------
    # Error messages
    # ------------------------------------------------------------------
    def layout_tree(self, layout: str) -> str:
        """A short ASCII tree of the files ``layout`` expects."""
        root = self.data_root.rstrip('/\\')
        img_dir = self._img_dir_for(layout)
        mask_dir = self._mask_dir_for(layout)
        mask_name = f'<name>{self._mask_suffix_for(layout)}{self.mask_ext}'
        img_name = f'<name>{self.img_suffix}'
        # Pad the directory names so the file patterns line up.
        width = max(len(img_dir), len(mask_dir)) + 1
        img_dir = (img_dir + '/').ljust(width)
        mask_dir = (mask_dir + '/').ljust(width)
        if layout == 'split_dirs':
            train, test = (self.split_dir_names['train'],
                           self.split_dir_names['test'])
            return '\n'.join([
                f'{root}/',
                f'|-- {train}/',
                f'|   |-- {img_dir}  {img_name}',
                f'|   `-- {mask_dir}  {mask_name}',
                f'`-- {test}/',
                f'    |-- {img_dir}  {img_name}',
                f'    `-- {mask_dir}  {mask_name}',
            ])
        train_file = self._split_file_for('train')
        test_file = self._split_file_for('test')
        return '\n'.join([
            f'{root}/',
            f'|-- {img_dir}  {img_name}',
            f'|-- {mask_dir}  {mask_name}',
            f'|-- {train_file}   (one image name per line, no extension)',
            f'`-- {test_file}',
        ])

    def _layout_help(self, layout: str) -> str:
        name = type(self).__name__
        text = (f'\n{name} (layout={layout!r}) expects:\n'
                f'{self.layout_tree(layout)}')
        if self.layout == 'auto':
            other = 'split_files' if layout == 'split_dirs' else 'split_dirs'
            text += (f'\nor, with layout={other!r} (chosen automatically when '
                     f"'{self.split_dir_names['train']}/' or "
                     f"'{self.split_dir_names['test']}/' exists):\n"
                     f'{self.layout_tree(other)}')
        text += ('\nSet data_root, layout, img_dir, mask_dir, split_file, '
                 'img_suffix or mask_suffix to match your copy.')
        if self.layout_hint:
            text += '\n' + self.layout_hint
        return text

    # ------------------------------------------------------------------
    # Listing
    # ------------------------------------------------------------------
    def _choose_layout(self) -> str:
        if self.layout != 'auto':
            return self.layout
        for split_dir in self.split_dir_names.values():
            if osp.isdir(osp.join(self.data_root, split_dir)):
                return 'split_dirs'
        return 'split_files'

    def _require_dir(self, path: str, what: str, layout: str) -> None:
        if not osp.isdir(path):
            raise FileNotFoundError(
                f'{type(self).__name__}: {what} not found: {path!r}.'
                f'{self._layout_help(layout)}')

    def _list_split_dirs(self) -> List[str]:
        split_root = osp.join(self.data_root, self.split_dir_names[self.split])
        self._require_dir(split_root, f'{self.split!r} split directory',
                          'split_dirs')
        img_dir = osp.join(split_root, self._img_dir_for('split_dirs'))
        self._require_dir(img_dir, 'image directory', 'split_dirs')
        # Skip hidden files such as macOS '._x.png' resource forks.
        names = sorted(
            f[:-len(self.img_suffix)] for f in os.listdir(img_dir)
            if f.endswith(self.img_suffix) and not f.startswith('.'))
        if not names:
            raise ValueError(
                f'{type(self).__name__}: no *{self.img_suffix} images in '
                f'{img_dir!r} (split {self.split!r}); check img_suffix.'
                f'{self._layout_help("split_dirs")}')
        return names

    def _list_split_files(self) -> List[str]:
        self._require_dir(
            self._abs(self._img_dir_for('split_files')), 'image directory',
            'split_files')
        split_path = self._abs(self._split_file_for(self.split))
        if not osp.isfile(split_path):
            raise FileNotFoundError(
                f'{type(self).__name__}: split file for split '
                f'{self.split!r} not found: {split_path!r}. Pass '
                'split_file=... if your copy names it differently.'
                f'{self._layout_help("split_files")}')
        with open(split_path) as f:
            names = [line.strip() for line in f]
        # Some split lists carry the extension; the rest of the code wants
        # bare names.
        names = [
            n[:-len(self.img_suffix)] if n.endswith(self.img_suffix) else n
            for n in names if n
        ]
        if not names:
            raise ValueError(
                f'{type(self).__name__}: split file {split_path!r} is empty; '
                'it must list one image name per line.'
                f'{self._layout_help("split_files")}')
        return names

    def _suggest_mask_suffix(self, mask_dir: str, name: str) -> str:
        """Guess a ``mask_suffix`` from files named ``<name>*`` in mask_dir."""
        for fname in sorted(os.listdir(mask_dir)):
            if not (fname.startswith(name) and fname.endswith(self.mask_ext)):
                continue
            suffix = fname[len(name):len(fname) - len(self.mask_ext)]
            # 'img_1' must not match 'img_10_pixels0.png'.
            if suffix == '' or suffix[0] in '_-.':
                return (f' A file {fname!r} exists there: set '
                        f'mask_suffix={suffix!r}?')
        return ''

    def load_data_list(self) -> List[dict]:
        name = type(self).__name__
        if not osp.isdir(self.data_root):
            raise FileNotFoundError(
                f'{name}: data_root {self.data_root!r} does not exist (cwd: '
                f'{os.getcwd()!r}). Download the dataset or link it there, '
                'or set data_root.'
                f'{self._layout_help(self._choose_layout())}')
        layout = self._choose_layout()
        self.resolved_layout = layout
        if layout == 'split_dirs':
            names = self._list_split_dirs()
            split_root = osp.join(self.data_root,
                                  self.split_dir_names[self.split])
            img_dir = osp.join(split_root, self._img_dir_for(layout))
            mask_dir = osp.join(split_root, self._mask_dir_for(layout))
        else:
            names = self._list_split_files()
            img_dir = self._abs(self._img_dir_for(layout))
            mask_dir = self._abs(self._mask_dir_for(layout))
        self._require_dir(mask_dir, 'mask directory', layout)
        mask_suffix = self._mask_suffix_for(layout)

        data_list, missing_imgs, missing_masks = [], [], []
        for img_name in names:
            img_path = osp.join(img_dir, img_name + self.img_suffix)
            seg_map_path = osp.join(mask_dir,
                                    img_name + mask_suffix + self.mask_ext)
            if not osp.isfile(img_path):
                missing_imgs.append(img_path)
            elif not osp.isfile(seg_map_path):
                missing_masks.append((img_name, seg_map_path))
            data_list.append(
                dict(img_path=img_path, seg_map_path=seg_map_path))

        if missing_imgs:
            raise FileNotFoundError(
                f'{name}: {len(missing_imgs)} image(s) listed for split '
                f'{self.split!r} do not exist, e.g. '
                f'{missing_imgs[:_MAX_LISTED]}. Check img_dir and img_suffix '
                'or the split list.'
                f'{self._layout_help(layout)}')
        if missing_masks:
            first_name = missing_masks[0][0]
            raise FileNotFoundError(
                f'{name}: {len(missing_masks)} image(s) of split '
                f'{self.split!r} have no mask, e.g. '
                f'{[p for _, p in missing_masks[:_MAX_LISTED]]}.'
                f'{self._suggest_mask_suffix(mask_dir, first_name)}'
                f'{self._layout_help(layout)}')
        return data_list


@DATASETS.register_module()
class NUDTSIRSTDataset(ISTDDataset):
    """NUDT-SIRST (Li et al., DNANet, TIP 2023): 1327 synthetic-background
    256x256 images.

    Default layout (as distributed with the RPCANet code)::

        data/NUDT-SIRST/
        |-- images/   000001.png ...
        |-- masks/    000001.png ...
        `-- img_idx/
            |-- train_NUDT-SIRST.txt
            `-- test_NUDT-SIRST.txt

    The ``split_dirs`` layout (``trainval/``, ``test/``) is detected
    automatically.
    """
    default_split_files = dict(
        train='img_idx/train_NUDT-SIRST.txt',
        test='img_idx/test_NUDT-SIRST.txt')


@DATASETS.register_module()
class IRSTD1kDataset(ISTDDataset):
    """IRSTD-1k (Zhang et al., ISNet, CVPR 2022): 1001 real 512x512 images.

    Default layout::

        data/IRSTD-1k/
        |-- IRSTD1k_Img/     XDU0.png ...
        |-- IRSTD1k_Label/   XDU0.png ...
        |-- trainval.txt
        `-- test.txt
    """
    default_img_dir = 'IRSTD1k_Img'
    default_mask_dir = 'IRSTD1k_Label'
    default_split_files = dict(train='trainval.txt', test='test.txt')


@DATASETS.register_module()
class SIRSTAugDataset(ISTDDataset):
    """SIRST-Aug (Zhang et al., AGPCNet): 8525 + 545 augmented 256x256
    images, distributed in the ``split_dirs`` layout::

        data/SIRST-Aug/
        |-- trainval/{images,masks}/
        `-- test/{images,masks}/

    Note: the official RPCANet loader applies its random flips and
    transpose (p=0.5 each) to SIRST-Aug test images too, together with their
    masks; the test pipeline of ``configs/_base_/datasets/sirst_aug.py`` is
    deterministic instead.
    """
    default_layout = 'split_dirs'


@DATASETS.register_module()
class NUAASIRSTDataset(ISTDDataset):
    """NUAA-SIRST / SIRST (Dai et al., ACM, WACV 2021): 427 real images.

    Default layout (as released with ACM)::

        data/NUAA-SIRST/
        |-- images/   Misc_1.png ...
        |-- masks/    Misc_1_pixels0.png ...
        `-- idx_427/
            |-- trainval.txt
            `-- test.txt

    The RPCANet code lists the splits in ``img_idx/trainval.txt`` and
    ``img_idx/test1.txt``; use it with
    ``split_file=dict(train='img_idx/trainval.txt',
    test='img_idx/test1.txt')``.
    """
    default_mask_suffix = '_pixels0'
    default_split_files = dict(
        train='idx_427/trainval.txt', test='idx_427/test.txt')
    layout_hint = ('The RPCANet copy of NUAA-SIRST lists its splits in '
                   "img_idx/: pass split_file=dict(train='img_idx/"
                   "trainval.txt', test='img_idx/test1.txt').")
