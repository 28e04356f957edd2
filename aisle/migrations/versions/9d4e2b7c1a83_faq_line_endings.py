"""knowledge base: line endings normalised in stored entries

Answers saved from the console before entries were normalised on the way in kept Windows line
breaks (``\\r\\n``), which the chat widget renders as literal "- item" lines. Each affected entry
gets its text with ``\\n`` only, as a new version (author ``migration``) with an audit event, the
same record every other change leaves. No schema change; running it again finds nothing to do.

Revision ID: 9d4e2b7c1a83
Revises: 3c1e0a7d9b52
Create Date: 2026-11-30 21:10:00.000000

"""
from datetime import datetime, timezone
from typing import Any, Sequence, Union

from alembic import op
import sqlalchemy as sa

from knowledge.records import normalise_newlines


# revision identifiers, used by Alembic.
revision: str = '9d4e2b7c1a83'
down_revision: Union[str, Sequence[str], None] = '3c1e0a7d9b52'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None
AUTHOR = 'migration'
SUMMARY = 'line endings normalised (\\r\\n → \\n)'

entries = sa.table('faq_entries', sa.column('id', sa.Integer()), sa.column('question', sa.String()),
                   sa.column('alternatives', sa.JSON()), sa.column('answer', sa.Text()),
                   sa.column('category', sa.String()), sa.column('tags', sa.JSON()),
                   sa.column('status', sa.String()), sa.column('version', sa.Integer()),
                   sa.column('updated_at', sa.DateTime()))
versions = sa.table('faq_versions', sa.column('entry_id', sa.Integer()), sa.column('version', sa.Integer()),
                    sa.column('snapshot', sa.JSON()), sa.column('author', sa.String()),
                    sa.column('summary', sa.String()), sa.column('created_at', sa.DateTime()))
audit_log = sa.table('audit_log', sa.column('username', sa.String()), sa.column('action', sa.String()),
                     sa.column('target', sa.String()), sa.column('detail', sa.JSON()),
                     sa.column('created_at', sa.DateTime()))


def normalised(row: Any) -> dict[str, Any]:
    return {'question': normalise_newlines(row.question),
            'alternatives': [normalise_newlines(a) for a in row.alternatives or []],
            'answer': normalise_newlines(row.answer), 'category': row.category,
            'tags': [normalise_newlines(t) for t in row.tags or []], 'status': row.status}


def upgrade() -> None:
    """Upgrade data."""
    connection = op.get_bind()
    now = datetime.now(timezone.utc)
    for row in connection.execute(sa.select(entries).order_by(entries.c.id)).all():
        snapshot = normalised(row)
        changed = [f for f in ('question', 'alternatives', 'answer', 'tags') if snapshot[f] != getattr(row, f)]
        if not changed:
            continue
        version = row.version + 1
        connection.execute(sa.update(entries).where(entries.c.id == row.id).values(
            question=snapshot['question'], alternatives=snapshot['alternatives'], answer=snapshot['answer'],
            tags=snapshot['tags'], version=version, updated_at=now))
        connection.execute(sa.insert(versions).values(entry_id=row.id, version=version, snapshot=snapshot,
                                                      author=AUTHOR, summary=SUMMARY, created_at=now))
        connection.execute(sa.insert(audit_log).values(username=AUTHOR, action='faq.update', target=f'faq:{row.id}',
                                                       detail={'fields': changed, 'version': version},
                                                       created_at=now))


def downgrade() -> None:
    """Nothing to undo: the old line breaks carried no meaning (each change is kept as a version)."""
