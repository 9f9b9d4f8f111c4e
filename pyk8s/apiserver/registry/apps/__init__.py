"""Strategies of the ``apps`` group that differ from the generic one."""
