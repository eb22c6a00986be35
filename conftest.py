"""Root conftest. gevent patching and every fixture come from the scaleperf plugin
(src/scaleperf/pytest_plugin.py, registered through the pytest11 entry point)."""
