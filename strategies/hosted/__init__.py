"""Hosted Python strategies: schedules, the worker side of their processes, the supervisor.
The runner (runner.py) is a stand-alone script, never imported here."""
