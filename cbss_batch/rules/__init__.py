"""Business rules: pure functions from records to findings with official ``<zone>-<code>`` ids."""
