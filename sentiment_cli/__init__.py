"""The `sentiment` console command."""
