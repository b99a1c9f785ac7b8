"""cbss-batch: batch file-exchange processor for bulk social-security XML declarations."""

__version__ = "0.1.0"
