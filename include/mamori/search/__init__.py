"""Search and hunt over the lake: the search form (events), arbitrary SQL with the window macro (execute),
saved hunts (mamori.hunts), and their command lines (cli).

Every run is bounded by a time range and binds user values as SQL literal nodes (params); DuckDB reads only
the partitions in range (lakefiles), Athena is sized against a byte budget before it runs (execute).
The package itself imports nothing heavy: `mamori --help` builds its parser from `mamori.cli.search`.
"""
