"""The ``egov`` command line: a thin layer over the package."""
