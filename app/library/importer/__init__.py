"""Import of the goodbooks-10k catalogue and reader history (`flask library import`)."""
from .run import ImportResult, catalogue_size, run_import
from .source import ImportDataError

__all__ = ["ImportDataError", "ImportResult", "catalogue_size", "run_import"]
