"""The read model's timings: how often the data version is re-read, how long a worker waits for
another worker of the host to write a table file, how long another database's files are kept."""

from __future__ import annotations

# How often a process re-reads the data version (an import is seen within this).
VERSION_CHECK_S = 1.0
# The request that starts a version check waits for it this long at most (the check itself runs
# in the background): a database that does not answer never holds a cached view up.
VERSION_WAIT_S = 0.25
# After a change committed on this host was announced, the next request waits this long at most
# for the new version (the database has just answered the importer: it is up).
ANNOUNCED_WAIT_S = 5.0
# One process of a host loads a table and writes its file; the others wait for that file at most
# this long (the host lock), then load it themselves.
TABLE_WAIT_S = 120.0
# Table files of another database in the shared data directory (another instance's, or of a
# database since re-created) are removed once nobody has read them for this long.
OTHER_DATABASE_TABLES_MAX_AGE_S = 86_400
