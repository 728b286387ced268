"""Masking sessions: proxy-number mappings between couriers and customers.

Real numbers are stored only sealed (`*_number`, AES-GCM) and as blind indexes (`*_index`,
HMAC-SHA256 hex). Written out in full rather than imported from the models, so this
revision stays what it was when the models move on.

Revision ID: 0002_masking
Revises: 0001_history
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_masking"
down_revision = "0001_history"
branch_labels = None
depends_on = None

TABLE = "masking_session"
INDEXES = {
    "ix_masking_session_customer_proxy": ["customer_index", "proxy_number", "closed_at"],
    "ix_masking_session_courier_proxy": ["courier_index", "proxy_number", "closed_at"],
    "ix_masking_session_proxy_open": ["proxy_number", "closed_at", "pin"],
    "ix_masking_session_closed_expires": ["closed_at", "expires_at"],
    "ix_masking_session_erased_closed": ["erased", "closed_at"],
    "ix_masking_session_order_ref": ["order_ref"],
    "ix_masking_session_customer_ref": ["customer_ref"],
}


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("order_ref", sa.String(64), nullable=False),
        sa.Column("case_ref", sa.String(64), nullable=True),
        sa.Column("customer_ref", sa.String(64), nullable=False),
        sa.Column("customer_number", sa.LargeBinary(), nullable=True),
        sa.Column("customer_index", sa.String(64), nullable=True),
        sa.Column("courier_ref", sa.String(64), nullable=False),
        sa.Column("courier_number", sa.LargeBinary(), nullable=True),
        sa.Column("courier_index", sa.String(64), nullable=True),
        sa.Column("proxy_number", sa.String(16), nullable=False),
        sa.Column("pin", sa.String(12), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("erased", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_masking_session"),
    )
    for name, columns in INDEXES.items():
        op.create_index(name, TABLE, columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name=TABLE)
    op.drop_table(TABLE)
