"""the store's cart links and orders: variant ids, order source, free order lines, webhook deliveries

Products get the store's variant id (cart links). Orders that arrive from the store by webhook keep
where they came from and the store's own id (fulfillment webhooks name the order by it); their lines
may name an item the catalog does not have, so a line keeps its own sku and title. Every webhook
delivery id is kept, so a replayed delivery is refused.

Revision ID: 8c41d2e7f5a0
Revises: c4a7e2d91f30
Create Date: 2026-11-30 23:10:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '8c41d2e7f5a0'
down_revision: Union[str, Sequence[str], None] = 'c4a7e2d91f30'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('variant_id', sa.String(length=64), nullable=True))
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=16), nullable=False, server_default='aisle'))
        batch_op.add_column(sa.Column('external_id', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_orders_external_id'), ['external_id'], unique=False)
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.alter_column('product_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('sku', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('title', sa.String(length=300), nullable=True))
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('delivery_id', sa.String(length=128), nullable=False),
        sa.Column('topic', sa.String(length=64), nullable=False),
        sa.Column('received_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('delivery_id'),
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_received_at'), ['received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_received_at'))
    op.drop_table('webhook_deliveries')
    op.execute("DELETE FROM order_lines WHERE product_id IS NULL")
    with op.batch_alter_table('order_lines', schema=None) as batch_op:
        batch_op.drop_column('title')
        batch_op.drop_column('sku')
        batch_op.alter_column('product_id', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_orders_external_id'))
        batch_op.drop_column('external_id')
        batch_op.drop_column('source')
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_column('variant_id')
