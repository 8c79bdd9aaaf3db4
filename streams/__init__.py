"""Coverwatch: live officer presence, patrol dose, demand and coverage per Impact Area."""

__version__ = "0.1.0"
