"""Test and benchmark harnesses: server processes, process CPU, /metrics reading.

Never imported by the shipped packages (core, service, scoring, training); not in the image or
the Bento.
"""
