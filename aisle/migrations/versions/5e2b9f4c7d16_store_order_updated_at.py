"""the store's own last-update time of an order, so an older update arriving late changes nothing

Shopify does not promise webhooks in order: an orders/updated sent before a later one may arrive after
it. The order keeps the store's updated_at of what it holds, and an update older than that is ignored.

Revision ID: 5e2b9f4c7d16
Revises: 8c41d2e7f5a0
Create Date: 2026-12-01 05:25:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '5e2b9f4c7d16'
down_revision: Union[str, Sequence[str], None] = '8c41d2e7f5a0'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('store_updated_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_column('store_updated_at')
