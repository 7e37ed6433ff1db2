"""The office gateway: one address where people sign in and act under their own name.

So far only its sign-in core exists (`create_app` in app.py); `safepassage serve` does not
start it yet.
"""
