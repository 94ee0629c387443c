"""Monitoring: pollers, checks, health, alerts, history."""
