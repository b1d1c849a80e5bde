"""The FT route's dataset builder, after s1: many candidates in, a small, hard, diverse set out."""

from ft_route.data.build import build_dataset
from ft_route.data.card import DatasetCard
from ft_route.data.sources import default_sources
from kgft.contamination import ContaminationError, default_eval_sets

__all__ = ["ContaminationError", "DatasetCard", "build_dataset", "default_eval_sets", "default_sources"]
