"""Warm flow-run processes: each run starts as a fork of a preloaded parent, not a fresh Python.

Prefect's runner starts every flow run as `python -m prefect.engine`: a new interpreter that
imports Prefect and SafePassage (about 3.5 CPU-seconds here) before it does a second of work.
Here a *warm parent* (the standard library's forkserver, started once by `safepassage serve`)
imports all of that once, opens nothing, and forks a child per run in milliseconds. The child
then does what `python -m prefect.engine` does, in the same environment Prefect's own starter
builds (runner.py), so the runner tracks, cancels and kills it as it would its own process.

- `preload.py`: what the warm parent imports, and nothing it opens.
- `child.py`: the first code a forked child runs.
- `parent.py`: the serving side: starting the parent, forking a run, noticing a code change.
- `runner.py`: Prefect's runner with its process starter swapped for the warm one.
"""
