"""Procedural scene generators behind the synthetic datasets: infrared
small-target frames (:mod:`.sirst_scenes`) and camouflage scenes
(:mod:`.cod_scenes`)."""
from .cod_scenes import CODSceneGenerator
from .sirst_scenes import SIRSTSceneGenerator

__all__ = ['SIRSTSceneGenerator', 'CODSceneGenerator']
