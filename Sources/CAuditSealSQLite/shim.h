// Debian's SQLite 3 (libsqlite3-dev), and the one macro Swift cannot import.
#include <sqlite3.h>

/// SQLITE_TRANSIENT: SQLite copies a bound text or blob before the call returns.
static inline int auditseal_sqlite3_bind_text(sqlite3_stmt *statement, int index, const char *text, int bytes) {
    return sqlite3_bind_text(statement, index, text, bytes, SQLITE_TRANSIENT);
}

static inline int auditseal_sqlite3_bind_blob(sqlite3_stmt *statement, int index, const void *data, int bytes) {
    return sqlite3_bind_blob(statement, index, data, bytes, SQLITE_TRANSIENT);
}
