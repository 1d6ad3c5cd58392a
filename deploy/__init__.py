"""Deployment support: docker-compose.yml's scripts, configs and the worker's health check."""
