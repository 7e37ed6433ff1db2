"""The office gateway: one address where people sign in and act under their own name.

`safepassage serve` starts it (server.py) in front of the Prefect server: coordinators reach
the Prefect UI under /prefect/, missions their portal and API under /mission/, auditors the
audit trail under /audit/ (app.py lists the parts).
"""
