"""products: page URL, further images, variant group key

Catalogs imported from Shopify, WooCommerce and Google Merchant Center carry the product's page,
several pictures and which rows are variants of one model. Existing rows get NULL / an empty list.

Revision ID: 5b7e1f3a2c90
Revises: 9d4e2b7c1a83
Create Date: 2026-11-30 21:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '5b7e1f3a2c90'
down_revision: Union[str, Sequence[str], None] = '9d4e2b7c1a83'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('images', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('url', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('group_key', sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f('ix_products_group_key'), ['group_key'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_products_group_key'))
        batch_op.drop_column('group_key')
        batch_op.drop_column('url')
        batch_op.drop_column('images')
