"""What every `kgft` command shares: settings read once, the price book, and stderr for people."""

from __future__ import annotations

from rich.console import Console

from kgft.pricing import PriceBook
from kgft.settings import Settings

err = Console(stderr=True)


class Context:
    """Settings read once, and the price book they point at; commands get it as `ctx.obj`."""

    def __init__(self) -> None:
        self.settings = Settings()
        self.prices = PriceBook.load(self.settings.prices, utilisation=self.settings.local_utilisation)
