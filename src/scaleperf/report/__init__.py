"""Reports: plots, pytest-html extras and the Load Testing Results document, made from results on disk."""
