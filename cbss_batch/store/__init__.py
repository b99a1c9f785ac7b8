"""The staging database: tables, engine, migrations and queries. The only importer of SQLAlchemy."""
