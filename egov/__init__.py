"""egov: infrastructure as code for a provincial e-government network and cloud."""

__version__ = "0.1.0"
