"""Streamed XML → records. The only place raw text becomes numbers and dates."""
