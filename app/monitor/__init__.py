"""Monitoring: statistics, health, alerts, scheduled jobs."""
