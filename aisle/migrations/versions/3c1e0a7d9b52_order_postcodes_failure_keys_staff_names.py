"""order postcodes, verification failure keys, staff display names

Revision ID: 3c1e0a7d9b52
Revises: 578e7aed56f9
Create Date: 2026-11-30 20:30:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '3c1e0a7d9b52'
down_revision: Union[str, Sequence[str], None] = '578e7aed56f9'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shipping_postcode', sa.String(length=16), nullable=True))

    # Rows recorded before: a wrong email on an order, from an unknown client.
    with op.batch_alter_table('verification_failures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('client', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('factor', sa.String(length=16), nullable=False, server_default='email'))
        batch_op.create_index(batch_op.f('ix_verification_failures_email'), ['email'], unique=False)
        batch_op.create_index(batch_op.f('ix_verification_failures_client'), ['client'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('display_name', sa.String(length=80), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('display_name')

    with op.batch_alter_table('verification_failures', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_verification_failures_client'))
        batch_op.drop_index(batch_op.f('ix_verification_failures_email'))
        batch_op.drop_column('factor')
        batch_op.drop_column('client')
        batch_op.drop_column('email')

    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('shipping_postcode')
