"""Deploying a project: planning (no AWS call, testable) kept apart from executing (AWS calls).

``plan`` decides everything a deploy will send from the config and the build output, ``execute``
carries a plan out (the one path, to AWS and to the emulator the tests use), ``emulator`` is the
one step that differs against an emulator, ``preflight`` checks before anything is created, ``run``
strings them together on one reading of the stack, and ``operations`` holds the day-two commands
(status, logs, rollback, destroy).
"""
