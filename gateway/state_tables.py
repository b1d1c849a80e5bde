"""The gateway's own tables in the results database: API keys, per-second request counts and spend.

They sit beside the results tables so every `kgft serve` worker and host that shares one database
shares one view of each key. Money is integer pico-dollars: exact on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

import sqlalchemy as sa

_PICO = Decimal(10) ** 12

metadata = sa.MetaData()

api_keys = sa.Table(
    "kgft_gateway_keys",
    metadata,
    sa.Column("sha256", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("rpm", sa.Integer, nullable=False),
    sa.Column("budget_usd", sa.String(40), nullable=False),  # exact decimal text
    sa.Column("created", sa.String(40), nullable=False),
    sa.Column("revoked_at", sa.String(40)),
)

# One row per key and second (on the database's clock); a key's window is the sum of its last 60 rows.
request_counts = sa.Table(
    "kgft_gateway_requests",
    metadata,
    sa.Column("key_name", sa.String(100), primary_key=True),
    sa.Column("second", sa.BigInteger, primary_key=True),
    sa.Column("requests", sa.Integer, nullable=False),
)

spend = sa.Table(
    "kgft_gateway_spend",
    metadata,
    sa.Column("key_name", sa.String(100), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),  # YYYY-MM, UTC
    sa.Column("spent_pusd", sa.BigInteger, nullable=False),  # settled charges
    sa.Column("held_pusd", sa.BigInteger, nullable=False),  # estimates of calls in flight
)


def create_gateway_tables(engine: sa.Engine) -> None:
    """Idempotent; a concurrent creator winning the race is fine (the tables are then there)."""
    try:
        metadata.create_all(engine)
    except sa.exc.DBAPIError:
        if not sa.inspect(engine).has_table(spend.name):
            raise


def to_pusd(usd: Decimal) -> int:
    """Rounded up, so a key never pays less than it cost."""
    return int((usd * _PICO).to_integral_value(rounding=ROUND_CEILING))


def from_pusd(pusd: int) -> Decimal:
    usd = Decimal(pusd).scaleb(-12)
    return usd.quantize(Decimal(1)) if usd == usd.to_integral_value() else usd.normalize()
