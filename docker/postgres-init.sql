-- Runs once, when the postgres volume is first initialised (docker-entrypoint-initdb.d), as POSTGRES_USER.
-- The `airflow` database (Airflow's metadata) is created by the image from POSTGRES_DB; this adds the second
-- database, the mamori alert ledger (MAMORI_LEDGER_URL). mamori creates its own tables in it.
CREATE DATABASE mamori;
