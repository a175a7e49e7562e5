"""A new user's first hour (issue 26), scripted: the installed ``sjconvert`` console script,
run from a folder outside the repository, on a small model of the user's own — a residual
add, a concatenation and a max pool in ``./mynet.py``, trained here on the digits — and its
data saved the ways users save data.

Every case ends as the product rule says: success, or one ``error:`` line with the
documented exit code, no traceback, no internal error, and no file left behind.
"""
