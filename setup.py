from setuptools import find_packages, setup


def read_requirements(path):
    with open(path) as f:
        return [
            line.split('#')[0].strip() for line in f
            if line.split('#')[0].strip() and not line.startswith('-')
        ]


with open('dunseg/version.py') as f:
    exec(f.read())

setup(
    name='dunseg',
    version=__version__,  # noqa: F821
    description='Deep unfolding networks for degraded-image restoration and '
    'segmentation, OpenMMLab style',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    packages=find_packages(exclude=('configs', 'tools', 'demo', 'tests')),
    # the offline quality selector's fitted weights
    # (tools/experiments/train_quality_selector.py writes them), and the
    # C++ source of the CPU selective scan, compiled on first use
    package_data={
        'dunseg': [
            'models/selectors/weights/*.pth',
            'models/layers/csrc/*.cpp',
        ]
    },
    python_requires='>=3.9',
    install_requires=read_requirements('requirements/runtime.txt'),
    extras_require={
        'tests': read_requirements('requirements/tests.txt'),
        'clip': read_requirements('requirements/clip.txt'),
        # then: pip install --no-deps pysodmetrics==1.6.2
        # (requirements/cod.txt)
        'cod': read_requirements('requirements/cod.txt'),
        'medical': read_requirements('requirements/medical.txt'),
        'iqa': read_requirements('requirements/iqa.txt'),
        'mamba': read_requirements('requirements/mamba.txt'),
        # first: pip install --no-deps mmagic==1.2.0 (requirements/mmagic.txt)
        'mmagic': read_requirements('requirements/mmagic.txt'),
    },
    license='Apache-2.0',
    zip_safe=False,
)
