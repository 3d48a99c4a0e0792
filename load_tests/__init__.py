"""Locust load tests, the SLO runner and its report (see `sentiment loadtest`)."""
