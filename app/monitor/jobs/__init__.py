"""Scheduled jobs: plain functions of a period start, run through runner.execute()."""
