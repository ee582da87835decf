"""Running the app: the launcher and its checks, the PID file, Waitress with a per-client cap and a
draining stop, the access log, stop signals, the supervisor of several serving processes, and the
process settings of each (allocators, the JSON encoder of Dash responses).

``serving.launcher:main`` is the ``o2o-launch`` command (``python scripts/launch.py``). Nothing
here is imported by the app's own packages: the server runs the app, never the other way round.
"""
