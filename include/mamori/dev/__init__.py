"""Dev tooling: the demo, sample-data drivers, the local Airflow launcher. No runtime module imports this package
(an import-linter contract in `make lint` keeps it so): production never runs generators or launchers."""
