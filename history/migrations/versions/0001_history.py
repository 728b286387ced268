"""The shared history: customers, contact points, cases, interactions, call legs, uniqueids, event journal.

Revision ID: 0001_history
Revises:
Create Date: 2025-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_history"
down_revision = None
branch_labels = None
depends_on = None

# SQLite only auto-increments an INTEGER PRIMARY KEY; everywhere else ids are 64-bit.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.DateTime(timezone=True)
REF = 64
UNIQUEID = 150
INDEX = 64


def upgrade() -> None:
    op.create_table(
        "customer",
        sa.Column("id", sa.String(REF), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("erased_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer")),
    )

    op.create_table(
        "contact_point",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("customer_id", sa.String(REF), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value_index", sa.String(INDEX), nullable=False),
        sa.Column("value_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_point")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], ondelete="CASCADE",
            name=op.f("fk_contact_point_customer_id_customer"),
        ),
        sa.UniqueConstraint("kind", "value_index", name=op.f("uq_contact_point_kind_value_index")),
        sa.CheckConstraint("kind IN ('phone', 'email')", name=op.f("ck_contact_point_kind")),
    )
    op.create_index(op.f("ix_contact_point_customer_id"), "contact_point", ["customer_id"])

    op.create_table(
        "support_case",
        sa.Column("id", sa.String(REF), nullable=False),
        sa.Column("customer_id", sa.String(REF), nullable=True),
        sa.Column("order_ref", sa.String(REF), nullable=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("owner", sa.String(REF), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", TIME, nullable=False),
        sa.Column("closed_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_case")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], ondelete="SET NULL",
            name=op.f("fk_support_case_customer_id_customer"),
        ),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_support_case_status")),
    )
    op.create_index(op.f("ix_support_case_customer_id"), "support_case", ["customer_id"])
    op.create_index(op.f("ix_support_case_order_ref"), "support_case", ["order_ref"])

    op.create_table(
        "interaction",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("natural_key", sa.String(UNIQUEID + 16), nullable=False),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("answered_at", TIME, nullable=True),
        sa.Column("ended_at", TIME, nullable=True),
        sa.Column("disposition", sa.String(16), nullable=False),
        sa.Column("answered_by", sa.String(REF), nullable=True),
        sa.Column("customer_id", sa.String(REF), nullable=True),
        sa.Column("case_id", sa.String(REF), nullable=True),
        sa.Column("order_ref", sa.String(REF), nullable=True),
        sa.Column("page_ref", sa.Text(), nullable=True),
        sa.Column("caller_kind", sa.String(16), nullable=False),
        sa.Column("caller_ref", sa.String(REF), nullable=True),
        sa.Column("caller_number_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("caller_number_index", sa.String(INDEX), nullable=True),
        sa.Column("callee_number_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column("callee_number_index", sa.String(INDEX), nullable=True),
        sa.Column("route", sa.JSON(), nullable=False),
        sa.Column("targets_tried", sa.JSON(), nullable=False),
        sa.Column("queue_seconds", sa.Float(), nullable=False),
        sa.Column("talk_seconds", sa.Float(), nullable=False),
        sa.Column("wait_seconds", sa.Float(), nullable=False),
        sa.Column("transfers", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("erased_at", TIME, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interaction")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customer.id"], ondelete="SET NULL",
            name=op.f("fk_interaction_customer_id_customer"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["support_case.id"], ondelete="SET NULL",
            name=op.f("fk_interaction_case_id_support_case"),
        ),
        sa.UniqueConstraint("natural_key", name=op.f("uq_interaction_natural_key")),
        sa.CheckConstraint("kind IN ('call', 'chat', 'email')", name=op.f("ck_interaction_kind")),
    )
    for column in ("started_at", "answered_by", "customer_id", "case_id", "order_ref",
                   "caller_number_index", "callee_number_index"):
        op.create_index(op.f(f"ix_interaction_{column}"), "interaction", [column])

    op.create_table(
        "call_leg",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("interaction_id", BIG_ID, nullable=False),
        sa.Column("uniqueid", sa.String(UNIQUEID), nullable=False),
        sa.Column("party_kind", sa.String(16), nullable=False),
        sa.Column("party_ref", sa.String(REF), nullable=True),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("answered_at", TIME, nullable=True),
        sa.Column("ended_at", TIME, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.Column("is_caller", sa.Boolean(), nullable=False),
        sa.Column("transferred_to", sa.String(UNIQUEID), nullable=True),
        sa.Column("ring_seconds", sa.Float(), nullable=False),
        sa.Column("talk_seconds", sa.Float(), nullable=False),
        sa.Column("hold_seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_leg")),
        sa.ForeignKeyConstraint(
            ["interaction_id"], ["interaction.id"], ondelete="CASCADE",
            name=op.f("fk_call_leg_interaction_id_interaction"),
        ),
        sa.UniqueConstraint("uniqueid", name=op.f("uq_call_leg_uniqueid")),
    )
    op.create_index(op.f("ix_call_leg_interaction_id"), "call_leg", ["interaction_id"])
    op.create_index(op.f("ix_call_leg_party_ref"), "call_leg", ["party_ref"])

    op.create_table(
        "call_uniqueid",
        sa.Column("uniqueid", sa.String(UNIQUEID), nullable=False),
        sa.Column("interaction_id", BIG_ID, nullable=False),
        sa.PrimaryKeyConstraint("uniqueid", name=op.f("pk_call_uniqueid")),
        sa.ForeignKeyConstraint(
            ["interaction_id"], ["interaction.id"], ondelete="CASCADE",
            name=op.f("fk_call_uniqueid_interaction_id_interaction"),
        ),
    )
    op.create_index(op.f("ix_call_uniqueid_interaction_id"), "call_uniqueid", ["interaction_id"])

    op.create_table(
        "event_journal",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("linkedid", sa.String(UNIQUEID), nullable=False),
        sa.Column("uniqueid", sa.String(UNIQUEID), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_journal")),
    )
    op.create_index(op.f("ix_event_journal_linkedid"), "event_journal", ["linkedid"])
    op.create_index(op.f("ix_event_journal_uniqueid"), "event_journal", ["uniqueid"])
    op.create_index(op.f("ix_event_journal_received_at"), "event_journal", ["received_at"])


def downgrade() -> None:
    for table in ("event_journal", "call_uniqueid", "call_leg", "interaction", "support_case",
                  "contact_point", "customer"):
        op.drop_table(table)
