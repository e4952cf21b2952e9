"""Library domain: models, API, importer."""
