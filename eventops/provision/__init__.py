"""Provisioning: plan, apply, confirm or roll back."""
