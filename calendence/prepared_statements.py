"""A cursor whose statements PostgreSQL parses and plans once per connection.

Django binds a query's parameters on the client (psycopg's ClientCursor), so each
statement reaches PostgreSQL as new text, parsed and planned anew. That suits the ORM,
whose statements vary. The delivery engine instead sends the same few statements
(deliveries.outbox, deliveries.bulk) on every pass over the outbox, many times a
second; through this cursor their parameters are bound on the server and each is
prepared on its connection's first use of it. PostgreSQL plans its first five runs for
their values, then keeps one plan for all values when that plan is no costlier (it is
for each of these; pg_prepared_statements counts them).

Preparing needs the connection's `prepare_threshold` (set in the settings unless
DATABASE_PREPARED_STATEMENTS is off, for a pooler that cannot keep them); without it
the same statements run unprepared. psycopg forgets a connection's prepared statements
after a ROLLBACK (a failed transaction); each is prepared again on its next use. The
cursor is Django's wrapper around psycopg's, so its errors are Django's (an outage raises
OperationalError, as anywhere else). While queries are logged (DEBUG, or a test capturing
them) it is Django's ordinary cursor: psycopg keeps no text of a prepared statement's run
for the log to show.
"""

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.backends.utils import CursorWrapper


class _PreparingCursor(ServerBindingCursor):
    def execute(self, query, params=None, *, prepare=True, binary=None):
        return super().execute(query, params, prepare=prepare, binary=binary)


def prepared_cursor(connection: BaseDatabaseWrapper) -> CursorWrapper:
    """A cursor on `connection` (PostgreSQL) whose statements are prepared on their first use."""
    if connection.queries_logged:
        return connection.cursor()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    with connection.wrap_database_errors:
        connection.validate_thread_sharing()
        return connection.make_cursor(_PreparingCursor(connection.connection))
